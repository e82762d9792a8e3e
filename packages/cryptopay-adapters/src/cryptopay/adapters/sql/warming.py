"""A worker's warm-up of the SQL storage: what a first request would otherwise build with the GIL held.

``prepare(engine)`` builds, without a round trip to the database, the documents' converters and the prebuilt
statements (``DriverRead``: each repository's reads by id, ``insert_new``'s insert for every table, the module-level
reads and writes) compiled for PostgreSQL; it writes nothing and reads nothing. What it does not reach (a statement
SQLAlchemy compiles per call, its own cache) is compiled on first use, as before.
"""

from __future__ import annotations

import attrs
from cryptopay.adapters.sql.repositories._base import prepare_statements
from cryptopay.adapters.sql.repositories.payments import prepare_documents
from cryptopay.adapters.sql.tables import metadata
from sqlalchemy.engine import Engine

__all__ = ["Prepared", "prepare"]


@attrs.frozen
class Prepared:
    """What ``prepare`` built: document kinds (their converters and reads by id) and statements compiled."""

    documents: int
    statements: int


def prepare(engine: Engine) -> Prepared:
    """Build the storage's converters and compile its prebuilt statements for ``engine``'s dialect (see above)."""
    documents = prepare_documents()
    return Prepared(documents, prepare_statements(engine.dialect, metadata.sorted_tables))
