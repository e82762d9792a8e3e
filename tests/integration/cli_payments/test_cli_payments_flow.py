"""The payment commands over a merchant's real journey: invoices, settlement runs and dry runs, payouts, retries."""

from __future__ import annotations

from decimal import Decimal

import attrs
from cryptopay.core.payouts import PayoutState
from cryptopay.core.payouts.model import PayoutKind
from cryptopay_cli.context import operator

from tests.integration.cli_payments.cli_payments_support import cli, cli_json, create_merchant, paid_invoice

UNREGISTERED = "0711000005"  # the fake M-Pesa fails B2C payments to this number (result 2040)
LOST_CALLBACK = "0711000008"  # the fake M-Pesa pays, but its callback never arrives


def settle(stack, merchant_id):
    """Run the settlement through the CLI and send its payouts to M-Pesa; the run's JSON."""
    runs = cli_json("settlements", "run", "--merchant", merchant_id)["runs"]
    stack.payouts.submit_payouts()
    return runs[0]


def test_cli_invoices_list_and_show_a_paid_invoice(stack):
    """`invoices list` filters by merchant and state; `invoices show` gives the options and the confirmed payment."""
    merchant_id = create_merchant()
    invoice_id = paid_invoice(stack, merchant_id)
    open_id = stack.invoicing.create_invoice(merchant_id, stack.kes("250")).id
    listed = cli_json("invoices", "list", "--merchant", merchant_id)["invoices"]
    assert {(i["id"], i["state"]) for i in listed} == {(invoice_id, "settled"), (open_id, "new")}
    assert [i["id"] for i in cli_json("invoices", "list", "--state", "new")["invoices"]] == [open_id]
    shown = cli_json("invoices", "show", invoice_id)
    assert shown["price"] == {"amount": "1000.00", "asset": "KES"} and shown["state"] == "settled"
    assert shown["options"][0]["rail"] == "usdt-tron" and shown["options"][0]["due"]["asset"] == "USDT"
    (payment,) = shown["payments"]
    assert payment["amount"] == shown["options"][0]["due"] and payment["confirmations"] >= 3 and not payment["late"]
    assert (
        payment["held"] is False
    )  # a listed payer's payment would read held (tests/unit/payments/test_sanctioned_payers.py)
    table = cli("invoices", "show", invoice_id)
    assert table.exit_code == 0 and "usdt-tron" in table.stdout and invoice_id in table.stdout


def test_cli_invoices_bad_input_exit_codes(stack):
    """An unknown invoice or merchant exits 3; an unknown state is a usage error (exit 2)."""
    create_merchant()
    assert cli("invoices", "show", "inv_nope").exit_code == 3
    missing = cli("invoices", "list", "--merchant", "mer_nope")
    assert missing.exit_code == 3 and "no merchant mer_nope" in missing.stderr
    assert cli("invoices", "list", "--state", "lost").exit_code == 2


def test_cli_settlement_dry_run_writes_nothing_then_the_run_pays_out(stack):
    """A dry run prints the plan and changes nothing; the real run converts, plans the same parts and holds them."""
    merchant_id = create_merchant()
    paid_invoice(stack, merchant_id)
    balances = stack.ledger.trial_balance(), stack.balance(f"liabilities:merchant:{merchant_id}:USDT")
    dry = cli_json("settlements", "run", "--dry-run")
    (planned,) = dry["runs"]
    assert dry["dry_run"] and planned["dry_run"] and planned["settlement_id"] is None and planned["payout_ids"] == []
    assert planned["parts"] and Decimal(planned["to_pay"]["amount"]) > 900
    assert cli_json("settlements", "list") == {"settlements": []} and cli_json("payouts", "list") == {"payouts": []}
    assert (stack.ledger.trial_balance(), stack.balance(f"liabilities:merchant:{merchant_id}:USDT")) == balances
    assert "dry run: nothing was written" in cli("settlements", "run", "--dry-run").stdout

    (ran,) = cli_json("settlements", "run")["runs"]
    assert ran["converted"]["asset"] == "USDT" and ran["credited"]["asset"] == "KES"
    assert [p["amount"] for p in ran["parts"]] == [p["amount"] for p in planned["parts"]]
    assert ran["remainder"] == planned["remainder"] and len(ran["payout_ids"]) == len(ran["parts"])
    (settlement,) = cli_json("settlements", "list", "--merchant", merchant_id)["settlements"]
    assert settlement["id"] == ran["settlement_id"] and settlement["state"] == "paying"
    assert settlement["payout_ids"] == ran["payout_ids"]
    table = cli("settlements", "run")
    assert table.exit_code == 0 and merchant_id in table.stdout and "below the minimum" in table.stdout


