"""Users and merchants for staff (``/console/accounts``): find an account, read it, freeze or unfreeze it
(compliance officers), change a user's role (admins), close a merchant (both),
set who bears M-Pesa's charge for a merchant's payouts (admins).

Search is by exact key (a user id, a merchant id, an email, a phone) or lists the merchants; the detail shows the
account and its verification (``KycReview.standing``: states and tiers, no particulars: those are read through the
audited application page). Opening an account's page is itself audited (``console.account_viewed``): it shows
contact details. Freezing and unfreezing are ``KycReview.freeze``/``unfreeze`` (as ``/v1/admin/accounts/...``), a role
change is ``UserAdmin.set_role`` (as ``cryptopay users set-role``); all three are audited by the use case and need a
fresh one-time code first (step-up), since a freeze stops a customer's money and a role opens the console.
Closing a merchant is ``MerchantClosing.close`` (as ``POST /v1/admin/merchants/<id>/close`` and
``cryptopay merchants close``): audited ``merchant.closed`` with the reason, its API keys revoked and its unpaid
invoices cancelled (``cryptopay.core.privacy.closing``), with a fresh code too, since the retention period that ends
in erasing its people's personal data starts then.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.identity import Role
from cryptopay.core.identity.model import Merchant, User
from cryptopay.core.mobile_money.phones import normalize_msisdn
from cryptopay.core.payments.charges import PayoutCharging, set_payout_charges
from flask import Response, request

from cryptopay_http.blueprints.kyc import party_kind
from cryptopay_http.blueprints.stores import FeeView, PayoutChargesView, change_merchant_fee
from cryptopay_http.pages.console import acting, bp, officer, refused
from cryptopay_http.pages.session import step_up_from_form
from cryptopay_http.pages.web import page, redirect
from cryptopay_http.runtime import runtime

__all__ = ["accounts"]

_PAGE = 50
_MAX_REASON = 1000
_ROLES = tuple(r.value for r in Role)
_CHARGINGS = (PayoutCharging.NONE.value, PayoutCharging.MPESA_B2C.value)  # what staff may set (custom: the SDK's)


def _person(who: str) -> User | None:
    """The user with this id, email or phone (wire form), through the data-protection lookup that audits staff
    reading personal data (``SubjectExports.find``: ``privacy.subject_looked_up``); None when there is none."""
    try:
        return runtime().services.subject_exports.find(who, actor=acting())
    except NotFound:
        return None


def _find(term: str) -> tuple[list[User], list[Merchant]]:
    """Accounts matching ``term`` exactly: an id, an email or a Kenyan phone number."""
    merchants = runtime().services.merchants
    if term.startswith("mer_"):
        merchant = merchants.get(term)
        return [], [merchant] if merchant else []
    if "@" in term:
        who = term.lower()
    elif term.startswith("usr_"):
        who = term
    else:
        try:
            who = normalize_msisdn(term)
        except InvalidInput:
            raise InvalidInput("search by an account id, an email or a Kenyan phone number", field="q") from None
    user = _person(who)
    found_users = [user] if user is not None else []
    owned = [m for m in (merchants.by_owner(u.id) for u in found_users) if m is not None]
    return found_users, owned


@bp.get("/accounts")
def accounts() -> Response:
    term = (request.args.get("q") or "").strip()
    if term:
        users, merchants = _find(term)
        more = None
    else:
        users = []
        merchants = runtime().services.merchants.list(after=request.args.get("after") or None, limit=_PAGE + 1)
        more = merchants[_PAGE - 1].id if len(merchants) > _PAGE else None
        merchants = merchants[:_PAGE]
    return page("console/accounts.html", q=term, users=users, merchants=merchants, more=more, nav="accounts")


def _account(party_id: str) -> tuple[User | None, Merchant | None]:
    services = runtime().services
    merchant = services.merchants.get(party_id)
    user = _person(merchant.owner_user_id if merchant else party_id)
    if merchant is None and user is None:
        raise NotFound(f"no account {party_id}")
    if merchant is None and user is not None:
        merchant = services.merchants.by_owner(user.id)
    return user, merchant


def _detail(party_id: str, status: int = 200, **context: Any) -> Response:
    user, merchant = _account(party_id)
    services = runtime().services
    standing = services.kyc_review.standing(party_id)
    tier = standing.profile.tier_at(services.clock.now()) if standing.profile else None
    shown = merchant if merchant is not None and merchant.id == party_id else None
    store = services.listings.store(shown.id) if shown is not None else None
    return page(
        "console/account.html",
        status,
        party_id=party_id,
        user=user,
        merchant=shown,
        charges=PayoutChargesView.of(store, services.clock.now()) if store is not None else None,
        chargings=_CHARGINGS,
        fee=_fee(store, services.clock.now()) if store is not None else None,
        owns=merchant if merchant is not None and merchant.id != party_id else None,
        standing=standing,
        tier=tier,
        roles=_ROLES,
        me=officer(),
        nav="accounts",
        **context,
    )


@bp.get("/accounts/<party_id>")
def account(party_id: str) -> Response:
    return _detail(party_id)


def _reason() -> str:
    text = (request.form.get("reason") or "").strip()
    if not text or len(text) > _MAX_REASON:
        raise InvalidInput(f"write 1 to {_MAX_REASON} characters", field="reason")
    return text


def _stepped_up(party_id: str, change: Any) -> Response:
    def act() -> Response:
        step_up_from_form(officer())
        change()
        return redirect(f"/console/accounts/{party_id}")

    return refused(act, lambda status, message: _detail(party_id, status, error=message))


@bp.post("/accounts/<party_id>/freeze")
def account_freeze(party_id: str) -> Response:
    """Hold every outgoing movement of the account (a compliance officer, with a fresh code; audited)."""

    def freeze() -> None:
        reason = _reason()
        runtime().services.kyc_review.freeze(officer().id, party_id, party_kind(party_id), reason)

    return _stepped_up(party_id, freeze)


@bp.post("/accounts/<party_id>/unfreeze")
def account_unfreeze(party_id: str) -> Response:
    return _stepped_up(
        party_id, lambda: runtime().services.kyc_review.unfreeze(officer().id, party_id, party_kind(party_id))
    )


@bp.post("/accounts/<party_id>/role")
def account_role(party_id: str) -> Response:
    """Give the user another role (an admin, with a fresh code; audited; the user's sessions reload it at once)."""

    def change() -> None:
        user = runtime().services.users.get(party_id)
        if user is None or not user.email:
            raise NotFound(f"no user with an email {party_id}")
        text = request.form.get("role") or ""
        if text not in _ROLES:
            raise InvalidInput(f"no such role: {text}", field="role")
        if user.id == officer().id:
            raise InvalidInput("ask another admin to change your own role", field="role")
        runtime().user_admin.set_role(user.email, Role(text), actor=acting())

    return _stepped_up(party_id, change)


@bp.post("/accounts/<party_id>/payout-charges")
def account_payout_charges(party_id: str) -> Response:
    """Set who bears M-Pesa's charge for the merchant's payouts (an admin, with a fresh code; audited), as
    ``PUT /v1/merchants/<id>/store/payout-charges`` and ``cryptopay merchants payout-charges``."""

    def change() -> None:
        text = request.form.get("charging") or ""
        if text not in _CHARGINGS:
            raise InvalidInput(f"no such payout charge: {text}", field="charging")
        services = runtime().services
        set_payout_charges(services.uow, party_id, PayoutCharging(text), actor=acting(), now=services.clock.now())

    return _stepped_up(party_id, change)


def _fee(store: Any, at: Any) -> FeeView | None:
    current = store.current_merchant_fee(at)
    if current is None:
        return None
    return FeeView(current.asset.code, current.version, current.percent, current.effective_from)


@bp.post("/accounts/<party_id>/merchant-fee")
def account_merchant_fee(party_id: str) -> Response:
    """Set the merchant's fee from now (an admin, with a fresh code; audited; the merchant's owner is emailed), as
    ``PUT /v1/merchants/<id>/store/merchant-fee`` (reviewer9 R9-9)."""

    def change() -> None:
        text = (request.form.get("percent") or "").strip()
        try:
            percent = Decimal(text)
        except InvalidOperation:
            raise InvalidInput("must be a percent from 0 to 100", field="percent") from None
        if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(100) or len(text) > 24:
            raise InvalidInput("must be a percent from 0 to 100", field="percent")
        change_merchant_fee(party_id, percent, by=acting())

    return _stepped_up(party_id, change)


@bp.post("/accounts/<party_id>/close")
def account_close(party_id: str) -> Response:
    """End a merchant's relationship (admins or officers, with a fresh code and a reason; audited)."""

    def close() -> None:
        reason = _reason()
        runtime().services.closing.close(party_id, actor=acting(), reason=reason)

    return _stepped_up(party_id, close)
