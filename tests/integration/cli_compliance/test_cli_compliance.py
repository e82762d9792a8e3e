"""``cryptopay compliance``: the review queue from the CLI, with four-eyes by named officers and exit codes."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.errors import LimitExceeded
from cryptopay.core.identity.model import Role, User
from cryptopay.core.testing.identity import InMemoryUsers
from cryptopay_cli.context import operator, use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.kyc_rig import START, KycRig
from tests.support.services import in_memory_services

ME = operator()  # the OS account running the tests: $LOGNAME/$USER do not change it (R10-5)


@pytest.fixture
def rig() -> Iterator[KycRig]:
    rig = KycRig()
    users = InMemoryUsers()
    for user_id, email, role in [
        ("usr_ann", "ann@example.co.ke", Role.COMPLIANCE),
        ("usr_bob", "bob@example.co.ke", Role.COMPLIANCE),
        ("usr_pat", "pat@example.co.ke", Role.PERSONAL),
    ]:
        name = "Ann Njeri Wambui" if user_id == "usr_ann" else None  # bob has no name: no STR of his (R14-5)
        users.add(User(user_id, email, "unused-hash", role, START, name))
    services = attrs.evolve(in_memory_services(clock=rig.clock), users=ready(users), kyc_review=ready(rig.review))
    use_services(services)
    yield rig
    use_services(None)


def cli(*args: str):
    return CliRunner().invoke(build_app("compliance", stand_ins=True), ["compliance", *args])


def test_the_shell_cannot_give_two_officers_approvals_and_nothing_is_claimed(rig):
    """Finding I9: a tier-2 application or a KYB needs two officers; one shell can name any two, so the CLI refuses
    (exit 5) before claiming anything; the console approves them."""
    for app_id in (rig.personal(), rig.kyb()):
        before = rig.audit_actions()
        refused = cli("approve", app_id, "--officer", "ann@example.co.ke")
        assert refused.exit_code == 5 and "console" in refused.output
        assert rig.audit_actions() == before
    listed = cli("queue", "--json")
    assert listed.exit_code == 0 and all(json.loads(line)["claimed_by"] is None for line in listed.stdout.splitlines())
    # R14-4: the API's names and types (GET /v1/admin/kyc/queue), not "party", "0/2" and "" for nothing
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["party_id"], r["approvals"], r["approvals_needed"], r["id_linked"]) for r in rows] == [
        ("usr_wanjiku", 0, 2, []),
        ("mer_duka", 0, 2, []),
    ]
    assert all("party" not in r and r["reason"] is None for r in rows)


def test_a_tier_one_approval_needs_the_officers_read_and_names_the_operator(rig, monkeypatch):
    """The officer must have read the application (``show``) since its submission, else exit 4
    ``documents_not_reviewed``; the approval's audit record names the OS operator as well as the officer."""
    monkeypatch.setenv("USER", "kamau")
    app_id = rig.personal(level=1)
    unread = cli("approve", app_id, "--officer", "ann@example.co.ke")
    assert unread.exit_code == 4 and "not read since its last submission" in unread.output
    assert cli("show", app_id, "--officer", "ann@example.co.ke").exit_code == 0
    approved = cli("approve", app_id, "--officer", "ann@example.co.ke", "--no-claim")
    assert approved.exit_code == 0 and json.loads(approved.stdout)["state"] == "approved"
    [record] = [r for r in rig.audit_records() if r.action == "kyc.application_approved"]
    assert record.actor == "user:usr_ann" and dict(record.details)["operator"].startswith("ops:")


def test_a_second_account_with_the_same_id_is_approved_from_the_cli_only_once_linked(rig):
    """G5: the second account's approval is exit 4 naming the first; `link-id` with a reason lets it go on."""
    first = rig.personal("usr_amina", level=1)
    cli("show", first, "--officer", "ann@example.co.ke")
    assert cli("approve", first, "--officer", "ann@example.co.ke").exit_code == 0
    second = rig.personal("usr_fake2", level=1)
    cli("show", second, "--officer", "ann@example.co.ke")
    refused = cli("approve", second, "--officer", "ann@example.co.ke")
    assert refused.exit_code == 4 and "usr_amina" in refused.output
    linked = cli("link-id", second, "--officer", "ann@example.co.ke", "--reason", "same person, old SIM")
    assert linked.exit_code == 0 and json.loads(linked.stdout)["id_linked"] == ["usr_amina"]
    approved = cli("approve", second, "--officer", "ann@example.co.ke", "--no-claim")
    assert approved.exit_code == 0 and json.loads(approved.stdout)["state"] == "approved"


