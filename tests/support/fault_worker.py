"""A payout worker in its own process, for tests that kill it at a recovery window (``CRYPTOPAY_FAULT_POINTS``).

``python -m tests.support.fault_worker '<json>'`` runs one ``submit_payouts`` or ``query_stale_payouts`` over the
given database, Daraja sandbox and callback URLs, at the given (manual) time, with the fault points the environment
names; the test then sees it die (SIGKILL) and recovers from whatever it left behind.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

from cryptopay.adapters.faults import fault_points_from_env
from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.ledger import Ledger
from cryptopay.core.payouts.service import Payouts, PayoutUrls
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.system import ManualClock


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    clock, ids = ManualClock(datetime.fromisoformat(job["now"])), RandomIds()
    storage = SqlStorage(make_engine(job["database_url"]), ids=ids)
    gateway = DarajaGateway(DarajaSettings(**job["daraja"]))
    payouts = Payouts(
        uow=storage.unit_of_work,
        clock=clock,
        ids=ids,
        ledger=Ledger(storage.ledger_store, clock=clock, ids=ids),
        gateway=gateway,
        urls=PayoutUrls(**job["urls"]),
        faults=fault_points_from_env(os.environ, production=False),
    )
    done = payouts.submit_payouts() if job["run"] == "submit" else payouts.query_stale_payouts()
    print(json.dumps([p.state.value for p in done]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
