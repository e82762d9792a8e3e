"""Two-factor authentication (TOTP with recovery codes), account recovery (password reset by an emailed link) and
proving the email (``identity.email_proof``: the emailed token with the account's login and password; the "this
wasn't me" release with the token alone).

Enrolling and removing a second factor need a step-up; a staff login that has no second factor yet may call these
(and nothing else). A reset request answers 202 whether or not the email is known; the link it sends works once,
for a short time, and the reset ends every session of the account.
"""

from __future__ import annotations

import attrs
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
from cryptopay_http.convert import json_response, read_body
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
    password: str = attrs.field(repr=False)


@bp.post("/v1/auth/2fa/enrol")
@operation("Start enrolling a TOTP second factor (needs a step-up)", response=EnrolmentView, tags=_TAGS, errors=(409,))
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
)
@require(enrolment=True)
def confirm() -> Response:
    body = read_body(ConfirmRequest)
    codes = runtime().two_factor.confirm(current_principal().id, body.code)
    return json_response(RecoveryCodesView(codes), headers=_NO_STORE)


@bp.delete("/v1/auth/2fa")
@operation("Remove the second factor (needs a step-up; not for staff roles)", status=204, tags=_TAGS)
@require()
@step_up
def remove() -> Response:
    runtime().two_factor.remove(current_principal().id)
    return Response(status=204)


@bp.post("/v1/auth/password-reset")
@operation(
    "Ask for a password-reset link by email (same answer for unknown emails)",
    description=rate_limits(per_client=True, per_account=True),
    request=ResetRequest,
    status=202,
    tags=_TAGS,
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
    description=rate_limits(per_client=True, per_account=False),
    request=ResetConfirm,
    status=204,
    tags=_TAGS,
    errors=(401,),
)
@limit_by_client
def confirm_reset() -> Response:
    body = read_body(ResetConfirm)
    runtime().resets.reset(body.token, body.password)
    return Response(status=204)


@attrs.frozen
class EmailProofConfirm:
    token: str = attrs.field(repr=False, metadata={"description": "the token of the emailed link (after #token=)"})
    password: str = attrs.field(repr=False, metadata={"description": "the account's password, typed again"})


@attrs.frozen
class EmailRelease:
    token: str = attrs.field(repr=False, metadata={"description": "the token of the emailed link (after #release=)"})


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
        "auth.email_released. A proven account cannot be released. " + rate_limits(per_client=True, per_account=False)
    ),
    request=EmailRelease,
    status=204,
    tags=_TAGS,
    errors=(422,),
)
@limit_by_client
def release_email() -> Response:
    runtime().proofs.release(read_body(EmailRelease).token)
    return Response(status=204)
