"""The OpenID Connect provider's settings: its issuer and how long its tokens live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from userauth.settings.reader import EnvironmentReader, SettingsError


@dataclass(frozen=True)
class OidcSettings:
    """The provider (userauth/oidc/, docs in the README's "OpenID Connect provider").

    `issuer` is None in development when unset: each request's own origin is the issuer.
    Production requires an https issuer (OpenID Connect Discovery 1.0 3: the issuer is an
    https URL with no query or fragment).
    """

    issuer: str | None = None
    access_token_lifetime: timedelta = timedelta(hours=1)
    refresh_token_lifetime: timedelta = timedelta(days=30)
    id_token_lifetime: timedelta = timedelta(hours=1)

    @classmethod
    def read(cls, reader: EnvironmentReader) -> OidcSettings:
        """Read USERAUTH_OIDC_ISSUER, USERAUTH_OIDC_ACCESS_TOKEN_SECONDS,
        USERAUTH_OIDC_REFRESH_TOKEN_DAYS.

        Raises:
            SettingsError: an issuer that is not an http(s) URL without query or fragment, or
                a lifetime out of range.
        """
        issuer = reader.optional("USERAUTH_OIDC_ISSUER")
        if issuer is not None:
            issuer = issuer.rstrip("/")
            parts = urlsplit(issuer)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SettingsError("USERAUTH_OIDC_ISSUER must be an https:// URL")
            if parts.query or parts.fragment:
                raise SettingsError("USERAUTH_OIDC_ISSUER must have no query or fragment")
        seconds = reader.integer(
            "USERAUTH_OIDC_ACCESS_TOKEN_SECONDS", 3600, minimum=60, maximum=86_400
        )
        days = reader.integer("USERAUTH_OIDC_REFRESH_TOKEN_DAYS", 30, minimum=1, maximum=365)
        return cls(
            issuer=issuer or None,
            access_token_lifetime=timedelta(seconds=seconds),
            refresh_token_lifetime=timedelta(days=days),
        )
