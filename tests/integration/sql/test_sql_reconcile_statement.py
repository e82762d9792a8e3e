"""``cryptopay reconcile --mpesa-statement FILE`` over wallet books on SQLite and PostgreSQL (review 5, S2 and S3):
a credited STK buy missing from M-Pesa's statement, a collection no buy carries, a reversal of a completed payout,
and a withdrawal of a Reason Type the check does not know: each a difference, exit 5; the statement M-Pesa itself
keeps (the fake's, as the sandbox exports it) reconciles clean, exit 0.

Review 6, F3: the statement's period is its Time Period line or ``--from``/``--to``, never its first to its last row:
a buy or a payout missing at either end, or an empty statement, is a difference; a statement of no known period is
not compared (exit 7); one of another shortcode, or of another period than ``--from``/``--to`` say, is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.reconciliation import Reconciliation, Shortcodes, parse_statement, render_statement
from cryptopay.core.system import NAIROBI
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.wallets.buys import BuyState
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tests.support.services import in_memory_services
from tests.support.sql_backends import TEST_PERSONAL, Backend, migrated_sqlite, sql_backend
from tests.support.wallet_stack import WalletStack, wallet_stack

app = build_app()
runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletStack]:
    """A wallet stack on a fresh SQLite file or the emptied PostgreSQL database; the CLI's reconciliation reads it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cryptopay.db'}"
        migrated_sqlite({"CRYPTOPAY_DATABASE_URL": url})
        backend = sql_backend("sqlite", url)
    else:
        engine: Engine = request.getfixturevalue("pg_engine")
        backend = Backend("postgresql", SqlStorage(engine, personal=TEST_PERSONAL), engine)
    wallets = wallet_stack(backend)
    books = backend.uow
    reconciliation = Reconciliation(
        uow=books,
        ledger=wallets.ledger,
        clock=wallets.clock,
        wallets=books,
        shortcodes=Shortcodes(wallets.mpesa.shortcode, wallets.mpesa.payout_shortcode),
    )
    services = attrs.evolve(in_memory_services(clock=wallets.clock), reconciliation=ready(reconciliation))
    previous = use_services(services)
    yield wallets
    use_services(previous)
    if request.param == "sqlite" and backend.engine is not None:
        backend.engine.dispose()


