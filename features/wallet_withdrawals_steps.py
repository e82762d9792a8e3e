"""Steps for wallet_withdrawals.feature over a ``WithdrawWorld``: the withdraw stack and its chain. The test modules
give the world: in memory with a fake hot-wallet sender (test_wallet_withdrawals.py), or on PostgreSQL with a real
ERC-20 sent from a hot wallet on anvil (test_wallet_withdrawals_real.py)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.errors import LimitExceeded
from cryptopay.core.money import USDT, Money
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