def test_reject_needs_a_reason_and_an_officer(rig):
    """A non-officer is refused (exit 5); a rejection with a reason is recorded and told."""
    app_id = rig.personal(level=1)
    assert cli("reject", app_id, "--officer", "pat@example.co.ke", "--reason", "x").exit_code == 5
    assert cli("reject", app_id, "--officer", "nobody@example.co.ke", "--reason", "x").exit_code == 3
    rejected = cli("reject", app_id, "--officer", "ann@example.co.ke", "--reason", "name does not match")
    assert rejected.exit_code == 0 and json.loads(rejected.stdout)["state"] == "rejected"
    assert rig.notifier.sent[-1].subject == "Your identity verification was not approved"


def test_show_and_request_information(rig):
    """``show`` is audited; ``request-info`` sends the application back."""
    app_id = rig.personal()
    shown = cli("show", app_id, "--officer", "ann@example.co.ke")
    assert json.loads(shown.stdout)["person"]["legal_name"] == "Wanjiku Kamau"
    assert rig.audit_actions()[-1] == "kyc.application_viewed"
    sent_back = cli("request-info", app_id, "--officer", "ann@example.co.ke", "--message", "a sharper selfie")
    assert json.loads(sent_back.stdout)["state"] == "information_requested"
    assert cli("approve", "kya_missing", "--officer", "ann@example.co.ke").exit_code == 3


def test_freeze_and_unfreeze_from_the_cli(rig):
    """A personal account is frozen and released by named officers; a second freeze is exit 4."""
    frozen = cli("freeze", "usr_pat", "--officer", "ann@example.co.ke", "--reason", "court order")
    assert frozen.exit_code == 0, frozen.output
    assert json.loads(frozen.stdout)["state"] == "frozen"
    assert cli("freeze", "usr_pat", "--officer", "ann@example.co.ke", "--reason", "again").exit_code == 4
    assert json.loads(cli("unfreeze", "usr_pat", "--officer", "bob@example.co.ke").stdout)["state"] == "active"
    assert cli("freeze", "usr_nobody", "--officer", "ann@example.co.ke", "--reason", "x").exit_code == 3


def test_every_shell_decision_in_an_officers_name_records_the_os_operator(rig, monkeypatch):
    """review7 F11: ``--officer EMAIL`` is typed, not proven; a freeze and an unfreeze from the shell were recorded as
    the officer's alone. Now the freeze's own records name the operator (``ops:<login>``, as KYC approvals do), and
    every command that names an officer is audited first by the operator (``compliance.shell_as_officer``)."""
    from cryptopay_cli.context import services as current

    monkeypatch.setenv("LOGNAME", "kamau")
    monkeypatch.setenv("USER", "kamau")
    assert cli("freeze", "usr_pat", "--officer", "ann@example.co.ke", "--reason", "court order").exit_code == 0
    assert cli("unfreeze", "usr_pat", "--officer", "bob@example.co.ke").exit_code == 0
    changed = {r.action: r for r in rig.audit_records() if r.action in ("kyc.frozen", "kyc.unfrozen")}
    assert {a: (r.actor, dict(r.details)["operator"]) for a, r in changed.items()} == {
        "kyc.frozen": ("user:usr_ann", ME),
        "kyc.unfrozen": ("user:usr_bob", ME),
    }
    acted = [r for r in current().audit.records() if r.action == "compliance.shell_as_officer"]
    assert [(r.actor, dict(r.details)["officer"], dict(r.details)["command"].split()[-1]) for r in acted] == [
        (ME, "usr_ann", "freeze"),
        (ME, "usr_bob", "unfreeze"),
    ]


