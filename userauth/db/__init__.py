"""Persistence: the only package that runs the app's queries and commits.

Building a DB opens no connection and changes no schema: migrations are userauth.migrations'.
"""

from userauth.db.accounts import AccountStore
from userauth.db.admin import AdminStore
from userauth.db.engine import make_engine
from userauth.db.factors import FactorStore, StoredFactor
from userauth.db.lifecycle import LifecycleStore
from userauth.db.mail_jobs import ClaimedMail, MailJobStore
from userauth.db.oidc import OidcStore
from userauth.db.oidc_grants import HeldToken, OidcGrantStore
from userauth.db.oidc_tokens import OidcTokenStore
from userauth.db.one_time import OneTimeSecretStore, PendingSecret
from userauth.db.passkeys import NewPasskey, PasskeyStore, StoredPasskey
from userauth.db.pending_logins import PendingLogin, PendingLoginStore
from userauth.db.pruning import PruneStore
from userauth.db.sessions import LiveSession, LiveWindow, SessionStore


class DB(
    AccountStore,
    SessionStore,
    OneTimeSecretStore,
    MailJobStore,
    AdminStore,
    PruneStore,
    FactorStore,
    PendingLoginStore,
    LifecycleStore,
    PasskeyStore,
    OidcStore,
    OidcTokenStore,
    OidcGrantStore,
):
    """The store: every query userauth runs, over one engine."""


__all__ = [
    "DB",
    "ClaimedMail",
    "HeldToken",
    "LiveSession",
    "LiveWindow",
    "NewPasskey",
    "PendingLogin",
    "PendingSecret",
    "StoredFactor",
    "StoredPasskey",
    "make_engine",
]
