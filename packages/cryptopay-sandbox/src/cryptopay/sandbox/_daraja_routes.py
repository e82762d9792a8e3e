"""The Daraja sandbox's routes: Safaricom's product paths (validated like Daraja) and the control paths."""

from __future__ import annotations

import base64
import hmac
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
from cryptopay.core.errors import CryptopayError
from cryptopay.core.mobile_money import (
    AccountBalanceRequest,
    B2BCommand,
    B2BRequest,
    B2CCommand,
    B2CRequest,
    C2BRegistration,
    InvalidPhoneNumber,
    MpesaError,
    ReversalRequest,
    StkPushRequest,
    TransactionStatusRequest,
    TransactionType,
    load_json,
    normalize_msisdn,
    stk_password,
)
from cryptopay.core.reconciliation import render_statement
from cryptopay.core.testing.daraja_payloads import stk_query_answer
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.sandbox._wire import Envelope, check, dumps, envelope_response, msisdn, text, whole_amount
from cryptopay.sandbox.certs import decrypt_credential
from flask import Flask, Response, request

if TYPE_CHECKING:
    from cryptopay.sandbox.daraja import DarajaSandbox

__all__ = ["envelope_handler", "mpesa_error_handler", "register"]

_TIMESTAMP = re.compile(r"\d{14}")
_ACCEPTED = "Accept the service request successfully."


def envelope_handler(error: Exception) -> Response:
    assert isinstance(error, Envelope)
    return envelope_response(error)


def mpesa_error_handler(error: Exception) -> Response:
    assert isinstance(error, MpesaError)
    return envelope_response(Envelope(error.error_code or "500.001.1001", error.message.split(": ", 1)[-1]))


def _json(data: Any) -> Response:
    return Response(dumps(data), mimetype="application/json")


def _body() -> dict[str, Any]:
    try:
        data = load_json(request.get_data())
    except ValueError:
        raise Envelope("400.002.02", "Bad Request - Invalid JSON") from None
    check(isinstance(data, dict), "JSON")
    return dict(data)


def _build(factory: Callable[..., Any], **fields: Any) -> Any:
    """Build a core request; its validation message becomes Daraja's ``Bad Request`` envelope."""
    try:
        return factory(**fields)
    except (CryptopayError, ValueError) as error:
        raise Envelope("400.002.02", f"Bad Request - {error}") from None


def _ack(originator: str | None, conversation: str | None) -> Response:
    return _json(
        {
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "ResponseCode": "0",
            "ResponseDescription": _ACCEPTED,
        }
    )


def register(app: Flask, sandbox: DarajaSandbox) -> None:
    """Add every route to ``app``."""
    _register_auth(app, sandbox)
    _register_stk(app, sandbox)
    _register_b2c(app, sandbox)
    _register_b2b(app, sandbox)
    _register_queries(app, sandbox)
    _register_reversal(app, sandbox)
    _register_c2b(app, sandbox)
    _register_controls(app, sandbox)


def _register_auth(app: Flask, sandbox: DarajaSandbox) -> None:
    @app.get("/oauth/v1/generate")
    def generate() -> Response:
        if request.args.get("grant_type") != "client_credentials":
            raise Envelope("400.008.02", "Invalid grant type passed")
        config = sandbox.config
        expected = base64.b64encode(f"{config.consumer_key}:{config.consumer_secret}".encode()).decode()
        presented = request.headers.get("Authorization", "").removeprefix("Basic ").strip()
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise Envelope("400.008.01", "Invalid Authentication passed")
        return _json({"access_token": sandbox.issue_token(), "expires_in": str(int(config.token_ttl))})


def _check_password(sandbox: DarajaSandbox, body: dict[str, Any]) -> None:
    check(str(body.get("BusinessShortCode")) == sandbox.config.shortcode, "BusinessShortCode")
    timestamp = str(body.get("Timestamp", ""))
    check(bool(_TIMESTAMP.fullmatch(timestamp)), "Timestamp")
    expected = stk_password(sandbox.config.shortcode, sandbox.config.passkey, timestamp)
    if not hmac.compare_digest(str(body.get("Password", "")).encode(), expected.encode()):
        raise Envelope("500.001.1001", "Wrong credentials")


