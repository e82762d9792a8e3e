"""Storage backends for the contract tests: in-memory, SQLite (a migrated temporary file) and PostgreSQL.

PostgreSQL tests get a database of their own on the test server (created from ``postgres_admin_url``, migrated
once, emptied between tests), so they never disturb other areas' tests that share ``database_url``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import psycopg
from cryptopay.adapters.sql import head, make_engine, upgrade
from cryptopay.adapters.sql.personal import PersonalData
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.adapters.vault import EnvelopeVault, generate_kek
from cryptopay.core.testing.storage import InMemoryStorage
from sqlalchemy.engine import Engine

TABLES_KEPT = {"alembic_version", "audit_head"}

WAIT_BOUNDS = {"lock_timeout": "2min", "idle_in_transaction_session_timeout": "10min"}
"""Every test database's bounds on waiting (``create_database``): a statement that waits two minutes for a lock fails
naming itself (a test that waits on a lock on purpose waits seconds), and a connection left idle in a transaction for
ten minutes is closed by the server, instead of a run that hangs until CI's limit with nothing said."""

TEST_PERSONAL = PersonalData(EnvelopeVault.from_spec(f"test:{generate_kek()}"), secrets.token_bytes(32))
"""Personal data sealed as in production: every contract suite on SQL proves lookups work through keyed hashes."""


@attrs.define
class Backend:
    """A named storage: its unit-of-work factory, its ledger store and (for SQL) its engine."""

    name: str
    storage: Any
    engine: Engine | None = None

    @property
    def ledger_store(self) -> Any:
        return self.storage.ledger_store

    @property
    def uow(self) -> Callable[[], Any]:
        return self.storage.unit_of_work


