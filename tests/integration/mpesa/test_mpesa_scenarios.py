"""Each Daraja sandbox scenario, driven through the adapter over HTTP, ends in the right state with no money lost
or duplicated."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from cryptopay.adapters.mpesa import DarajaGateway
from cryptopay.core.mobile_money import (
    B2CRequest,
    CallbackInbox,
    MpesaThrottled,
    MpesaUnavailable,
    Outcome,
    OutcomeUnknown,
    StkPushRequest,
    TransactionStatusRequest,
    parse_payload,
    reconcile_stk,
    status_outcome,
)
from cryptopay.core.money import KES, Money
from cryptopay.sandbox.daraja import DarajaSandbox
from cryptopay.sandbox.sink import CallbackSink

START = Money.of(100_000, KES)


def stk(sink: CallbackSink, phone: str, path: str = "/cb/stk/tok", amount: int = 100) -> StkPushRequest:
    return StkPushRequest(phone=phone, amount=amount, account_reference="BUY-USDT", callback_url=sink.url_for(path))


def b2c(sink: CallbackSink, key: str, phone: str, amount: int = 500) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id=key,
        phone=phone,
        amount=amount,
        result_url=sink.url_for(f"/cb/b2c/{key}"),
        timeout_url=sink.url_for(f"/cb/timeout/{key}"),
    )


def settled(sandbox: DarajaSandbox, reference: str, timeout: float = 15.0) -> None:
    """Wait until the sandbox has recorded a transaction and decided it (its completion timer fired).

    Recorded too: a client that timed out may be answered before the sandbox's request thread has stored it (on a
    loaded machine, under ``make test``'s parallel workers, that thread can wait longer than the client's timeout).
    """
    deadline = time.monotonic() + timeout
    while (
        reference not in {t.reference for t in sandbox.engine.transactions()}
        or sandbox.engine.transaction(reference).state == "open"
    ):
        assert time.monotonic() < deadline, f"{reference} not recorded or still open after {timeout}s"
        time.sleep(0.01)


def status_of(gateway: DarajaGateway, sink: CallbackSink, key: str) -> Outcome:
    gateway.transaction_status(
        TransactionStatusRequest(
            originator_conversation_id=key,
            result_url=sink.url_for(f"/cb/status/{key}"),
            timeout_url=sink.url_for(f"/cb/status-timeout/{key}"),
        )
    )
    [result] = sink.wait(f"/cb/status/{key}")
    return status_outcome(parse_payload(result))


@pytest.mark.parametrize(
    ("phone", "code"),
    [("254711000001", "1032"), ("254711000002", "1037"), ("254711000003", "1"), ("254711000004", "2001")],
)
def test_failed_stk_scenarios_report_their_code_and_move_nothing(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink, phone: str, code: str
) -> None:
    """Cancelled, unreachable, insufficient funds and wrong PIN each report their code; no balance changes."""
    float_before = sandbox.engine.float_balance
    accepted = gateway.stk_push(stk(sink, phone))
    [callback] = sink.wait("/cb/stk/tok")
    result = parse_payload(callback)
    assert (result.result_code, result.success) == (code, False)
    assert gateway.stk_query(accepted.checkout_request_id).result_code == code
    assert (sandbox.balance(phone), sandbox.engine.float_balance) == (START, float_before)


def test_payout_beyond_our_float_fails_with_insufficient_funds(
    start_sandbox: Callable[..., DarajaSandbox], make_gateway: Callable[..., DarajaGateway], sink: CallbackSink
) -> None:
    """A B2C larger than our M-Pesa float reports result 1 and pays nothing."""
    sandbox = start_sandbox(float_balance="100")
    make_gateway(sandbox).b2c(b2c(sink, "po_poor", "254708374149"))
    result = parse_payload(sink.wait("/cb/b2c/po_poor")[0])
    assert result.result_code == "1" and sandbox.engine.float_balance == Money.of(100, KES)
    assert sandbox.balance("254708374149") == START


def test_a_wrong_security_credential_fails_with_2001(
    sandbox: DarajaSandbox, make_gateway: Callable[..., DarajaGateway], sink: CallbackSink
) -> None:
    """An initiator password that does not match fails the payout asynchronously with 2001, like Daraja."""
    make_gateway(sandbox, initiator_password="not-the-password").b2c(b2c(sink, "po_pin", "254708374149"))
    result = parse_payload(sink.wait("/cb/b2c/po_pin")[0])
    assert (result.result_code, result.success) == ("2001", False)
    assert sandbox.balance("254708374149") == START


def test_unregistered_customer_payout_fails_with_2040(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink
) -> None:
    """B2C to the unregistered magic number reports 2040 and keeps the money."""
    float_before = sandbox.engine.float_balance
    gateway.b2c(b2c(sink, "po_2040", "254711000005"))
    assert parse_payload(sink.wait("/cb/b2c/po_2040")[0]).result_code == "2040"
    assert sandbox.engine.float_balance == float_before


def test_a_duplicate_callback_is_harmless(gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink) -> None:
    """The callback arrives twice; the inbox takes it once and the customer paid once."""
    gateway.stk_push(stk(sink, "254711000006"))
    payloads = sink.wait("/cb/stk/tok", count=2)
    inbox = CallbackInbox()
    assert [inbox.accept(parse_payload(p)) for p in payloads] == [True, False]
    assert sandbox.balance("254711000006") == START - Money.of(100, KES)


def test_a_late_callback_follows_a_query_that_already_told(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink
) -> None:
    """The STK query reports success before the late callback; both agree and money moved once."""
    accepted = gateway.stk_push(stk(sink, "254711000007"))
    settled(sandbox, accepted.checkout_request_id)
    query = gateway.stk_query(accepted.checkout_request_id)
    assert query.outcome is Outcome.SUCCEEDED and sink.at("/cb/stk/tok") == []
    callback = parse_payload(sink.wait("/cb/stk/tok", timeout=3)[0])
    assert reconcile_stk(callback, query) is Outcome.SUCCEEDED
    assert sandbox.balance("254711000007") == START - Money.of(100, KES)


def test_a_late_payout_result_after_a_status_query_is_the_same_event(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink
) -> None:
    """The status query confirms the payout first; the late result carries the same receipt and is a duplicate."""
    gateway.b2c(b2c(sink, "po_late", "254711000007"))
    settled(sandbox, "po_late")
    gateway.transaction_status(
        TransactionStatusRequest(
            originator_conversation_id="po_late",
            result_url=sink.url_for("/cb/status/po_late"),
            timeout_url=sink.url_for("/cb/status-timeout/po_late"),
        )
    )
    status = parse_payload(sink.wait("/cb/status/po_late")[0])
    late = parse_payload(sink.wait("/cb/b2c/po_late", timeout=3)[0])
    inbox = CallbackInbox()
    assert status_outcome(status) is Outcome.SUCCEEDED and late.success and status.receipt == late.receipt
    assert [inbox.accept(status), inbox.accept(late)] == [True, False]
    assert sandbox.balance("254711000007") == START + Money.of(500, KES)


def test_a_lost_stk_callback_is_recovered_by_the_query(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink
) -> None:
    """No callback ever comes; the STK query after the deadline says the payment succeeded."""
    accepted = gateway.stk_push(stk(sink, "254711000008"))
    settled(sandbox, accepted.checkout_request_id)
    time.sleep(0.1)
    assert sink.at("/cb/stk/tok") == []
    assert reconcile_stk(None, gateway.stk_query(accepted.checkout_request_id)) is Outcome.SUCCEEDED
    assert sandbox.balance("254711000008") == START - Money.of(100, KES)


def test_a_lost_payout_result_is_recovered_by_transaction_status(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink
) -> None:
    """A B2C whose result never arrives is confirmed by a status query on our OriginatorConversationID."""
    gateway.b2c(b2c(sink, "po_lost", "254711000008"))
    settled(sandbox, "po_lost")
    assert status_of(gateway, sink, "po_lost") is Outcome.SUCCEEDED
    assert sink.at("/cb/b2c/po_lost") == [] and sandbox.balance("254711000008") == START + Money.of(500, KES)


def test_a_queue_timeout_leads_to_a_status_query_not_a_loss(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink
) -> None:
    """Only the QueueTimeOutURL is hit; it is no failure: the status query finds the completed payout."""
    gateway.b2c(b2c(sink, "po_queue", "254711000012"))
    [timeout] = sink.wait("/cb/timeout/po_queue")
    assert parse_payload(timeout).reference == "po_queue"
    assert status_of(gateway, sink, "po_queue") is Outcome.SUCCEEDED
    assert sandbox.requests["/mpesa/b2c/v3/paymentrequest"] == 1


def test_throttling_is_retried_with_backoff(gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink) -> None:
    """Two spike-arrest answers, then success: one payout, three attempts."""
    gateway.b2c(b2c(sink, "po_throttle", "254711000009"))
    assert parse_payload(sink.wait("/cb/b2c/po_throttle")[0]).success
    assert sandbox.requests["/mpesa/b2c/v3/paymentrequest"] == 3
    assert sandbox.balance("254711000009") == START + Money.of(500, KES)


def test_throttling_that_persists_gives_up_without_paying(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink
) -> None:
    """When every attempt is throttled the caller gets MpesaThrottled and nothing was paid."""
    httpx.post(sandbox.url + "/sandbox/throttle", json={"count": 10}).raise_for_status()
    with pytest.raises(MpesaThrottled):
        gateway.b2c(b2c(sink, "po_busy", "254708374149"))
    assert sandbox.engine.transactions() == [] and sandbox.requests["/mpesa/b2c/v3/paymentrequest"] == 3


@pytest.mark.parametrize("how", ["control", "magic_number"])
def test_an_expired_token_is_refreshed_once(
    gateway: DarajaGateway, sandbox: DarajaSandbox, sink: CallbackSink, how: str
) -> None:
    """After 404.001.03 the adapter fetches a new token and resends once; the payout happens once."""
    phone = "254708374149"
    gateway.b2c(b2c(sink, "po_warm", phone))  # the gateway now holds a token
    if how == "control":
        httpx.post(sandbox.url + "/sandbox/expire-tokens").raise_for_status()
    else:
        phone = "254711000010"
    gateway.b2c(b2c(sink, "po_token", phone))
    assert parse_payload(sink.wait("/cb/b2c/po_token")[0]).success
    assert sandbox.tokens_issued == 2
    assert [t.reference for t in sandbox.engine.transactions()].count("po_token") == 1


def test_an_early_stk_query_says_being_processed(
    start_sandbox: Callable[..., DarajaSandbox], make_gateway: Callable[..., DarajaGateway], sink: CallbackSink
) -> None:
    """While the prompt is open the query answers 'being processed' (pending), then the real result."""
    gateway = make_gateway(start_sandbox(late_delay=0.8))
    accepted = gateway.stk_push(stk(sink, "254711000011"))
    early = gateway.stk_query(accepted.checkout_request_id)
    assert (early.outcome, early.result_code) == (Outcome.PENDING, "500.001.1001")
    assert "being processed" in early.result_desc
    parse_payload(sink.wait("/cb/stk/tok", timeout=3)[0])
    assert gateway.stk_query(accepted.checkout_request_id).outcome is Outcome.SUCCEEDED


def test_a_payout_is_never_blindly_resent_after_a_lost_answer(
    start_sandbox: Callable[..., DarajaSandbox], make_gateway: Callable[..., DarajaGateway], sink: CallbackSink
) -> None:
    """The request reached Daraja but the answer timed out: OutcomeUnknown, one request, then a status query."""
    # The answer comes 4 s after the work, the client gives up after 1 s: on a loaded machine the sandbox's request
    # thread still reaches the request (counted, recorded) before the client's timeout.
    sandbox = start_sandbox(response_delay=4.0)
    gateway = make_gateway(sandbox, timeout_seconds=1.0, max_attempts=3)
    with pytest.raises(OutcomeUnknown) as caught:
        gateway.b2c(b2c(sink, "po_unknown", "254711000013"))
    assert caught.value.reference == "po_unknown"
    assert sandbox.requests["/mpesa/b2c/v3/paymentrequest"] == 1
    settled(sandbox, "po_unknown")
    assert status_of(gateway, sink, "po_unknown") is Outcome.SUCCEEDED
    assert sandbox.balance("254711000013") == START + Money.of(500, KES)
    assert sandbox.requests["/mpesa/b2c/v3/paymentrequest"] == 1


def test_an_unreachable_daraja_is_unavailable_not_unknown(
    make_gateway: Callable[..., DarajaGateway], start_sandbox: Callable[..., DarajaSandbox], sink: CallbackSink
) -> None:
    """When the connection never opens nothing can have been paid: MpesaUnavailable, safe to try later."""
    sandbox = start_sandbox()
    gateway = make_gateway(sandbox)
    sandbox.stop()
    with pytest.raises(MpesaUnavailable) as caught:
        gateway.b2c(b2c(sink, "po_down", "254708374149"))
    assert not isinstance(caught.value, OutcomeUnknown)
