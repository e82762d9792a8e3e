"""``cryptopay withdrawals list|pending|show`` over the withdrawal use cases (in memory, as the shells see them)."""

from __future__ import annotations

import json

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import TxState
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.services import in_memory_services, with_wallets
from tests.support.withdraw_stack import withdraw_stack

app = build_app()
runner = CliRunner()
ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.fixture
def stack():
    found = withdraw_stack()
    services = with_wallets(in_memory_services(clock=found.clock), found.wallet)
    previous = use_services(attrs.evolve(services, withdrawals=ready(found.withdrawals)))
    yield found
    use_services(previous)


def _run(*args: str):
    return runner.invoke(app, ["withdrawals", *args])


def test_pending_lists_the_cooling_and_sent_ones_and_show_tells_one(stack):
    """A cooling withdrawal is pending with its send_after; once confirmed it leaves pending; show names its tx."""
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "1000")
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    pending = _run("pending", "--json")
    assert pending.exit_code == 0, pending.output
    assert [(r["id"], r["state"]) for r in json.loads(pending.stdout)] == [(w.id, "requested")]
    stack.clock.advance(hours=24)
    stack.withdrawals.send_due()
    stack.senders["polygon"].finish(w.id, TxState.CONFIRMED)
    stack.withdrawals.check_sent()
    assert json.loads(_run("pending", "--json").stdout) == []
    shown = json.loads(_run("show", w.id, "--json").stdout)
    assert (shown["state"], shown["amount"], shown["tx"] != "") == ("confirmed", "100.000000 USDT", True)
    listed = json.loads(_run("list", "--state", "confirmed", "--json").stdout)
    assert [r["id"] for r in listed] == [w.id]


def test_unknown_ids_and_states_exit_with_meaning(stack):
    """An unknown withdrawal exits 3; an unknown state 2; an empty pending list says so."""
    assert _run("show", "wdr_nope").exit_code == 3
    assert _run("list", "--state", "lost").exit_code == 2
    empty = _run("pending")
    assert empty.exit_code == 0 and "no withdrawal is pending" in empty.stdout


def _sent(stack):
    """A tier-1 user with 300 USDT whose withdrawal of 100 was sent (the hot wallet funded)."""
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "1000")
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    stack.clock.advance(hours=24)
    stack.withdrawals.send_due()
    return user, w


def test_resolve_a_dropped_withdrawal_returns_the_coins_only_with_a_reason(stack):
    """A withdrawal dropped after its rebroadcast: ``resolve`` says it will not be mined and changes nothing;
    ``--fail`` without a reason exits 2; ``--fail --reason`` returns the coins; again, nothing changes."""
    user, w = _sent(stack)
    pending = _run("resolve", w.id, "--fail", "--reason", "not seen", "--json")
    assert pending.exit_code == 5 and "may still be mined" in pending.output, pending.output
    stack.senders["polygon"].finish(w.id, TxState.DROPPED)
    stack.withdrawals.check_sent()
    assert json.loads(_run("show", w.id, "--json").stdout)["stuck"] == "yes"
    looked = json.loads(_run("resolve", w.id, "--json").stdout)
    assert (looked["outcome"], looked["state"], looked["chain"]) == ("dropped", "sent", "dropped")
    assert _run("resolve", w.id, "--fail").exit_code == 2
    assert _run("resolve", w.id, "--reason", "replaced").exit_code == 2
    failed = _run("resolve", w.id, "--fail", "--reason", "nonce replaced", "--actor", "ops:test", "--json")
    assert failed.exit_code == 0, failed.output
    assert (json.loads(failed.stdout)["outcome"], json.loads(failed.stdout)["state"]) == ("returned", "failed")
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")
    again = json.loads(_run("resolve", w.id, "--fail", "--reason", "again", "--json").stdout)
    assert (again["outcome"], again["state"]) == ("unchanged", "failed")
    assert _run("resolve", "wdr_nope").exit_code == 3


@pytest.mark.parametrize("actor", ["system:withdrawals", "user:usr_someone", "ops:", "ops:a b", "ops:" + "x" * 200])
def test_an_operator_cannot_write_another_actor_into_the_audit_log(stack, actor):
    """Outside review: ``--actor`` names an operator (``ops:<name>``); claiming the system or a customer, or an odd
    name, exits 2 and changes nothing (the withdrawal stays sent); a plain name is accepted (recorded apart, R10-5)."""
    _, w = _sent(stack)
    stack.senders["polygon"].finish(w.id, TxState.DROPPED)
    stack.withdrawals.check_sent()
    refused = _run("resolve", w.id, "--fail", "--reason", "nonce replaced", "--actor", actor)
    assert refused.exit_code == 2, refused.output
    assert json.loads(_run("show", w.id, "--json").stdout)["state"] == "sent"
    assert _run("resolve", w.id, "--fail", "--reason", "nonce replaced", "--actor", "amina").exit_code == 0
