"""Run the Alembic migrations from Python: the same scripts on SQLite and PostgreSQL.

>>> import tempfile, pathlib
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> current(url) is None
True
>>> upgrade(url) == head()
True
>>> downgrade(url, "base") is None
True

An operator's run (``actor``, the CLI's ``ops:<login>``) is recorded in the migrated database's own audit chain,
``db.upgraded`` / ``db.downgraded`` naming the revisions before and after, once the migrations are applied; a
downgrade to ``base`` drops the audit log itself, so it leaves no record (the CLI says so).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from cryptopay.adapters.sql.engine import make_engine, resolve_url
from cryptopay.core.errors import InvalidInput
from sqlalchemy.engine import Engine

__all__ = ["NotMigrated", "check_at_head", "current", "downgrade", "head", "revisions", "upgrade"]

_SCRIPTS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def _run(
    url: str | None, action: Callable[[Config, str], None], revision: str, recorded: tuple[str, str] | None
) -> str | None:
    """Run ``action`` to ``revision``; with ``recorded`` (the actor and the audit action), append that record."""
    engine = make_engine(url)
    try:
        before = _current(engine)
        with engine.connect() as conn:
            config = _config()
            config.attributes["connection"] = conn
            try:
                action(config, revision)
            except CommandError as refused:  # R10-11: an unknown or unreachable revision is the caller's input
                raise _refused(revision, refused) from None
        after = _current(engine)
        if recorded is not None and after is not None:
            _record(engine, *recorded, before=before, after=after)
        return after
    finally:
        engine.dispose()


def _record(engine: Engine, actor: str, action: str, *, before: str | None, after: str) -> None:
    """Append ``action`` by ``actor`` to the database's audit chain (its table is unchanged since 0001)."""
    from cryptopay.adapters.sql.audit import SqlAuditTrail
    from cryptopay.core.audit import AuditEvent
    from cryptopay.core.system import SystemClock

    details = {"from_revision": before or "base", "to_revision": after}
    SqlAuditTrail(engine).append(AuditEvent(actor, action, "database:schema", SystemClock().now(), details))


def _refused(revision: str, error: CommandError) -> InvalidInput:
    """Alembic's refusal as the caller's error (exit 2), in one line naming the revision.

    >>> print(_refused("0199", CommandError("Can't locate revision identified by '0199'")).message)
    no migration revision '0199': list them with `cryptopay db history`
    """
    text = str(error)
    if "Can't locate revision" in text or "No such revision" in text:
        return InvalidInput(
            f"no migration revision {revision!r}: list them with `cryptopay db history`", field="revision"
        )
    first = text.splitlines()[0] if text else type(error).__name__
    return InvalidInput(
        f"cannot migrate to {revision!r}: {first} (`cryptopay db history` lists the revisions)", field="revision"
    )


def revisions() -> list[tuple[str, str]]:
    """Every revision the code knows, newest first, with its message.

    >>> revisions()[0][0] == head()
    True
    """
    scripts = ScriptDirectory.from_config(_config())
    return [(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "") for r in scripts.walk_revisions()]


def _current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest revision the code knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def upgrade(url: str | None = None, revision: str = "head", *, actor: str | None = None) -> str | None:
    """Migrate the database at ``url`` (see ``resolve_url``) up to ``revision``; returns the revision now applied.
    With ``actor``, audited ``db.upgraded`` by that actor."""
    return _run(resolve_url(url), command.upgrade, revision, (actor, "db.upgraded") if actor else None)


def downgrade(url: str | None, revision: str, *, actor: str | None = None) -> str | None:
    """Migrate down to ``revision`` (``"base"`` removes every table); returns the revision now applied. With
    ``actor``, audited ``db.downgraded`` by that actor (unless nothing is left to record it in)."""
    return _run(resolve_url(url), command.downgrade, revision, (actor, "db.downgraded") if actor else None)


def current(url: str | None = None) -> str | None:
    """The revision applied to the database at ``url`` (None when it was never migrated)."""
    engine = make_engine(url)
    try:
        return _current(engine)
    finally:
        engine.dispose()


class NotMigrated(RuntimeError):
    """The database is not at the code's newest revision: run ``cryptopay db upgrade``."""


def check_at_head(engine: Engine) -> None:
    """Raise ``NotMigrated`` unless the database behind ``engine`` is at ``head()`` (a readiness check)."""
    applied, wanted = _current(engine), head()
    if applied != wanted:
        raise NotMigrated(f"database at revision {applied or 'none'}, the code needs {wanted}")
