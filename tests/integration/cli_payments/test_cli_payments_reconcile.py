"""``cryptopay reconcile``: clean books exit 0; each deliberately broken record is reported and exits 5."""

from __future__ import annotations

import hashlib
import json

import attrs
import pytest
from cryptopay.adapters.bootstrap.lazy import ready
from cryptopay.adapters.evm.rpc import connect
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core.money import USDT, Money
from cryptopay.core.payouts.model import ConclusionOutcome
from cryptopay.core.reconciliation import CHECKS, Reconciliation, render_statement
from cryptopay.core.retry import Backoff
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay_cli.context import use_services

from tests.integration.cli_payments.cli_payments_support import cli, cli_json, create_merchant, paid_invoice
from tests.integration.cli_payments.conftest import installed_stack


def busy_day(stack):
    """A merchant paid twice: one payout completed, a second invoice credited but not yet settled."""
    merchant_id = create_merchant()
    first = paid_invoice(stack, merchant_id)
    cli_json("settlements", "run")
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    second = paid_invoice(stack, merchant_id, price="2000")
    return merchant_id, first, second


def reconcile_json():
    result = cli("reconcile", "--json")
    return result.exit_code, json.loads(result.stdout), result.stderr


def differences(report, name):
    return next(c for c in report["checks"] if c["name"] == name)["differences"]


WALLETS = {"wallet-balances", "wallet-buys", "wallet-claims", "claims-returned"}  # no wallet store in this stack
DEPOSITS = {"wallet-deposits", "deposits-held"}  # nor a deposit store
WITHDRAWALS = {"wallet-withdrawals", "withdrawals-in-flight"}  # nor a withdrawal store
REMITTANCES = {"remittances-owed"}  # nor a remittance store


def test_cli_reconcile_clean_books_exit_0(stack):
    """After payments, a settlement and a completed payout every check passes, each saying what it compares."""
    busy_day(stack)
    code, report, _ = reconcile_json()
    assert code == 0 and report["clean"] and report["differences"] == 0
    assert [c["name"] for c in report["checks"]] == [c.name for c in CHECKS]
    assert {c["area"] for c in report["checks"]} == {
        "credits",
        "payouts",
        "books",
        "mpesa",
        "chains",
        "treasury",
        "wallets",
        "deposits",
        "withdrawals",
        "remittances",
    }
    assert all(c["ok"] and c["about"] for c in report["checks"])
    skipped = {c["name"]: c["skipped"] for c in report["checks"] if c["skipped"]}
    outside = {"mpesa-statement", "mpesa-collections", "mpesa-float", "custody-on-chain"}  # no outside source given
    assert (
        set(skipped)
        == outside | {"float-b2c", "sweep-fees", "sweeps-settled"} | WALLETS | DEPOSITS | WITHDRAWALS | REMITTANCES
    )
    table = cli("reconcile")
    assert table.exit_code == 0 and "custody" in table.stdout and "trial-balance" in table.stdout


def test_cli_reconcile_reports_a_missing_credit_row(stack):
    """A credit row removed from storage shows as custody off by its amount and a confirmed payment uncredited."""
    _, _, second = busy_day(stack)
    credits = stack.storage.repositories["payment_credits"]
    (lost,) = [c for c in credits.all() if c.invoice_id == second]
    del credits._items[lost.id]  # the broken state: the ledger entry stays, the credit record is gone
    code, report, stderr = reconcile_json()
    assert code == 5 and not report["clean"]
    (custody,) = differences(report, "custody")
    assert custody["subject"] == "assets:custody:tron:USDT" and custody["detail"] == f"off by {lost.received}"
    (uncredited,) = differences(report, "payments-credited")
    assert second in uncredited["subject"] and uncredited["actual"] == "0 standing credits"
    assert differences(report, "trial-balance") == []  # the ledger itself still balances
    assert "the books do not reconcile" in stderr
    table = cli("reconcile")
    assert table.exit_code == 5 and "off by" in table.stdout


