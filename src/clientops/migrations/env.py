"""Alembic environment: the URL comes from clientops settings, batch mode for SQLite."""

from __future__ import annotations

from alembic import context

from clientops import registry
from clientops.db import get_engine

config = context.config


def run_migrations() -> None:
    """Run migrations online against the configured app database."""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    with get_engine().connect() as connection:
        _run(connection)
        connection.commit()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=registry.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