def _register_stk(app: Flask, sandbox: DarajaSandbox) -> None:
    @app.post("/mpesa/stkpush/v1/processrequest")
    def stk_push() -> Response:
        body = _body()
        phone = msisdn(body, "PhoneNumber")
        sandbox.guard(phone)
        _check_password(sandbox, body)
        check(body.get("TransactionType") in {t.value for t in TransactionType}, "TransactionType")
        msisdn(body, "PartyA")
        check(len(str(body.get("AccountReference", ""))) <= 12, "AccountReference")
        kind = TransactionType(body["TransactionType"])
        party_b = str(body.get("PartyB", ""))
        req = _build(
            StkPushRequest,
            phone=phone,
            amount=whole_amount(body),
            account_reference=text(body, "AccountReference", 12),
            callback_url=text(body, "CallBackURL", 500),
            description=str(body.get("TransactionDesc") or "Payment")[:13],
            transaction_type=kind,
            till_number=party_b if kind is TransactionType.BUY_GOODS else None,
        )
        accepted = sandbox.engine.stk_push(req)
        sandbox.schedule_completion(accepted.checkout_request_id)
        sandbox.respond_late_if_lost(accepted.checkout_request_id)
        message = "Success. Request accepted for processing"
        return _json(
            {
                "MerchantRequestID": accepted.merchant_request_id,
                "CheckoutRequestID": accepted.checkout_request_id,
                "ResponseCode": "0",
                "ResponseDescription": message,
                "CustomerMessage": message,
            }
        )

    @app.post("/mpesa/stkpushquery/v1/query")
    def stk_query() -> Response:
        body = _body()
        sandbox.guard(None)
        _check_password(sandbox, body)
        checkout = text(body, "CheckoutRequestID")
        try:
            tx = sandbox.engine.transaction(checkout)
        except KeyError:
            raise Envelope("400.002.02", "Bad Request - Invalid CheckoutRequestID") from None
        if tx.state == "open":
            raise Envelope("500.001.1001", "The transaction is being processed")
        return _json(stk_query_answer(tx.conversation_id, tx.reference, tx.result_code, tx.result_desc))


def _initiator_scenario(sandbox: DarajaSandbox, body: dict[str, Any], name_field: str) -> Scenario | None:
    """A wrong initiator or SecurityCredential fails asynchronously with 2001, as on Daraja."""
    config = sandbox.config
    if str(body.get(name_field, "")) != config.initiator_name:
        return Scenario.WRONG_PIN
    if config.private_key_pem is not None:
        password = decrypt_credential(str(body.get("SecurityCredential", "")), config.private_key_pem)
        if password is None or not hmac.compare_digest(password.encode(), config.initiator_password.encode()):
            return Scenario.WRONG_PIN
    return None


def _register_b2c(app: Flask, sandbox: DarajaSandbox) -> None:
    """B2C payments (v3 carries our OriginatorConversationID; v1 gets one from M-Pesa)."""

    def b2c(body: dict[str, Any], originator: str) -> Response:
        phone = msisdn(body, "PartyB")
        sandbox.guard(phone)
        check(str(body.get("PartyA")) == sandbox.config.payout_shortcode, "PartyA")
        check(body.get("CommandID") in {c.value for c in B2CCommand}, "CommandID")
        req = _build(
            B2CRequest,
            originator_conversation_id=originator,
            phone=phone,
            amount=whole_amount(body),
            result_url=text(body, "ResultURL", 500),
            timeout_url=text(body, "QueueTimeOutURL", 500),
            remarks=text(body, "Remarks", 100),
            occasion=str(body.get("Occassion", "")),
            command=B2CCommand(body["CommandID"]),
        )
        ack = sandbox.engine.b2c(req, scenario=_initiator_scenario(sandbox, body, "InitiatorName"))
        sandbox.schedule_completion(originator)
        sandbox.respond_late_if_lost(originator)
        return _ack(ack.originator_conversation_id, ack.conversation_id)

    @app.post("/mpesa/b2c/v3/paymentrequest")
    def b2c_v3() -> Response:
        body = _body()
        return b2c(body, text(body, "OriginatorConversationID", 64))

    @app.post("/mpesa/b2c/v1/paymentrequest")
    def b2c_v1() -> Response:
        return b2c(_body(), f"sbx-{uuid.uuid4().hex[:20]}")


