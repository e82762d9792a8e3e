"""The treasury's sweeps on a real anvil node: planned above the threshold, gas topped up, swept, fees booked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.sender import EvmSender, erc20_balance
from cryptopay.adapters.evm.sweep import EvmRailSweeper
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
from cryptopay.adapters.sql.repositories.treasury import SqlTreasuryStore
from cryptopay.core import flows
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import ETH, USDT, Money
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.payments import payments_storage, payments_uow
from cryptopay.core.treasury import Sweeps, SweepState

from .conftest import FAST, EvmEnv
from .test_evm_send_anvil import _hot

pytestmark = pytest.mark.anvil


def test_sweeps_move_deposits_above_the_threshold_into_the_hot_wallet_and_book_the_gas(
    evm: EvmEnv, fresh_index: int, tmp_path
) -> None:
    """Two deposit addresses (120 and 3 USDT), threshold 50: the first is swept to the hot wallet (its gas topped
    up and booked as an expense), the second waits; the books still balance."""
    url = f"sqlite:///{tmp_path / 'treasury.db'}"
    upgrade(url)
    engine = make_engine(url)
    rail = evm.rails(confirmations=2)[0]  # USDT with 6 decimals on the local "ethereum"
    hot, keys = _hot()
    withdrawals = SqlWithdrawalStore(engine)
    sender = EvmSender(evm.w3, [rail], hot_wallet=hot, keys=keys, store=withdrawals, confirmations=2, backoff=FAST)
    sweeper = EvmRailSweeper(sender, rail, deposit_keys=evm.deposit_keys, store=withdrawals)
    storage = payments_storage()
    clock, ids = SystemClock(), RandomIds()
    ledger = Ledger(storage.ledger_store, clock=clock, ids=ids)
    big, small = derive_address(evm.xpub, fresh_index), derive_address(evm.xpub, fresh_index + 1)
    with storage.unit_of_work() as uow:
        for n, address in enumerate((big, small)):
            now = datetime.now(UTC)
            uow.deposit_addresses.add(DepositAddress("ethereum", address, fresh_index + n, f"inv_{n}", "m1", now))
    evm.pay(evm.usdt6, big, 120 * 10**6)
    evm.pay(evm.usdt6, small, 3 * 10**6)
    store = SqlTreasuryStore(engine)
    sweeps = Sweeps(
        uow=payments_uow(storage),
        store=store,
        ledger=ledger,
        clock=clock,
        ids=ids,
        sweepers={"ethereum": sweeper},
        balances={"ethereum": EvmWatcher(evm.w3, [rail], backoff=FAST)},
        threshold=Decimal(50),
    )
    hot_before = erc20_balance(evm.w3, evm.usdt6, hot)
    (planned,) = sweeps.plan()
    assert planned.deposit_address == big and planned.seen == Money.of("120", USDT)
    for _ in range(6):
        sweeps.advance()
        evm.mine()
        if not store.sweeps(open_only=True):
            break
    (done,) = store.sweeps(state=SweepState.CONFIRMED)
    assert erc20_balance(evm.w3, evm.usdt6, big) == 0 and erc20_balance(evm.w3, evm.usdt6, small) == 3 * 10**6
    assert erc20_balance(evm.w3, evm.usdt6, hot) == hot_before + 120 * 10**6
    assert done.swept == Money.of("120", USDT) and done.fee is not None and done.fee.is_positive()
    assert done.top_up_tx and done.sweep_tx and done.entry_id
    assert ledger.balance(flows.network_fees("ethereum", ETH)).posted == done.fee
    assert all(total == 0 for total in ledger.trial_balance().values())
    assert [r.action for r in storage.audit_records()] == ["sweep.planned", "sweep.confirmed"]
    engine.dispose()
