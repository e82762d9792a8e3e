"""Reconciliation against the Daraja sandbox over HTTP: its own record (the statement export) and Account Balance."""

from __future__ import annotations

from datetime import timedelta

import httpx
from cryptopay.adapters.mpesa import DarajaGateway
from cryptopay.core.mobile_money import StkPushRequest, parse_payload
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.payouts.service import PayoutUrls
from cryptopay.core.reconciliation import BalanceUrls, Outside, Report, parse_statement
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.sandbox.daraja import DarajaSandbox
from cryptopay.sandbox.sink import CallbackSink

PHONE = "254712345678"


def differences(report: Report, name: str) -> list[tuple[str, str, str]]:
    (result,) = [r for r in report.results if r.check.name == name]
    assert not result.skipped, result.skipped
    return [(d.subject, d.expected, d.actual) for d in result.differences]


def over_the_wire(gateway: DarajaGateway, sink: CallbackSink) -> PaymentsStack:
    """The payment use cases in memory, M-Pesa over HTTP to the sandbox, its callbacks kept in the sink."""
    stack = PaymentsStack()
    stack.urls = PayoutUrls(
        result=sink.url_for("/payouts/result"),
        timeout=sink.url_for("/payouts/timeout"),
        status_result=sink.url_for("/status/result"),
        status_timeout=sink.url_for("/status/timeout"),
    )
    stack.balance_urls = BalanceUrls(result=sink.url_for("/balance/result"), timeout=sink.url_for("/balance/timeout"))
    stack.wire_use_cases(gateway=gateway)
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, PHONE)
    stack.add_merchant("m1", settlement=profile)
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.settling.run_settlements()
    return stack


def test_the_sandbox_s_statement_shows_a_payout_whose_callback_we_never_applied(
    sandbox: DarajaSandbox, gateway: DarajaGateway, sink: CallbackSink
) -> None:
    """The sandbox paid; its result reached the sink but never our books (ours: submitted). Its statement export
    (``GET /sandbox/statement``) and its Account Balance answer both show the payment reconcile reports."""
    stack = over_the_wire(gateway, sink)
    [payout] = stack.payouts.submit_payouts()
    sink.wait("/payouts/result")  # M-Pesa paid and said so; the answer is lost on our side
    assert stack.payouts.get_payout(payout.id).state is PayoutState.SUBMITTED
    payouts = {"shortcode": sandbox.config.payout_shortcode}  # the payout Short Code's statement holds the payouts
    csv = httpx.get(f"{sandbox.url}/sandbox/statement", params=payouts, timeout=5.0)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    statement = parse_statement(csv.text)
    assert [line.withdrawn for line in statement.lines if line.is_payout] == [payout.amount]
    stack.float_balance.ask()
    [answer] = sink.wait("/balance/result")
    token = sink.received[-1].path.rsplit("/", 1)[-1]
    stack.float_balance.answer(parse_payload(answer), token=token)
    opening = Money.of(sandbox.config.float_balance, KES)
    report = stack.reconciliation.reconcile(Outside(statement=statement, float_baseline=opening))
    paid, _total = differences(report, "mpesa-statement")
    assert paid == (f"payout {payout.id} (submitted)", "submitted as in our books", "paid by M-Pesa")
    [(_, _, actual)] = differences(report, "mpesa-float")
    assert actual == f"{opening - payout.amount - payout.mpesa_charge} per Account Balance"  # and M-Pesa's charge


def test_the_sandbox_s_statement_carries_its_stk_collections_as_the_portal_writes_them(
    sandbox: DarajaSandbox, gateway: DarajaGateway, sink: CallbackSink
) -> None:
    """An STK Push the sandbox completed is a ``Pay Bill Online`` row of its statement export: paid in, the receipt
    of the callback, the payer's phone masked as the org portal masks it, the push's AccountReference as A/C No."""
    request = StkPushRequest(
        phone="0708374149", amount=120, account_reference="B0000000042", callback_url=sink.url_for("/stk/cb")
    )
    gateway.stk_push(request)
    [callback] = sink.wait("/stk/cb")
    receipt = parse_payload(callback).receipt
    statement = parse_statement(httpx.get(f"{sandbox.url}/sandbox/statement", timeout=5.0).text)
    [line] = [line for line in statement.lines if line.receipt == receipt]
    assert line.is_collection and not line.is_payout
    assert (line.reason_type, line.paid_in, line.withdrawn) == ("Pay Bill Online", Money.of(120, KES), Money.zero(KES))
    assert (line.party_number, line.account_no) == ("2547*****149", "B0000000042")
    assert line.details.startswith("Pay Bill Online from 2547*****149 - ")


def test_the_sandbox_s_statement_says_its_period_as_the_portal_s_does(
    sandbox: DarajaSandbox, gateway: DarajaGateway, sink: CallbackSink
) -> None:
    """Every export has a ``Time Period`` line (review6 F3: reconciliation never guesses it from the rows): since the
    sandbox started by default, else the ``from``..``to`` asked for, with only that period's rows."""
    request = StkPushRequest(phone="0708374149", amount=130, account_reference="B1", callback_url=sink.url_for("/cb"))
    gateway.stk_push(request)
    receipt = parse_payload(sink.wait("/cb")[0]).receipt
    text = httpx.get(f"{sandbox.url}/sandbox/statement", timeout=5.0).text
    assert "Time Period:," in text
    whole = parse_statement(text)
    assert whole.covers is not None and receipt in whole.by_receipt()
    [line] = [line for line in whole.lines if line.receipt == receipt]
    after = (line.completed_at + timedelta(seconds=1)).isoformat()
    later = httpx.get(f"{sandbox.url}/sandbox/statement", params={"from": after}, timeout=5.0).text
    statement = parse_statement(later)
    assert statement.covers is not None and statement.covers[0] > line.completed_at
    assert receipt not in statement.by_receipt()
    assert httpx.get(f"{sandbox.url}/sandbox/statement", params={"from": "soon"}, timeout=5.0).status_code == 400
