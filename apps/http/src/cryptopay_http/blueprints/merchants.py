"""Merchant profiles: created by a merchant user, read and edited by their owner (or an admin); 404 for others."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import attrs
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.identity import Merchant, Role, changes_destination, check_settlement
from cryptopay.core.identity.email_proof import EmailUnverified
from cryptopay.core.identity.model import MerchantChanged, MerchantClosed, TeamRole
from cryptopay.core.money import KES
from cryptopay.core.settlement import SettlementProfile
from cryptopay.core.settlement.banks import bank_catalogue
from cryptopay.core.settlement.model import SettlementMethod, SettlementSchedule
from cryptopay.core.text import TextKind
from flask import Blueprint, Response

from cryptopay_http.auth import (
    check_proven_email,
    check_step_up,
    current_principal,
    documents_step_up_if,
    not_found,
    require,
)
from cryptopay_http.convert import (
    TRIMMED_NAME_PATTERN,
    amount_pattern,
    check_places,
    json_response,
    limits,
    read_body,
)
from cryptopay_http.openapi import PageOf, operation, register_schema
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.runtime import runtime

__all__ = ["MerchantView", "bp", "load_merchant"]

bp = Blueprint("merchants", __name__)
_STAFF = (Role.MERCHANT, Role.ADMIN)


_DESTINATIONS = {
    SettlementMethod.MPESA_B2C: r"^(0|\+?254)[17][0-9]{8}$",
    SettlementMethod.MPESA_PAYBILL: r"^[0-9]{5,7}#[A-Za-z0-9-]([A-Za-z0-9 -]{0,18}[A-Za-z0-9-])?$",
    SettlementMethod.MPESA_TILL: r"^[0-9]{5,7}$",
    SettlementMethod.BANK: bank_catalogue().destination_pattern(),  # a catalogued bank, an account in its format
}


def _settlement_schema(components: dict[str, Any]) -> dict[str, Any]:
    """A settlement profile: the destination's form follows the method; the minimum is shillings."""
    minimum = {
        "type": "object",
        "properties": {
            "amount": {"type": "string", "pattern": amount_pattern(KES.decimals)},
            "asset": {"const": "KES"},
        },
        "required": ["amount", "asset"],
        "additionalProperties": False,
    }
    properties = {
        "schedule": {"type": "string", "enum": [s.value for s in SettlementSchedule]},
        "method": {"type": "string", "enum": [m.value for m in SettlementMethod]},
        "destination": {"type": "string"},
        "minimum": {"anyOf": [minimum, {"type": "null"}]},
    }
    variants = [
        {"properties": {"method": {"const": m.value}, "destination": {"pattern": p}}} for m, p in _DESTINATIONS.items()
    ]
    schema = {"type": "object", "properties": properties, "required": ["schedule", "method", "destination"]}
    return {**schema, "additionalProperties": False, "oneOf": variants}


_DESTINATION_FORMS = {  # what a person is told when a destination does not fit its method (never the pattern)
    SettlementMethod.MPESA_B2C: "an M-Pesa destination is a Kenyan mobile number, such as 0712345678 or 254712345678",
    SettlementMethod.MPESA_PAYBILL: (
        "a paybill destination is NUMBER#ACCOUNT, such as 888880#SHOP-1 (a 5 to 7 digit paybill, then 1 to 20 "
        "letters, digits, hyphens or inner spaces)"
    ),
    SettlementMethod.MPESA_TILL: "a till destination is a till number of 5 to 7 digits, such as 123456",
    SettlementMethod.BANK: (
        "a bank destination is BANK:ACCOUNT, such as KCB:1234567890 (the bank codes and their account number "
        "formats: GET /v1/banks)"
    ),
}


