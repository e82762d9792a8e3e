"""The treasury's sweeps on Tron, against the TronGrid-shaped simulator: deposit keys from the seed phrase of the
account xpub, TRX topped up from the hot wallet, the whole USDT balance moved once solidified, the fees booked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
from cryptopay.adapters.sql.repositories.treasury import SqlTreasuryStore
from cryptopay.adapters.tron.addresses import derive_address
from cryptopay.adapters.tron.client import TronApi
from cryptopay.adapters.tron.keys import TronHdKeyring, new_hot_key
from cryptopay.adapters.tron.sweep import TronRailSweeper
from cryptopay.adapters.tron.transactions import TronTransactions
from cryptopay.adapters.tron.watcher import TronWatcher
from cryptopay.core import flows
from cryptopay.core.hotkeys import EitherKeys
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import TRX, USDT, Money
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.rails import rail_for
from cryptopay.core.retry import Backoff
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.chains import StaticKeys
from cryptopay.core.testing.payments import payments_storage, payments_uow
from cryptopay.core.treasury import Sweeps, SweepState

MNEMONIC = "abandon " * 11 + "about"


def test_tron_sweeps_top_up_trx_move_the_usdt_and_book_the_fees(served, tmp_path) -> None:
    """A deposit address with 80 USDT and no TRX: TRX from the hot wallet, then the USDT to the hot wallet; the
    fees in TRX are booked as an expense and the books balance."""
    chain, url = served
    chain.reset()
    usdt = chain.deploy_token("USDT")
    keyring, hot = TronHdKeyring(MNEMONIC), new_hot_key()
    deposit = derive_address(keyring.account_xpub(), 4)
    chain.fund(hot.address, sun=500_000_000)
    chain.fund(deposit, token=usdt, amount=80_000_000)
    url_engine = f"sqlite:///{tmp_path / 'treasury.db'}"
    upgrade(url_engine)
    engine = make_engine(url_engine)
    api = TronApi(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None)
    keys = EitherKeys(StaticKeys({hot.address: hot.private_key.reveal()}), keyring)  # hot first: cheap to miss
    txs = TronTransactions(api, keys=keys, store=SqlWithdrawalStore(engine))
    rail = rail_for("tron", "USDT", contract=usdt)
    sweeper = TronRailSweeper(txs, rail, hot_address=hot.address, gas_address=hot.address)
    storage = payments_storage()
    clock, ids = SystemClock(), RandomIds()
    ledger = Ledger(storage.ledger_store, clock=clock, ids=ids)
    with storage.unit_of_work() as uow:
        uow.deposit_addresses.add(DepositAddress("tron", deposit, 4, "inv_1", "m1", datetime.now(UTC)))
    store = SqlTreasuryStore(engine)
    sweeps = Sweeps(
        uow=payments_uow(storage),
        store=store,
        ledger=ledger,
        clock=clock,
        ids=ids,
        sweepers={"tron": sweeper},
        balances={"tron": TronWatcher(api, [rail])},
        threshold=Decimal(50),
    )
    (planned,) = sweeps.plan()
    assert planned.seen == Money.of("80", USDT)
    for _ in range(6):
        sweeps.advance()
        chain.mine()
        chain.solidify()
        if not store.sweeps(open_only=True):
            break
    (done,) = store.sweeps(state=SweepState.CONFIRMED)
    assert chain.token_balance(usdt, hot.address) == 80_000_000 and chain.token_balance(usdt, deposit) == 0
    assert done.swept == Money.of("80", USDT) and done.top_up_tx and done.sweep_tx
    assert done.fee is not None and done.fee.asset == TRX and done.fee.is_positive()
    assert ledger.balance(flows.network_fees("tron", TRX)).posted == done.fee
    assert all(total == 0 for total in ledger.trial_balance().values())
    engine.dispose()