def test_cli_payouts_list_and_retry_a_failed_payout(stack):
    """A failed payout is listed as failed; `payouts retry` makes attempt 2 once, and refuses a second retry."""
    merchant_id = create_merchant(destination=UNREGISTERED)
    paid_invoice(stack, merchant_id)
    ran = settle(stack, merchant_id)
    stack.deliver_callbacks()
    (failed,) = cli_json("payouts", "list", "--state", "failed")["payouts"]
    assert failed["id"] == ran["payout_ids"][0] and failed["result_code"] == "2040"
    asked = cli("payouts", "retry", failed["id"], "--actor", "ops:alice")  # Transaction Status first
    assert asked.exit_code == 5 and "Transaction Status is asked first" in asked.stderr
    stack.deliver_callbacks()  # its answer: failed, as the result said
    shown = cli_json("payouts", "show", failed["id"])  # what the runbooks send operators to
    assert (shown["state"], shown["result_code"]) == ("failed", "2040") and shown["result_desc"]
    (query,) = shown["queries"]
    assert query["query_id"] and query["asked_at"] and query["outcome"] == "failed"
    table = cli("payouts", "show", failed["id"])
    assert table.exit_code == 0 and shown["result_desc"] in table.stdout and query["query_id"] in table.stdout
    assert cli("payouts", "show", "po_nope").exit_code == 3
    retried = cli_json("payouts", "retry", failed["id"], "--actor", "ops:alice")
    assert retried["state"] == "planned" and retried["attempt"] == 2 and retried["retry_of"] == failed["id"]
    assert retried["amount"] == failed["amount"] and retried["id"] != failed["id"]
    again = cli("payouts", "retry", failed["id"])
    assert again.exit_code == 5 and f"already retried as {retried['id']}" in again.stderr
    planned = cli("payouts", "retry", retried["id"])
    assert planned.exit_code == 5 and "only a definitively failed payout" in planned.stderr
    assert cli("payouts", "retry", "po_nope").exit_code == 3
    states = {p["id"]: p["state"] for p in cli_json("payouts", "list")["payouts"]}
    assert states == {failed["id"]: "failed", retried["id"]: "planned"}
    assert any(r.action == "payout.retry" and r.actor == operator() for r in stack.storage.audit_records())


def test_cli_payouts_query_stale_asks_mpesa_about_a_silent_payout(stack):
    """A payout whose callback is lost is queried by `payouts query-stale` once its deadline passed."""
    merchant_id = create_merchant(destination=LOST_CALLBACK)
    paid_invoice(stack, merchant_id)
    ran = settle(stack, merchant_id)
    assert cli_json("payouts", "query-stale") == {"queried": []}  # not overdue yet
    stack.clock.advance(minutes=3)
    (queried,) = cli_json("payouts", "query-stale")["queried"]
    assert queried["id"] == ran["payout_ids"][0] and queried["state"] == PayoutState.UNKNOWN.value
    stack.deliver_callbacks()  # the status answer settles it
    assert [p["id"] for p in cli_json("payouts", "list", "--state", "completed")["payouts"]] == ran["payout_ids"]


def test_cli_payouts_list_rejects_an_unknown_state(stack):
    """`payouts list --state` accepts only payout states (exit 2 otherwise)."""
    assert cli("payouts", "list", "--state", "paid").exit_code == 2


def test_cli_payouts_list_shows_every_payout_with_whose_it_is(stack):
    """review5 S6: a wallet's sale and bill payouts and a remittance's are listed beside the merchants' (``whose``),
    by state; ``--merchant`` still lists one merchant's."""
    merchant_id = create_merchant()
    paid_invoice(stack, merchant_id)
    (settled,) = settle(stack, merchant_id)["payout_ids"]
    with stack.uow() as uow:
        merchants = uow.payouts.get(settled)
        for n, (kind, owner) in enumerate(
            [(PayoutKind.SALE, "usr_pat"), (PayoutKind.BILL, "usr_pat"), (PayoutKind.REMITTANCE, "remittances")]
        ):
            uow.payouts.add(
                attrs.evolve(
                    merchants,
                    id=f"po_z{n}",
                    originator_id=f"po_z{n}",
                    settlement_id=f"x_{n}",
                    merchant_id=owner,
                    kind=kind,
                )
            )
    listed = {p["id"]: (p["kind"], p["merchant_id"]) for p in cli_json("payouts", "list")["payouts"]}
    assert listed == {
        settled: ("settlement", merchant_id),
        "po_z0": ("sale", "usr_pat"),
        "po_z1": ("bill", "usr_pat"),
        "po_z2": ("remittance", "remittances"),
    }
    state = merchants.state.value
    assert len(cli_json("payouts", "list", "--state", state)["payouts"]) == 4
    assert [p["id"] for p in cli_json("payouts", "list", "--merchant", merchant_id)["payouts"]] == [settled]
    table = cli("payouts", "list")
    assert table.exit_code == 0 and "wallet sale" in table.stdout and "wallet bill" in table.stdout
    assert "WHOSE" in table.stdout and "remittance" in table.stdout


def test_cli_payouts_reads_are_audited_by_the_operator(stack):
    """``payouts list`` and ``payouts show`` print payees' numbers: each is an audited read by ``ops:<login>``
    (review8 R9), as ``wallets show`` is; an unknown payout is no read."""
    merchant_id = create_merchant(destination=UNREGISTERED)
    paid_invoice(stack, merchant_id)
    ran = settle(stack, merchant_id)
    cli_json("payouts", "list", "--state", "planned")
    cli_json("payouts", "show", ran["payout_ids"][0])
    assert cli("payouts", "show", "po_nope").exit_code == 3
    reads = [(r.actor[:4], r.action, r.subject, dict(r.details)) for r in stack.audit_trail.records()]
    reads = [r for r in reads if r[1] in {"payouts.viewed", "payout.viewed"}]
    assert reads == [
        ("ops:", "payouts.viewed", "payouts", {"merchant": "", "state": "planned", "count": "0"}),
        ("ops:", "payout.viewed", f"payout:{ran['payout_ids'][0]}", {}),
    ]
