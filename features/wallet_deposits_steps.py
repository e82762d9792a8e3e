"""Steps for wallet_deposits.feature over a ``DepositsWorld``: the wallet and deposit use cases (``DepositStack``)
and a Polygon to send on, either the fake chain (in memory: test_wallet_deposits.py) or anvil with PostgreSQL
(test_wallet_deposits_real.py). Each test module gives the ``deposits_world`` fixture."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from cryptopay.core.compliance.cases import AlertStatus
from cryptopay.core.flows import custody
from cryptopay.core.money import USDC, Money
from cryptopay.core.reconciliation import Reconciliation
from cryptopay.core.wallets.deposit import DepositState, HoldReason
from pytest_bdd import given, parsers, then, when

from tests.support.deposit_stack import DepositStack


class DepositsWorld(Protocol):
    """What the steps need of a world: the stack, and a Polygon to send on, mine, reorganise."""

    stack: DepositStack
    friend: str  # the sending address

    def send(self, address: str, amount: str, asset: str = "USDT") -> None: ...

    def mine(self, blocks: int) -> None: ...

    def drop_the_deposit_block(self) -> None: ...

    def mine_the_transfer_again(self) -> None: ...


def _amina(world: DepositsWorld) -> Any:
    return world.stack.wallet.wallets.find("0712000001", actor="ops:steps")


@given(parsers.parse("Amina has a wallet with the phone number {phone}"))
def amina_signs_up(deposits_world: DepositsWorld, phone: str) -> None:
    deposits_world.stack.sign_up(phone)


@given(parsers.parse("wallet deposits on Polygon wait for {count:d} confirmations"))
def polygon_requirement(deposits_world: DepositsWorld, count: int) -> None:
    assert deposits_world.stack.deposits.address(_amina(deposits_world).user_id, "polygon").requirement == (
        f"{count} confirmations"
    )


@given("Amina has verified her national ID")
@when("Amina verifies her national ID")
def amina_verified(deposits_world: DepositsWorld) -> None:
    deposits_world.stack.wallet.grant_tier(_amina(deposits_world).user_id)


@given("the friend's address is on a sanctions list")
def friend_listed(deposits_world: DepositsWorld) -> None:
    deposits_world.stack.list_address("polygon", deposits_world.friend)


@when("Amina asks for her Polygon deposit address")
def ask_address(deposits_world: DepositsWorld) -> None:
    found = deposits_world.stack.deposits.address(_amina(deposits_world).user_id, "polygon")
    deposits_world.address = found.address  # type: ignore[attr-defined]


@when(parsers.re(r"a friend sends (?P<amount>[\d.]+) (?P<asset>USDT|USDC) to it on Polygon"))
def friend_sends(deposits_world: DepositsWorld, amount: str, asset: str) -> None:
    deposits_world.send(deposits_world.address, amount, asset)  # type: ignore[attr-defined]
    deposits_world.stack.sync()


@given(parsers.re(r"USDC trades at (?P<price>[\d.]+) USD"))
@when(parsers.re(r"USDC trades at (?P<price>[\d.]+) USD again"))
def usdc_price(deposits_world: DepositsWorld, price: str) -> None:
    deposits_world.stack.wallet.rates.set("USDC/USD", price)


@when(parsers.parse("{blocks:d} more blocks are mined on Polygon"))
def more_blocks(deposits_world: DepositsWorld, blocks: int) -> None:
    deposits_world.mine(blocks)
    deposits_world.stack.sync()


@when("the network drops the block the deposit was in")
def reorg(deposits_world: DepositsWorld) -> None:
    deposits_world.drop_the_deposit_block()
    deposits_world.stack.sync()


@when("the network mines the same transfer again")
def remine(deposits_world: DepositsWorld) -> None:
    deposits_world.mine_the_transfer_again()
    deposits_world.stack.sync()


def _deposit(world: DepositsWorld) -> Any:
    return world.stack.deposits.deposits(_amina(world).user_id, limit=1)[0]


def _usdt(world: DepositsWorld) -> Money:
    return world.stack.wallet.wallets.balances(_amina(world).user_id)["USDT"]


def _kinds(world: DepositsWorld) -> list[str]:
    return [h.kind for h in world.stack.wallet.wallets.history(_amina(world).user_id)]


@then(parsers.parse("Amina sees the deposit confirming and still has {amount} USDT"))
def confirming(deposits_world: DepositsWorld, amount: str) -> None:
    deposit = _deposit(deposits_world)
    assert deposit.state is DepositState.SEEN and deposit.confirmations >= 1
    assert _usdt(deposits_world) == Money.of(amount, "USDT")


@then(parsers.parse("Amina has {amount} USDT and her history shows the deposit"))
def credited(deposits_world: DepositsWorld, amount: str) -> None:
    assert _deposit(deposits_world).state is DepositState.CREDITED
    assert _usdt(deposits_world) == Money.of(amount, "USDT")
    assert _kinds(deposits_world).count("deposit") >= 1


@then(parsers.parse("Amina has {amount} USDT and her history shows the deposit reversed"))
def reversed_(deposits_world: DepositsWorld, amount: str) -> None:
    assert _deposit(deposits_world).state is DepositState.WITHDRAWN
    assert _usdt(deposits_world) == Money.of(amount, "USDT")
    assert _kinds(deposits_world)[:2] == ["deposit_reversed", "deposit"]


@then(parsers.parse("Amina still has {amount} USDT"))
def still(deposits_world: DepositsWorld, amount: str) -> None:
    assert _usdt(deposits_world) == Money.of(amount, "USDT")


@then("the deposit is held because its sender is sanctioned")
def held(deposits_world: DepositsWorld) -> None:
    deposit = _deposit(deposits_world)
    assert (deposit.state, deposit.hold_reason) == (DepositState.HELD, HoldReason.SANCTIONED_SENDER)


@then("the deposit is held because her wallet may not receive that much before she verifies her ID")
def held_for_tier(deposits_world: DepositsWorld) -> None:
    deposit = _deposit(deposits_world)
    assert (deposit.state, deposit.hold_reason) == (DepositState.HELD, HoldReason.TIER_LIMIT), deposit
    assert "receive single limit" in (deposit.hold_detail or "") and deposit.watching


@then("the compliance officers have a blocking alert about Amina")
def alert(deposits_world: DepositsWorld) -> None:
    alerts = deposits_world.stack.monitoring.alerts(status=AlertStatus.OPEN)
    assert [(a.party_id, a.blocking) for a in alerts] == [(_amina(deposits_world).user_id, True)]


@then("the books balance")
def balanced(deposits_world: DepositsWorld) -> None:
    assert set(deposits_world.stack.wallet.ledger.trial_balance().values()) <= {0}


@then(
    parsers.re(
        r"Amina has (?P<usdt>[\d.]+) USDT, converted from (?P<usdc>[\d.]+) USDC less the (?P<spread>[\d.]+)% spread, "
        r"with the quotes kept"
    )
)
def converted(deposits_world: DepositsWorld, usdt: str, usdc: str, spread: str) -> None:
    deposit = _deposit(deposits_world)
    assert (deposit.state, deposit.amount) == (DepositState.CREDITED, Money.of(usdc, "USDC")), deposit
    conversion = deposit.conversion
    assert conversion is not None and conversion.into == Money.of(usdt, "USDT") == _usdt(deposits_world)
    assert conversion.spread * 100 == Decimal(spread) and conversion.at_mid == Money.of(usdc, "USDT")
    quotes = [deposits_world.stack.wallet.sells.quotes().get(q) for q in conversion.quotes]
    assert [str(q.pair) for q in quotes if q is not None] == ["USDC/USD", "USDT/USD"]
    assert _kinds(deposits_world).count("deposit") >= 1


@then("the deposit is held until USDC can be priced, and Amina still has 0 USDT")
def awaiting_price(deposits_world: DepositsWorld) -> None:
    deposit = _deposit(deposits_world)
    assert (deposit.state, deposit.hold_reason) == (DepositState.HELD, HoldReason.AWAITING_CONVERSION), deposit
    assert deposit.conversion is None and "USDC/USDT price" in (deposit.hold_detail or "")
    assert _usdt(deposits_world) == Money.zero("USDT")


@then(parsers.re(r"reconciliation agrees, with (?P<usdc>[\d.]+) USDC in custody on Polygon"))
def reconciled(deposits_world: DepositsWorld, usdc: str) -> None:
    stack = deposits_world.stack
    uow, ledger = stack.wallet.backend.uow, stack.wallet.ledger
    assert ledger.balance(custody("polygon", USDC)).posted == Money.of(usdc, USDC)
    report = Reconciliation(uow=uow, ledger=ledger, clock=stack.clock, deposits=uow, wallets=uow).reconcile()
    wanted = {"wallet-deposits", "deposits-held", "custody", "trial-balance", "wallet-balances"}
    results = {r.check.name: r for r in report.results if r.check.name in wanted}
    assert set(results) == wanted
    assert all(not r.skipped and not r.differences for r in results.values()), results
