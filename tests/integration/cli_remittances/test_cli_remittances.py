"""``cryptopay remittances list|show|retry|refund`` over the remittance use case (in memory, as the shells see it)."""

from __future__ import annotations

import json

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.remittances import Sender
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.remittance_stack import TRON_REFUND, remittance_stack
from tests.support.services import in_memory_services

app = build_app()
runner = CliRunner()


@pytest.fixture
def stack():
    found = remittance_stack(policy=RetryPolicy(attempts=1))
    services = attrs.evolve(in_memory_services(clock=found.clock), remittances=ready(found.remittances))
    previous = use_services(services)
    yield found
    use_services(previous)


def _json(*args: str) -> object:
    done = runner.invoke(app, ["remittances", *args, "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_list_and_show_an_order_then_a_failed_payout_is_retried_by_an_operator(stack):
    """A paid order whose single attempt failed is refunding; an operator cannot retry it once refunding, but a held
    one (a failed refund) can be refunded again; ``show`` tells the invoice, payout and refund."""
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="1500")
    listed = _json("list")
    assert [(r["id"], r["state"], r["kes"]) for r in listed] == [(order.id, "awaiting_payment", "1500.00")]
    stack.pay(order)
    stack.confirm()
    stack.run()
    shown = _json("show", order.id)
    assert (shown["state"], shown["payout_state"], shown["invoice_state"]) == ("refunding", "failed", "settled")
    assert shown["refund"] and shown["refund_address"] == TRON_REFUND
    assert shown["paid_from"] == "0xcustomer"  # the Travel Rule originator's account (the fake chain's default payer)
    assert shown["mpesa_name"] == ""  # the payout failed: M-Pesa named no one
    refused = runner.invoke(app, ["remittances", "retry", order.id])
    assert refused.exit_code != 0 and "refunding" in refused.output
    assert _json("list", "--state", "refunding")[0]["id"] == order.id


def test_an_operator_retries_a_failed_payout_before_the_worker_refunds(stack):
    """With attempts left, an operator's ``retry`` makes a new payout now; it pays, and the order is paid out."""
    stack.remittances.policy = RetryPolicy(attempts=3)
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="1500")
    stack.pay(order)
    stack.confirm()
    stack.run(rounds=1)
    assert _json("show", order.id)["payout_state"] == "failed"
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.SUCCESS)
    asked = runner.invoke(app, ["remittances", "retry", order.id, "--actor", "ops@example.com"])
    assert asked.exit_code != 0 and "Transaction Status is asked first" in asked.output
    stack.wallet.deliver_callbacks()  # its answer: failed, as the result said
    retried = _json("retry", order.id, "--actor", "ops@example.com")
    assert (retried["state"], retried["payout_state"], retried["attempts"]) == ("paying_out", "planned", 2)
    stack.run()
    assert _json("show", order.id)["state"] == "paid_out"
    assert _json("show", order.id)["mpesa_name"] == "ACHIENG OTIENO"  # who M-Pesa's B2C result says it paid
    missing = runner.invoke(app, ["remittances", "show", "rmt_nope"])
    assert missing.exit_code != 0 and "no remittance order" in missing.output


def test_an_operator_refunds_an_expired_order_that_was_paid_late(stack):
    """The USDT arrived after the window: the order expired; ``refund`` sends it back (to another address given)."""
    order = stack.order(amount="1500")
    stack.clock.advance(minutes=31)
    stack.confirm(2)
    stack.run()
    stack.pay(order)
    stack.confirm()
    assert _json("show", order.id)["state"] == "expired"
    other = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    bare = runner.invoke(app, ["remittances", "refund", order.id, "--address", other])  # review8 R8: why, or nothing
    assert bare.exit_code == 2 and "says why" in bare.output, bare.output
    assert _json("show", order.id)["refund_address"] == TRON_REFUND and _actions(stack, order.id) == []
    refunded = _json("refund", order.id, "--address", other, "--reason", "sender's email of 7 Dec, tx proof seen")
    assert refunded["state"] == "refunding" and refunded["refund_address"] == other
    [changed] = [(actor, d) for a, actor, d in _actions(stack, order.id) if a == "remittance.refund_address_changed"]
    assert changed[0].startswith("ops:") and (changed[1]["from"], changed[1]["to"]) == (TRON_REFUND, other)
    assert changed[1]["reason"] == "sender's email of 7 Dec, tx proof seen"
    stack.run()
    stack.confirm_refunds()
    stack.run()
    assert _json("show", order.id)["state"] == "refunded" and stack.books_balanced()


