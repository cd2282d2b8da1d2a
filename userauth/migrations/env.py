"""Alembic's environment: migrate the connection that userauth.migrations hands over.

There is no alembic.ini: userauth.migrations builds the configuration in code and puts an
open connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from userauth.models import metadata

config = context.config
connection = config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError("userauth migrations run online, through userauth.migrations.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
