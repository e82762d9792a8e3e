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
    """Run the migrations in one transaction. On SQLite, with foreign keys off while they run (review6 F10):
    a batch migration recreates a table (copy, ``DROP``, rename), and the ``DROP`` of a table other rows reference
    fails while the engine's ``PRAGMA foreign_keys=ON`` holds; the references are checked before the commit
    instead (``PRAGMA foreign_key_check``), so a migration that breaks one still fails and changes nothing."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(connection, on=False)
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows whose references are broken: {broken[:5]}")
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Turn SQLite's foreign keys on or off; only outside a transaction does the pragma take effect, so it goes to
    the driver's connection directly (the engine's ``begin`` hook would open one first)."""
    driver = connection.connection.dbapi_connection
    assert driver is not None and not driver.in_transaction, "foreign keys can only change outside a transaction"
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


run()