def test_cli_reconcile_reports_a_completed_payout_without_receipt_and_a_wrong_hold(stack):
    """A completed payout with no receipt, and a planned payout whose hold was voided, are both reported."""
    busy_day(stack)
    payouts = stack.storage.repositories["payouts"]
    (done,) = payouts.all()
    payouts.update(attrs.evolve(done, receipt=None))
    (ran,) = cli_json("settlements", "run")["runs"]
    planned = payouts.get(ran["payout_ids"][0])
    stack.ledger.void_hold(planned.hold_id)  # the ledger let go of money a payout still means to send
    code, report, _ = reconcile_json()
    assert code == 5
    assert [d["subject"] for d in differences(report, "receipts")] == [f"payout {done.id}"]
    (hold,) = differences(report, "payout-holds")
    assert hold["subject"] == f"payout {planned.id} (planned)" and hold["actual"] == "hold voided"
    (in_flight,) = differences(report, "in-flight")
    assert (
        in_flight["subject"] == "liabilities:payouts_in_flight:KES" and "1 payouts in flight" in in_flight["expected"]
    )


def test_cli_reconcile_stays_clean_when_a_credited_payment_is_reorganised_away(stack):
    """A confirmed payment that leaves the chain has its credit reversed in the ledger: the books still agree."""
    merchant_id = create_merchant()
    invoice_id = paid_invoice(stack, merchant_id)
    stack.chains["tron"].reorg(4)  # drops the payment's block and the blocks confirming it
    stack.confirm(1)
    credits = stack.storage.repositories["payment_credits"].all()
    assert [c.invoice_id for c in credits] == [invoice_id] and credits[0].reversal_entry_id is not None
    code, report, _ = reconcile_json()
    assert code == 0, report


def test_cli_reconcile_reports_a_payout_mpesa_paid_that_our_books_do_not_know(stack, tmp_path):
    """M-Pesa paid a payout whose callbacks were lost (ours: unknown): with M-Pesa's statement export and its
    Account Balance, reconcile names the payout, the float is off by its amount, and the command exits 5."""
    merchant_id = create_merchant(destination="0711000008")  # the fake M-Pesa pays and posts no callback
    paid_invoice(stack, merchant_id)
    cli_json("settlements", "run")
    (payout,) = stack.payouts.submit_payouts()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()  # its status answer is never delivered either
    statement = tmp_path / "statement.csv"
    statement.write_text(render_statement(statement_of(stack.mpesa)))
    balance = str(stack.mpesa.float_balance.amount)
    clean = cli("reconcile", "--json")
    assert clean.exit_code == 0  # our records agree with each other: only M-Pesa's record shows the payment
    result = cli(
        "reconcile",
        "--json",
        "--mpesa-statement",
        str(statement),
        "--mpesa-balance",
        balance,
        "--float-baseline",
        "10000000",
    )
    assert result.exit_code == 5, result.output
    report = json.loads(result.stdout)
    (paid, *_) = differences(report, "mpesa-statement")
    assert paid["subject"] == f"payout {payout.id} (unknown)" and paid["actual"] == "paid by M-Pesa"
    (off,) = differences(report, "mpesa-float")
    assert off["detail"].startswith(f"off by -{payout.amount}")
    # R10-13: the run names its operator and what it compared with: the typed balance, the statement's digest
    assert report["operator"].startswith("ops:") and report["inputs"]["mpesa_balance_source"] == "typed"
    digest = hashlib.sha256(statement.read_text().encode()).hexdigest()
    assert report["inputs"]["statement_1"].endswith(f"sha256:{digest}")
    shown = cli("reconcile", "--mpesa-balance", balance, "--float-baseline", "10000000")
    assert "compared with a typed Account Balance" in shown.stdout and "run by ops:" in shown.stdout


def test_cli_reconcile_refuses_an_unreadable_statement(stack, tmp_path):
    """A statement file that is not M-Pesa's export is an input error (exit 2) naming what is wrong."""
    bad = tmp_path / "statement.csv"
    bad.write_text("date,amount\n2026-01-05,10\n")
    result = cli("reconcile", "--mpesa-statement", str(bad))
    assert result.exit_code == 2 and "Receipt No." in result.stderr
    assert cli("reconcile", "--mpesa-balance", "ten").exit_code == 2