def _check_destination(profile: SettlementProfile | None) -> None:
    """The destination in the exact form the document shows (the core also accepts spaces and separators). A
    refusal says what the method takes (the core's reason when it has a more precise one, such as an unknown bank
    or an account of the wrong length), never the pattern (review H7)."""
    if profile is not None and not re.search(_DESTINATIONS[profile.method], profile.destination):
        check_settlement(profile)  # its reason names the unknown bank or the bank's account format
        raise InvalidInput(_DESTINATION_FORMS[profile.method], field="settlement.destination")
    if profile is not None and profile.minimum is not None:
        check_places(profile.minimum.amount, KES.decimals)


register_schema(SettlementProfile, _settlement_schema)

_NAME = limits(
    "2 to 120 characters, no leading or trailing space",
    min_length=2,
    max_length=120,
    pattern=TRIMMED_NAME_PATTERN,
    text=TextKind.NAME,
)


@attrs.frozen
class CreateMerchant:
    """A merchant profile for the calling merchant user."""

    business_name: str = attrs.field(metadata=_NAME)
    settlement: SettlementProfile


@attrs.frozen
class UpdateMerchant:
    """The fields to change; those left out stay as they are."""

    business_name: str | None = attrs.field(default=None, metadata=_NAME)
    settlement: SettlementProfile | None = None


@attrs.frozen
class MerchantView:
    """A merchant profile, as its owner may read it: no operator-only facts (the owning user's id stays internal)."""

    id: str
    business_name: str
    settlement: SettlementProfile
    created_at: datetime
    updated_at: datetime
    destination_ready_at: datetime | None = attrs.field(
        default=None, metadata={"description": "a changed payout destination receives money from then on"}
    )

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantView:
        m = merchant
        ready = m.destination_ready_at
        return cls(m.id, m.business_name, m.settlement, m.created_at, m.updated_at, ready)


def load_merchant(merchant_id: str) -> Merchant:
    """The merchant if the caller may see it; the same 404 whether it is missing or another tenant's."""
    merchant = runtime().services.merchants.get(merchant_id)
    if merchant is None or not current_principal().can_access(merchant.id):
        raise not_found("merchant", merchant_id)
    return merchant


@bp.post("/v1/merchants")
@operation(
    "Create the caller's merchant profile (it sets a payout destination: a proven email first, 403 email_unverified)",
    request=CreateMerchant,
    example={
        "business_name": "Duka",
        "settlement": {
            "schedule": "instant",
            "method": "mpesa_b2c",
            "destination": "0708374149",
            "minimum": {"amount": "100", "asset": "KES"},
        },
    },
    response=MerchantView,
    status=201,
    tags=("merchants",),
    errors=(409,),
    description=(
        "Creates the merchant profile the caller (a user with the merchant role) owns: its business name "
        "and settlement profile (schedule, method `mpesa_b2c`/till/paybill/bank, destination, minimum in "
        "KES). The caller then acts for it (invoices, store, keys). Its URL is in `Location`."
    ),
    problems=(
        (Conflict, "the caller already owns a merchant or belongs to a team"),
        (
            InvalidInput,
            (
                "a destination that does not fit its method (a Kenyan mobile number, a till, "
                "paybill#account, a bank code:account), a negative minimum, or a business name "
                "not 2 to 120 characters"
            ),
        ),
    ),
)
@require(roles=[Role.MERCHANT], proven_email=True)
def create_merchant() -> Response:
    body = read_body(CreateMerchant)
    _check_destination(body.settlement)
    if current_principal().merchant_id is not None:  # an owner already, or a member of a team
        raise Conflict("this user already acts for a merchant (a user belongs to one team)")
    owner = runtime().services.users.get(current_principal().id)
    if owner is None:
        raise not_found("user", current_principal().id)
    merchant = runtime().merchants.create(owner, business_name=body.business_name, settlement=body.settlement)
    return json_response(MerchantView.of(merchant), 201, headers={"Location": f"/v1/merchants/{merchant.id}"})


