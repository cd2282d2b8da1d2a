"""The second factors' settings: recent authentication, the wrong-code budget, and the keys
that encrypt readable secrets at rest (docs/two-factor.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from userauth import secret_box
from userauth.settings.reader import EnvironmentReader, SettingsError


@dataclass(frozen=True)
class FactorSettings:
    """How recent an authentication sensitive actions need, how many wrong codes an account
    may get, and the Fernet keys of readable secrets."""

    # Enrolling or removing a factor, regenerating codes need an authentication this recent.
    reauth_window: timedelta = timedelta(minutes=10)
    # Wrong second-factor codes per account per 15 minutes, across its pending logins.
    code_failures: int = 10
    # Fernet keys for readable secrets at rest (secret_box.py): the first encrypts, all
    # decrypt. Empty: development's generated key; production refuses to start.
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def read(cls, reader: EnvironmentReader) -> FactorSettings:
        """Read USERAUTH_REAUTH_MINUTES, USERAUTH_CODE_FAILURES, USERAUTH_ENCRYPTION_KEYS.

        Raises:
            SettingsError: a value of the wrong kind or range, or a key that is not Fernet's.
        """
        return cls(
            reauth_window=timedelta(
                minutes=reader.integer("USERAUTH_REAUTH_MINUTES", 10, minimum=1)
            ),
            code_failures=reader.integer("USERAUTH_CODE_FAILURES", 10, minimum=1, maximum=100),
            encryption_keys=_encryption_keys(reader),
        )


def _encryption_keys(reader: EnvironmentReader) -> tuple[str, ...]:
    value = reader.optional("USERAUTH_ENCRYPTION_KEYS") or ""
    keys = tuple(key.strip() for key in value.split(",") if key.strip())
    if not all(secret_box.is_valid_key(key) for key in keys):
        raise SettingsError(
            "USERAUTH_ENCRYPTION_KEYS must be Fernet keys, comma-separated (make one with: "
            "userauth keys generate)"
        )
    return keys
