"""A refusal as a form shows it: in the page's language, and tied to the field it is about.

The core's messages are English and often carry figures (``KES 999,999.00 is above the single-movement limit of
KES 70,000.00``), so a catalogue cannot hold them all. In English a page shows the message as it is. In another
language it shows the catalogue's translation of the message when it has one, else a sentence for the error's
``code`` (``N_`` below, extracted by ``make translations``) followed by the English message in a smaller line marked
``lang="en"`` (its figures are not lost), else the English message alone. The error's ``field`` (``details``) names
the input it is about: ``invalid(name)`` in a template gives that input ``aria-invalid`` and ``aria-describedby``
pointing at the message (``id="refusal"``), so a screen reader reads it on the field.

>>> from cryptopay.core.errors import InvalidAmount
>>> shown = refusal(InvalidAmount("the amount must be positive", field="amount"), "en")
>>> shown["error"], shown["error_detail"], shown["error_field"]
('the amount must be positive', None, 'amount')
"""

from __future__ import annotations

from typing import Any

from cryptopay.core.errors import CryptopayError, InsufficientFunds, LimitExceeded
from cryptopay.core.kyc import documents
from flask import Flask, request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from cryptopay_http.pages.i18n import translate
from cryptopay_http.problems import retry_after

__all__ = ["FORM_TOO_LARGE", "N_", "TOO_LARGE", "install_refusals", "refusal"]


def N_(message: str) -> str:
    return message


# A sentence per error code for the pages' other languages (the English page shows the core's own message).
BY_CODE = {
    "invalid_amount": N_("Check the amount: type a number such as 1500."),
    "invalid_input": N_("Check what you typed and try again."),
    # the app-wide guard's refusal of an address's text (a NUL, a bidi override: R13-7), before any page's own check
    "validation_failed": N_("Check what you typed and try again."),
    "invalid_phone_number": N_("That is not a Kenyan mobile number: use 07XXXXXXXX or 01XXXXXXXX."),
    "invalid_name": N_("A name has letters only, without digits or links."),
    "insufficient_funds": N_("Your wallet does not hold enough for this."),
    "limit_exceeded": N_("This is above your limit."),
    "recipient_limit": N_("The person you are sending to has reached their limit."),
    "amount_below_minimum": N_("The amount is below the smallest allowed."),
    "send_below_minimum": N_("The amount is below the smallest allowed."),
    "amount_above_maximum": N_("The amount is above the largest allowed."),
    "amount_not_whole": N_("Use whole shillings, without cents."),
    "quote_expired": N_("The price has expired: ask for a new quote."),
    "quote_used": N_("This price was already used: ask for a new quote."),
    "quote_required": N_("Check again to see the price, then confirm."),
    "quote_not_shown": N_("Check again to see the price, then confirm."),
    "fee_not_shown": N_("Check again, then confirm."),
    "wrong_code": N_("The code is wrong or has expired."),
    "weak_password": N_("Choose a longer password that is hard to guess."),
    "reserved_username": N_("That username cannot be used: choose another."),
    "registration_in_use": N_("This is already in use by another account."),
    "id_in_use": N_("This is already in use by another account."),
    "rate_limited": N_("Too many tries: wait a little and try again."),
    "payment_link_busy": N_("This link is busy: pay the checkout you opened, or wait a few minutes and try again."),
    "wallet_frozen": N_("This wallet is frozen: contact support."),
    "blocked_by_compliance": N_("This needs a review by our compliance team: we will contact you."),
    "under_compliance_review": N_("This needs a review by our compliance team: we will contact you."),
    "sms_undeliverable": N_("We could not send an SMS to this number: check it and try again later."),
    "sms_budget_exhausted": N_("We could not send an SMS to this number: check it and try again later."),
    "sms_range_refused": N_("We could not send an SMS to this number: check it and try again later."),
    "signup_address_limit": N_("Too many tries: wait a little and try again."),
    "two_factor_required": N_("Enter the one-time code from your authenticator app."),
    "step_up_required": N_("Confirm with your password or a one-time code."),
    "unauthenticated": N_("The password or code is wrong."),
    "forbidden": N_("You may not do this."),
    "not_found": N_("We could not find it: check what you typed."),
    "invalid_state": N_("This cannot be done now: reload the page to see where it stands."),
    "conflict": N_("This cannot be done now: reload the page to see where it stands."),
    "idempotency_conflict": N_("This form was already sent with other values: reload the page and try again."),
    "transient_conflict": N_("Something changed at the same moment: try again."),
    "depegged": N_("Trading is paused while the USDT price is unusual: try again later."),
    "unknown_asset": N_("This currency is not available here."),
    "unsupported_pair": N_("This currency is not available here."),
    "document_rejected": N_("This photo could not be accepted: take another, sharp and well lit."),
    "email_unverified": N_("Confirm your email address first: open the link we emailed you."),
    "unavailable": N_("The service is busy: try again in a few minutes."),
    "mpesa_unavailable": N_("M-Pesa could not be reached: try again in a few minutes."),
    "mpesa_throttled": N_("M-Pesa could not be reached: try again in a few minutes."),
    "mpesa_error": N_("M-Pesa could not be reached: try again in a few minutes."),
    "refused": N_("We could not do this."),
    "statement_contradicts": N_("M-Pesa's statement shows otherwise: check the payout against it."),
    "statement_ambiguous": N_(
        "M-Pesa's statement does not show which payout this payment was: find out from M-Pesa or the payee."
    ),
    "same_officer": N_("You proposed this: a second person approves it."),
    "related_officers": N_("You and the proposer were made staff by the same person: another officer approves this."),
    "officer_cooling_off": N_("You are new to staff: you approve decisions once your appointment is a day old."),
    "four_eyes_refused": N_("A second, independent officer approves this."),
    "movement_unavailable": N_("This cannot be done on this account at the moment: contact support."),
    "not_mpesa_number": N_("M-Pesa cannot pay this number: use a Safaricom number."),
    "quote_purpose": N_("This price was for another kind of payment: ask for a new quote."),
    "documents_not_reviewed": N_("Open the application and every document before approving."),
    "holds_wallet": N_("This account holds a wallet: its role cannot be changed."),
    "on_merchant_team": N_("This account acts for a merchant: it cannot be made staff (it leaves the team first)."),
    "own_party": N_("You act for this account: another officer must do this."),
    "str_not_filed": N_("A case is reported by recording its STR's filing: the goAML report id and the date."),
    "str_not_exported": N_("Download the STR as goAML XML first, then record its filing."),
    "invalid_str_filing": N_(
        "Check the goAML report id (1 to 64 characters) and the date: not in the future, not before the STR's export."
    ),
    "str_reference_in_use": N_("This goAML report id is recorded on another case."),
    "weak_idempotency_key": N_("This form has expired: reload the page and try again."),
}
# A document above the core's size (its ``TOO_LARGE`` refusal on the file's field, and the 413 page of a body larger
# than even a page that takes documents reads): the core's one figure, in the page's language.
TOO_LARGE = N_("A photo or document is at most %(size)s MB: choose a smaller one.")
# Core messages with a sentence of their own (rather than their code's): {message: (sentence, its figures)}.
# The 413 page of any other page's form (the site's body limit, 1 MB by default), or of a visitor not logged in.
FORM_TOO_LARGE = N_("What was sent is too large for this page: at most %(size)s MB.")
BY_MESSAGE = {documents.TOO_LARGE: (TOO_LARGE, {"size": documents.MAX_DOCUMENT_MB})}
_AMOUNTS = ("amount", "kes", "usdt")  # the forms' names for an amount field
OUT_OF_RANGE = N_("The amount is outside what one payment may be.")
# The limits' periods (the last part of ``details["limit"]``: ``single``, ``withdraw.daily``) for "Limit reached:
# ..." in another language; the English page keeps the limit's own name (``sell.single``), as support reads it.
LIMITS = {
    "single": N_("one payment"),
    "daily": N_("per day"),
    "monthly": N_("per month"),
}


