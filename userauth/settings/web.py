"""The web settings: the forward-auth gate, cross-origin callers and the hosted pages."""

from __future__ import annotations

from dataclasses import dataclass

from userauth import languages
from userauth.settings.reader import EnvironmentReader, SettingsError


@dataclass(frozen=True)
class GateSettings:
    """The forward-auth gate (GET /auth/verify): its identity headers and its redirects."""

    user_header: str = "X-Auth-Request-User"
    email_header: str = "X-Auth-Request-Email"
    # The header carrying the session's assurance level (1 or 2, NIST SP 800-63B).
    aal_header: str = "X-Auth-Request-AAL"
    # The header telling whether the user's email is verified ("true" or "false").
    email_verified_header: str = "X-Auth-Request-Email-Verified"
    # Where the gate's redirect mode sends a visitor without a session.
    login_url: str = "/auth/login"
    # Hosts a `next` URL may send the browser to, besides paths on this site; an entry
    # starting with a dot allows the domain and its subdomains (OWASP: allow-list only).
    redirect_hosts: tuple[str, ...] = ()

    @classmethod
    def read(cls, reader: EnvironmentReader) -> GateSettings:
        """Read USERAUTH_GATE_USER_HEADER, _GATE_EMAIL_HEADER, _GATE_AAL_HEADER,
        _GATE_EMAIL_VERIFIED_HEADER, _LOGIN_URL, _REDIRECT_HOSTS.

        Raises:
            SettingsError: a header name or host name that cannot be one.
        """
        return cls(
            user_header=reader.header_name("USERAUTH_GATE_USER_HEADER", cls.user_header),
            email_header=reader.header_name("USERAUTH_GATE_EMAIL_HEADER", cls.email_header),
            aal_header=reader.header_name("USERAUTH_GATE_AAL_HEADER", cls.aal_header),
            email_verified_header=reader.header_name(
                "USERAUTH_GATE_EMAIL_VERIFIED_HEADER", cls.email_verified_header
            ),
            login_url=reader.text("USERAUTH_LOGIN_URL", cls.login_url),
            redirect_hosts=reader.hosts("USERAUTH_REDIRECT_HOSTS"),
        )


@dataclass(frozen=True)
class WebSettings:
    """Which origins may call the API with the cookie, and the hosted pages under /auth/."""

    # Origins (scheme://host[:port]) whose pages may call the API with the session cookie.
    cors_origins: tuple[str, ...] = ()
    # Hosted pages under /auth/ (sign up, log in, forgot, reset, account).
    pages_enabled: bool = True
    # A folder whose userauth/*.html templates replace the built-in ones.
    templates_dir: str | None = None
    # The language of every page and mail (`fr`); None: each reader's Accept-Language.
    language: str | None = None

    @classmethod
    def read(cls, reader: EnvironmentReader) -> WebSettings:
        """Read USERAUTH_CORS_ORIGINS, USERAUTH_PAGES, USERAUTH_TEMPLATES_DIR and
        USERAUTH_LANGUAGE.

        Raises:
            SettingsError: an origin that is not scheme://host[:port], a missing folder, a
                language with no catalogue (built in, or in the templates folder).
        """
        templates_dir = reader.folder("USERAUTH_TEMPLATES_DIR")
        return cls(
            cors_origins=reader.origins("USERAUTH_CORS_ORIGINS"),
            pages_enabled=reader.flag("USERAUTH_PAGES", default=True),
            templates_dir=templates_dir,
            language=_language(reader.optional("USERAUTH_LANGUAGE"), templates_dir),
        )


def _language(value: str | None, templates_dir: str | None) -> str | None:
    shipped = languages.available(templates_dir)
    if value is not None and value not in shipped:
        raise SettingsError(
            f"USERAUTH_LANGUAGE must be one of {', '.join(shipped)} (or unset), not {value!r}"
        )
    return value
