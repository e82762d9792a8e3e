"""`cryptopay payouts bank-file / confirm-bank`, `cryptopay reconcile --bank-statement` and `cryptopay reports`,
over a merchant's real journey."""

from __future__ import annotations

import json
import os
import stat
from datetime import date

from cryptopay.core.reconciliation import BankLine, BankStatement, period_of, render_bank_statement

from tests.integration.cli_payments.cli_payments_support import OWNER, cli, cli_json, paid_invoice


def bank_merchant(destination: str) -> str:
    view = cli_json(
        "merchants",
        "create",
        "--name",
        "Duka La Mama",
        "--owner",
        OWNER,
        "--settlement",
        "instant",
        "--method",
        "bank",
        "--destination",
        destination,
        "--rails",
        "usdt-tron",
    )
    return str(view["id"])


def test_cli_bank_file_and_confirm_bank_pay_a_bank_transfer(stack, tmp_path):
    """A Citibank account: the bank file names it; ``confirm-bank`` exits 5 (audited) pointing to the two officers'
    flow on the API (R10-7); once two officers confirmed it, the bank's statement reconciles it."""
    merchant_id = bank_merchant("CITI:12345678")
    paid_invoice(stack, merchant_id)
    (ran,) = cli_json("settlements", "run", "--merchant", merchant_id)["runs"]
    (payout_id,) = ran["payout_ids"]
    out = tmp_path / "bank.csv"
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    planted = tmp_path / "planted.csv"
    planted.symlink_to(target)  # review4 R11: a link planted at the path is not followed
    refused = cli("payouts", "bank-file", "--output", str(planted), "--force")
    assert refused.exit_code == 2 and "symbolic link" in refused.stderr and target.read_text() == "keep me"
    umask = os.umask(0o022)
    try:
        written = cli("payouts", "bank-file", "--output", str(out), "--actor", "ops:amina")
    finally:
        os.umask(umask)
    assert written.exit_code == 0, written.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # review4 R11: account numbers are the operator's only
    again = cli("payouts", "bank-file", "--output", str(out))
    assert again.exit_code == 2 and "--force" in again.stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("payout_id,merchant_id,bank_code,bank_name,account_number,amount")
    assert lines[1].startswith(f"{payout_id},{merchant_id},CITI,Citibank N.A. Kenya,12345678,")
    refused = cli("payouts", "confirm-bank", payout_id, "--reference", "FT26005ABC", "--actor", "ops:amina")
    assert refused.exit_code == 5 and "bank-confirmation" in refused.stderr, refused.output
    assert stack.payouts.get_payout(payout_id).state.value == "submitted"
    refusals = [r for r in stack.storage.audit_records() if r.action == "payout.conclusion_refused"]
    assert [dict(r.details)["step"] for r in refusals] == ["confirm-bank"] and refusals[0].actor.startswith("ops:")
    assert cli_json("payouts", "bank-confirmations")["bank_confirmations"] == []  # none proposed yet
    stack.payouts.propose_bank_confirmation(payout_id, reference="ft 26005abc", note="paid", by="user:amina")
    stack.clock.advance(minutes=90)
    (pending,) = cli_json("payouts", "bank-confirmations")["bank_confirmations"]
    assert (pending["id"], pending["reference"], pending["proposed_by"]) == (payout_id, "FT26005ABC", "user:amina")
    assert pending["age_minutes"] == 90 and pending["amount"] == stack.payouts.get_payout(payout_id).amount.to_json()
    assert "FT26005ABC" in cli("payouts", "bank-confirmations").stdout
    assert [r for r in stack.audit_trail.records() if r.action == "payouts.bank_transfers_viewed"]
    done = stack.payouts.approve_bank_confirmation(payout_id, by="user:baraka", reference="FT26005ABC")
    assert done.state.value == "completed" and done.receipt == "FT26005ABC"
    assert cli_json("payouts", "bank-confirmations")["bank_confirmations"] == []
    assert cli("payouts", "bank-file").stdout.splitlines()[1:] == []


def _bank_statement(path, *lines: BankLine, day: date) -> str:
    period = period_of(day.isoformat(), day.isoformat())
    path.write_text(render_bank_statement(BankStatement(account="0100123456789", period=period, lines=lines)))
    return str(path)