def test_alerts_and_cases_from_the_cli(rig):
    """A structuring alert is listed, grouped into a case, moved and closed by named officers; a move to reported
    is refused (exit 5)."""
    from tests.support.monitoring_rig import MonitoringRig

    monitoring = MonitoringRig()
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500")):
        monitoring.monitoring.observe(monitoring.movement(kes, minutes=minutes))
    from cryptopay_cli.context import services as current

    use_services(attrs.evolve(current(), monitoring=ready(monitoring.monitoring), clock=monitoring.clock))
    monitoring.clock.advance(hours=12)
    monitored = cli("monitor", "--days", "1")
    assert monitored.exit_code == 0, monitored.output
    alert = json.loads(monitored.stdout)
    assert alert["rule"] == "structuring@v3"
    assert alert["id"] in cli("alerts").stdout
    opened = json.loads(cli("cases", "open", alert["id"], "--officer", "ann@example.co.ke").stdout)
    moved = cli("cases", "move", opened["id"], "escalated", "--officer", "ann@example.co.ke", "--note", "to the MLRO")
    assert json.loads(moved.stdout)["status"] == "escalated"
    assert cli("cases", "move", opened["id"], "closed_no_action", "--officer", "bob@example.co.ke").exit_code == 2
    reported = cli("cases", "move", opened["id"], "reported", "--officer", "bob@example.co.ke", "--note", "STR filed")
    assert reported.exit_code == 5 and "recording its STR's filing" in reported.output  # `cases file` reports (R12-8)
    closed = cli("cases", "move", opened["id"], "closed_no_action", "--officer", "bob@example.co.ke", "--note", "ok")
    assert json.loads(closed.stdout)["status"] == "closed_no_action"
    assert cli("cases", "move", opened["id"], "investigating", "--officer", "bob@example.co.ke").exit_code == 4
    assert "closed_no_action" in cli("cases", "list").stdout


def test_the_cli_s_reads_of_alerts_and_cases_are_audited_naming_the_operator(rig, monkeypatch):
    """The console's and the API's reads of AML alerts and cases (names, numbers, amounts) are audited; the CLI's
    ``alerts``, ``cases list`` and ``cases show`` were not. Each is now, by the OS operator (not $LOGNAME), with the ids shown."""
    from cryptopay_cli.context import services as current

    from tests.support.monitoring_rig import MonitoringRig

    monkeypatch.setenv("LOGNAME", "kamau")
    monkeypatch.setenv("USER", "kamau")
    monitoring = MonitoringRig()
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500")):
        monitoring.monitoring.observe(monitoring.movement(kes, minutes=minutes))
    use_services(attrs.evolve(current(), monitoring=ready(monitoring.monitoring), clock=monitoring.clock))
    monitoring.clock.advance(hours=12)
    alert = json.loads(cli("monitor", "--days", "1").stdout)
    case = json.loads(cli("cases", "open", alert["id"], "--officer", "ann@example.co.ke").stdout)
    audit = current().audit

    def reads() -> list:
        viewed = ("compliance.alerts_viewed", "compliance.cases_viewed", "compliance.case_viewed")
        return [r for r in audit.records() if r.action in viewed]

    assert reads() == []
    assert cli("alerts", "--status", "in_case").exit_code == 0
    assert cli("cases", "list", "--json").exit_code == 0
    assert cli("cases", "show", case["id"]).exit_code == 0
    alerts_read, cases_read, case_read = reads()
    assert {r.actor for r in reads()} == {ME}
    assert (alerts_read.action, alerts_read.subject) == ("compliance.alerts_viewed", "compliance:alerts")
    assert dict(alerts_read.details) == {"status": "in_case", "after": "", "count": "1", "ids": alert["id"]}
    assert (cases_read.action, dict(cases_read.details)["ids"]) == ("compliance.cases_viewed", case["id"])
    assert (case_read.action, case_read.subject) == ("compliance.case_viewed", f"case:{case['id']}")
    assert cli("cases", "show", "cas_nope").exit_code == 3
    assert len(reads()) == 3  # a case that does not exist was not read