def a_day_of_wallets(stack: WalletStack):
    """Amina buys KES 1,000 of USDT (STK Push, credited) and sells 5 USDT (B2C, completed)."""
    amina = stack.sign_up("0712000001", tier=1)
    buy = stack.buys.start(amina.id, Money.of(1000, KES))
    stack.deliver_callbacks()
    sale = stack.sells.start(amina.id, Money.of(5, USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    buy, payout = stack.buys.get(buy.id), stack.payouts.get_payout(sale.payout.id)
    assert buy.state is BuyState.CREDITED and payout.state.value == "completed"
    return buy, payout


def reconcile(path: Path, *period: str) -> tuple[int, dict[str, list[dict[str, str]]]]:
    result = runner.invoke(app, ["reconcile", "--json", "--mpesa-statement", str(path), *period])
    assert result.exit_code in (0, 5), result.output
    report = json.loads(result.stdout)
    mpesa = {c["name"]: c["differences"] for c in report["checks"] if c["area"] == "mpesa"}
    assert not any(c["skipped"] for c in report["checks"] if c["name"] in ("mpesa-statement", "mpesa-collections"))
    return result.exit_code, mpesa


def test_mpesa_s_own_statement_reconciles_and_each_broken_row_is_a_difference(stack, tmp_path):
    buy, payout = a_day_of_wallets(stack)
    record = statement_of(stack.mpesa)  # what M-Pesa collected and paid, as the sandbox exports it
    kinds = {line.receipt: line.reason_type for line in record.lines}
    assert kinds == {buy.receipt: "Pay Bill Online", payout.receipt: "Business Payment"}
    clean = tmp_path / "clean.csv"
    clean.write_text(render_statement(record))
    code, mpesa = reconcile(clean)
    assert (code, mpesa["mpesa-statement"], mpesa["mpesa-collections"]) == (0, [], [])

    # S3: the buy's collection is gone from the statement, and a collection of M-Pesa's names no buy of ours
    [collection] = [line for line in record.lines if line.receipt == buy.receipt]
    stranger = attrs.evolve(
        collection, receipt="SBX0000991", completed_at=collection.completed_at + timedelta(minutes=1)
    )
    paid = [line for line in record.lines if line.receipt == payout.receipt]
    # S2: M-Pesa reversed the payout (money back in), and took money out for a reason nobody books
    [payout_line] = paid
    reversal = attrs.evolve(
        payout_line,
        receipt="SBX0000992",
        reason_type="Reversal",
        details=f"Reversal of {payout.receipt}",
        paid_in=payout_line.withdrawn,
        withdrawn=Money.zero(KES),
        linked_receipt=payout.receipt,
    )
    unknown = attrs.evolve(payout_line, receipt="SBX0000993", reason_type="Organization Withdrawal", details="To bank")
    broken = tmp_path / "broken.csv"
    day = (collection.completed_at - timedelta(hours=1), payout_line.completed_at + timedelta(hours=1))
    rows = (stranger, payout_line, reversal, unknown)
    broken.write_text(render_statement(attrs.evolve(record, lines=rows, period=day)))
    assert len(parse_statement(broken.read_text()).lines) == 4
    code, mpesa = reconcile(broken)
    assert code == 5
    collections = [(d["subject"], d["actual"]) for d in mpesa["mpesa-collections"]]
    assert collections == [
        ("receipt SBX0000991", "none in our books"),
        (f"buy {buy.id} (credited)", "not on it"),
    ]
    statement = [(d["subject"], d["actual"]) for d in mpesa["mpesa-statement"]]
    assert statement == [
        (f"payout {payout.id} (completed)", "reversed by M-Pesa"),
        ("receipt SBX0000993", "a withdrawal of Reason Type 'Organization Withdrawal'"),
    ]


def missing(code: int, mpesa: dict[str, list[dict[str, str]]]) -> tuple[int, list[str], list[str]]:
    subjects = {name: [d["subject"] for d in found if d["actual"] == "not on it"] for name, found in mpesa.items()}
    return code, subjects["mpesa-collections"], subjects["mpesa-statement"]


def test_a_buy_or_payout_missing_before_the_first_or_after_the_last_row_is_a_difference(stack, tmp_path):
    """The reviewer's repro: M-Pesa's statement of the day without its first row (the buy), without its last (the
    payout), and with no rows at all: each missing record is reported (the period is the statement's own)."""
    buy, payout = a_day_of_wallets(stack)
    record = statement_of(stack.mpesa)
    assert [line.receipt for line in record.lines] == [buy.receipt, payout.receipt]  # the first row, the last row
    buy_gone, payout_gone, empty = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    buy_gone.write_text(render_statement(attrs.evolve(record, lines=record.lines[1:])))
    payout_gone.write_text(render_statement(attrs.evolve(record, lines=record.lines[:1])))
    empty.write_text(render_statement(attrs.evolve(record, lines=())))
    credited, completed = f"buy {buy.id} (credited)", f"payout {payout.id} (completed)"
    assert missing(*reconcile(buy_gone)) == (5, [credited], [])
    assert missing(*reconcile(payout_gone)) == (5, [], [completed])
    assert missing(*reconcile(empty)) == (5, [credited], [completed])


def test_a_statement_of_no_known_period_is_not_compared_unless_from_and_to_say_it(stack, tmp_path):
    """Without a Time Period line the statement checks are skipped, saying so, and the run exits 7 (never clean);
    ``--from``/``--to`` give the period: the same file then reconciles, and one missing the payout does not."""
    _, payout = a_day_of_wallets(stack)
    record = statement_of(stack.mpesa)
    assert record.period is not None
    bare, short = tmp_path / "bare.csv", tmp_path / "short.csv"
    bare.write_text(render_statement(attrs.evolve(record, period=None)))
    short.write_text(render_statement(attrs.evolve(record, period=None, lines=record.lines[:1])))
    assert "Time Period" not in bare.read_text()
    for path in (bare, short):
        result = runner.invoke(app, ["reconcile", "--json", "--mpesa-statement", str(path)])
        assert result.exit_code == 7, result.output
        checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
        for name in ("mpesa-statement", "mpesa-collections"):
            assert checks[name]["skipped"].startswith("statement period unknown"), checks[name]
        assert "statement period unknown" in result.stderr
    day = [d.astimezone(NAIROBI).strftime("%Y-%m-%d") for d in record.period]
    period = ("--from", day[0], "--to", day[1])
    code, mpesa = reconcile(bare, *period)
    assert (code, mpesa["mpesa-statement"], mpesa["mpesa-collections"]) == (0, [], [])
    assert missing(*reconcile(short, *period)) == (5, [], [f"payout {payout.id} (completed)"])


def test_a_statement_of_another_shortcode_or_period_is_refused(stack, tmp_path):
    """A statement whose Short Code is not ours, or naming none, and one whose Time Period is not the period
    ``--from``/``--to`` say, are refused (exit 2): nothing is compared against another account's record."""
    a_day_of_wallets(stack)
    record = statement_of(stack.mpesa)
    assert record.period is not None
    for shortcode in ("999999", ""):
        other = tmp_path / f"other{shortcode}.csv"
        other.write_text(render_statement(attrs.evolve(record, shortcode=shortcode)))
        result = runner.invoke(app, ["reconcile", "--json", "--mpesa-statement", str(other)])
        assert result.exit_code == 2 and "not of ours" in result.stderr, result.output
    dated = tmp_path / "dated.csv"
    dated.write_text(render_statement(record))
    result = runner.invoke(
        app, ["reconcile", "--mpesa-statement", str(dated), "--from", "2020-01-01", "--to", "2020-01-01"]
    )
    assert result.exit_code == 2 and "the statement says it covers" in result.stderr, result.output
    result = runner.invoke(app, ["reconcile", "--from", "2020-01-01", "--to", "2020-01-01"])
    assert result.exit_code == 2 and "give the statement" in result.stderr, result.output


PAYOUT_SHORTCODE = "600992"  # the B2C/B2B PartyA, apart from the paybill's (the fake's shortcode)


def run(*paths: Path) -> tuple[int, dict[str, dict[str, object]], str]:
    options = [item for path in paths for item in ("--mpesa-statement", str(path))]
    result = runner.invoke(app, ["reconcile", "--json", *options])
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]} if result.stdout.strip() else {}
    return result.exit_code, checks, result.stderr


