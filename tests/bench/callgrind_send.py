"""Client instructions per P2P send, load-independent: run ``Wallets.send`` in one process under valgrind's callgrind
and take the difference between two run lengths (the imports, wiring and warm-up cancel out).

    scripts/with-services.sh .venv/bin/python tests/bench/callgrind_send.py setup      # prints the database URL
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p .venv/bin/python tests/bench/callgrind_send.py run URL N
    (instructions of run N=220) - (instructions of run N=20), divided by 200: the client's instructions per send

``setup`` creates a database with 50 funded tier-1 wallets (``bench_wallet.py``'s ``setup_wallets``); ``run``
sends ``N`` transfers among them by phone number. ``BENCH_WIRING`` (for both) is ``bare`` (the default: ``Wallets``
over ``SqlStorage``) or ``root`` (as ``bench_wallet.py``'s default wiring builds it: the composition root, personal
data sealed with the development keys of ``BENCH_DATA_DIR``, which ``setup`` makes when it is not set and prints
after the URL, and AML monitoring journaling each send's movements; give ``run`` the same ``BENCH_DATA_DIR``).
``explain URL [N]`` makes ``N`` sends (default 1) with PostgreSQL's ``auto_explain`` loaded in the session at the
notice level and prints every plan the server ran for them, with ANALYZE and BUFFERS (the read, the ledger's flush,
the write, and what triggers and foreign-key checks run): the server's side of a send, statement by statement.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptopay.adapters.sql import SqlLedgerStore, make_engine
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Money
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.wallets.service import Wallets

from tests.bench.bench_ledger import _admin_url, _create_db

WALLETS = 50


def _phone(n: int) -> str:
    return f"2547{n:08d}"


def _wiring() -> str:
    return os.environ.get("BENCH_WIRING", "bare")


def setup() -> str:
    from tests.bench.bench_wallet import setup_wallets  # only here: ``run``'s process need not import the wiring

    url = _create_db(_admin_url(), f"cryptopay_callgrind_{secrets.token_hex(3)}")
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if _wiring() == "bare":
        setup_wallets(url, "", "bare", count=WALLETS)
        return url
    data_dir = os.environ.get("BENCH_DATA_DIR") or tempfile.mkdtemp(prefix="cryptopay-callgrind-")
    setup_wallets(url, data_dir, _wiring(), count=WALLETS)
    return f"{url} {data_dir}"


def _sender(url: str) -> tuple[Wallets, Callable[[], None]]:
    """``Wallets`` as ``BENCH_WIRING`` wires it, and how to close it."""
    if _wiring() == "bare":
        engine, ids = make_engine(url, pool_size=1), RandomIds()
        uow = SqlStorage(engine, ids=ids).unit_of_work
        return Wallets(uow, Ledger(SqlLedgerStore(engine)), SystemClock(), ids), engine.dispose
    from tests.bench.bench_wallet import _Wiring

    wiring = _Wiring(url, os.environ["BENCH_DATA_DIR"], _wiring())
    return wiring.wallets, wiring.close


def run(url: str, count: int) -> None:
    wallets, close = _sender(url)
    rng = random.Random(7)
    for _ in range(count):
        sender, recipient = rng.sample(range(WALLETS), 2)
        # KES 50-100: a send by phone is worth at least an invitation (review H19; it was KES 1-100)
        amount = Money.from_minor(rng.randint(5_000, 10_000), KES)
        wallets.send(f"usr_bench_{sender:05d}", _phone(recipient), amount, note="bench")
    close()


def explain(url: str, count: int) -> None:
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    def explaining(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.add_notice_handler(lambda notice: print(notice.message_primary, end="\n\n"))
        with dbapi_connection.cursor() as cursor:
            for setting in (
                "LOAD 'auto_explain'",
                "SET auto_explain.log_min_duration = 0",
                "SET auto_explain.log_analyze = on",
                "SET auto_explain.log_buffers = on",
                "SET auto_explain.log_nested_statements = on",
                "SET auto_explain.log_triggers = on",
                "SET auto_explain.log_level = notice",
            ):
                cursor.execute(setting)
        dbapi_connection.commit()

    event.listen(Pool, "connect", explaining)
    run(url, count)


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        print(setup())
    elif sys.argv[1] == "explain":
        explain(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    else:
        run(sys.argv[2], int(sys.argv[3]))
