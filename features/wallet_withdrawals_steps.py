"""Steps for wallet_withdrawals.feature over a ``WithdrawWorld``: the withdraw stack and its chain. The test modules
give the world: in memory with a fake hot-wallet sender (test_wallet_withdrawals.py), or on PostgreSQL with a real
ERC-20 sent from a hot wallet on anvil (test_wallet_withdrawals_real.py)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.errors import LimitExceeded, Refused
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.reconciliation import Reconciliation
from cryptopay.core.wallets.withdrawal_model import Withdrawal, WithdrawalState
from pytest_bdd import given, parsers, then, when

from tests.support.withdraw_stack import WithdrawStack


@attrs.define
class WithdrawWorld:
    stack: WithdrawStack
    network: str
    address: str  # Amina's own wallet outside cryptopay
    confirm: Callable[[Withdrawal], None]  # the network confirms a sent withdrawal
    received: Callable[[str], Money]  # what an address holds (on chain, or what the fake sender sent it)
    starve: Callable[[], None]  # the hot wallet can no longer pay
    signed: Callable[[], int]  # how many withdrawals the hot wallet signed
    hold_blocks: Callable[[], None] = lambda: None  # the network mines only when told (a sent one waits)
    replace: Callable[[Withdrawal], None] = lambda _w: None  # dropped: another transaction takes its nonce
    forget: Callable[[Withdrawal], None] = lambda _w: None  # evicted from the mempool, its nonce still free
    waiting: Callable[[Withdrawal], bool] = lambda _w: False  # its transaction is in the mempool
    hot: str = ""  # the hot wallet's address (configured: ``CRYPTOPAY_<NETWORK>_HOT_WALLET``)
    deposit: str = ""  # an address a deriver gives another wallet (registered by a step)


def _world(context: Any) -> WithdrawWorld:
    world: WithdrawWorld = context["withdraw_world"]
    return world


def _usdt(context: Any, value: str) -> Money:
    return Money.of(context.amount(value), USDT)


@given(parsers.re(r"(?P<name>\w+) has a verified wallet with the phone number (?P<phone>[\d ]+)"))
def verified_wallet(context, withdraw_world, name, phone):
    context["withdraw_world"] = withdraw_world
    context.setdefault("people", {})[name] = withdraw_world.stack.wallet.sign_up(phone, tier=1)


@given(parsers.re(r"(?P<name>\w+) has (?P<value>[\d,.]+) USDT (more )?in (his|her) wallet"))
def funded(context, name, value):
    _world(context).stack.wallet.fund(context["people"][name], str(context.amount(value)), "USDT")


@given(parsers.re(r"the hot wallet holds (?P<value>[\d,.]+) USDT"))
def hot_wallet(context, value):
    world = _world(context)
    world.stack.fund_hot_wallet(world.network, str(context.amount(value)))


@given(parsers.re(r"(?P<name>\w+) withdrew (?P<value>[\d,.]+) USDT to her own address last week"))
def withdrew_before(context, name, value):
    world = _world(context)
    w = world.stack.withdrawals.request(context["people"][name].id, world.network, world.address, _usdt(context, value))
    world.stack.clock.advance(days=7)
    world.stack.withdrawals.send_due()
    world.confirm(w)
    [done] = [d for d in world.stack.withdrawals.check_sent() if d.id == w.id]
    assert done.state is WithdrawalState.CONFIRMED


@given("the hot wallet cannot pay")
def cannot_pay(context):
    _world(context).starve()


@when(parsers.re(r"(?P<name>\w+) withdraws (?P<value>[\d,.]+) USDT to her own address"))
def withdraws(context, name, value):
    world = _world(context)
    user = context["people"][name].id
    context["quote"] = world.stack.withdrawals.quote(user, world.network, world.address, _usdt(context, value))
    context["withdrawal"] = world.stack.withdrawals.request(user, world.network, world.address, _usdt(context, value))
    context["sent"] = world.stack.withdrawals.send_due()


@when(parsers.re(r"(?P<name>\w+) tries to withdraw (?P<value>[\d,.]+) USDT to (?P<to>\S+)"))
def tries_to_withdraw(context, name, value, to):
    world = _world(context)
    address = world.address if to == "her own address" else to
    with pytest.raises((Blocked, LimitExceeded)) as refused:
        world.stack.withdrawals.request(context["people"][name].id, world.network, address, _usdt(context, value))
    context["refused"] = refused.value


@when(parsers.re(r"(?P<name>\w+) tries to withdraw (?P<value>[\d,.]+) USDT to her own address"))
def tries_to_withdraw_home(context, name, value):
    tries_to_withdraw(context, name, value, "her own address")


@given(parsers.re(r"(?P<name>\w+) has a deposit address"))
def has_deposit_address(context, name):
    """Registered as the wallet deposits register a derived address (the registry the chain watchers read)."""
    world, user = _world(context), context["people"][name]
    address = DepositAddress(world.network, world.deposit, 1000, None, None, world.stack.clock.now(), user.id)
    in_transaction(world.stack.wallet.backend.uow, lambda uow: uow.deposit_addresses.add(address))
    context.setdefault("deposit_addresses", {})[name] = world.deposit


@when(
    parsers.re(
        r"(?P<name>\w+) tries to withdraw (?P<value>[\d,.]+) USDT to (?P<to>the hot wallet|\w+'s deposit address)"
    )
)
def tries_internal(context, name, value, to):
    world = _world(context)
    address = world.hot if to == "the hot wallet" else context["deposit_addresses"][to.split("'")[0]]
    user, amount = context["people"][name].id, _usdt(context, value)
    with pytest.raises(InternalAddress) as quoted:
        world.stack.withdrawals.quote(user, world.network, address, amount)
    with pytest.raises(InternalAddress) as refused:
        world.stack.withdrawals.request(user, world.network, address, amount)
    context["refused"], context["quoted"] = refused.value, quoted.value


@then("she is told the address belongs to cryptopay and to send by phone or username instead")
def told_internal(context):
    for refusal in (context["quoted"], context["refused"]):
        assert refusal.code == "internal_address" and "phone or username" in refusal.message


@when(parsers.re(r"(?P<hours>\d+) hours pass"))
def hours_pass(context, hours):
    world = _world(context)
    world.stack.clock.advance(hours=int(hours))
    context["sent"] = world.stack.withdrawals.send_due()


@when("the network confirms it")
def network_confirms(context):
    world = _world(context)
    world.confirm(context["withdrawal"])
    context["checked"] = world.stack.withdrawals.check_sent()


@then(
    parsers.re(r"she was shown a fee of (?P<fee>[\d,.]+) USDT and a total of (?P<total>[\d,.]+) USDT before confirming")
)
def shown_fee(context, fee, total):
    quote = context["quote"]
    assert (quote.fee, quote.total) == (_usdt(context, fee), _usdt(context, total))


@then("the withdrawal is sent at once")
def sent_at_once(context):
    w = context["withdrawal"]
    assert not w.cooling
    assert [s.id for s in context["sent"] if s.state is WithdrawalState.SENT] == [w.id]


@then(parsers.re(r"the withdrawal waits (?P<hours>\d+) hours before it is sent"))
def waits(context, hours):
    w = context["withdrawal"]
    assert w.send_after - w.created_at == timedelta(hours=int(hours))
    assert context["sent"] == [] and _world(context).signed() == 0


@then("the withdrawal is sent")
def is_sent(context):
    w = context["withdrawal"]
    assert [s.id for s in context["sent"] if s.state is WithdrawalState.SENT] == [w.id]


@then(parsers.re(r"the withdrawal is confirmed and her address has received (?P<value>[\d,.]+) USDT"))
def confirmed(context, value):
    world = _world(context)
    assert world.stack.withdrawals.show(context["withdrawal"].id).state is WithdrawalState.CONFIRMED
    assert world.received(world.address) == _usdt(context, value)


@then("the withdrawal has failed")
def failed(context):
    found = _world(context).stack.withdrawals.show(context["withdrawal"].id)
    assert found.state is WithdrawalState.FAILED, (found, context.get("sent"))


@then(parsers.re(r"(?P<name>\w+) has (?P<value>[\d,.]+) USDT in (his|her) wallet"))
def has_usdt(context, name, value):
    assert _world(context).stack.wallet.balance(context["people"][name], "USDT") == _usdt(context, value)


@then("she is told the withdrawal was blocked by compliance")
def blocked(context):
    assert isinstance(context["refused"], Blocked)


@then("nothing was signed or sent")
def nothing_signed(context):
    world = _world(context)
    assert world.signed() == 0
    assert world.stack.withdrawals.list_all() == []


@then(parsers.re(r'a compliance officer sees a "(?P<rule>[\w-]+)" alert'))
def alert_seen(context, rule):
    assert [a.rule_id for a in _world(context).stack.monitoring.alerts()] == [rule]


@then(parsers.re(r'she is refused by the "(?P<limit>[\w.]+)" limit'))
def refused_by_limit(context, limit):
    refused = context["refused"]
    assert isinstance(refused, LimitExceeded) and refused.details["limit"] == limit


@then("reconciliation finds no difference in the withdrawals and the books")
def reconciled(context):
    stack = _world(context).stack
    uow = stack.wallet.backend.uow
    report = Reconciliation(uow=uow, ledger=stack.wallet.ledger, clock=stack.clock, withdrawals=uow).reconcile()
    # (custody is left out: the scenario's hot wallet was funded outside any invoice or deposit the check counts)
    wanted = {"wallet-withdrawals", "withdrawals-in-flight", "trial-balance"}
    results = {r.check.name: r for r in report.results if r.check.name in wanted}
    assert set(results) == wanted
    assert all(not r.skipped and not r.differences for r in results.values()), results
    assert len(stack.withdrawals.list_all()) == 2


OPERATOR = "ops:night-shift"


def _reconcile(stack: WithdrawStack) -> dict[str, Any]:
    uow = stack.wallet.backend.uow
    report = Reconciliation(uow=uow, ledger=stack.wallet.ledger, clock=stack.clock, withdrawals=uow).reconcile()
    return {r.check.name: r for r in report.results}


@given("the network mines only when told")
def hold_blocks(context):
    _world(context).hold_blocks()


@when("the network drops the withdrawal and another transaction takes its nonce")
def replaced(context):
    world = _world(context)
    world.replace(world.stack.withdrawals.show(context["withdrawal"].id))


@when("the network forgets the withdrawal")
def forgotten(context):
    world = _world(context)
    world.forget(world.stack.withdrawals.show(context["withdrawal"].id))


@when("the network mines it")
def mines_it(context):
    world = _world(context)
    world.confirm(world.stack.withdrawals.show(context["withdrawal"].id))


@when("the worker follows the sent withdrawals twice")
def follows_twice(context):
    stack = _world(context).stack
    context["checked"] = stack.withdrawals.check_sent() + stack.withdrawals.check_sent()


@when("an operator resolves the withdrawal")
def operator_resolves(context):
    resolution = _world(context).stack.withdrawals.resolve(context["withdrawal"].id, actor=OPERATOR)
    context.setdefault("resolutions", []).append(resolution)


@when(parsers.re(r'an operator (?P<tries>tries to resolve|resolves) the withdrawal as failed because "(?P<why>[^"]+)"'))
def operator_fails(context, tries, why):
    withdrawals = _world(context).stack.withdrawals
    if tries == "resolves":
        resolution = withdrawals.resolve(context["withdrawal"].id, actor=OPERATOR, fail=True, reason=why)
        context.setdefault("resolutions", []).append(resolution)
        return
    with pytest.raises(Refused) as refused:
        withdrawals.resolve(context["withdrawal"].id, actor=OPERATOR, fail=True, reason=why)
    context["refused"] = refused.value


@then(parsers.re(r"the withdrawal is still sent holding (?P<value>[\d,.]+) USDT, and reconciliation names it"))
def stuck(context, value):
    world = _world(context)
    found = world.stack.withdrawals.show(context["withdrawal"].id)
    assert found.state is WithdrawalState.SENT and found.stuck and found.total == _usdt(context, value), found
    result = _reconcile(world.stack)["withdrawals-in-flight"]
    assert [d.subject.split()[1] for d in result.differences] == [found.id], result.differences
    assert f"cryptopay withdrawals resolve {found.id}" in result.differences[0].actual


@then("the operator is told it will not be mined, and nothing changed")
def told_dropped(context):
    resolution = context["resolutions"][-1]
    assert (resolution.outcome, resolution.chain) == ("dropped", "dropped"), resolution
    assert "--fail" in resolution.message
    found = _world(context).stack.withdrawals.show(context["withdrawal"].id)
    assert found.state is WithdrawalState.SENT and found.stuck


@then("resolving it again changes nothing")
def again(context):
    withdrawals = _world(context).stack.withdrawals
    before = withdrawals.show(context["withdrawal"].id)
    for fail in (True, False):
        why = "again" if fail else None
        resolution = withdrawals.resolve(before.id, actor=OPERATOR, fail=fail, reason=why)
        assert resolution.outcome == "unchanged" and resolution.withdrawal == before
        context["resolutions"].append(resolution)
    assert not _reconcile(_world(context).stack)["withdrawals-in-flight"].differences


@then("the audit log names the operator for each resolution")
def audited(context):
    uow = _world(context).stack.wallet.backend.uow
    records = in_transaction(uow, lambda u: u.audit.records())
    mine = [r for r in records if r.subject == f"withdrawal:{context['withdrawal'].id}"]
    resolves = [e for e in mine if e.action == "wallet.withdrawal_resolve"]
    assert [(e.actor, dict(e.details)["outcome"]) for e in resolves] == [
        (OPERATOR, r.outcome) for r in context["resolutions"]
    ]
    assert [e.actor for e in mine if e.action == "wallet.withdrawal_failed"] == [OPERATOR]


@then("the operator is refused because the chain may still mine it")
def refused_pending(context):
    assert "may still be mined" in context["refused"].message
    found = _world(context).stack.withdrawals.show(context["withdrawal"].id)
    assert found.state is WithdrawalState.SENT and not found.stuck


@then("the withdrawal is waiting in the network again")
def waiting_again(context):
    world = _world(context)
    assert context["resolutions"][-1].outcome == "rebroadcast"
    assert world.waiting(world.stack.withdrawals.show(context["withdrawal"].id))
