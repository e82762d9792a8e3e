"""The Sweeper contract (deposit addresses of one token rail moved into the hot wallet, the network's coin topped up
first), held by the in-memory ``FakeSweeper`` and by the Tron sweeper over HTTP to the TronGrid simulator.

A kit funds a deposit address with the token only (no coin for fees), moves its chain on between steps (the
simulator mines and solidifies), and reads token balances. The EVM sweeper on anvil is followed end to end in
tests/integration/evm/test_evm_treasury_sweeps_anvil.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.money import TRX, USDT, Money
from cryptopay.core.ports.treasury import Sweeper, SweepProgress, SweepStage

MNEMONIC = "abandon " * 11 + "about"


@attrs.frozen
class Kit:
    sweeper: Sweeper
    deposit: Callable[[int], str]  # a fresh deposit address (by index), holding nothing
    fund: Callable[[str, Decimal], None]  # give it tokens (no coin)
    advance: Callable[[], None]
    tokens: Callable[[str], Decimal]


@pytest.fixture
def fake_kit() -> Kit:
    from cryptopay.core.testing.payments_stack import FakeChain
    from cryptopay.core.testing.system import ManualClock
    from cryptopay.core.testing.treasury import FakeBalances, FakeSweeper

    balances = FakeBalances(FakeChain("tron", ManualClock()))
    sweeper = FakeSweeper(balances, hot_wallet="hot-wallet")
    return Kit(
        sweeper,
        lambda index: f"deposit-{index}",
        lambda address, units: balances.move(Money.of(units, USDT), source=None, to=address),
        lambda: None,
        lambda address: balances.balance(address, USDT).amount,
    )


@pytest.fixture
def tron_kit(trongrid, tmp_path) -> Iterator[Kit]:
    from cryptopay.adapters.sql import make_engine, upgrade
    from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
    from cryptopay.adapters.tron.addresses import derive_address
    from cryptopay.adapters.tron.client import TronApi
    from cryptopay.adapters.tron.keys import TronHdKeyring, new_hot_key
    from cryptopay.adapters.tron.sweep import TronRailSweeper
    from cryptopay.adapters.tron.transactions import TronTransactions
    from cryptopay.core.hotkeys import EitherKeys
    from cryptopay.core.rails import rail_for
    from cryptopay.core.retry import Backoff
    from cryptopay.core.testing.chains import StaticKeys

    chain, url = trongrid
    chain.reset()
    usdt = chain.deploy_token("USDT")
    keyring, hot = TronHdKeyring(MNEMONIC), new_hot_key()
    chain.fund(hot.address, sun=500_000_000)
    database = f"sqlite:///{tmp_path / 'sweeps.db'}"
    upgrade(database)
    engine = make_engine(database)
    api = TronApi(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None)
    keys = EitherKeys(StaticKeys({hot.address: hot.private_key.reveal()}), keyring)
    txs = TronTransactions(api, keys=keys, store=SqlWithdrawalStore(engine))
    sweeper = TronRailSweeper(
        txs, rail_for("tron", "USDT", contract=usdt), hot_address=hot.address, gas_address=hot.address
    )

    def advance() -> None:
        chain.mine()
        chain.solidify()

    yield Kit(
        sweeper,
        lambda index: derive_address(keyring.account_xpub(), index),
        lambda address, units: chain.fund(address, token=usdt, amount=int(units * 10**6)),
        advance,
        lambda address: Decimal(chain.token_balance(usdt, address)).scaleb(-6),
    )
    engine.dispose()


@pytest.fixture(params=["fake", "tron"])
def kit(request) -> Kit:
    return request.getfixturevalue(f"{request.param}_kit")


def _until_done(kit: Kit, sweep_id: str, address: str) -> list[SweepProgress]:
    steps = [kit.sweeper.sweep(sweep_id, address)]
    while steps[-1].stage in (SweepStage.TOPPING_UP, SweepStage.SENT) and len(steps) < 10:
        kit.advance()
        steps.append(kit.sweeper.sweep(sweep_id, address))
    return steps


def test_an_address_holding_no_token_is_empty_and_nothing_is_sent(kit: Kit) -> None:
    """Nothing to sweep: EMPTY, no top-up, no transfer, no fee."""
    progress = kit.sweeper.sweep("swp_empty", kit.deposit(7))
    assert progress.stage is SweepStage.EMPTY
    assert progress.top_up is None and progress.transfer is None
    assert progress.fees(kit.sweeper.coin).is_zero()


def test_a_deposit_without_coin_is_topped_up_then_swept_whole_into_the_hot_wallet(kit: Kit) -> None:
    """First the coin for fees (TOPPING_UP, a top-up sent), then the whole token balance moves (SENT, naming the
    amount it moves, then CONFIRMED once deep enough, which may omit it: ``Sweeps`` keeps the SENT step's); the
    fees are named in the network's coin and positive."""
    address = kit.deposit(4)
    kit.fund(address, Decimal(80))
    hot_before = kit.tokens(kit.sweeper.hot_wallet)
    steps = _until_done(kit, "swp_1", address)
    assert steps[0].stage is SweepStage.TOPPING_UP and steps[0].top_up is not None
    assert steps[-1].stage is SweepStage.CONFIRMED, [s.stage for s in steps]
    sent = next(s for s in steps if s.stage is SweepStage.SENT)
    assert sent.amount == Money.of("80", USDT) and sent.transfer is not None and sent.transfer.tx_hash
    done = steps[-1]
    assert done.amount in (None, Money.of("80", USDT))
    assert done.transfer is not None and done.transfer.tx_hash == sent.transfer.tx_hash
    assert kit.sweeper.coin == TRX and done.fees(TRX).is_positive()
    assert kit.tokens(address) == 0 and kit.tokens(kit.sweeper.hot_wallet) == hot_before + 80


def test_a_sweep_asked_again_after_it_landed_moves_nothing_more(kit: Kit) -> None:
    """Idempotent on the sweep id: the same answer (same transfer), and the hot wallet's balance unchanged."""
    address = kit.deposit(5)
    kit.fund(address, Decimal("12.5"))
    done = _until_done(kit, "swp_2", address)[-1]
    hot = kit.tokens(kit.sweeper.hot_wallet)
    kit.advance()
    again = kit.sweeper.sweep("swp_2", address)
    assert again.stage is SweepStage.CONFIRMED and again.amount in (None, Money.of("12.5", USDT))
    assert again.transfer is not None and done.transfer is not None
    assert again.transfer.tx_hash == done.transfer.tx_hash
    assert kit.tokens(kit.sweeper.hot_wallet) == hot
