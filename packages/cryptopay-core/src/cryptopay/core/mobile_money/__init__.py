"""M-Pesa in the core: phone numbers, product limits, requests, results, tolerant parsers, callback defences.

Everything here is pure (no I/O), shared by the Daraja adapter, the sandbox, the use cases and the CLI.

>>> from cryptopay.core.mobile_money import normalize_msisdn, parse_payload
>>> normalize_msisdn("+254 708 374 149")
'254708374149'
"""

from __future__ import annotations

from cryptopay.core.mobile_money.callbacks import (
    SAFARICOM_CALLBACK_NETWORKS,
    CallbackInbox,
    SourceAllowlist,
    c2b_accept,
    c2b_reject,
    callback_url,
    new_callback_token,
    status_query_due,
    token_digest,
    token_from_url,
    verify_callback_token,
)
from cryptopay.core.mobile_money.daraja import daraja_timestamp, stk_password
from cryptopay.core.mobile_money.errors import (
    MpesaAuthFailed,
    MpesaBadRequest,
    MpesaDuplicateRequest,
    MpesaError,
    MpesaRejected,
    MpesaStillProcessing,
    MpesaThrottled,
    MpesaTokenExpired,
    MpesaUnavailable,
    OutcomeUnknown,
    error_for_envelope,
)
from cryptopay.core.mobile_money.interpret import (
    NOT_FOUND_CODE,
    net_of_charges,
    parse_account_balance,
    reconcile_stk,
    status_outcome,
)
from cryptopay.core.mobile_money.limits import (
    B2B_LIMITS,
    B2C_LIMITS,
    REVERSAL_LIMITS,
    STK_LIMITS,
    AmountLimits,
    shillings,
    whole_shillings,
)
from cryptopay.core.mobile_money.parsing import load_json, parse_payload, parse_payload_text, stk_query_still_processing
from cryptopay.core.mobile_money.phones import InvalidPhoneNumber, mask_msisdn, normalize_msisdn, try_normalize_msisdn
from cryptopay.core.mobile_money.requests import (
    AccountBalanceRequest,
    B2BCommand,
    B2BRequest,
    B2CCommand,
    B2CRequest,
    C2BRegistration,
    ReversalRequest,
    StkPushRequest,
    TransactionStatusRequest,
    TransactionType,
)
from cryptopay.core.mobile_money.results import Acknowledgement, MpesaResult, Outcome, PayloadKind, StkPushAccepted

__all__ = [
    "B2B_LIMITS",
    "B2C_LIMITS",
    "NOT_FOUND_CODE",
    "REVERSAL_LIMITS",
    "SAFARICOM_CALLBACK_NETWORKS",
    "STK_LIMITS",
    "AccountBalanceRequest",
    "Acknowledgement",
    "AmountLimits",
    "B2BCommand",
    "B2BRequest",
    "B2CCommand",
    "B2CRequest",
    "C2BRegistration",
    "CallbackInbox",
    "InvalidPhoneNumber",
    "MpesaAuthFailed",
    "MpesaBadRequest",
    "MpesaDuplicateRequest",
    "MpesaError",
    "MpesaRejected",
    "MpesaResult",
    "MpesaStillProcessing",
    "MpesaThrottled",
    "MpesaTokenExpired",
    "MpesaUnavailable",
    "Outcome",
    "OutcomeUnknown",
    "PayloadKind",
    "ReversalRequest",
    "SourceAllowlist",
    "StkPushAccepted",
    "StkPushRequest",
    "TransactionStatusRequest",
    "TransactionType",
    "c2b_accept",
    "c2b_reject",
    "callback_url",
    "daraja_timestamp",
    "error_for_envelope",
    "load_json",
    "mask_msisdn",
    "net_of_charges",
    "new_callback_token",
    "normalize_msisdn",
    "parse_account_balance",
    "parse_payload",
    "parse_payload_text",
    "reconcile_stk",
    "shillings",
    "status_outcome",
    "status_query_due",
    "stk_password",
    "stk_query_still_processing",
    "token_digest",
    "token_from_url",
    "try_normalize_msisdn",
    "verify_callback_token",
    "whole_shillings",
]
