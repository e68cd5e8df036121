"""Alembic's environment: online with the connection the caller passes, offline for a dialect."""

from __future__ import annotations

from alembic import context

from core.repository.warehouse import metadata, without_returning

config = context.config

if context.is_offline_mode():
    context.configure(
        dialect_name=config.attributes["dialect_name"],
        literal_binds=True,
        target_metadata=metadata,
    )
else:
    context.configure(connection=config.attributes["connection"], target_metadata=metadata)

without_returning(context.get_context().dialect)

with context.begin_transaction():
    context.run_migrations()