def refusal(error: CryptopayError, lang: str) -> dict[str, str | None]:
    """What a form shows for ``error`` in ``lang``: ``error`` (the message to read), ``error_detail`` (the core's
    English message when ``error`` is another language's sentence), ``error_field`` (the input it is about),
    ``error_code``, ``limit`` (a KYC limit's name, translated) and ``retry_after`` (when to try again, seconds, as
    the API's ``Retry-After``: ``page`` sends the header when a page shows the refusal)."""
    limit = error.details.get("limit") if isinstance(error, LimitExceeded) else None
    # a limit or a lack of funds is about the amount, though the core names no field for it
    field = error.details.get("field") or ("amount" if isinstance(error, LimitExceeded | InsufficientFunds) else None)
    shown, detail = error.message, None
    if lang != "en":
        translated = translate(error.message, lang)
        if translated != error.message:
            shown = translated
        elif error.message in BY_MESSAGE:
            sentence, figures = BY_MESSAGE[error.message]
            shown, detail = translate(sentence, lang) % figures, error.message
        elif error.code in BY_CODE:
            # a limit without a name is a range of the payment itself (M-Pesa's per-payment bounds), not the user's
            sentence = OUT_OF_RANGE if isinstance(error, LimitExceeded) and not limit else BY_CODE[error.code]
            if error.code == "invalid_input" and field in _AMOUNTS:  # a malformed amount says so
                sentence = BY_CODE["invalid_amount"]
            shown, detail = translate(sentence, lang), error.message
    return {
        "error": shown,
        "error_detail": detail,
        "error_field": str(field) if field else None,
        "error_code": error.code,
        "limit": _limit_name(str(limit), lang) if limit else None,
        "retry_after": retry_after(error),
    }


def _limit_name(limit: str, lang: str) -> str:
    period = LIMITS.get(limit.rpartition(".")[2])
    return translate(period, lang) if period and lang != "en" else limit


@pass_context
def _invalid(context: Context, *names: str) -> Markup:
    """``aria-invalid`` and ``aria-describedby`` for an input when the page's refusal is about one of ``names`` (its
    own name, and the core's name for it where they differ: ``invalid("kes", "amount")``)."""
    if context.get("error_field") in names:  # set only with a refusal (a page may name it ``refund_error``)
        return Markup(' aria-invalid="true" aria-describedby="refusal"')
    return Markup("")


def _kept(action: str, name: str) -> str:
    """What was typed in field ``name`` of the form posted to ``action``, when this page shows that post's refusal
    (a page with several forms fills only the refused one: a long reason survives a wrong one-time code)."""
    return request.form.get(name, "") if request.method == "POST" and request.path == action else ""


def install_refusals(app: Flask) -> None:
    """``invalid(name)`` for the templates' inputs, ``kept(action, name)`` for a refused form's text."""
    globals_: dict[str, Any] = app.jinja_env.globals
    globals_["invalid"] = _invalid
    globals_["kept"] = _kept
