"""Start-up checks: what makes a configuration unsafe in production, and development's notices.

The app refuses production_problems() when it is built (web.create_app); `userauth serve`
also refuses serving_problems(), what is unsafe only with many workers or on a network.
"""

from __future__ import annotations

from userauth.settings import Settings
from userauth.settings.database import OLD_DEFAULT_DATABASE_FILE
from userauth.settings.mail import MailSettings

# Production refuses to hash below this cost (OWASP Password Storage cheat sheet).
MIN_PRODUCTION_BCRYPT_ROUNDS = 10


def production_problems(settings: Settings) -> list[str]:
    """Return one sentence per setting that makes this production configuration unsafe."""
    if not settings.is_production:
        return []
    problems = []
    if not settings.mail.smtp_host:
        problems.append("USERAUTH_SMTP_HOST must be set: production sends reset links by email.")
    if settings.security.bcrypt_rounds < MIN_PRODUCTION_BCRYPT_ROUNDS:
        problems.append(
            f"USERAUTH_BCRYPT_ROUNDS must be at least {MIN_PRODUCTION_BCRYPT_ROUNDS} in "
            f"production, not {settings.security.bcrypt_rounds}."
        )
    if settings.server.debug:
        problems.append("USERAUTH_DEBUG must be off in production.")
    if not settings.cookies.secure:
        problems.append("USERAUTH_COOKIE_SECURE must be on in production.")
    link = settings.mail.reset_link_template
    if link == MailSettings.reset_link_template or not link.startswith("https://"):
        problems.append(
            "USERAUTH_RESET_LINK must be your application's https:// reset page, "
            "with {token} where the token goes."
        )
    verify_link = settings.accounts.verify_email_link
    if verify_link is not None and not verify_link.startswith("https://"):
        problems.append(
            "USERAUTH_VERIFY_EMAIL_LINK must be an https:// page, with {token} where the "
            "token goes."
        )
    if not settings.rate_limits.enabled:
        problems.append("USERAUTH_RATELIMIT_ENABLED must be on in production.")
    url = settings.database.url
    if url.startswith("sqlite") and ":memory:" in url:
        problems.append("DATABASE_URL must not be an in-memory database in production.")
    if not settings.factors.encryption_keys:
        problems.append(
            "USERAUTH_ENCRYPTION_KEYS must be set in production: it encrypts the TOTP seeds "
            "at rest (generate one with: userauth keys generate)."
        )
    webauthn = settings.webauthn
    if webauthn.rp_id is None or not webauthn.origins:
        # Development trusts each request's Host for it; behind a proxy in production that
        # header is the client's to forge, so the passkeys' site must be named (WebAuthn
        # Level 3 13.4.9: validate the origin).
        problems.append(
            "USERAUTH_WEBAUTHN_RP_ID and USERAUTH_WEBAUTHN_ORIGINS must be set in production: "
            "the site passkeys belong to (auth.example.com) and its https:// origins."
        )
    issuer = settings.oidc.issuer
    if issuer is not None and not issuer.startswith("https://"):
        # OpenID Connect Discovery 1.0 3: the issuer is an https URL (RPs compare it exactly).
        problems.append("USERAUTH_OIDC_ISSUER must be an https:// URL in production.")
    if settings.security.secret_key is None:
        # Needed with the pages off too: a key drawn per process would make every device
        # cookie worthless after a restart or on another server (owners locked out again).
        problems.append(
            "USERAUTH_SECRET_KEY must be set in production (the same on every server): "
            "it signs the device cookies and the hosted pages' forms."
        )
    return problems


def serving_problems(settings: Settings) -> list[str]:
    """Return production_problems(), and what is unsafe only when serving many workers."""
    problems = production_problems(settings)
    if not settings.is_production:
        return problems
    server, limits = settings.server, settings.rate_limits
    if server.host is None:
        # No default is right for both: a server behind a proxy on the same machine must
        # not be reachable around it (clients would forge X-Forwarded-For), and one in a
        # container must listen on every address. The operator says which.
        problems.append(
            "USERAUTH_HOST (or --host) must be set in production: 127.0.0.1 behind a "
            "proxy on this machine, 0.0.0.0 to be reached from other hosts."
        )
    if server.workers > 1 and not limits.redis_url:
        # Each worker would count alone: a 20/minute limit would let 20 per worker through.
        problems.append(
            f"REDIS_URL must be set in production with {server.workers} workers: without a "
            "shared counter store each worker counts rate limits alone (or set "
            "USERAUTH_WORKERS=1)."
        )
    if limits.redis_url and not limits.key_secret:
        # Servers with different keys count one account under different keys.
        problems.append(
            "USERAUTH_RATELIMIT_KEY_SECRET must be set in production with a shared "
            "counter store, the same on every server (generate one with: python3 -c "
            "'import secrets; print(secrets.token_hex(32))')."
        )
    return problems


def development_warning(settings: Settings) -> str | None:
    """Return the one-line warning development prints at start-up (None in production)."""
    if settings.is_production:
        return None
    return (
        "USERAUTH_ENV=development: reset tokens are returned in responses, answers reveal "
        "which emails are registered, cookies are not Secure and weak passwords are "
        "accepted; set USERAUTH_ENV=production for real users."
    )


def database_notice(settings: Settings) -> str | None:
    """Return the start-up line saying the database was found at the old default, or None."""
    if not settings.database.at_old_default:
        return None
    return (
        f"DATABASE_URL is unset and the service's database was found at "
        f"{OLD_DEFAULT_DATABASE_FILE}, the old default: it is used. Move it to userauth.db "
        f"or set DATABASE_URL={settings.database.url}."
    )
