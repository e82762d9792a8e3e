"""Alembic environment: runs on the connection the migrations API hands over (or one made from the URL)."""

from __future__ import annotations

from alembic import context
from cryptopay.adapters.sql.engine import make_engine
from cryptopay.adapters.sql.tables import metadata
from sqlalchemy.engine import Connection

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


run()