def test_lists_import_and_screening_from_the_cli(rig):
    """`lists import` reads the official files; `screen` exits 5 on a match, 0 when clean, and 6 with no list
    loaded (no list is no answer, never "clean"); each screening names the snapshots it used on stderr."""
    from pathlib import Path

    for unscreened in (cli("screen", "name", "Osama bin Laden"), cli("screen", "address", "tron", "TAbc")):
        assert unscreened.exit_code == 6 and "no sanctions list is loaded" in unscreened.output
        assert unscreened.stdout == ""
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "sanctions"
    imported = cli("lists", "import", str(fixtures / "sdn.xml"))
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["source"] == "ofac_sdn"
    assert json.loads(cli("lists", "import", str(fixtures / "un_consolidated.xml")).stdout)["entries"] == 2
    assert "ofac_sdn" in cli("lists", "show").stdout
    hit = cli("screen", "name", "Jose Ramon Nunez Garcia")
    assert hit.exit_code == 5 and json.loads(hit.stdout)["ref"] == "ofac:30001"
    clean = cli("screen", "name", "Wanjiku Kamau")
    assert clean.exit_code == 0 and clean.stdout == ""
    assert "screened against ofac_sdn " in clean.stderr and "screened against un_consolidated " in clean.stderr
    assert cli("screen", "address", "tron", "TGarantexTronAddressYYYYYYYYYYYYYY").exit_code == 5
    bad = fixtures.parent / "not-a-list.xml"
    assert cli("lists", "import", str(bad)).exit_code == 2


def test_ofacs_csv_release_is_imported_from_the_cli(rig, tmp_path):
    """`lists import sdn.csv` reads its companions from beside it; a stray alt.csv is a clear error, exit 2."""
    from pathlib import Path

    release = Path(__file__).resolve().parents[2] / "fixtures" / "sanctions" / "ofac_csv"
    imported = cli("lists", "import", str(release / "sdn.csv"))
    assert imported.exit_code == 0, imported.output
    snapshot = json.loads(imported.stdout)
    assert (snapshot["source"], snapshot["entries"], snapshot["addresses"]) == ("ofac_sdn", 4, 5)
    assert cli("screen", "address", "ethereum", "0x49aB1fAEE4B6dbd5F2B9bB9D2e1B0DbE1d2d0a77").exit_code == 5
    (tmp_path / "sdn.csv").write_bytes((release / "sdn.csv").read_bytes())
    (tmp_path / "alt.csv").write_bytes(b'404,1,"aka","SOMEONE ELSE",-0- \r\n')
    refused = cli("lists", "import", str(tmp_path))
    assert refused.exit_code == 2 and "different releases" in refused.output