def _bank_check(result):
    assert result.stdout, result.output
    return next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "bank-transfers")


def test_cli_reconcile_compares_confirmed_bank_transfers_with_the_bank_statement(stack, tmp_path):
    """R10-7: a confirmed bank transfer is skipped without ``--bank-statement`` (``--require-outside`` names it);
    with a statement debiting its reference and amount it is compared and clean (and ``--require-outside`` no
    longer names it); a statement without it exits 5; a bad row exits 2 naming its line, nothing recorded."""
    merchant_id = bank_merchant("CITI:12345678")
    paid_invoice(stack, merchant_id)
    (ran,) = cli_json("settlements", "run", "--merchant", merchant_id)["runs"]
    (payout_id,) = ran["payout_ids"]
    stack.payouts.propose_bank_confirmation(payout_id, reference="FT26005ABC", note="", by="user:amina")
    payout = stack.payouts.approve_bank_confirmation(payout_id, by="user:baraka", reference="FT26005ABC")
    assert _bank_check(cli("reconcile", "--json"))["skipped"].startswith("bank not compared")
    assert "bank-transfers" in cli("reconcile", "--require-outside").stderr
    day = stack.clock.now().date()
    debit = BankLine(on=day, reference="FT26005ABC", narrative=f"cryptopay {payout_id}", debit=payout.amount)
    good = _bank_statement(tmp_path / "good.csv", debit, day=day)
    check = _bank_check(cli("reconcile", "--json", "--bank-statement", good))
    assert check["ok"] and not check["skipped"], check
    required = cli("reconcile", "--require-outside", "--bank-statement", good)
    assert "bank-transfers" not in required.stderr, required.output
    empty = _bank_statement(tmp_path / "empty.csv", day=day)
    missing = cli("reconcile", "--json", "--bank-statement", empty)
    assert missing.exit_code == 5 and _bank_check(missing)["differences"][0]["actual"] == "not on it"
    kept = json.loads(cli("reconcile", "--json", "--bank-statement", good).stdout)
    assert kept["inputs"]["bank_statement"].startswith("0100123456789 ")
    bad = tmp_path / "bad.csv"
    for period, debit in (("01-01-2026", "twelve"), ("01-01-2026", "1e30"), ("01-01-0001", "1")):  # R13-4
        bad.write_text(
            f"Period:,{period} - 02-01-2026\nDate,Reference,Narrative,Debit,Credit,Balance\n01-01-2026,FT1,x,{debit},,\n"
        )
        refused = cli("reconcile", "--bank-statement", str(bad))
        said = "bank statement line 3" if period == "01-01-2026" else "bank statement Period"
        assert refused.exit_code == 2 and said in refused.stderr and "Traceback" not in refused.output, refused.output


def test_cli_merchant_with_an_unknown_bank_is_refused(stack):
    """A bank code missing from the catalogue is a usage error naming the known codes."""
    result = cli(
        "merchants",
        "create",
        "--name",
        "X",
        "--owner",
        OWNER,
        "--settlement",
        "daily",
        "--method",
        "bank",
        "--destination",
        "NOPE:1234567890",
        "--rails",
        "usdt-tron",
    )
    assert result.exit_code == 2 and "unknown bank code" in result.stderr


