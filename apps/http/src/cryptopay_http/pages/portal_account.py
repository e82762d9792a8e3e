"""The portal's account pages: identity verification (KYC) with the phone's camera, and settings (2FA, language,
password). Routes on the portal's blueprint (``/app``), behind its login guard and CSRF check.

KYC (``/app/verify``): the tier in force and its limits beside the next tier's, the open application's state and
what it still needs; the particulars form opens an application (``KycReview.apply_personal``, the wallet's verified
phone), the documents form takes the ID's front and back and a selfie (``<input type="file" accept="image/*"
capture=...>``: a phone opens its camera, the selfie the front one; any browser can pick a file), each checked by
content in the core; then the applicant submits it for review. Nothing needs JavaScript.

Settings (``/app/settings``): two-factor authentication on (step-up with the password, then the secret to add to an
authenticator app and a first code; the recovery codes are shown once, and every login ends so the next one asks
for a code) or off (step-up with a code); the language (the site's ``/lang`` switch); the password (the current one,
then every login ends). Secrets are shown only in the answer to the POST that made them, never stored in a page.

Example: ``GET /app/verify`` → particulars → ``POST /app/verify`` → photos → ``POST /app/verify/<id>/documents`` →
``POST /app/verify/<id>/submit`` → the officers' queue.
"""

from __future__ import annotations

from datetime import date

from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound
from cryptopay.core.kyc import PartyKind
from cryptopay.core.kyc.applications import KycApplication, PersonDetails
from cryptopay.core.kyc.checks import IdType, check_birth_date, check_id_number, check_name
from cryptopay.core.kyc.documents import MAX_DOCUMENT_BYTES, DocumentKind, DocumentRejected
from cryptopay.core.kyc.tiers import KycTier
from flask import Response, g, request

from cryptopay_http.auth import limit_account
from cryptopay_http.pages.account_pages import AccountPages
from cryptopay_http.pages.i18n import gettext
from cryptopay_http.pages.portal import _refusal, bp
from cryptopay_http.pages.session import PORTAL
from cryptopay_http.pages.web import page, redirect, takes_documents
from cryptopay_http.runtime import runtime

__all__ = ["PHOTO_FIELDS"]

PHOTO_FIELDS = (DocumentKind.ID_FRONT, DocumentKind.ID_BACK, DocumentKind.SELFIE)
_LEVELS = (1, 2)
_NO_STORE = {"Cache-Control": "no-store"}


def _user_id() -> str:
    found: str = g.principal.id
    return found


# --- identity verification --------------------------------------------------------------------------------------


def _tiers() -> list[KycTier]:
    policy = runtime().services.kyc_review.policy
    return [policy.tier(PartyKind.PERSONAL, level) for level in (0, *_LEVELS)]


def _verify_page(status: int = 200, **context: object) -> Response:
    user_id = _user_id()
    standing = runtime().services.kyc_review.standing(user_id)
    now = runtime().services.clock.now()
    held = standing.profile.tier_at(now) if standing.profile else None
    open_one: KycApplication | None = next((a for a in reversed(standing.applications) if a.state.open), None)
    last = standing.applications[-1] if standing.applications else None
    return page(
        "portal/verify.html",
        status,
        nav="verify",
        tiers=_tiers(),
        held=held,
        status_name=standing.profile.status.value if standing.profile else "unverified",
        application=open_one,
        last=last,
        photo_fields=PHOTO_FIELDS,
        id_types=[t.value for t in IdType],
        levels=_LEVELS,
        form=context.pop("form", {}),
        **context,
    )


@bp.get("/verify")
def verify() -> Response:
    return _verify_page(submitted=request.args.get("submitted"))


def _details(form: dict[str, str]) -> PersonDetails:
    wallet = runtime().services.wallets.wallet(_user_id())
    try:
        id_type = IdType(form.get("id_type", ""))
    except ValueError:
        raise InvalidInput("choose the kind of ID", field="id_type") from None
    try:
        born = date.fromisoformat(form.get("date_of_birth", ""))
    except ValueError:
        raise InvalidInput("enter the date of birth as on the ID (YYYY-MM-DD)", field="date_of_birth") from None
    address = " ".join(form.get("address", "").split())
    if not address:
        raise InvalidInput("give the address where you live", field="address")
    return PersonDetails(
        legal_name=check_name(form.get("legal_name", "")),
        date_of_birth=check_birth_date(born, today=runtime().services.clock.now().date()),
        id_type=id_type,
        id_number=check_id_number(id_type, form.get("id_number", "").strip()),
        phone=wallet.phone,
        address=address,
    )