def _register_b2b(app: Flask, sandbox: DarajaSandbox) -> None:
    """B2B payments to a paybill or a till."""

    @app.post("/mpesa/b2b/v1/paymentrequest")
    def b2b() -> Response:
        body = _body()
        sandbox.guard(str(body.get("PartyB", "")))
        check(str(body.get("PartyA")) == sandbox.config.payout_shortcode, "PartyA")
        check(body.get("CommandID") in {c.value for c in B2BCommand}, "CommandID")
        check(len(str(body.get("AccountReference", ""))) <= 13, "AccountReference")
        req = _build(
            B2BRequest,
            command=B2BCommand(body["CommandID"]),
            receiver=str(body.get("PartyB", "")),
            amount=whole_amount(body),
            result_url=text(body, "ResultURL", 500),
            timeout_url=text(body, "QueueTimeOutURL", 500),
            account_reference=str(body.get("AccountReference", "")),
            requester=body.get("Requester"),
            remarks=text(body, "Remarks", 100),
        )
        ack = sandbox.engine.b2b(req, scenario=_initiator_scenario(sandbox, body, "Initiator"))
        sandbox.schedule_completion(str(ack.originator_conversation_id))
        return _ack(ack.originator_conversation_id, ack.conversation_id)


def _register_queries(app: Flask, sandbox: DarajaSandbox) -> None:
    """Queries that move no money: Transaction Status and Account Balance."""

    @app.post("/mpesa/transactionstatus/v1/query")
    def transaction_status() -> Response:
        body = {key.replace(" ", ""): value for key, value in _body().items()}
        sandbox.guard(None)
        if _initiator_scenario(sandbox, body, "Initiator") is not None:
            raise Envelope("500.001.1001", "The initiator information is invalid.")
        req = _build(
            TransactionStatusRequest,
            result_url=text(body, "ResultURL", 500),
            timeout_url=text(body, "QueueTimeOutURL", 500),
            transaction_id=str(body.get("TransactionID") or "") or None,
            originator_conversation_id=str(body.get("OriginalConversationID") or "") or None,
            remarks=str(body.get("Remarks") or "Status check"),
        )
        ack = sandbox.engine.transaction_status(req)
        return _ack(ack.originator_conversation_id, ack.conversation_id)

    @app.post("/mpesa/accountbalance/v1/query")
    def account_balance() -> Response:
        body = _body()
        sandbox.guard(None)
        if _initiator_scenario(sandbox, body, "Initiator") is not None:
            raise Envelope("500.001.1001", "The initiator information is invalid.")
        req = _build(
            AccountBalanceRequest,
            result_url=text(body, "ResultURL", 500),
            timeout_url=text(body, "QueueTimeOutURL", 500),
        )
        ack = sandbox.engine.account_balance(req)
        return _ack(ack.originator_conversation_id, ack.conversation_id)


def _register_reversal(app: Flask, sandbox: DarajaSandbox) -> None:
    """Reversals of a completed transaction."""

    @app.post("/mpesa/reversal/v1/request")
    def reversal() -> Response:
        body = _body()
        sandbox.guard(None)
        req = _build(
            ReversalRequest,
            transaction_id=text(body, "TransactionID", 64),
            amount=whole_amount(body),
            result_url=text(body, "ResultURL", 500),
            timeout_url=text(body, "QueueTimeOutURL", 500),
            remarks=str(body.get("Remarks") or "Reversal"),
        )
        ack = sandbox.engine.reversal(req, scenario=_initiator_scenario(sandbox, body, "Initiator"))
        sandbox.schedule_completion(str(ack.originator_conversation_id))
        return _ack(ack.originator_conversation_id, ack.conversation_id)