def test_with_two_shortcodes_each_statement_is_checked_only_against_its_own_records(stack, tmp_path):
    """A paybill for STK Push and another Short Code paying out: M-Pesa's portal exports a statement per Short Code,
    so the paybill's holds the buy alone and the payout Short Code's the payout alone. Each is read only for the
    records of its own Short Code: either alone reconciles (the other side's check skipped, saying which Short Code
    was given), never reports the other side's records missing; both together reconcile with both checks run; a row
    gone from either is still a difference; two statements of one Short Code are refused."""
    stack.mpesa.payout_shortcode = PAYOUT_SHORTCODE
    books = stack.backend.uow
    shortcodes = Shortcodes(stack.mpesa.shortcode, PAYOUT_SHORTCODE)
    reconciliation = Reconciliation(
        uow=books, ledger=stack.ledger, clock=stack.clock, wallets=books, shortcodes=shortcodes
    )
    use_services(attrs.evolve(in_memory_services(clock=stack.clock), reconciliation=ready(reconciliation)))
    buy, payout = a_day_of_wallets(stack)
    paybill, payouts = statement_of(stack.mpesa), statement_of(stack.mpesa, shortcode=PAYOUT_SHORTCODE)
    assert [(s.shortcode, [line.receipt for line in s.lines]) for s in (paybill, payouts)] == [
        (stack.mpesa.shortcode, [buy.receipt]),
        (PAYOUT_SHORTCODE, [payout.receipt]),
    ]
    collections_csv, payouts_csv = tmp_path / "paybill.csv", tmp_path / "payouts.csv"
    collections_csv.write_text(render_statement(paybill))
    payouts_csv.write_text(render_statement(payouts))

    code, checks, _ = run(payouts_csv)  # before: the buy was reported missing from the payouts' statement
    assert (code, checks["mpesa-statement"]["differences"], checks["mpesa-statement"]["skipped"]) == (0, [], None)
    assert checks["mpesa-collections"]["skipped"] == (
        f"no M-Pesa statement of the collections Short Code was imported (given: Short Code {PAYOUT_SHORTCODE})"
    )
    code, checks, _ = run(collections_csv)  # before: the payout was reported missing from the paybill's
    assert (code, checks["mpesa-collections"]["differences"], checks["mpesa-collections"]["skipped"]) == (0, [], None)
    assert checks["mpesa-statement"]["skipped"].startswith("no M-Pesa statement of the payouts Short Code")

    code, checks, _ = run(collections_csv, payouts_csv)
    for name in ("mpesa-statement", "mpesa-collections"):
        assert (checks[name]["differences"], checks[name]["skipped"]) == ([], None), checks[name]
    assert code == 0

    no_payout = tmp_path / "no-payout.csv"
    no_payout.write_text(render_statement(attrs.evolve(payouts, lines=())))
    code, checks, _ = run(collections_csv, no_payout)
    missing_payout = [d["subject"] for d in checks["mpesa-statement"]["differences"] if d["actual"] == "not on it"]
    assert (code, missing_payout, checks["mpesa-collections"]["differences"]) == (
        5,
        [f"payout {payout.id} (completed)"],
        [],
    )

    code, _, stderr = run(payouts_csv, no_payout)
    assert code == 2 and f"two statements of Short Code {PAYOUT_SHORTCODE}" in stderr