@pytest.fixture
def ethereum_stack():
    """The CLI's in-memory deployment on Ethereum (its addresses are Ethereum addresses an EVM reader accepts)."""
    yield from installed_stack(("ethereum",))


def test_cli_reconcile_with_a_chain_node_down_reports_every_other_check_and_exits_7(ethereum_stack, tmp_path):
    """review5 S10/S11: Ethereum's node on a closed port makes ``custody-on-chain`` skipped, saying why, while every
    other check runs, the statement given on the command line included; with no difference the run exits 7, not 0
    and not 6; ``--require-outside`` exits 7 whenever an outside check is skipped."""
    stack = ethereum_stack
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile, rails=("usdt-ethereum",))
    stack.invoicing.create_invoice("m1", Money.of("40", USDT))  # its deposit address is read
    statement = tmp_path / "statement.csv"
    statement.write_text(render_statement(statement_of(stack.mpesa)))
    fast = Backoff(initial=0.01, factor=2, maximum=0.05, attempts=3)
    dead = EvmWatcher(connect("http://127.0.0.1:1", timeout=2.0), list(stack.rails.values()), backoff=fast)
    reconciliation = Reconciliation(uow=stack.uow, ledger=stack.ledger, clock=stack.clock, chains={"ethereum": dead})
    previous = use_services(attrs.evolve(stack.services, reconciliation=ready(reconciliation)))
    try:
        result = cli("reconcile", "--json", "--mpesa-statement", str(statement))
        assert result.stdout, (result.exit_code, result.output, result.exception)
        report = json.loads(result.stdout)
        skipped = {c["name"]: c["skipped"] for c in report["checks"] if c["skipped"]}
        assert result.exit_code == 7, result.output
        assert skipped["custody-on-chain"].startswith("ethereum not read: ethereum node failed 3 times"), skipped
        assert "127.0.0.1" not in result.stdout + result.stderr
        assert "could not be read, its check skipped: chain:ethereum: ethereum node failed" in result.stderr
        ran = {c["name"] for c in report["checks"] if not c["skipped"]}
        assert {"custody", "receipts", "payout-holds", "trial-balance", "mpesa-statement"} <= ran
        table = cli("reconcile")
        assert table.exit_code == 7 and "skipped: ethereum not read" in table.stdout
    finally:
        use_services(previous)
    assert cli("reconcile").exit_code == 0  # the stack's own reconciliation reads no chain: skipped, not failed
    required = cli("reconcile", "--require-outside")
    assert required.exit_code == 7 and "mpesa-statement" in required.stderr


def test_cli_reconcile_without_a_float_baseline_skips_the_float_check_and_require_outside_exits_7(stack):
    """review5 S11: a deployment without ``CRYPTOPAY_MPESA_FLOAT_BASELINE`` (production starts without one, warned)
    reports ``mpesa-float`` skipped, never clean, even with an Account Balance answer; ``--require-outside`` exits
    7 naming it; with ``--float-baseline`` the float is compared."""
    busy_day(stack)
    bare = Reconciliation(uow=stack.uow, ledger=stack.ledger, clock=stack.clock)  # no baseline configured
    previous = use_services(attrs.evolve(stack.services, reconciliation=ready(bare)))
    try:
        balance = ("--mpesa-balance", str(stack.ledger.balance("assets:mpesa_float:KES").posted.amount))
        report = json.loads(cli("reconcile", "--json", *balance).stdout)
        skipped = {c["name"]: c["skipped"] for c in report["checks"] if c["skipped"]}
        assert skipped["mpesa-float"].startswith("no float baseline"), skipped
        required = cli("reconcile", "--require-outside", *balance)
        assert required.exit_code == 7 and "mpesa-float" in required.stderr, required.output
        given = json.loads(cli("reconcile", "--json", *balance, "--float-baseline", "0").stdout)
        assert not next(c for c in given["checks"] if c["name"] == "mpesa-float")["skipped"]
    finally:
        use_services(previous)