def _actions(stack, order_id: str, *, since: str = "remittance.refund") -> list[tuple[str, str, dict[str, str]]]:
    with stack.wallet.backend.uow() as uow:
        found = uow.audit.about([f"remittance:{order_id}"])
    return [(r.action, r.actor, dict(r.details)) for r in found if r.action.startswith(since)]


def test_the_shell_never_refunds_an_order_held_for_a_listed_payer(stack):
    """review8 R8: an order paid from a listed address is held for compliance; ``refund`` from the shell (to the
    sender's address or any other) exits 5, audited ``remittance.refund_refused`` by the operator, and nothing
    changes: no refund, the refund address and the alert as they were."""
    listed = "TLsanctionedTronAddressXXXXXXXXXXX"
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", listed),))
    order = stack.order(amount="1500")
    stack.pay(order, payer=listed)
    stack.confirm()
    stack.run()
    assert _json("show", order.id)["state"] == "held"
    other = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    for extra in ((), ("--address", other, "--reason", "the sender asked by email")):
        refused = runner.invoke(app, ["remittances", "refund", order.id, *extra])
        assert refused.exit_code == 5 and "held for compliance" in refused.output, refused.output
    shown = _json("show", order.id)
    assert (shown["state"], shown["refund"], shown["refund_address"]) == ("held", "", TRON_REFUND)
    assert stack.refunds.list_refunds(order.invoice_id) == []
    [alert] = stack.monitoring.alerts()
    assert alert.status.value == "open"
    refusals = [(actor, d) for a, actor, d in _actions(stack, order.id) if a == "remittance.refund_refused"]
    assert [(actor.startswith("ops:"), d["alerts"]) for actor, d in refusals] == [(True, alert.id)] * 2
    assert refusals[1][1]["address"] == other
    assert [a for a, _, _ in _actions(stack, order.id, since="remittance.")].count("remittance.refunding") == 0


def test_listing_orders_needs_no_mpesa_settings(tmp_path):
    """An operator reads orders on a deployment without Daraja settings (a read-only box, a fresh data directory):
    the payouts, and M-Pesa with them, are built only when an order is paid out."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOPAY_")}
    env["CRYPTOPAY_DATA_DIR"] = str(tmp_path)
    cli = Path(sys.executable).with_name("cryptopay")
    done = subprocess.run([str(cli), "remittances", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "no remittance order", "")


def test_compliance_rescreen_marks_an_unpaid_order_a_new_list_names_and_its_release_waits_for_compliance(stack):
    """``cryptopay compliance rescreen`` rescreens the remittances under way too: an unpaid order whose recipient a
    new list names keeps the alert and goes on (one JSON line per order changed; it was refused, which its sender
    could see: tipoff3); a paid order held for compliance is not released by ``retry`` while its alert is in no case
    (exit 5, ``under_compliance_review``)."""
    stack.list_sanctioned("Mujahidin Youth Movement")
    order = stack.order(amount="1500", name="Viktor Anatolyevich Bout")
    held = stack.order(amount="1600", phone="254711000009", sender=Sender(name="Dmitri Ivanovich", country="GB"))
    stack.list_sanctioned("Viktor Anatolyevich Bout", "Dmitri Ivanovich Petrov")
    done = runner.invoke(app, ["compliance", "rescreen"])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.stdout.splitlines() if '"remittance"' in line]
    assert {(r["remittance"], r["state"]) for r in rows} == {
        (order.id, "awaiting_payment"),
        (held.id, "awaiting_payment"),
    }
    assert runner.invoke(app, ["compliance", "rescreen"]).stdout.count('"remittance"') == 0  # once per version
    stack.pay(held)
    stack.confirm()
    stack.run()
    assert _json("show", held.id)["state"] == "held"
    refused = runner.invoke(app, ["remittances", "retry", held.id])
    assert refused.exit_code == 5 and "held for compliance" in refused.output


def test_reading_orders_is_audited_by_the_operator(stack):
    """``list`` and ``show`` print phone numbers, senders' names and addresses and M-Pesa's registered names: each is
    an audited read by ``ops:<login>`` (review8 R9), as ``wallets show`` is; an unknown order is no read."""
    from cryptopay_cli.context import services

    order = stack.order(amount="1500")
    _json("list")
    _json("show", order.id)
    assert runner.invoke(app, ["remittances", "show", "rmt_nope"]).exit_code != 0
    reads = [(r.actor[:4], r.action, r.subject, dict(r.details)) for r in services().audit.records()]
    assert [r for r in reads if r[1].startswith("remittance")] == [
        ("ops:", "remittances.viewed", "remittances", {"state": "", "count": "1"}),
        ("ops:", "remittance.viewed", f"remittance:{order.id}", {}),
    ]
