"""Client instructions per P2P send, load-independent: run ``Wallets.send`` in one process under valgrind's callgrind
and take the difference between two run lengths (the imports, wiring and warm-up cancel out).

    scripts/with-services.sh .venv/bin/python tests/bench/callgrind_send.py setup      # prints the database URL
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p .venv/bin/python tests/bench/callgrind_send.py run URL N
    (instructions of run N=220) - (instructions of run N=20), divided by 200: the client's instructions per send

``setup`` creates a database with 50 funded tier-1 wallets (``bench_wallet.py``'s ``setup_wallets``, bare
wiring); ``run`` sends ``N`` transfers among them by phone number (bare wiring: ``Wallets`` over ``SqlStorage``).
``explain URL`` prints the send read's plan with EXPLAIN (ANALYZE, BUFFERS) for one sender and recipient.
"""

from __future__ import annotations

import random
import secrets
import sys
from pathlib import Path

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


def setup() -> str:
    from tests.bench.bench_wallet import setup_wallets  # only here: ``run``'s process need not import the wiring

    url = _create_db(_admin_url(), f"cryptopay_callgrind_{secrets.token_hex(3)}")
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    setup_wallets(url, "", "bare", count=WALLETS)
    return url


def run(url: str, count: int) -> None:
    engine, ids = make_engine(url, pool_size=1), RandomIds()
    wallets = Wallets(SqlStorage(engine, ids=ids).unit_of_work, Ledger(SqlLedgerStore(engine)), SystemClock(), ids)
    rng = random.Random(7)
    for _ in range(count):
        sender, recipient = rng.sample(range(WALLETS), 2)
        # KES 50-100: a send by phone is worth at least an invitation (review H19; it was KES 1-100)
        amount = Money.from_minor(rng.randint(5_000, 10_000), KES)
        wallets.send(f"usr_bench_{sender:05d}", _phone(recipient), amount, note="bench")
    engine.dispose()


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        print(setup())
    else:
        run(sys.argv[2], int(sys.argv[3]))
