"""The shape of every row userauth stores: its tables (SQLAlchemy Core) and the records it reads.

Tables, not ORM classes: the store writes SQL statements and hands out plain records
(User, DeviceSession, AuditEvent), so no worker loads `sqlalchemy.orm`, which cost every
worker 6.3 MB of peak RSS (`python -m bench.memory`; docs/performance.md "Memory per worker"). The
migrations' head must match `metadata` (tests/test_migrations.py).

One module per family of tables (accounts, factors, background, oidc), the shared columns
and MetaData (columns), the records (records); importing this package registers them all.
"""

from userauth.models.accounts import (
    audit_events_table,
    disabled_users_table,
    one_time_secrets_table,
    sessions_table,
    users_table,
)
from userauth.models.background import leases_table, mail_jobs_table
from userauth.models.columns import NO_PASSWORD, PasswordHash, metadata
from userauth.models.factors import (
    code_failures_table,
    factors_table,
    passkey_handles_table,
    passkeys_table,
    pending_logins_table,
    recovery_codes_table,
    webauthn_challenges_table,
)
from userauth.models.oidc import (
    oidc_clients_table,
    oidc_codes_table,
    oidc_consents_table,
    oidc_keys_table,
    oidc_subjects_table,
    oidc_tokens_table,
)
from userauth.models.records import AuditEvent, DeviceSession, NewSession, User, record

__all__ = [
    "NO_PASSWORD",
    "AuditEvent",
    "DeviceSession",
    "NewSession",
    "PasswordHash",
    "User",
    "audit_events_table",
    "code_failures_table",
    "disabled_users_table",
    "factors_table",
    "leases_table",
    "mail_jobs_table",
    "metadata",
    "oidc_clients_table",
    "oidc_codes_table",
    "oidc_consents_table",
    "oidc_keys_table",
    "oidc_subjects_table",
    "oidc_tokens_table",
    "one_time_secrets_table",
    "passkey_handles_table",
    "passkeys_table",
    "pending_logins_table",
    "record",
    "recovery_codes_table",
    "sessions_table",
    "users_table",
    "webauthn_challenges_table",
]