def test_a_paybill_payment_the_statement_records_for_another_account_is_a_difference(stack, tmp_path):
    """Review7 F3, as the reviewer ran it: Amina's KES 3,000 paybill top-up (credited to her) on M-Pesa's statement
    with its ``A/C No.`` (and Details' ``Acc.``) changed to ``dedan7`` read clean (exit 0). Now it is a difference in
    ``mpesa-collections`` (exit 5); the statement as M-Pesa keeps it still reconciles clean."""
    from tests.support.paybill import pay, registered

    stack.sign_up("0712000001")
    stack.sign_up("0712000004", username="dedan7")
    desk, _ = registered(stack)
    payment = pay(stack, desk, "0799000001", 3000, "0712000001")
    books = stack.backend.uow
    reconciliation = Reconciliation(
        uow=books,
        ledger=stack.ledger,
        clock=stack.clock,
        wallets=books,
        paybill=books,
        shortcodes=Shortcodes(stack.mpesa.shortcode, stack.mpesa.payout_shortcode),
    )
    use_services(attrs.evolve(in_memory_services(clock=stack.clock), reconciliation=ready(reconciliation)))
    record = statement_of(stack.mpesa)
    clean = tmp_path / "clean.csv"
    clean.write_text(render_statement(record))
    code, mpesa = reconcile(clean)
    assert (code, mpesa["mpesa-collections"]) == (0, [])
    [line] = record.lines
    forged = attrs.evolve(line, account_no="dedan7", details=line.details.replace("Acc. 0712000001", "Acc. dedan7"))
    changed = tmp_path / "changed.csv"
    changed.write_text(render_statement(attrs.evolve(record, lines=(forged,))))
    code, mpesa = reconcile(changed)
    found = [(d["subject"], d["expected"], d["actual"]) for d in mpesa["mpesa-collections"]]
    assert (code, found) == (
        5,
        [(f"paybill payment {payment.id} (credited)", "for account 2547******01", "for account 'dedan7'")],
    )
