"""Two-factor authentication (TOTP with recovery codes), account recovery (password reset by an emailed link) and
proving the email (``identity.email_proof``: the emailed token with the account's login and password; the "this
wasn't me" release with the token alone).

Enrolling and removing a second factor need a step-up; a staff login that has no second factor yet may call these
(and nothing else). A reset request answers 202 whether or not the email is known; the link it sends works once,
for a short time, and the reset ends every session of the account.
"""

from __future__ import annotations

import attrs
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.identity import Forbidden, RateLimited, StepUpRequired, Unauthenticated
from cryptopay.core.identity.email_proof import EmailLinkInvalid
from cryptopay.core.identity.weak_passwords import WeakPassword
from cryptopay.core.text import TextKind
from flask import Blueprint, Response

from cryptopay_http.auth import (
    current_principal,
    limit_account,
    limit_by_client,
    limit_login,
    rate_limits,
    require,
    step_up,
)
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.openapi import operation
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("security", __name__)
_TAGS = ("auth",)
_NO_STORE = {"Cache-Control": "no-store"}


@attrs.frozen
class EnrolmentView:
    """Scan ``uri`` (or type ``secret``) into an authenticator app, then confirm with a first code."""

    secret: str = attrs.field(repr=False)
    uri: str = attrs.field(repr=False)


@attrs.frozen
class ConfirmRequest:
    code: str = attrs.field(repr=False)


@attrs.frozen
class RecoveryCodesView:
    """Single-use recovery codes, shown this once: keep them somewhere safe."""

    recovery_codes: list[str] = attrs.field(repr=False)


@attrs.frozen
class ResetRequest:
    email: str


@attrs.frozen
class ResetConfirm:
    token: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False, metadata=limits(text=TextKind.SECRET))


@bp.post("/v1/auth/2fa/enrol")
@operation(
    "Start enrolling a TOTP second factor",
    response=EnrolmentView,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Starts enrolling a TOTP second factor: returns its secret and an otpauth:// URI to show as a QR "
        "code (`Cache-Control: no-store`). Nothing is active until POST /v1/auth/2fa/confirm. Staff "
        "logins that have no second factor yet may call it (and little else)."
    ),
    problems=((Conflict, "two-factor authentication is already active: remove it first"),),
)
@require(enrolment=True)
@step_up
def enrol() -> Response:
    enrolment = runtime().two_factor.begin(current_principal().id)
    return json_response(EnrolmentView(enrolment.secret, enrolment.uri), headers=_NO_STORE)


@bp.post("/v1/auth/2fa/confirm")
@operation(
    "Confirm the enrolment with a first code; returns recovery codes (the login must sign in again)",
    request=ConfirmRequest,
    response=RecoveryCodesView,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Activates the second factor with a first code from the authenticator and returns single-use "
        "recovery codes (shown once, `no-store`). Every session of the account ends: log in again with a "
        "code."
    ),
    problems=(
        (Conflict, "no enrolment is waiting for confirmation"),
        (InvalidInput, "the code is wrong or already used"),
    ),
)
@require(enrolment=True)
def confirm() -> Response:
    body = read_body(ConfirmRequest)
    codes = runtime().two_factor.confirm(current_principal().id, body.code)
    return json_response(RecoveryCodesView(codes), headers=_NO_STORE)


@bp.delete("/v1/auth/2fa")
@operation(
    "Remove the second factor (not for staff roles)",
    status=204,
    tags=_TAGS,
    description=(
        "Removes the login's second factor; logins then need only the password. Staff roles (admin, "
        "compliance) must keep theirs."
    ),
    problems=((Forbidden, "a staff role requires two-factor authentication"),),
)
@require()
@step_up
def remove() -> Response:
    runtime().two_factor.remove(current_principal().id)
    return Response(status=204)


@bp.post("/v1/auth/password-reset")
@operation(
    "Ask for a password-reset link by email (same answer for unknown emails)",
    description=(
        "Emails a single-use password-reset link to the address if it has an account, and a note that it has "
        "none otherwise: the same 202 and the same work for both, so it tells nobody who is a customer. "
    )
    + rate_limits(per_client=True, per_account=True),
    request=ResetRequest,
    status=202,
    tags=_TAGS,
    problems=(
        (InvalidInput, "not an email address"),
        (RateLimited, "too many requests for this account, whatever the address (Retry-After says when)"),
    ),
)
@limit_by_client
def request_reset() -> Response:
    body = read_body(ResetRequest)
    limit_login(body.email, purpose="reset")
    runtime().resets.request(body.email)
    return Response(status=202)