@bp.get("/v1/merchants")
@operation(
    "List merchants: all for admins, one's own otherwise",
    response=PageOf(MerchantView),
    tags=("merchants",),
    description=(
        "Admins page through every merchant; a merchant user gets its own (one item, or none before it "
        "creates a profile)."
    ),
)
@require(roles=_STAFF)
@paginated("mer")
def list_merchants() -> Response:
    principal, repo = current_principal(), runtime().services.merchants

    def fetch(after: str | None, limit: int) -> list[Merchant]:
        if principal.role is Role.ADMIN:
            return repo.list(after=after, limit=limit)
        own = repo.get(principal.merchant_id) if principal.merchant_id else None
        return [own] if own and (after is None or own.id > after) else []

    return json_response(paginate(fetch, MerchantView.of))


@bp.get("/v1/merchants/<merchant_id>")
@operation(
    "Read a merchant profile (API keys need merchant:read)",
    response=MerchantView,
    tags=("merchants",),
    description=(
        "One merchant profile: business name, settlement profile (its destination masked), whether a new "
        "destination is cooling off and until when."
    ),
)
@require(scope="merchant:read", roles=_STAFF, tenant_arg="merchant_id")
def get_merchant(merchant_id: str) -> Response:
    return json_response(MerchantView.of(load_merchant(merchant_id)))


@bp.patch("/v1/merchants/<merchant_id>")
@operation(
    "Change a merchant's name or settlement profile",
    request=UpdateMerchant,
    response=MerchantView,
    tags=("merchants",),
    errors=(403,),
    description=(
        "Changes the business name and/or the settlement profile. A new payout destination needs a "
        "proven email and a step-up and then cools off (24 hours by default) before money goes there; the change "
        "is audited and the owner told."
    ),
    problems=(
        (EmailUnverified, "a new destination by a merchant user whose email is not proven yet (audited)"),
        (
            InvalidInput,
            (
                "a destination that does not fit its method, a negative minimum, or a business "
                "name not 2 to 120 characters"
            ),
        ),
        (MerchantClosed, "the merchant was closed, also by a close landing while this change was made"),
        (MerchantChanged, "another change to the merchant landed while this one was made: nothing changed; retry"),
    ),
)
@require(roles=_STAFF, tenant_arg="merchant_id", team=(TeamRole.OWNER,))
@documents_step_up_if("when the settlement destination changes")
def update_merchant(merchant_id: str) -> Response:
    body = read_body(UpdateMerchant)
    _check_destination(body.settlement)
    merchant = load_merchant(merchant_id)
    if body.settlement is not None and changes_destination(merchant.settlement, body.settlement):
        check_proven_email()
        check_step_up()
    principal = current_principal()
    merchant = runtime().merchants.update(
        merchant,
        business_name=body.business_name,
        settlement=body.settlement,
        actor=f"{principal.kind.value}:{principal.id}",
    )
    return json_response(MerchantView.of(merchant))


@attrs.frozen
class BankView:
    """A bank a merchant may be settled to: ``destination`` is ``<code>:<account number>`` matching ``account_pattern``;
    ``paybill`` set means M-Pesa B2B (accounts of at most 13 characters), else an operator's bank transfer."""

    code: str
    name: str
    paybill: str | None
    account_pattern: str


@attrs.frozen
class BankCatalogueView:
    version: int
    banks: list[BankView]


@bp.get("/v1/banks")
@operation(
    "The banks a merchant may be settled to (the bank catalogue)",
    response=BankCatalogueView,
    tags=("merchants",),
    description=(
        "The bank catalogue: each bank's code and name, its M-Pesa paybill (set: paid by B2B; accounts of "
        "at most 13 characters) or none (an operator's bank transfer), and the pattern its account "
        "numbers match. A bank settlement destination is `<code>:<account>`."
    ),
)
@require(api_keys=True)
def list_banks() -> Response:
    catalogue = bank_catalogue()
    banks = [BankView(b.code, b.name, b.paybill, b.account_pattern) for b in catalogue.banks.values()]
    return json_response(BankCatalogueView(catalogue.version, banks))