def test_str_and_monthly_reports_from_the_cli(rig, tmp_path):
    """`report str` writes goAML XML (or CSV) for a case, each XML export kept on it; `cases file` records its
    filing; `report monthly` prints the month's flows."""
    from cryptopay.core.compliance.reports import Reporting
    from cryptopay_cli.context import services as current

    from tests.support.monitoring_rig import MonitoringRig

    monitoring = MonitoringRig()
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500")):
        movement = attrs.evolve(monitoring.movement(kes, minutes=minutes), asset="USDT", network="tron")
        monitoring.monitoring.observe(movement)
    reporting = Reporting(uow=monitoring.storage.unit_of_work, clock=monitoring.clock)
    use_services(
        attrs.evolve(
            current(), monitoring=ready(monitoring.monitoring), reporting=ready(reporting), clock=monitoring.clock
        )
    )
    monitoring.clock.advance(hours=12)
    alert = json.loads(cli("monitor", "--days", "1").stdout)
    case = json.loads(cli("cases", "open", alert["id"], "--officer", "ann@example.co.ke").stdout)
    out = tmp_path / "str.xml"
    umask = os.umask(0o022)
    try:
        written = cli(
            "report", "str", case["id"], "--officer", "ann@example.co.ke", "--rentity-id", "4711", "--out", str(out)
        )
    finally:
        os.umask(umask)
    assert written.exit_code == 0, written.output
    assert (
        "<first_name>Ann Njeri</first_name>" in out.read_text() and "<last_name>Wambui</last_name>" in out.read_text()
    )
    nameless = cli("report", "str", case["id"], "--officer", "bob@example.co.ke", "--rentity-id", "4711")
    assert nameless.exit_code == 2 and "cryptopay users set-name bob@example.co.ke" in nameless.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # review4 R11: an STR is never readable by other accounts
    args = ("report", "str", case["id"], "--officer", "ann@example.co.ke", "--rentity-id", "4711", "--out")
    assert cli(*args, str(out)).exit_code == 2  # an existing file is kept unless --force
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    (tmp_path / "link.xml").symlink_to(target)
    refused = cli(*args, str(tmp_path / "link.xml"), "--force")
    assert refused.exit_code == 2 and target.read_text() == "keep me"
    assert cli(*args, str(out), "--force").exit_code == 0 and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(written.stdout)["transactions"] == 3
    with monitoring.storage.unit_of_work() as uow:  # review14 R14-8: the officer's user id, as every officer action
        exported = {r.actor for r in uow.audit.records() if r.action == "compliance.str_exported"}
    assert exported == {"user:usr_ann"}
    assert "<report_code>STR</report_code>" in out.read_text()
    filing = ("cases", "file", case["id"], "--officer", "bob@example.co.ke", "--reference", "100234", "--filed-on")
    assert cli(*filing, "2026-3-2").exit_code == 2 and cli(*filing, "2026-03-01").exit_code == 2  # before the export
    filed = cli(*filing, "2026-03-02")
    assert filed.exit_code == 0 and json.loads(filed.stdout)["status"] == "reported", filed.output
    shown = json.loads(cli("cases", "show", case["id"]).stdout)
    assert (shown["filing"]["reference"], shown["filing"]["filed_on"]) == ("100234", "2026-03-02")
    assert len(shown["str_exports"]) == 2  # the two XML files written; a refused --out exported nothing
    assert cli(*filing, "2026-03-02").exit_code == 4  # reported: final
    as_csv = cli(
        "report", "str", case["id"], "--officer", "ann@example.co.ke", "--rentity-id", "4711", "--format", "csv"
    )
    assert as_csv.stdout.count("\n") == 4
    monthly = cli("report", "monthly", "2026-03")
    assert monthly.stdout.splitlines() == [
        "asset,network,product,direction,count,total_kes",
        "USDT,tron,wallet_buy,in,3,424500.00",
    ]
    assert cli("report", "monthly", "2026-13").exit_code == 2


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "2026-3", "26-03", "1999-12", "2026-03-01", "\u0662\u0660\u0662\u0666-03"]
)
def test_a_malformed_month_is_a_usage_error_before_any_report_is_read(rig, month):
    """`report monthly` accepts what the API's month parameter accepts (``MONTH_PATTERN``), else exits 2."""
    refused = cli("report", "monthly", month)
    assert (
        refused.exit_code == 2 and "is no month: YYYY-MM" in refused.output and not refused.stdout.startswith("asset")
    )


