"""``DarajaGateway``: the ``MobileMoneyGateway`` port over Safaricom's Daraja API (bodies in Safaricom's spelling)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from cryptopay.adapters.mpesa.client import DarajaClient
from cryptopay.adapters.mpesa.credentials import load_certificate, security_credential
from cryptopay.adapters.mpesa.settings import DarajaSettings
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money import (
    AccountBalanceRequest,
    Acknowledgement,
    B2BRequest,
    B2CRequest,
    C2BRegistration,
    MpesaRejected,
    MpesaResult,
    MpesaStillProcessing,
    ReversalRequest,
    StkPushAccepted,
    StkPushRequest,
    TransactionStatusRequest,
    daraja_timestamp,
    parse_payload,
    stk_password,
    stk_query_still_processing,
)
from cryptopay.core.money import Money

__all__ = ["DarajaGateway"]


def _whole(amount: Money) -> int:
    return int(amount.amount)  # the request values already refused cents


class DarajaGateway:
    """Daraja's products; each call validates (by its request type), then POSTs once or retries where safe."""

    def __init__(self, settings: DarajaSettings, *, client: DarajaClient | None = None) -> None:
        self.settings = settings
        self.client = client or DarajaClient(settings)
        self._credential: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def stk_push(self, request: StkPushRequest) -> StkPushAccepted:
        timestamp, shortcode = self._timestamp(), self.settings.shortcode
        body = {
            "BusinessShortCode": shortcode,
            "Password": self._password(timestamp),
            "Timestamp": timestamp,
            "TransactionType": request.transaction_type.value,
            "Amount": _whole(request.amount),
            "PartyA": request.phone,
            "PartyB": request.till_number or shortcode,
            "PhoneNumber": request.phone,
            "CallBackURL": request.callback_url,
            "AccountReference": request.account_reference,
            "TransactionDesc": request.description,
        }
        data = self.client.post("/mpesa/stkpush/v1/processrequest", body, resend_safe=False)
        _require_accepted(data)
        return StkPushAccepted(
            merchant_request_id=str(data.get("MerchantRequestID", "")),
            checkout_request_id=str(data.get("CheckoutRequestID", "")),
            response_code=str(data.get("ResponseCode")),
            description=str(data.get("ResponseDescription", "")),
            customer_message=str(data.get("CustomerMessage", "")),
        )

    def stk_query(self, checkout_request_id: str) -> MpesaResult:
        timestamp, shortcode = self._timestamp(), self.settings.shortcode
        body = {
            "BusinessShortCode": shortcode,
            "Password": self._password(timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        try:
            data = self.client.post("/mpesa/stkpushquery/v1/query", body, resend_safe=True)
        except MpesaStillProcessing as still:
            return stk_query_still_processing(checkout_request_id, still.message.split(": ", 1)[-1])
        return parse_payload(data)

    def b2c(self, request: B2CRequest) -> Acknowledgement:
        body = {
            "OriginatorConversationID": request.originator_conversation_id,
            "InitiatorName": self.settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": request.command.value,
            "Amount": _whole(request.amount),
            "PartyA": self.settings.party_a,
            "PartyB": request.phone,
            "Remarks": request.remarks,
            "QueueTimeOutURL": request.timeout_url,
            "ResultURL": request.result_url,
            "Occassion": request.occasion,
        }
        path = "/mpesa/b2c/v3/paymentrequest"
        return _ack(self.client.post(path, body, resend_safe=False, reference=request.originator_conversation_id))

    def b2b(self, request: B2BRequest) -> Acknowledgement:
        body = {
            "Initiator": self.settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": request.command.value,
            "SenderIdentifierType": "4",
            "RecieverIdentifierType": "4",
            "Amount": _whole(request.amount),
            "PartyA": self.settings.party_a,
            "PartyB": request.receiver,
            "AccountReference": request.account_reference,
            "Remarks": request.remarks,
            "QueueTimeOutURL": request.timeout_url,
            "ResultURL": request.result_url,
        }
        if request.requester:
            body["Requester"] = request.requester
        return _ack(self.client.post("/mpesa/b2b/v1/paymentrequest", body, resend_safe=False))

    def transaction_status(self, request: TransactionStatusRequest) -> Acknowledgement:
        body = {
            "Initiator": self.settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": "TransactionStatusQuery",
            "TransactionID": request.transaction_id or "",
            "OriginalConversationID": request.originator_conversation_id or "",
            "PartyA": request.shortcode or self.settings.party_a,
            "IdentifierType": "4",
            "ResultURL": request.result_url,
            "QueueTimeOutURL": request.timeout_url,
            "Remarks": request.remarks,
            "Occasion": request.occasion,
        }
        return _ack(self.client.post("/mpesa/transactionstatus/v1/query", body, resend_safe=True))

    def account_balance(self, request: AccountBalanceRequest) -> Acknowledgement:
        body = {
            "Initiator": self.settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": "AccountBalance",
            "PartyA": self.settings.party_a,
            "IdentifierType": "4",
            "Remarks": request.remarks,
            "QueueTimeOutURL": request.timeout_url,
            "ResultURL": request.result_url,
        }
        return _ack(self.client.post("/mpesa/accountbalance/v1/query", body, resend_safe=True))

    def reversal(self, request: ReversalRequest) -> Acknowledgement:
        body = {
            "Initiator": self.settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": "TransactionReversal",
            "TransactionID": request.transaction_id,
            "Amount": _whole(request.amount),
            "ReceiverParty": self.settings.party_a,
            "RecieverIdentifierType": "11",
            "ResultURL": request.result_url,
            "QueueTimeOutURL": request.timeout_url,
            "Remarks": request.remarks,
            "Occasion": request.occasion,
        }
        return _ack(self.client.post("/mpesa/reversal/v1/request", body, resend_safe=False))

    def register_c2b_urls(self, request: C2BRegistration) -> Acknowledgement:
        body = {
            "ShortCode": self.settings.shortcode,
            "ResponseType": request.response_type,
            "ConfirmationURL": request.confirmation_url,
            "ValidationURL": request.validation_url,
        }
        return _ack(self.client.post("/mpesa/c2b/v1/registerurl", body, resend_safe=True))

    def _timestamp(self) -> str:
        return daraja_timestamp(datetime.now(UTC))

    def _password(self, timestamp: str) -> str:
        if not self.settings.passkey:
            raise InvalidInput("STK Push needs the Lipa na M-Pesa passkey in the Daraja settings")
        return stk_password(self.settings.shortcode, self.settings.passkey, timestamp)

    def _security_credential(self) -> str:
        with self._lock:
            if self._credential is None:
                if not self.settings.certificate_path or not self.settings.initiator_name:
                    raise InvalidInput("this M-Pesa product needs initiator_name, initiator_password and a certificate")
                certificate = load_certificate(self.settings.certificate_path)
                self._credential = security_credential(self.settings.initiator_password, certificate)
            return self._credential


def _require_accepted(data: Any) -> None:
    if not isinstance(data, dict) or str(data.get("ResponseCode")) != "0":
        description = data.get("ResponseDescription") if isinstance(data, dict) else None
        raise MpesaRejected(f"Daraja did not accept the request: {description or 'no ResponseCode 0'}")


def _ack(data: Any) -> Acknowledgement:
    _require_accepted(data)
    originator = data.get("OriginatorConversationID") or data.get("OriginatorCoversationID")  # (sic) in C2B
    return Acknowledgement(
        originator_conversation_id=str(originator) if originator else None,
        conversation_id=str(data["ConversationID"]) if data.get("ConversationID") else None,
        response_code="0",
        description=str(data.get("ResponseDescription", "")),
    )
