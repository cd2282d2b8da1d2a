"""The passkeys' settings: the WebAuthn relying party's id and the origins it accepts
(docs/passkeys.md)."""

from __future__ import annotations

from dataclasses import dataclass

from userauth.settings.reader import EnvironmentReader, SettingsError


@dataclass(frozen=True)
class WebAuthnSettings:
    """The relying party passkeys are made for (WebAuthn Level 3 5.1.4.1 "rp.id") and the
    origins a ceremony may come from (13.4.9: the origin must be checked). Unset:
    development takes both from each request's host; production refuses to start."""

    rp_id: str | None = None
    origins: tuple[str, ...] = ()
    # What an authenticator shows beside the account's email.
    rp_name: str = "userauth"

    @classmethod
    def read(cls, reader: EnvironmentReader) -> WebAuthnSettings:
        """Read USERAUTH_WEBAUTHN_RP_ID, USERAUTH_WEBAUTHN_ORIGINS, USERAUTH_WEBAUTHN_RP_NAME.

        Raises:
            SettingsError: an RP ID that is not a host name, or origins that are not origins.
        """
        hosts = reader.hosts("USERAUTH_WEBAUTHN_RP_ID")
        if len(hosts) > 1 or any(host.startswith(".") for host in hosts):
            raise SettingsError("USERAUTH_WEBAUTHN_RP_ID must be one host name, like example.com")
        return cls(
            rp_id=hosts[0] if hosts else None,
            origins=reader.origins("USERAUTH_WEBAUTHN_ORIGINS"),
            rp_name=reader.text("USERAUTH_WEBAUTHN_RP_NAME", cls.rp_name) or cls.rp_name,
        )
