"""The sandbox validates like Daraja (same envelopes), C2B flows through validation and confirmation, and the
adapter refuses a sandbox URL in production."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money import (
    SAFARICOM_CALLBACK_NETWORKS,
    C2BRegistration,
    MpesaAuthFailed,
    MpesaBadRequest,
    Outcome,
    PayloadKind,
    ReversalRequest,
    SourceAllowlist,
    StkPushRequest,
    TransactionStatusRequest,
    c2b_accept,
    c2b_reject,
    parse_payload,
)
from cryptopay.core.mobile_money.interpret import status_outcome
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation import parse_statement
from cryptopay.sandbox.daraja import DarajaSandbox
from cryptopay.sandbox.sink import CallbackSink


def token(sandbox: DarajaSandbox) -> str:
    basic = base64.b64encode(f"{sandbox.config.consumer_key}:{sandbox.config.consumer_secret}".encode()).decode()
    answer = httpx.get(
        sandbox.url + "/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert answer.status_code == 200 and answer.json()["expires_in"] == "3599"
    return str(answer.json()["access_token"])


def post(sandbox: DarajaSandbox, path: str, body: dict[str, Any], bearer: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.post(sandbox.url + path, json=body, headers=headers)


def test_a_missing_or_unknown_token_gets_daraja_s_404_envelope(sandbox: DarajaSandbox) -> None:
    """Product calls without a valid bearer token answer 404.001.03."""
    for bearer in (None, "made-up"):
        answer = post(sandbox, "/mpesa/accountbalance/v1/query", {}, bearer)
        assert answer.status_code == 404 and answer.json()["errorCode"] == "404.001.03"
        assert set(answer.json()) == {"requestId", "errorCode", "errorMessage"}


def test_bad_consumer_credentials_are_refused(
    sandbox: DarajaSandbox, make_gateway: Callable[..., DarajaGateway], sink: CallbackSink
) -> None:
    """A wrong consumer secret fails at the token with a clear auth error."""
    gateway = make_gateway(sandbox, consumer_secret="wrong")
    with pytest.raises(MpesaAuthFailed, match="consumer key/secret"):
        gateway.stk_query("ws_CO_1")


def test_a_decimal_amount_is_refused_on_the_wire(sandbox: DarajaSandbox) -> None:
    """Daraja refuses cents: the sandbox answers 400.002.02 Invalid Amount and starts nothing."""
    body = {
        "OriginatorConversationID": "po_cents",
        "InitiatorName": "testapi",
        "SecurityCredential": "x",
        "CommandID": "BusinessPayment",
        "Amount": 10.5,
        "PartyA": sandbox.config.payout_shortcode,
        "PartyB": "254708374149",
        "Remarks": "pay",
        "QueueTimeOutURL": "https://x.example/t",
        "ResultURL": "https://x.example/r",
        "Occassion": "",
    }
    answer = post(sandbox, "/mpesa/b2c/v3/paymentrequest", body, token(sandbox))
    assert (answer.status_code, answer.json()["errorMessage"]) == (400, "Bad Request - Invalid Amount")
    assert sandbox.engine.transactions() == []


def test_a_wrong_shortcode_or_passkey_is_refused_like_daraja(
    sandbox: DarajaSandbox, make_gateway: Callable[..., DarajaGateway], sink: CallbackSink
) -> None:
    """A wrong BusinessShortCode gets 400.002.02; a wrong passkey (password) gets 500.001.1001."""
    request = StkPushRequest(phone="0708374149", amount=10, account_reference="A", callback_url=sink.url_for("/cb"))
    with pytest.raises(MpesaBadRequest, match="Invalid BusinessShortCode"):
        make_gateway(sandbox, shortcode="999999").stk_push(request)
    with pytest.raises(MpesaAuthFailed, match=r"500\.001\.1001"):
        make_gateway(sandbox, passkey="wrong").stk_push(request)
    assert sandbox.engine.transactions() == []


def test_an_unknown_checkout_request_is_a_bad_request(gateway: DarajaGateway) -> None:
    """Querying an STK push that never happened answers 400.002.02."""
    with pytest.raises(MpesaBadRequest, match="CheckoutRequestID"):
        gateway.stk_query("ws_CO_nope")


@pytest.mark.parametrize("accept", [True, False])
def test_c2b_payment_goes_through_validation_then_confirmation(
    gateway: DarajaGateway, sandbox: DarajaSandbox, accept: bool
) -> None:
    """A customer paybill payment is confirmed (and moves money) only when our validation accepts it."""

    def reply(path: str, payload: Any) -> dict[str, Any]:
        return (c2b_accept() if accept else c2b_reject()) if path.endswith("/validate") else c2b_accept()

    with CallbackSink.start(reply) as sink:
        gateway.register_c2b_urls(
            C2BRegistration(confirmation_url=sink.url_for("/c2b/confirm"), validation_url=sink.url_for("/c2b/validate"))
        )
        body = {
            "ShortCode": sandbox.config.shortcode,
            "CommandID": "CustomerPayBillOnline",
            "Amount": "250",
            "Msisdn": "254708374149",
            "BillRefNumber": "ACC-42",
        }
        assert post(sandbox, "/mpesa/c2b/v1/simulate", body, token(sandbox)).json()["ResponseCode"] == "0"
        sink.wait("/c2b/validate")
        if accept:
            confirmation = parse_payload(sink.wait("/c2b/confirm")[0])
            assert (confirmation.kind, confirmation.amount, confirmation.phone, confirmation.account_reference) == (
                PayloadKind.C2B,
                Money.of(250, KES),
                "254708374149",
                "ACC-42",
            )
            assert confirmation.receipt
        else:
            assert sink.at("/c2b/confirm") == []
    paid = Money.of(250, KES) if accept else Money.zero(KES)
    assert sandbox.balance("254708374149") == Money.of(100_000, KES) - paid
    statement = parse_statement(httpx.get(f"{sandbox.url}/sandbox/statement", timeout=5.0).text)
    rows = [(line.reason_type, line.paid_in, line.account_no) for line in statement.lines if line.is_collection]
    assert rows == ([("Pay Bill", paid, "ACC-42")] if accept else [])  # on M-Pesa's record as the portal writes it


def test_callback_sources_can_be_checked_against_an_allowlist(gateway: DarajaGateway, sink: CallbackSink) -> None:
    """The sandbox's callbacks come from loopback: a loopback allowlist admits them, Safaricom's list does not."""
    gateway.stk_push(
        StkPushRequest(phone="0708374149", amount=10, account_reference="A", callback_url=sink.url_for("/cb/src"))
    )
    sink.wait("/cb/src")
    source = sink.received[0].remote_addr
    assert SourceAllowlist.of("127.0.0.0/8").allows(source)
    assert not SourceAllowlist.of(*SAFARICOM_CALLBACK_NETWORKS).allows(source)


def test_production_settings_refuse_the_running_sandbox(sandbox: DarajaSandbox) -> None:
    """Pointing production settings at the local sandbox is refused unless explicitly allowed."""
    fields = {**sandbox.client_settings(), "production": True}
    with pytest.raises(InvalidInput, match="allow_sandbox"):
        DarajaSettings(**fields)
    assert DarajaSettings(**fields, allow_sandbox=True).base_url == sandbox.url


def test_control_endpoint_refuses_an_unknown_scenario(sandbox: DarajaSandbox) -> None:
    """Choosing a scenario that does not exist is a 400 naming the known ones."""
    answer = httpx.post(sandbox.url + "/sandbox/scenarios", json={"phone": "0708374149", "scenario": "explode"})
    assert answer.status_code == 400 and "cancelled" in answer.json()["errorMessage"]


def test_transaction_status_about_a_c2b_trans_id_answers_in_daraja_s_format(
    gateway: DarajaGateway, sandbox: DarajaSandbox
) -> None:
    """What the paybill's verification asks (``Paybill.verify_due``): Transaction Status by the confirmation's
    TransID, over the wire; the answer is Daraja's Result with the payer as DebitPartyName, our paybill as
    CreditPartyName and the amount; a TransID the sandbox never made is not found."""
    with CallbackSink.start(lambda path, payload: c2b_accept()) as sink:
        gateway.register_c2b_urls(
            C2BRegistration(confirmation_url=sink.url_for("/c2b/confirm"), validation_url=sink.url_for("/c2b/validate"))
        )
        body = {
            "ShortCode": sandbox.config.shortcode,
            "CommandID": "CustomerPayBillOnline",
            "Amount": "300",
            "Msisdn": "254708374149",
            "BillRefNumber": "ACC-43",
        }
        assert post(sandbox, "/mpesa/c2b/v1/simulate", body, token(sandbox)).json()["ResponseCode"] == "0"
        receipt = parse_payload(sink.wait("/c2b/confirm")[0]).receipt
        assert receipt
        for trans_id, path in ((receipt, "/status/known"), ("NOSUCH0001", "/status/unknown")):
            gateway.transaction_status(
                TransactionStatusRequest(
                    result_url=sink.url_for(path),
                    timeout_url=sink.url_for(path + "/timeout"),
                    transaction_id=trans_id,
                    shortcode=sandbox.config.shortcode,
                )
            )
        known = parse_payload(sink.wait("/status/known")[0])
        unknown = parse_payload(sink.wait("/status/unknown")[0])
    assert status_outcome(known) is Outcome.SUCCEEDED and known.param("Amount") == "300"
    assert (known.param("DebitPartyName") or "").startswith("254708374149 - ")
    assert known.param("CreditPartyName") == f"{sandbox.config.shortcode} - SANDBOX BUSINESS"
    assert known.param("ReceiptNo") == receipt
    assert status_outcome(unknown) is Outcome.NOT_FOUND


def test_a_reversal_of_a_c2b_payment_answers_in_daraja_s_format(gateway: DarajaGateway, sandbox: DarajaSandbox) -> None:
    """What a paybill payment's return sends (``Paybill.reverse``): Reversal of the TransID over the wire; the result
    is Daraja's (the keys of Safaricom's published success: OriginalTransactionID, Amount, CreditPartyPublicName, the
    acknowledged ids), Transaction Status about the TransID then says Reversed; a second reversal, and one of a
    TransID the sandbox never made, fail with R000002 as Safaricom's published failure."""
    with CallbackSink.start(lambda path, payload: c2b_accept()) as sink:
        gateway.register_c2b_urls(
            C2BRegistration(confirmation_url=sink.url_for("/c2b/confirm"), validation_url=sink.url_for("/c2b/validate"))
        )
        body = {
            "ShortCode": sandbox.config.shortcode,
            "CommandID": "CustomerPayBillOnline",
            "Amount": "300",
            "Msisdn": "254708374149",
            "BillRefNumber": "nobody",
        }
        assert post(sandbox, "/mpesa/c2b/v1/simulate", body, token(sandbox)).json()["ResponseCode"] == "0"
        receipt = parse_payload(sink.wait("/c2b/confirm")[0]).receipt
        assert receipt
        acks = []
        for trans_id, path in ((receipt, "/rev/first"), (receipt, "/rev/again"), ("NOSUCH0001", "/rev/unknown")):
            request = ReversalRequest(
                transaction_id=trans_id,
                amount=Money.of(300, KES),
                result_url=sink.url_for(path),
                timeout_url=sink.url_for(path + "/timeout"),
            )
            acks.append(gateway.reversal(request))
            sink.wait(path)
        raw = sink.wait("/rev/first")[0]
        first, again, unknown = (parse_payload(sink.wait(p)[0]) for p in ("/rev/first", "/rev/again", "/rev/unknown"))
        gateway.transaction_status(
            TransactionStatusRequest(
                result_url=sink.url_for("/status"),
                timeout_url=sink.url_for("/status/timeout"),
                transaction_id=receipt,
                shortcode=sandbox.config.shortcode,
            )
        )
        status = parse_payload(sink.wait("/status")[0])
    params = {p["Key"] for p in raw["Result"]["ResultParameters"]["ResultParameter"]}
    assert {"Amount", "OriginalTransactionID", "TransCompletedTime", "CreditPartyPublicName"} <= params
    assert first.outcome is Outcome.SUCCEEDED and first.param("OriginalTransactionID") == receipt
    assert first.originator_conversation_id == acks[0].originator_conversation_id
    assert first.conversation_id == acks[0].conversation_id
    assert (again.result_code, unknown.result_code) == ("R000002", "R000002")
    assert again.outcome is Outcome.FAILED and "OriginalTransactionID is invalid" in unknown.result_desc
    assert status.param("TransactionStatus") == "Reversed"