@contextmanager
def postgres_database(admin_url: str, prefix: str = "cryptopay_sql") -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (SQLAlchemy URL): a copy of the template, or one an earlier block used.

    A new one is a copy of ``migrated_template(admin_url)`` (``CREATE DATABASE ... TEMPLATE``, a fraction of a
    second), not migrated again (seconds each time, and dozens of tests ask for one). When the block ends, those
    connected are cut off and nobody may connect any more, as after ``DROP DATABASE ... WITH (FORCE)``; but it is
    not dropped (PostgreSQL checkpoints for every ``DROP DATABASE``: seconds each under load, more than most tests
    take). The next block gets it back as the template is: ``_restored`` empties its tables, restarts its
    sequences, puts the audit head back, and checks that its schema, migration and seeded row are the template's
    (``_fingerprint``), or drops it and makes a new copy. ``drop_templates`` drops the kept ones at the end.
    """
    template = migrated_template(admin_url)
    name = _restored(admin_url)
    if name is None:
        name = f"{prefix}_{secrets.token_hex(4)}"
        create_database(admin_url, name, template=template)
    try:
        yield _database_url(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(_CUT_OFF, (name,))
        _spare.setdefault(admin_url, []).append(name)


_templates: dict[str, str] = {}
_fingerprints: dict[str, str] = {}
_spare: dict[str, list[str]] = {}
"""The databases ``postgres_database`` handed out and got back, by server (nobody may connect to them meanwhile)."""

_CUT_OFF = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"


def migrated_template(admin_url: str) -> str:
    """The name of a PostgreSQL database migrated to head once in this process, for ``postgres_database`` to copy.

    Each process (each pytest-xdist worker) has its own; ``drop_templates`` (at the end of the test session, and at
    exit) removes it, and the copies kept for reuse.
    """
    if admin_url not in _templates:
        name = f"cryptopay_template_{os.getpid()}_{secrets.token_hex(3)}"
        create_database(admin_url, name)
        try:
            upgrade(_database_url(admin_url, name))  # disposes its engine: nobody is connected when it is copied
            with psycopg.connect(_server_url(admin_url, name)) as conn:
                _fingerprints[admin_url] = _fingerprint(conn)
        except BaseException:
            _drop(admin_url, [name])
            raise
        if not _templates:
            atexit.register(drop_templates)
        _templates[admin_url] = name
    return _templates[admin_url]


def create_database(admin_url: str, name: str, *, template: str | None = None) -> None:
    """``CREATE DATABASE name`` (a copy of ``template``) on the server of ``admin_url``, with ``WAIT_BOUNDS`` (a copy
    does not inherit its template's settings: each database gets them here)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        for setting, value in WAIT_BOUNDS.items():
            conn.execute(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")


def drop_templates() -> None:
    """Drop the templates ``migrated_template`` made in this process, and the databases kept for reuse."""
    while _spare:
        admin_url, names = _spare.popitem()
        _drop(admin_url, names)
    while _templates:
        admin_url, name = _templates.popitem()
        _drop(admin_url, [name])


def _drop(admin_url: str, names: list[str]) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _restored(admin_url: str) -> str | None:
    """A database kept for reuse on this server, emptied, if it is then the template again (those not: dropped)."""
    spare, unfit = _spare.get(admin_url, []), list[str]()
    while spare:
        name = spare.pop()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        with psycopg.connect(_server_url(admin_url, name)) as conn:
            _empty(conn.execute, restart=True)
            conn.commit()
            same = _fingerprint(conn) == _fingerprints[admin_url]
        if same:
            _drop(admin_url, unfit)
            return name
        unfit.append(name)
    _drop(admin_url, unfit)
    return None


def _server_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def _database_url(admin_url: str, name: str) -> str:
    return _server_url(admin_url, name).replace("postgresql://", "postgresql+psycopg://", 1)


def empty_postgres(engine: Engine) -> None:
    """Remove every row (TRUNCATE fires no row triggers) and reset the audit head.

    Only the tables that have a row are truncated: a truncated table gets new files, and a test fills a few of the
    sixty (truncating them all took a second or more under load, for every test).
    """
    with engine.begin() as conn:
        _empty(conn.exec_driver_sql)


def _empty(execute: Callable[[str], Any], *, restart: bool = False) -> None:
    """Truncate the tables (but ``TABLES_KEPT``) that have a row and reset the audit head; with ``restart``, also
    restart the sequences that were read (a fresh copy of the template has read none)."""
    names = [r[0] for r in execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
    full = tables_with_rows(execute, [n for n in names if n not in TABLES_KEPT])
    if full:
        execute("TRUNCATE " + ", ".join(f'"{n}"' for n in sorted(full)) + " CASCADE")
    execute(f"UPDATE audit_head SET seq = 0, hash = '{'0' * 64}'")
    if restart:
        read = "SELECT schemaname, sequencename FROM pg_sequences WHERE last_value IS NOT NULL"
        for schema, sequence in execute(read).fetchall():
            execute(f'ALTER SEQUENCE "{schema}"."{sequence}" RESTART')


def tables_with_rows(execute: Callable[[str], Any], names: list[str]) -> set[str]:
    """Which of the tables ``names`` have a row (one query; SQLite or PostgreSQL)."""
    probes = [f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM \"{n}\")" for n in names]
    return {r[0] for r in execute(" UNION ALL ".join(probes)).fetchall()} if probes else set()


_OURS = "!~ '^(pg_|information_schema$)'"
_FINGERPRINT = f"""
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
  SELECT 'n ' || nspname || ' ' || coalesce(nspacl::text, '') AS item FROM pg_namespace
  UNION ALL SELECT 'c ' || c.oid::regclass::text || ' ' || c.relkind::text || c.relpersistence::text || c.relrowsecurity
      || ' ' || coalesce(c.relacl::text, '') || ' ' || coalesce(c.reloptions::text, '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname {_OURS}
  UNION ALL SELECT 'a ' || c.oid::regclass::text || ' ' || a.attnum || ' ' || a.attname || ' '
      || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || a.attisdropped || ' '
      || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname {_OURS} AND a.attnum > 0
  UNION ALL SELECT 'k ' || k.conrelid::regclass::text || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
    FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE n.nspname {_OURS}
  UNION ALL SELECT 'i ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname {_OURS}
  UNION ALL SELECT 't ' || pg_get_triggerdef(oid) || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'r ' || c.oid::regclass::text || ' ' || r.rulename || ' ' || md5(pg_get_ruledef(r.oid))
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname {_OURS}
  UNION ALL SELECT 'p ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) || ' ' || coalesce(p.proacl::text, '')
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname {_OURS}
  UNION ALL SELECT 'y ' || t.oid::regtype::text || ' ' || t.typtype::text || ' ' || coalesce(
      (SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), '')
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname {_OURS}
  UNION ALL SELECT 'o ' || polrelid::regclass::text || ' ' || polname FROM pg_policy
  UNION ALL SELECT 'e ' || extname || ' ' || extversion FROM pg_extension
  UNION ALL SELECT 's ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, '')
    FROM pg_sequences
  UNION ALL SELECT 'd ' || coalesce(datacl::text, '') || ' ' || datconnlimit
    FROM pg_database WHERE datname = current_database()
  UNION ALL SELECT 'g ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL SELECT 'v ' || version_num FROM alembic_version
  UNION ALL SELECT 'h ' || id || ' ' || seq || ' ' || hash FROM audit_head
) everything
"""
"""What a database is beyond its tables' rows: every schema object, its settings, its migration, the audit head."""


def _fingerprint(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute(_FINGERPRINT).fetchone()
    assert row is not None
    return str(row[0])


class SqliteTemplate:
    """A migrated SQLite file, copied for each test (migrating every time would be slow)."""

    def __init__(self, directory: Path) -> None:
        self._template = directory / "template.db"
        upgrade(f"sqlite:///{self._template}")

    def fresh_url(self, directory: Path) -> str:
        return self.copy_to(directory / f"cp_{secrets.token_hex(4)}.db")

    def copy_to(self, target: Path) -> str:
        """Copy the migrated file to ``target`` (a new file); returns its URL."""
        if target.exists():
            raise FileExistsError(f"{target} exists: a copy of the template would replace its database")
        shutil.copyfile(self._template, target)
        return f"sqlite:///{target}"


_sqlite_templates: dict[str, SqliteTemplate] = {}
"""``migrated_sqlite``'s templates, by migration head (one per process)."""


def migrated_sqlite(env: Mapping[str, str]) -> Path:
    """Put a migrated SQLite database where the composition root would make one for ``env``: the file of its
    ``sqlite:///`` ``CRYPTOPAY_DATABASE_URL``, else the default ``<CRYPTOPAY_DATA_DIR>/cryptopay.db``.

    A copy of one file migrated per process and migration head (migrating a fresh file costs 0.25-0.5 s of CPU, for
    each of the many tests that build the whole app on SQLite). The copy is at head, so the root finds nothing to
    migrate or seal; its own migrate-on-start path stays covered by the tests that start on an empty data dir
    (``tests/integration/http/test_http_readiness.py``).
    """
    url = env.get("CRYPTOPAY_DATABASE_URL") or f"sqlite:///{Path(env['CRYPTOPAY_DATA_DIR']) / 'cryptopay.db'}"
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not an SQLite file: {url}")
    key = head()
    if key not in _sqlite_templates:
        directory = Path(tempfile.mkdtemp(prefix="cryptopay-sqlite-template-"))
        atexit.register(shutil.rmtree, directory, True)
        _sqlite_templates[key] = SqliteTemplate(directory)
    target = Path(url.removeprefix("sqlite:///"))
    target.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_templates[key].copy_to(target)
    return target


def memory_backend(**repositories: Any) -> Backend:
    return Backend("memory", InMemoryStorage(**repositories))


def sql_backend(name: str, url: str) -> Backend:
    engine = make_engine(url)
    return Backend(name, SqlStorage(engine, personal=TEST_PERSONAL), engine)
