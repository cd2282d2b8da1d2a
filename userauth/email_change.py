"""Changing an account's email: a link to the new address, a notice to the old, and the
change applied only when the link is used (docs/account-lifecycle.md).

The link's token is a one-time secret of purpose `email_change`, bound to its account, to the
address it leaves and to the one it goes to (its payload): used after the account's address
changed otherwise, it changes nothing. Applying it makes the new address verified, voids the
reset and verification tokens (and invitations) of the old one, keeps the sessions. A new
address that another account holds answers the same and changes nothing; production mails
that account's owner a notice instead of a link (OWASP Authentication cheat sheet: no
enumeration through the change form).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from userauth import emails
from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.db import DB, LiveSession
from userauth.errors import InvalidLinkError, InvalidTokenError
from userauth.lifecycle_mail import (
    email_change_message,
    email_taken_notice,
)
from userauth.mail import Mailer, require_mailer, send_mail
from userauth.models import User
from userauth.notices import Notices
from userauth.one_time import OneTimeSecrets, Purpose
from userauth.outbox import MailJob, Outbox
from userauth.reauthentication import Reauthentication
from userauth.settings import Settings

# The outbox job that mails the link to the new address: it names the account and carries
# the old and new addresses, never a token.
EMAIL_CHANGE_MAIL = "email_change"
# What dies with the old address: its account's reset, verification and older change links,
# and the invitations sent to it.
VOIDED_PURPOSES = (
    Purpose.PASSWORD_RESET.value,
    Purpose.EMAIL_VERIFICATION.value,
    Purpose.EMAIL_CHANGE.value,
    Purpose.INVITATION.value,
)


class EmailChanges:
    """Request a change of email, and apply it when its link is used."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        accounts: Accounts,
        secrets: OneTimeSecrets,
        reauthentication: Reauthentication,
        audit: Audit,
        notices: Notices,
        outbox: Outbox,
        mailer: Mailer | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._settings = settings
        self._accounts = accounts
        self._secrets = secrets
        self._reauthentication = reauthentication
        self._audit = audit
        self._notices = notices
        self._outbox = outbox
        self._mailer = mailer
        self._clock = clock
        outbox.handle(EMAIL_CHANGE_MAIL, self._mail_link)

    def request(self, live: LiveSession, new_email: str, client: Client = NO_CLIENT) -> None:
        """Ask to move the session's account to `new_email`: a link goes to it, a notice to
        the current address. The same work and answer whether the new address is free,
        taken, or the account's own; nothing changes until the link is used.

        Raises:
            ReauthenticationRequiredError: the session's authentication is not recent.
            InvalidEmailError: the new address is malformed.
        """
        self._reauthentication.require_recent(live)
        new = emails.normalize(new_email)
        self._audit.record("email_change_requested", live.user_id, client)
        self._notices.send(live.user, "email_change_requested", client)
        if self._mailer is None:
            return
        payload = json.dumps({"from": emails.lookup_key(live.email), "to": new})
        self._outbox.enqueue(EMAIL_CHANGE_MAIL, new, client, user_id=live.user_id, payload=payload)

    def confirm(self, token: str | None, client: Client = NO_CLIENT) -> User:
        """Apply the change a link stands for; return the account as it is now. The account
        is the token's, whoever is logged in.

        Raises:
            InvalidLinkError: unknown, spent, expired, another purpose's, of a disabled or
                deleted account, the account's address changed since, or the new address
                was taken meanwhile.
        """
        try:
            secret = self._secrets.redeem(token, Purpose.EMAIL_CHANGE)
        except InvalidTokenError:
            raise InvalidLinkError from None
        user = self._owner(secret.user_id, secret.payload)
        if user is None or secret.payload is None:
            raise InvalidLinkError
        old_key, new = _addresses(secret.payload)
        changed = self._db.change_email(
            user.id,
            old_key,
            new,
            self._clock(),
            spend=secret.id,
            void_purposes=VOIDED_PURPOSES,
            void_payloads=(old_key,),
        )
        if not changed:
            raise InvalidLinkError
        self._audit.record("email_changed", user.id, client, new)
        found = self._accounts.find_enabled_by_id(user.id)
        if found is None:
            raise InvalidLinkError
        return found

    def is_live(self, token: str | None) -> bool:
        """Tell whether `confirm` could take this token, without spending it (the page)."""
        try:
            secret = self._secrets.redeem(token, Purpose.EMAIL_CHANGE)
        except InvalidTokenError:
            return False
        return self._owner(secret.user_id, secret.payload) is not None

    def _owner(self, user_id: int | None, payload: str | None) -> User | None:
        user = None if user_id is None else self._accounts.find_enabled_by_id(user_id)
        if user is None or payload is None:
            return None
        old_key, _new = _addresses(payload)
        return user if emails.lookup_key(user.email) == old_key else None

    def _mail_link(self, job: MailJob) -> None:
        mailer = require_mailer(self._mailer)
        user = None if job.user_id is None else self._accounts.find_enabled_by_id(job.user_id)
        if user is None or job.payload is None:
            mailer.probe(job.email)
            return
        old_key, new = _addresses(job.payload)
        holder = self._accounts.find_any(new)
        if holder is not None and holder.id != user.id and self._settings.is_production:
            send_mail(
                mailer,
                holder.email,
                email_taken_notice(self._settings, job.client.accept_language),
            )
            return
        if holder is not None or emails.lookup_key(user.email) != old_key:
            # Taken (development mails no notice), the account's own address, or the
            # account moved meanwhile: nothing to send, the same talk with the server.
            mailer.probe(job.email)
            return
        lifetime = self._settings.accounts.verification_lifetime
        token = self._secrets.issue(user.id, Purpose.EMAIL_CHANGE, lifetime, payload=job.payload)
        hours = int(lifetime.total_seconds() // 3600)
        send_mail(
            mailer,
            new,
            email_change_message(self._settings, token, hours, job.client.accept_language),
        )


def _addresses(payload: str) -> tuple[str, str]:
    """Return the (old key, new address) a change's payload holds."""
    decoded = json.loads(payload)
    return str(decoded["from"]), str(decoded["to"])