@bp.post("/verify")
def apply() -> Response:
    form = {k: request.form.get(k, "") for k in ("legal_name", "date_of_birth", "id_type", "id_number", "address")}
    try:
        chosen = request.form.get("level", "1")  # compared as text: int() of a typed value can raise
        level = next((n for n in _LEVELS if str(n) == chosen), None)
        if level is None:
            raise InvalidInput("choose tier 1 or tier 2", field="level")
        user = runtime().services.users.get(_user_id())
        notify = user.email if user is not None else None
        runtime().services.kyc_review.apply_personal(_user_id(), level, _details(form), notify_to=notify)
    except CryptopayError as error:
        return _verify_page(error.http_status, form=form, **_refusal(error))
    return redirect("/app/verify", 303)


@bp.post("/verify/<application_id>/documents")
@takes_documents  # phone photos are larger than the site's usual forms (web.UPLOAD_BODY, once logged in)
def upload_documents(application_id: str) -> Response:
    review, user_id = runtime().services.kyc_review, _user_id()
    chosen = [(kind, request.files.get(kind.value)) for kind in PHOTO_FIELDS]
    files = [(kind, item) for kind, item in chosen if item is not None and item.filename]
    if not files:
        return _verify_page(422, error=gettext("choose at least one photo to upload"))
    try:
        for kind, item in files:
            try:
                review.upload(user_id, application_id, kind, item.read(MAX_DOCUMENT_BYTES + 1))
            except DocumentRejected as error:
                error.details["field"] = kind.value  # the core names the API's field; here, this photo's input
                raise
    except CryptopayError as error:
        return _verify_page(error.http_status, **_refusal(error))
    return redirect("/app/verify", 303)


@bp.post("/verify/<application_id>/submit")
def submit_application(application_id: str) -> Response:
    try:
        runtime().services.kyc_review.submit(_user_id(), application_id)
    except CryptopayError as error:
        return _verify_page(error.http_status, **_refusal(error))
    return redirect("/app/verify?submitted=1", 303)


# --- settings -----------------------------------------------------------------------------------------------------


def _settings_page(status: int = 200, **context: object) -> Response:
    user = runtime().services.users.get(_user_id())
    if user is None:
        raise NotFound("no such account")
    response = page("portal/settings.html", status, nav="settings", two_factor=user.two_factor, **context)
    if "secret" in context or "recovery_codes" in context:
        response.headers.update(_NO_STORE)
    return response


@bp.get("/settings")
def settings() -> Response:
    return _settings_page(done=request.args.get("done"))


_PAGES = AccountPages(
    realm=PORTAL, base="/app", page=_settings_page, refused=_refusal, password_refused=_refusal, takes_back=False
)


@bp.post("/settings/2fa/enrol")
def enrol_two_factor() -> Response:
    return _PAGES.enrol_two_factor()


@bp.post("/settings/2fa/confirm")
def confirm_two_factor() -> Response:
    return _PAGES.confirm_two_factor()


@bp.post("/settings/2fa/remove")
def remove_two_factor() -> Response:
    return _PAGES.remove_two_factor()


@bp.post("/settings/password")
def change_password() -> Response:
    return _PAGES.change_password()


# --- the email a wallet gave at sign-up (revpass6 P6) -------------------------------------------------------------


@bp.get("/verify-email")
def verify_email_form() -> Response:
    """Where a wallet's proof link lands (``EmailProofs.wallet_page``): the portal's own login, not the dashboard's."""
    return page("portal/verify_email.html", nav="settings")


@bp.post("/verify-email")
def verify_email() -> Response:
    """Prove the wallet's email with the emailed token and the password typed again (``EmailProofs.verify``)."""
    token = request.form.get("token", "").strip()[:2000]
    try:
        limit_account(_user_id())
        runtime().proofs.verify(_user_id(), token, request.form.get("password", ""))
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        return page("portal/verify_email.html", error.http_status, nav="settings", token=token, **_refusal(error))
    return page("portal/verify_email.html", nav="settings", done=True)