def _register_c2b(app: Flask, sandbox: DarajaSandbox) -> None:
    @app.post("/mpesa/c2b/v1/registerurl")
    @app.post("/mpesa/c2b/v2/registerurl")
    def register_urls() -> Response:
        body = _body()
        sandbox.guard(None)
        check(str(body.get("ShortCode")) == sandbox.config.shortcode, "ShortCode")
        req = _build(
            C2BRegistration,
            confirmation_url=text(body, "ConfirmationURL", 500),
            validation_url=text(body, "ValidationURL", 500),
            response_type=str(body.get("ResponseType", "Completed")),
        )
        ack = sandbox.engine.register_c2b_urls(req)
        return _json(
            {
                "OriginatorCoversationID": ack.originator_conversation_id,
                "ResponseCode": "0",
                "ResponseDescription": "Success",
            }
        )

    @app.post("/mpesa/c2b/v1/simulate")
    @app.post("/mpesa/c2b/v2/simulate")
    def simulate() -> Response:
        body = _body()
        phone = msisdn(body, "Msisdn")
        sandbox.guard(phone)
        check(str(body.get("ShortCode")) == sandbox.config.shortcode, "ShortCode")
        if sandbox.engine.c2b_validation_url() is None:
            raise Envelope("400.002.02", "Bad Request - No C2B URLs registered for this ShortCode")
        amount, bill_ref = whole_amount(body), str(body.get("BillRefNumber", ""))
        sandbox.later(
            sandbox.config.callback_delay, sandbox.engine.simulate_c2b, phone, amount, bill_ref, sandbox.validate_c2b
        )
        return _json(
            {"OriginatorCoversationID": f"sbx-c2b-{phone[-4:]}", "ResponseCode": "0", "ResponseDescription": _ACCEPTED}
        )


def _register_controls(app: Flask, sandbox: DarajaSandbox) -> None:
    @app.post("/sandbox/scenarios")
    def set_scenario() -> Response:
        body = _body()
        key = str(body.get("phone") or body.get("key") or "")
        try:
            sandbox.engine.set_scenario(key, Scenario(str(body.get("scenario"))))
        except ValueError:
            known = ", ".join(s.value for s in Scenario)
            raise Envelope("400.002.02", f"Bad Request - Invalid scenario; known: {known}") from None
        return _json({"key": key, "scenario": str(body.get("scenario"))})

    @app.post("/sandbox/names")
    def register_name() -> Response:
        """Who a number is registered to: what its B2C results' ``ReceiverPartyPublicName`` name after it."""
        body = _body()
        phone, name = str(body.get("phone") or ""), str(body.get("name") or "")
        try:
            sandbox.engine.register_name(phone, name)
            return _json({"phone": normalize_msisdn(phone), "name": name.strip()})
        except InvalidPhoneNumber:
            raise Envelope("400.002.02", "Bad Request - Invalid phone") from None
        except CryptopayError:
            raise Envelope("400.002.02", "Bad Request - Invalid name") from None

    @app.post("/sandbox/throttle")
    def throttle() -> Response:
        sandbox.throttle(int(_body().get("count", 1)))
        return _json({"ok": True})

    @app.post("/sandbox/expire-tokens")
    def expire_tokens() -> Response:
        sandbox.expire_tokens()
        return _json({"ok": True})

    @app.post("/sandbox/answers-first")
    def answers_first() -> Response:
        sandbox.config = attrs.evolve(sandbox.config, answers_first=bool(_body().get("on", True)))
        return _json({"answers_first": sandbox.config.answers_first})

    @app.post("/sandbox/complete")
    def complete() -> Response:
        sandbox.engine.complete_open()
        return _json({"ok": True})

    @app.get("/sandbox/state")
    def state() -> Response:
        return _json(sandbox.state())

    @app.get("/sandbox/statement")
    def statement() -> Response:
        """What this M-Pesa really paid, whatever its callbacks said: the org portal's statement export (CSV) of the
        period ``from`` .. ``to`` (ISO times; default: since the sandbox started, to now), which its ``Time Period``
        line says, as the portal's does, of one Short Code (``shortcode``: the paybill's by default, whose statement
        holds the collections; the payout Short Code's holds the payouts)."""
        try:
            first, last = (request.args.get(name) for name in ("from", "to"))
            start = datetime.fromisoformat(first) if first else sandbox.engine.opened_at
            end = datetime.fromisoformat(last) if last else sandbox.engine.now()
            period = (_utc(start), _utc(end))
        except ValueError:
            return Response("from and to are ISO times (UTC unless an offset is given)\n", 400, mimetype="text/plain")
        code = request.args.get("shortcode") or sandbox.config.shortcode
        if code not in (sandbox.config.shortcode, sandbox.config.payout_shortcode):
            ours = f"{sandbox.config.shortcode} or {sandbox.config.payout_shortcode}"
            return Response(f"shortcode is {ours}\n", 400, mimetype="text/plain")
        text = render_statement(statement_of(sandbox.engine, period, shortcode=code), holder="Sandbox Ltd")
        headers = {"Content-Disposition": 'attachment; filename="statement.csv"'}
        return Response(text, mimetype="text/csv", headers=headers)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