def test_held_payments_are_listed_and_decided_from_the_shell(rig):
    """``compliance held-payments``: the waiting list (an audited read); a release or a return is neither proposed
    nor approved from the shell (exit 5, the proposal's refusal audited by the operator, nothing proposed: revpass7
    P4; four-eyes is given on the console or the API), a proposal made there is declined from the shell, and a keep
    (exit 2 without a note, 3 for an unknown id, 4 for a decided one, 5 for someone who is not an officer)."""
    from cryptopay.core.payments.model import HoldDecision
    from cryptopay.core.testing.payments_stack import PaymentsStack

    from tests.unit.payments.test_sanctioned_payers import LISTED, _paid_from, with_lists
    from tests.unit.payments.test_sanctioned_payers import START as PAID

    stack = with_lists(PaymentsStack(start=PAID))
    first, second = _paid_from(stack, LISTED), _paid_from(stack, LISTED)
    services = attrs.evolve(
        in_memory_services(clock=rig.clock),
        users=ready(_officers()),
        held_payments=ready(stack.held_payments),
    )
    use_services(services)
    listed = cli("held-payments", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {json.loads(line)["invoice"]: json.loads(line) for line in listed.stdout.splitlines()}
    assert set(rows) == {first, second}
    ann = ("--officer", "ann@example.co.ke")
    assert cli("held-payments", "release", rows[first]["id"], *ann).exit_code == 2  # --note is required
    assert cli("held-payments", "release", "crd_nope", *ann, "--note", "x").exit_code == 3
    not_officer = ("--officer", "pat@example.co.ke", "--note", "x")
    assert cli("held-payments", "release", rows[first]["id"], *not_officer).exit_code == 5
    for command in ("release", "return"):
        refused = cli("held-payments", command, rows[first]["id"], *ann, "--note", "false positive")
        assert refused.exit_code == 5 and "/console/held-payments" in refused.output, refused.output
        assert f"/v1/admin/compliance/held-payments/{rows[first]['id']}/{command}" in refused.output
    assert stack.held_payments.get(rows[first]["id"]).proposal is None  # nothing proposed
    records = stack.storage.audit_records()
    refusals = [r for r in records if r.action == "compliance.held_payment_shell_proposal_refused"]
    assert [r.actor.startswith("ops:") and dict(r.details)["officer"] == "usr_ann" for r in refusals] == [True, True]
    assert not any(r.action.endswith("_proposed") for r in records)
    stack.held_payments.release(rows[first]["id"], officer="usr_ann", note="false positive")  # as the console does
    declined = cli("held-payments", "decline", rows[first]["id"], "--officer", "bob@example.co.ke", "--note", "no")
    assert declined.exit_code == 0 and json.loads(declined.stdout)["proposal"] is None, declined.output
    stack.held_payments.release(rows[first]["id"], officer="usr_ann", note="false positive")
    shell = cli("held-payments", "approve", rows[first]["id"], "--officer", "bob@example.co.ke")
    assert shell.exit_code == 5 and "console" in shell.output, shell.output  # four-eyes is not proven from a shell
    assert stack.held_payments.get(rows[first]["id"]).decision is None
    released = stack.held_payments.approve(rows[first]["id"], officer="usr_bob")  # as the console does
    assert released.decision is HoldDecision.RELEASED
    assert cli("held-payments", "keep", rows[first]["id"], *ann, "--note", "again").exit_code == 4
    kept = cli("held-payments", "keep", rows[second]["id"], *ann, "--note", "for the FRC")
    assert kept.exit_code == 0 and json.loads(kept.stdout)["decision"] == "kept"
    assert stack.books_balanced() and cli("held-payments", "list", "--json").stdout == ""


def _officers() -> InMemoryUsers:
    users = InMemoryUsers()
    for user_id, email, role in [
        ("usr_ann", "ann@example.co.ke", Role.COMPLIANCE),
        ("usr_bob", "bob@example.co.ke", Role.COMPLIANCE),
        ("usr_pat", "pat@example.co.ke", Role.PERSONAL),
    ]:
        name = "Ann Njeri Wambui" if user_id == "usr_ann" else None  # bob has no name: no STR of his (R14-5)
        users.add(User(user_id, email, "unused-hash", role, START, name))
    return users


def test_held_sends_are_listed_and_decided_from_the_shell(rig):
    """``compliance held-transfers`` (review4 R6): a send to a frozen recipient waits in the list with the sender's
    note (an audited read); it is kept held with a note from the shell (tipoff3: nothing moves, audited as the
    officer; exit 2 without a note, 4 while a proposal waits); from the shell a release or return is never proposed nor approved (exit 5, revpass7 P4:
    the shell cannot prove who is at the keyboard; the refusal audited by the operator, nothing proposed; exit 2
    without a note, 3 for an unknown id, 5 for someone who is not an officer); a proposal made on the console or the
    API is declined from the shell (exit 4 once the send is decided)."""
    from cryptopay.core.money import KES, Money

    from tests.support.services import with_wallets
    from tests.support.wallet_stack import wallet_stack

    wallets = wallet_stack()
    amina, baraka = wallets.sign_up("0712000001", tier=1), wallets.sign_up("0712000002", tier=1)
    wallets.fund(amina, "500", "KES")
    wallets.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    sent = wallets.wallets.send(amina.id, "0712000002", Money.of("200", KES), note="rent")
    services = with_wallets(attrs.evolve(in_memory_services(clock=rig.clock), users=ready(_officers())), wallets)
    use_services(services)
    [row] = [json.loads(line) for line in cli("held-transfers", "list", "--json").stdout.splitlines()]
    assert (row["id"], row["recipient"], row["amount"], row["note"]) == (sent.id, baraka.id, "200.00 KES", "rent")
    assert any(r.action == "compliance.held_transfers_viewed" for r in services.audit.records())
    ann = ("--officer", "ann@example.co.ke")
    assert cli("held-transfers", "return", sent.id, *ann).exit_code == 2
    assert cli("held-transfers", "return", "trf_nope", *ann, "--note", "x").exit_code == 3
    assert cli("held-transfers", "return", sent.id, "--officer", "pat@example.co.ke", "--note", "x").exit_code == 5
    refused = cli("held-transfers", "return", sent.id, *ann, "--note", "the phone was stolen")
    assert refused.exit_code == 5 and "/console/held-transfers/" in refused.output, refused.output
    held = wallets.wallets.held_sends()
    assert held.get(sent.id).proposal is None and wallets.balance(amina, "KES").amount == 300
    with wallets.wallets.uow() as uow:
        [record] = [r for r in uow.audit.records() if r.action == "wallet.held_send_shell_proposal_refused"]
    assert record.actor.startswith("ops:")
    assert cli("held-transfers", "keep", sent.id, *ann).exit_code == 2  # no note
    kept = cli("held-transfers", "keep", sent.id, *ann, "--note", "the police asked us to keep it")
    assert kept.exit_code == 0 and json.loads(kept.stdout)["kept_note"] == "the police asked us to keep it", kept.output
    assert held.get(sent.id).kept is not None and wallets.balance(amina, "KES").amount == 300  # nothing moved
    listed = cli("held-transfers", "list").stdout  # the table tells a kept send from an undecided one
    assert "KEPT_BY" in listed and "usr_ann" in listed, listed
    with wallets.wallets.uow() as uow:
        [record] = [r for r in uow.audit.records() if r.action == "wallet.held_send_kept"]
    assert record.actor == "user:usr_ann"
    held.return_to_sender(sent.id, officer="usr_ann", note="the phone was stolen")  # on the console or the API
    assert cli("held-transfers", "keep", sent.id, *ann, "--note", "again").exit_code == 4  # a proposal waits
    assert cli("held-transfers", "approve", sent.id, "--officer", "bob@example.co.ke").exit_code == 5
    declined = cli("held-transfers", "decline", sent.id, "--officer", "bob@example.co.ke", "--note", "not yet")
    assert declined.exit_code == 0 and json.loads(declined.stdout)["proposal"] is None, declined.output
    held.return_to_sender(sent.id, officer="usr_ann", note="the phone was stolen")
    held.approve(sent.id, officer="usr_bob")  # the second officer, on the console or the API
    assert wallets.balance(amina, "KES").amount == 500
    assert cli("held-transfers", "decline", sent.id, *ann, "--note", "again").exit_code == 4


def test_a_held_send_over_the_recipients_receiving_limits_cannot_be_proposed_for_release_and_is_returned(rig):
    """Review7 F2: ``held-transfers release`` credited KES 8,000 to a tier-0 wallet (KES 5,000 at a time). Baraka's
    tier 1 lapsed while the send waited: the shell proposes nothing (exit 5, revpass7 P4), and a release proposed on
    the console or the API is refused (the limit named), nothing moves, the send still waits; the officer proposes its
    return instead, which a second officer approves."""
    from cryptopay.core.money import KES, Money

    from tests.support.services import with_wallets
    from tests.support.wallet_stack import wallet_stack

    wallets = wallet_stack()
    amina, baraka = wallets.sign_up("0712000001", tier=1), wallets.sign_up("0712000002", tier=1)
    wallets.fund(amina, "8000", "KES")
    wallets.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    sent = wallets.wallets.send(amina.id, "0712000002", Money.of("8000", KES))
    wallets.clock.advance(days=731)  # tier 1 lasts 730 days
    services = with_wallets(attrs.evolve(in_memory_services(clock=rig.clock), users=ready(_officers())), wallets)
    use_services(services)
    ann = ("--officer", "ann@example.co.ke")
    assert cli("held-transfers", "release", sent.id, *ann, "--note", "the order allows it").exit_code == 5  # P4
    held = wallets.wallets.held_sends()
    with pytest.raises(LimitExceeded) as refused:  # proposed on the console or the API: refused, the limit named
        held.release(sent.id, officer="usr_ann", note="the order allows it")
    assert refused.value.details["limit"] == "receive.single"
    assert wallets.balance(baraka, "KES").amount == 0
    assert [t.id for t in held.waiting()] == [sent.id]
    held.return_to_sender(sent.id, officer="usr_ann", note="over his tier")
    held.approve(sent.id, officer="usr_bob")  # the second officer
    assert wallets.balance(amina, "KES").amount == 8000
