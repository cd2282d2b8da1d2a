"""The janitor's settings: how often it prunes, how much per batch, how long audit events stay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from userauth.settings.reader import EnvironmentReader


@dataclass(frozen=True)
class JanitorSettings:
    """The janitor (userauth/janitor.py).

    `interval` is seconds between a served worker's passes (0: none; `userauth db prune` still
    runs one); `batch_size` is rows deleted per batch, each its own short transaction;
    `audit_retention` is how long audit events are kept.
    """

    interval: int = 300
    batch_size: int = 1000
    audit_retention: timedelta = timedelta(days=365)

    @classmethod
    def read(cls, reader: EnvironmentReader) -> JanitorSettings:
        """Read USERAUTH_JANITOR_INTERVAL_SECONDS, _JANITOR_BATCH_SIZE, _AUDIT_RETENTION_DAYS.

        Raises:
            SettingsError: a value of the wrong kind or out of range.
        """
        days = reader.integer("USERAUTH_AUDIT_RETENTION_DAYS", 365, minimum=1, maximum=36_500)
        return cls(
            interval=reader.integer(
                "USERAUTH_JANITOR_INTERVAL_SECONDS", cls.interval, minimum=0, maximum=86_400
            ),
            batch_size=reader.integer(
                "USERAUTH_JANITOR_BATCH_SIZE", cls.batch_size, minimum=1, maximum=100_000
            ),
            audit_retention=timedelta(days=days),
        )