def test_cli_reports_sales_fees_and_settlements(stack):
    """Sales as JSON and CSV, fees with the excise duty column, settlements; a bad period exits 2."""
    merchant_id = bank_merchant("EQUITY:0170123456789")
    paid_invoice(stack, merchant_id)
    cli_json("settlements", "run", "--merchant", merchant_id)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    sales = cli_json("reports", "sales", "--merchant", merchant_id, "--period", "month")
    assert sales["kind"] == "sales" and sales["rows"][0]["asset"] == "USDT" and sales["rows"][0]["payments"] == "1"
    csv = cli("reports", "sales", "--merchant", merchant_id, "--csv").stdout.splitlines()
    assert csv[0] == "period,asset,payments,received,fees,net" and csv[-1].startswith("total,USDT,1,")
    fees = cli_json("reports", "fees", "--merchant", merchant_id)
    assert "excise_duty" in fees["columns"] and fees["tax_version"] == 1
    settled = cli_json("reports", "settlements", "--merchant", merchant_id)
    assert settled["rows"][0]["settlements"] == "1" and settled["rows"][0]["in_flight"] == "0.00"
    assert settled["owed_by_merchant"] == {"amount": "0.00", "asset": "KES"}  # no refund after settlement
    assert cli("reports", "settlements", "--merchant", merchant_id, "--csv").stdout.splitlines()[-1] == (
        "owed_by_merchant,,,,,,,,KES,0.00"
    )
    assert cli("reports", "sales", "--merchant", merchant_id, "--period", "week").exit_code == 2
    assert cli("reports", "sales", "--merchant", "mer_nope").exit_code == 3
    table = cli("reports", "settlements", "--merchant", merchant_id)
    assert table.exit_code == 0 and "PAID_OUT" in table.stdout


def test_cli_merchant_teams_invite_set_role_remove(stack):
    """`merchants invite` emails a token and audits the operator; set-role and remove change a member; the owner is
    never removed (exit 4)."""
    from cryptopay.core.identity.model import Role, User

    merchant_id = bank_merchant("KCB:1234567890")
    invited = cli_json("merchants", "invite", merchant_id, "--email", "wanjiku@duka.co.ke", "--role", "finance")
    assert invited["role"] == "finance" and stack.notifier.sent_to("wanjiku@duka.co.ke")
    token = stack.notifier.sent_to("wanjiku@duka.co.ke")[0].body.split("\n\n")[1].strip()
    now = stack.clock.now()
    stack.users.add(User("usr_wanjiku", "wanjiku@duka.co.ke", "x", Role.MERCHANT, now, email_verified_at=now))
    stack.services.teams.accept(token, user_id="usr_wanjiku")
    listed = cli_json("merchants", "members", merchant_id)["members"]
    assert [(m["email"], m["role"]) for m in listed] == [(OWNER, "owner"), ("wanjiku@duka.co.ke", "finance")]
    assert cli("merchants", "set-role", merchant_id, "--email", "wanjiku@duka.co.ke", "--role", "staff").exit_code == 0
    assert cli_json("merchants", "members", merchant_id)["members"][1]["role"] == "staff"
    assert cli("merchants", "remove", merchant_id, "--email", OWNER).exit_code == 4
    assert cli("merchants", "remove", merchant_id, "--email", "wanjiku@duka.co.ke").exit_code == 0
    assert len(cli_json("merchants", "members", merchant_id)["members"]) == 1
    audited = [r for r in stack.audit_trail.records() if r.action.startswith("team.")]
    assert [r.action for r in audited][:1] == ["team.invite"] and dict(audited[0].details)["via"].startswith("ops:")


def test_cli_bank_confirmations_page_on_saying_so(stack):
    """R13-15: a list longer than ``--limit`` says how to see the rest (a ``more:`` line on stderr, ``more_after``)
    and ``--after`` that id gives it; nothing stops silently at a page."""
    proposed, merchant_id = [], bank_merchant("CITI:12345678")
    for _ in range(2):  # two settlements, two transfers
        paid_invoice(stack, merchant_id)
        (ran,) = cli_json("settlements", "run", "--merchant", merchant_id)["runs"]
        (payout_id,) = ran["payout_ids"]
        stack.payouts.propose_bank_confirmation(payout_id, reference=f"FT{len(proposed)}", note="", by="user:amina")
        proposed.append(payout_id)
    first = cli("payouts", "bank-confirmations", "--limit", "1", "--json")
    page = json.loads(first.stdout)
    assert [p["id"] for p in page["bank_confirmations"]] == proposed[:1] and page["more_after"] == proposed[0]
    assert f"more: cryptopay payouts bank-confirmations --after {proposed[0]}" in first.stderr, first.output
    rest = cli_json("payouts", "bank-confirmations", "--limit", "1", "--after", proposed[0])
    assert [p["id"] for p in rest["bank_confirmations"]] == proposed[1:] and rest["more_after"] is None