@bp.post("/v1/auth/password-reset/confirm")
@operation(
    "Set a new password with the emailed token; every session of the account ends",
    description=(
        "Sets a new password with the token from the emailed link (single use); every session and refresh "
        "token of the account ends. "
    )
    + rate_limits(per_client=True, per_account=False),
    request=ResetConfirm,
    status=204,
    tags=_TAGS,
    errors=(401,),
    problems=(
        (Unauthenticated, "the reset token is invalid, expired or used"),
        (WeakPassword, "the new password is too short, contains the email or is easy to guess"),
    ),
    access="the emailed reset token (in the body); no login.",
)
@limit_by_client
def confirm_reset() -> Response:
    body = read_body(ResetConfirm)
    runtime().resets.reset(body.token, body.password)
    return Response(status=204)


@attrs.frozen
class EmailProofConfirm:
    token: str = attrs.field(repr=False, metadata={"description": "the token of the emailed link (after #token=)"})
    password: str = attrs.field(
        repr=False, metadata=limits("the account's password, typed again", text=TextKind.SECRET)
    )


@attrs.frozen
class EmailRelease:
    token: str = attrs.field(
        repr=False, metadata={"description": "the token of the emailed release link (after #token=)"}
    )


@bp.post("/v1/auth/email/verify")
@operation(
    "Prove the account's email: the emailed token, with this account's login and its password typed again",
    description=(
        "The token alone proves nothing: a link clicked in a browser logged into someone else's account must not "
        "prove the address for that account, so the password is asked too. 403 step_up_required for a wrong "
        "password, 422 email_link_invalid for a token that is unknown, expired, used or another account's. "
        + rate_limits(per_client=False, per_account=True)
    ),
    request=EmailProofConfirm,
    example={"token": "usr_2KQ7.Hd8x-example-token-from-the-link", "password": "a long passphrase"},
    status=204,
    tags=_TAGS,
    errors=(422,),
    problems=(
        (StepUpRequired, "the password is wrong (audited auth.email_proof_failed)"),
        (EmailLinkInvalid, "the token is unknown, expired, used or another account's (audited)"),
        (RateLimited, "too many password checks for this account, whatever the address (Retry-After says when)"),
    ),
)
@require()
def verify_email() -> Response:
    body = read_body(EmailProofConfirm)
    user_id = current_principal().id
    limit_account(user_id)
    runtime().proofs.verify(user_id, body.token, body.password)
    return Response(status=204)


@bp.post("/v1/auth/email/resend")
@operation(
    "Email a new proof link to the logged-in account (the previous one stops working); nothing once proven",
    description="At most one a minute per account: 429 with Retry-After. "
    + rate_limits(per_client=False, per_account=True),
    status=202,
    tags=_TAGS,
    problems=((RateLimited, "a link was sent less than a minute ago (Retry-After says when)"),),
)
@require()
def resend_email_proof() -> Response:
    user_id = current_principal().id
    limit_account(user_id, purpose="email_proof")
    runtime().proofs.resend(user_id)
    return Response(status=202)


@bp.post("/v1/auth/email/release")
@operation(
    "This wasn't me: with the emailed token alone, disable the unproven account registered with your address",
    description=(
        "The account's email is removed (the address can register again), every session ends, its merchant's API "
        "keys are revoked, its webhook endpoints disabled and its payout destination held; audited "
        "auth.email_released. A personal wallet signed up by its phone only loses the address (its contact): the "
        "wallet, its logins and its money stay its owner's (audited with account=kept). A proven account cannot be "
        "released. " + rate_limits(per_client=True, per_account=False)
    ),
    request=EmailRelease,
    status=204,
    tags=_TAGS,
    errors=(422,),
    problems=((EmailLinkInvalid, "the token is unknown, expired or used, or the account is proven or released"),),
)
@limit_by_client
def release_email() -> Response:
    runtime().proofs.release(read_body(EmailRelease).token)
    return Response(status=204)