def test_cli_reconcile_exits_5_for_a_payout_unknown_past_the_bound_until_it_is_concluded(stack):
    """R10-4: a B2C payout M-Pesa paid while every answer was lost stays unknown: ``reconcile`` exits 5 (it was 0
    without a statement), ``payouts unresolved`` lists it, the shell can neither propose nor approve a conclusion
    (exit 5, audited), two admins on the API do; then it reconciles."""
    stack.mpesa.set_scenario("254712345678", Scenario.LOST_CALLBACK)
    merchant_id = create_merchant()
    paid_invoice(stack, merchant_id)
    cli_json("settlements", "run")
    stack.payouts.submit_payouts()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()  # its answer is never delivered
    stack.clock.advance(hours=1)
    code, report, _ = reconcile_json()
    [late] = differences(report, "payouts-unresolved")
    payout_id = late["subject"].split()[1]
    assert code == 5 and not report["clean"] and late["actual"].startswith("unknown since")
    listed = cli_json("payouts", "unresolved")["unresolved"]
    assert [p["id"] for p in listed] == [payout_id]
    # R13-15: a page at a time (``--after`` the last id shown); an id of no payout exits 2
    assert cli_json("payouts", "unresolved", "--limit", "1")["more_after"] is None
    assert cli_json("payouts", "unresolved", "--after", payout_id)["unresolved"] == []
    stray = cli("payouts", "unresolved", "--after", "po_ZZZZ")
    assert stray.exit_code == 2 and "no payout po_ZZZZ to list after" in stray.stderr, stray.output
    [line] = [x for x in statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode).lines if x.is_payout]
    # LASTREAD L-2: the shell proposes nothing (ops:<login> and the API's user:<id> could be one person)
    proposed = cli(
        "payouts", "conclude", payout_id, "--receipt", line.receipt, "--evidence", "statement", "--note", "paid"
    )
    assert proposed.exit_code == 5 and "/v1/admin/payouts/" in proposed.stderr, proposed.stderr
    assert stack.payouts.get_payout(payout_id).conclusion is None  # nothing proposed
    assert cli("payouts", "approve-conclusion", payout_id).exit_code == 5
    refused = [r for r in stack.storage.audit_records() if r.action == "payout.conclusion_refused"]
    assert [(e.subject, e.actor.startswith("ops:")) for e in refused] == [(f"payout:{payout_id}", True)] * 2
    stack.payouts.propose_conclusion(  # the API's proposal and approval (tested there)
        payout_id,
        outcome=ConclusionOutcome.COMPLETED,
        receipt=line.receipt,
        evidence="statement",
        note="paid",
        by="user:usr_first",
    )
    stack.payouts.approve_conclusion(  # the API's approval (tested there)
        payout_id, by="user:usr_second", outcome=ConclusionOutcome.COMPLETED, receipt=line.receipt
    )
    code, report, _ = reconcile_json()
    assert code == 0 and differences(report, "payouts-unresolved") == []
    # a receipt correction is two admins' too: the shell refuses both steps (exit 5, audited), declines one proposed
    assert cli("payouts", "correct-receipt", payout_id, "--receipt", "NLJ7RT61SV").exit_code == 5
    assert cli("payouts", "approve-receipt-correction", payout_id).exit_code == 5
    steps = [dict(r.details)["step"] for r in stack.storage.audit_records() if r.action == "payout.conclusion_refused"]
    assert steps[-2:] == ["correct-receipt", "approve-receipt-correction"]
    stack.payouts.propose_receipt_correction(payout_id, receipt="NLJ7RT61SV", reason="typo?", by="user:usr_first")
    assert cli_json("payouts", "show", payout_id)["receipt_correction_proposed"]["receipt"] == "NLJ7RT61SV"
    declined = cli("payouts", "decline-receipt-correction", payout_id, "--note", "the statement agrees with us")
    assert declined.exit_code == 0 and line.receipt in declined.stdout, declined.output
    assert stack.payouts.get_payout(payout_id).correction is None
    assert cli("payouts", "decline-receipt-correction", payout_id, "--note", "x").exit_code != 0  # none proposed
