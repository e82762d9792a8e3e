"""SQL storage: SQLAlchemy 2 Core over PostgreSQL (psycopg 3) or SQLite, with Alembic migrations.

>>> import tempfile, pathlib
>>> from cryptopay.core.ledger import Account, AccountKind, Ledger
>>> from cryptopay.core.money import KES, Money
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> engine = make_engine(url)
>>> ledger = Ledger(SqlLedgerStore(engine))
>>> _ = ledger.open_account(Account("assets:mpesa_float:KES", AccountKind.ASSET, KES, allow_negative=True))
>>> _ = ledger.open_account(Account("liabilities:user:u1:KES", AccountKind.LIABILITY, KES))
>>> _ = ledger.transfer("t1", debit="assets:mpesa_float:KES", credit="liabilities:user:u1:KES",
...                     amount=Money.of("250", KES))
>>> ledger.balance("liabilities:user:u1:KES").posted
Money('250.00', 'KES')
>>> engine.dispose()
"""

from cryptopay.adapters.sql.engine import default_database_url, make_engine, normalize_url, resolve_url
from cryptopay.adapters.sql.ledger_store import SqlBatchLedgerStore, SqlLedgerSession, SqlLedgerStore
from cryptopay.adapters.sql.migrate import check_at_head, current, downgrade, head, upgrade

__all__ = [
    "SqlBatchLedgerStore",
    "SqlLedgerSession",
    "SqlLedgerStore",
    "check_at_head",
    "current",
    "default_database_url",
    "downgrade",
    "head",
    "make_engine",
    "normalize_url",
    "resolve_url",
    "upgrade",
]
