"""KYC/KYB over REST: applicants apply and upload (``/v1/kyc/...``); officers review (``/v1/admin/kyc/...``).

A personal user applies for a tier with their particulars, uploads the photos the tier needs (base64 in JSON, up to
8 MB each; checked by content, never by the name or type claimed), then submits. A merchant's owner does the same
for KYB with the business's particulars and its certificate of incorporation. Officers (role ``compliance``) list
the queue, read an application (audited), claim it, and approve, reject with a reason, or ask for more information;
the top personal tier and every KYB need two different officers. Documents are served only to officers, each read
audited; applicants never get a document back.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from typing import Any

import attrs
from cryptopay.core.errors import Conflict, CryptopayError, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.identity import Role
from cryptopay.core.identity.model import TeamRole
from cryptopay.core.kyc import KycProfile, PartyKind
from cryptopay.core.kyc.applications import (
    BusinessDetails,
    Director,
    DocumentsNotReviewed,
    IdInUse,
    KycApplication,
    PersonDetails,
    RegistrationInUse,
    ReviewStep,
    StoredDocument,
)
from cryptopay.core.kyc.checks import (
    IdType,
    check_birth_date,
    check_id_number,
    check_kra_pin,
    check_name,
    check_registration_number,
)
from cryptopay.core.kyc.documents import MAX_DOCUMENT_BYTES, DocumentKind, DocumentRejected
from cryptopay.core.kyc.review import KycReview
from cryptopay.core.mobile_money.phones import normalize_msisdn
from cryptopay.core.text import TextKind
from flask import Blueprint, Response, request

from cryptopay_http.auth import audited_step_up, current_principal, not_found, require
from cryptopay_http.convert import converter, json_response, limits, read_body, structure_request
from cryptopay_http.officer_desk import RELATED
from cryptopay_http.openapi import PageOf, object_schema, operation, register_schema
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.runtime import runtime

__all__ = ["bp", "party_kind"]

bp = Blueprint("kyc", __name__)
_TAGS, _ADMIN_TAGS = ("kyc",), ("admin", "kyc")
# The edge's patterns are exactly what the core's checks accept (the OpenAPI document publishes them), so a request
# the document calls valid is never refused for its form.
_NAME = r"^[A-Za-z][A-Za-z0-9 .,'&()-]{0,119}$"
_ADDRESS = r"^[A-Za-z0-9][A-Za-z0-9 .,'/#&()-]{0,299}$"
_PHONE = r"^(\+?254|0)[17][0-9]{8}$"
_KRA_PIN = r"^[AP][0-9]{9}[A-Z]$"
_REGISTRATION = r"^[A-Z0-9][A-Z0-9./-]{3,29}$"
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ID_NUMBERS = {
    IdType.NATIONAL_ID: r"^[0-9]{6,8}$",
    IdType.PASSPORT: r"^(?=.*[0-9])[A-Z0-9]{6,9}$",
    IdType.ALIEN_ID: r"^[0-9]{6,9}$",
}
_MAX_BASE64 = (MAX_DOCUMENT_BYTES + 2) // 3 * 4
_UPLOAD_BODY = _MAX_BASE64 + 4096


def _review() -> KycReview:
    return runtime().services.kyc_review


# -- requests --------------------------------------------------------------------------------------------------
@attrs.frozen
class PersonalApplication:
    """An individual's application for a tier (1: national ID; 2: ID photos and a selfie, two officers)."""

    level: int = attrs.field(metadata=limits("the tier applied for", minimum=1, maximum=2))
    legal_name: str = attrs.field(metadata=limits("as on the ID", pattern=_NAME))
    date_of_birth: str = attrs.field(metadata=limits("YYYY-MM-DD; the applicant must be 18 or older"))
    id_type: IdType = attrs.field(metadata=limits("national_id, passport or alien_id"))
    id_number: str = attrs.field(metadata=limits("national ID 6-8 digits, alien ID 6-9 digits, passport 6-9 A-Z/0-9"))
    phone: str = attrs.field(
        metadata=limits("a Kenyan mobile number (07..., 01..., 2547..., +2547...)", pattern=_PHONE)
    )
    address: str = attrs.field(metadata=limits("physical address", pattern=_ADDRESS))

    def details(self) -> PersonDetails:
        return PersonDetails(
            legal_name=check_name(self.legal_name),
            date_of_birth=_birth_date(self.date_of_birth),
            id_type=self.id_type,
            id_number=_id_number(self.id_type, self.id_number),
            phone=_phone(self.phone),
            address=_address(self.address),
        )


@attrs.frozen
class DirectorRequest:
    """A director, verified as an individual: name, ID, date of birth, phone and address (their ID photos and
    selfie are uploaded next, each naming the director's id: d1, d2, ... in this order)."""

    name: str = attrs.field(metadata=limits("as on their ID", pattern=_NAME))
    id_type: IdType = attrs.field(metadata=limits("national_id, passport or alien_id"))
    id_number: str = attrs.field(metadata=limits("national ID 6-8 digits, alien ID 6-9 digits, passport 6-9 A-Z/0-9"))
    date_of_birth: str = attrs.field(metadata=limits("YYYY-MM-DD; directors are adults", pattern=_DATE.pattern))
    phone: str = attrs.field(metadata=limits("a Kenyan mobile number", pattern=_PHONE))
    address: str = attrs.field(metadata=limits("where they live", pattern=_ADDRESS))

    def director(self) -> Director:
        return Director(
            name=check_name(self.name, field="directors.name"),
            id_type=self.id_type,
            id_number=_id_number(self.id_type, self.id_number, field="directors.id_number"),
            date_of_birth=_birth_date(self.date_of_birth, field="directors.date_of_birth"),
            phone=_phone(self.phone, field="directors.phone"),
            address=_address(self.address, field="directors.address"),
        )


@attrs.frozen
class BusinessApplication:
    """A merchant's KYB: the business's particulars (the certificate of incorporation is uploaded next)."""

    registered_name: str = attrs.field(metadata=limits("as registered", pattern=_NAME))
    registration_number: str = attrs.field(metadata=limits("e.g. PVT-AB12CD3", pattern=_REGISTRATION))
    kra_pin: str = attrs.field(metadata=limits("the business's KRA PIN (P051234567Q)", pattern=_KRA_PIN))
    phone: str = attrs.field(metadata=limits("a Kenyan mobile number", pattern=_PHONE))
    address: str = attrs.field(metadata=limits("registered office", pattern=_ADDRESS))
    directors: list[DirectorRequest] = attrs.field(metadata=limits("every director", min_items=1, max_items=20))

    def details(self) -> BusinessDetails:
        return BusinessDetails(
            registered_name=check_name(self.registered_name, field="registered_name"),
            registration_number=check_registration_number(self.registration_number),
            kra_pin=check_kra_pin(self.kra_pin),
            phone=_phone(self.phone),
            address=_address(self.address),
            directors=tuple(d.director() for d in self.directors),
        )


@attrs.frozen
class DocumentUpload:
    """One document: its kind and its content in base64 (JPEG or PNG; PDF too for business documents; 8 MB)."""

    kind: DocumentKind = attrs.field(metadata=limits("which document this is"))
    content_base64: str = attrs.field(
        metadata=limits("the file, base64-encoded", min_length=4, max_length=_MAX_BASE64, pattern=r"^[A-Za-z0-9+/=]+$")
    )
    director: str | None = attrs.field(
        default=None,
        metadata=limits("a KYB director's id (d1, d2, ...) when the document is theirs", pattern=r"^d\d{1,2}$"),
    )

    def content(self) -> bytes:
        try:
            return base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("not valid base64", field="content_base64") from None


@attrs.frozen
class Rejection:
    reason: str = attrs.field(
        metadata=limits("what the applicant can act on", min_length=1, max_length=1000, text=TextKind.PROSE)
    )


@attrs.frozen
class IdLink:
    reason: str = attrs.field(
        metadata=limits(
            "why the accounts that gave one ID (or registration number) may both be verified (the same person or "
            "company, the other account closed ...)",
            min_length=1,
            max_length=1000,
            text=TextKind.PROSE,
        )
    )


@attrs.frozen
class InformationRequest:
    message: str = attrs.field(metadata=limits("what is needed", min_length=1, max_length=1000, text=TextKind.PROSE))


def _id_variants(components: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"properties": {"id_type": {"const": kind.value}, "id_number": {"type": "string", "pattern": pattern}}}
        for kind, pattern in _ID_NUMBERS.items()
    ]


def _personal_schema(components: dict[str, Any]) -> dict[str, Any]:
    """The fields, with the date's format and the ID number's form for each ID type."""
    schema = object_schema(PersonalApplication, components)
    properties = {**schema["properties"], "date_of_birth": {"type": "string", "format": "date"}}
    return {**schema, "properties": properties, "oneOf": _id_variants(components)}


def _director_schema(components: dict[str, Any]) -> dict[str, Any]:
    """As a personal applicant's: a calendar date (a pattern alone admitted 0000-00-00, which the server refuses)."""
    schema = object_schema(DirectorRequest, components)
    properties = {**schema["properties"], "date_of_birth": {"type": "string", "format": "date"}}
    return {**schema, "properties": properties, "oneOf": _id_variants(components)}


register_schema(PersonalApplication, _personal_schema)
register_schema(DirectorRequest, _director_schema)
converter.register_structure_hook(
    DirectorRequest, lambda value, _: structure_request(DirectorRequest, value, prefix="directors.")
)


class NotEligible(Refused):
    """The applicant cannot be verified at all (under 18)."""

    code = "not_eligible"
    http_status = 403


def _birth_date(text: str, *, field: str = "date_of_birth") -> date:
    if not _DATE.match(text):
        raise InvalidInput("a date is YYYY-MM-DD", field=field)
    try:
        born = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("not a calendar date", field=field) from None
    try:
        return check_birth_date(born, today=runtime().services.clock.now().date())
    except InvalidInput as error:
        raise NotEligible(error.message, field=field) from None


def _id_number(id_type: IdType, text: str, *, field: str = "id_number") -> str:
    if not re.match(_ID_NUMBERS[id_type], text):
        raise InvalidInput(f"not a {id_type.value} number: {_ID_HINTS[id_type]}", field=field)
    return check_id_number(id_type, text)


_ID_HINTS = {
    IdType.NATIONAL_ID: "6 to 8 digits",
    IdType.PASSPORT: "6 to 9 capital letters and digits, at least one digit",
    IdType.ALIEN_ID: "6 to 9 digits",
}


def _phone(text: str, *, field: str = "phone") -> str:
    try:
        return normalize_msisdn(text)
    except InvalidInput as error:
        raise InvalidInput(error.message, field=field) from None


def _address(text: str, *, field: str = "address") -> str:
    value = " ".join(text.split())
    if not value:
        raise InvalidInput("give a physical address", field=field)
    return value


# -- views -----------------------------------------------------------------------------------------------------
@attrs.frozen
class DocumentView:
    id: str
    kind: str
    content_type: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    uploaded_at: datetime

    director: str | None

    @classmethod
    def of(cls, d: StoredDocument) -> DocumentView:
        return cls(d.id, d.kind.value, d.content_type, d.size, d.sha256, d.width, d.height, d.uploaded_at, d.director)


@attrs.frozen
class PersonView:
    legal_name: str
    date_of_birth: str
    id_type: str
    id_number: str
    phone: str
    address: str

    @classmethod
    def of(cls, p: PersonDetails) -> PersonView:
        return cls(p.legal_name, p.date_of_birth.isoformat(), p.id_type.value, p.id_number, p.phone, p.address)


@attrs.frozen
class DirectorView:
    """A director; their ID number, date of birth, phone and address are null for a team's finance and staff."""

    id: str
    name: str
    id_type: str
    id_number: str | None
    date_of_birth: str | None
    phone: str | None
    address: str | None
    verified: bool  # an officer checked their particulars against their documents in this review

    @classmethod
    def of(cls, d: Director, verified: tuple[str, ...], *, particulars: bool = True) -> DirectorView:
        if not particulars:
            return cls(d.id, d.name, d.id_type.value, None, None, None, None, d.id in verified)
        born = d.date_of_birth.isoformat() if d.date_of_birth else None
        return cls(d.id, d.name, d.id_type.value, d.id_number, born, d.phone, d.address, d.id in verified)


@attrs.frozen
class BusinessView:
    registered_name: str
    registration_number: str
    kra_pin: str
    phone: str
    address: str
    directors: list[DirectorView]

    @classmethod
    def of(
        cls, b: BusinessDetails, verified: tuple[str, ...] = (), *, directors_particulars: bool = True
    ) -> BusinessView:
        directors = [DirectorView.of(d, verified, particulars=directors_particulars) for d in b.directors]
        return cls(b.registered_name, b.registration_number, b.kra_pin, b.phone, b.address, directors)


@attrs.frozen
class StepView:
    at: datetime
    actor: str
    action: str
    note: str | None

    @classmethod
    def of(cls, s: ReviewStep) -> StepView:
        return cls(s.at, s.actor, s.action, s.note)


@attrs.frozen
class ApplicationView:
    """An application: its state, approvals so far and needed, documents (metadata only) and history."""

    id: str
    party_id: str
    kind: str
    level: int
    state: str
    claimed_by: str | None
    approvals: int
    approvals_needed: int
    reason: str | None
    missing_documents: list[str]
    documents: list[DocumentView]
    person: PersonView | None
    business: BusinessView | None
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    history: list[StepView]
    sanctions_matches: list[str] | None  # officers only (null for the applicant: no tipping off)
    id_shared_with: list[str] | None = attrs.field(
        default=None,
        metadata={
            "description": "officers only: other accounts whose applications gave the same ID document, or for a "
            "KYB other merchants that gave the same business registration number (found at submission and at each "
            "approval); an approval is refused (409 id_in_use, a KYB's 409 registration_in_use) while one is not "
            "linked"
        },
    )
    id_linked: list[str] | None = attrs.field(
        default=None, metadata={"description": "officers only: the accounts an officer linked, with id_link_reason"}
    )
    id_link_reason: str | None = attrs.field(default=None, metadata={"description": "officers only"})
    directors_elsewhere: dict[str, list[str]] | None = attrs.field(
        default=None,
        metadata={
            "description": "officers only, a KYB: each director (by id, d1 ...) also named on other merchants' "
            "applications, with those merchants; information, never a bar to approval"
        },
    )
    screening_pending: bool | None = attrs.field(
        default=None,
        metadata={
            "description": "officers only: submitted while no sanctions list was loaded (screening required), so its "
            "names were screened against nothing yet; screened when a list is imported (never a clean no-match)"
        },
    )

    @classmethod
    def of(
        cls, a: KycApplication, *, officer: bool = False, particulars: bool = True, directors_particulars: bool = True
    ) -> ApplicationView:
        """The view of ``a``; without ``particulars`` (an officer's queue), no personal details: reading those is
        ``read_application``, audited; without ``directors_particulars`` (a team's finance and staff), the
        directors' names only."""
        needed = _review().policy.tier(a.kind, a.level).approvals_required
        return cls(
            a.id,
            a.party_id,
            a.kind.value,
            a.level,
            a.state.value,
            a.claimed_by,
            len(a.approvals),
            needed,
            a.reason,
            [k.value for k in a.missing_documents()] + a.missing_director_documents(),
            [DocumentView.of(d) for d in a.documents],
            PersonView.of(a.person) if a.person and particulars else None,
            (
                BusinessView.of(a.business, a.verified_directors, directors_particulars=directors_particulars)
                if a.business and particulars
                else None
            ),
            a.created_at,
            a.submitted_at,
            a.decided_at,
            [StepView.of(s) for s in a.history],
            list(a.sanctions_matches) if officer else None,
            list(a.id_shared_with) if officer else None,
            list(a.id_linked) if officer else None,
            a.id_link_reason if officer else None,
            {d: list(ps) for d, ps in a.directors_elsewhere.items()} if officer and a.business else None,
            a.screening_pending if officer else None,
        )


@attrs.frozen
class StandingView:
    """The caller's verification: the tier in force, its limits (KES), and every application."""

    party_id: str
    status: str
    tier: int | None
    tier_name: str | None
    single_limit: str | None
    daily_limit: str | None
    monthly_limit: str | None
    applications: list[ApplicationView]

    @classmethod
    def of(
        cls,
        party_id: str,
        profile: KycProfile | None,
        applications: list[KycApplication],
        *,
        directors_particulars: bool = True,
    ) -> StandingView:
        tier = profile.tier_at(runtime().services.clock.now()) if profile else None
        return cls(
            party_id=party_id,
            status=profile.status.value if profile else "unverified",
            tier=tier.level if tier else None,
            tier_name=tier.name if tier else None,
            single_limit=str(tier.single_limit.amount) if tier else None,
            daily_limit=str(tier.daily_limit.amount) if tier else None,
            monthly_limit=str(tier.monthly_limit.amount) if tier else None,
            applications=[ApplicationView.of(a, directors_particulars=directors_particulars) for a in applications],
        )


@attrs.frozen
class DocumentContent:
    """A document for an officer: its metadata and its content in base64 (this read is audited)."""

    document: DocumentView
    content_base64: str


# -- the applicant's routes ------------------------------------------------------------------------------------
def _party() -> str:
    """The party the caller applies for: a personal user themselves, a merchant user their merchant."""
    principal = current_principal()
    if principal.role is Role.MERCHANT:
        if principal.merchant_id is None:
            raise InvalidInput("create the merchant profile first (POST /v1/merchants)")
        return principal.merchant_id
    return principal.id


# A merchant's KYB (and its directors' particulars) is the owner's and the admins' business: finance and staff read
# its state and the directors' names only (the dashboard's /dashboard/kyb draws the same line).
_KYB_MANAGERS = (TeamRole.OWNER, TeamRole.ADMIN)


def _manages_kyb() -> bool:
    role = current_principal().team_role
    return role is None or role in _KYB_MANAGERS


def _email() -> str | None:
    user = runtime().services.users.get(current_principal().id)
    return user.email if user is not None else None


@bp.get("/v1/kyc")
@operation(
    "The caller's verification: tier, limits and applications",
    response=StandingView,
    tags=_TAGS,
    description=(
        "The caller's verification standing: its status, the KYC tier held (a personal user's, or for a merchant "
        "its KYB) and the limits that tier allows (per payment, day and month, KES), and its applications with "
        "their state and what they still need. What is used of the limits is not here (a refusal names the "
        "limit reached), nor whether compliance holds the account (never told, R9-3)."
    ),
)
@require(roles=[Role.PERSONAL, Role.MERCHANT])
def standing() -> Response:
    party = _party()
    found = _review().standing(party)
    return json_response(
        StandingView.of(party, found.profile, found.applications, directors_particulars=_manages_kyb())
    )


@bp.post("/v1/kyc/applications")
@operation(
    "Apply for a personal tier",
    request=PersonalApplication,
    response=ApplicationView,
    status=201,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Opens an application for a personal tier with the particulars it needs (name, ID number, date of "
        "birth...). Then upload its documents (POST .../documents) and submit it for review. Its URL is "
        "in `Location`."
    ),
    problems=(
        (Conflict, "the caller already has an open application, or already holds the tier"),
        (InvalidInput, "a tier that needs no application, or particulars it needs missing"),
    ),
)
@require(roles=[Role.PERSONAL])
def apply_personal() -> Response:
    body = read_body(PersonalApplication)
    details = body.details()
    application = _review().apply_personal(current_principal().id, body.level, details, notify_to=_email())
    return _created(application)


@bp.post("/v1/kyc/business-applications")
@operation(
    "Apply for KYB as a merchant",
    request=BusinessApplication,
    response=ApplicationView,
    status=201,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Opens a KYB application for the caller's merchant with its registration particulars and "
        "directors. Then upload the certificate of incorporation and each director's ID photos and "
        "selfie, and submit. Its URL is in `Location`."
    ),
    problems=(
        (Conflict, "the caller already has an open application, or already holds the tier"),
        (InvalidInput, "a tier that needs no application, or particulars it needs missing"),
        (InvalidInput, "no director named, or a director's particulars incomplete"),
    ),
)
@require(roles=[Role.MERCHANT], team=_KYB_MANAGERS)
def apply_business() -> Response:
    body = read_body(BusinessApplication)
    details = body.details()
    review = _review()
    application = review.apply_business(_party(), details, owner_id=current_principal().id, notify_to=_email())
    return _created(application)


@bp.post("/v1/kyc/applications/<application_id>/documents")
@operation(
    "Upload a document to one's open application",
    request=DocumentUpload,
    response=DocumentView,
    status=201,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Uploads one document (base64 `content`, a photo or PDF) of a kind the application's tier takes, "
        "to the caller's open application; for KYB, `director` names whose ID it is. The same kind again "
        "replaces the earlier one. Documents are stored encrypted."
    ),
    problems=(
        (NotFound, "no such application of the caller's"),
        (InvalidState, "the application is no longer open for changes"),
        (InvalidInput, "a kind the tier does not take, or an unknown director"),
        (DocumentRejected, "the content is empty, too large, not the format the kind needs, or unreadable"),
    ),
)
@require(roles=[Role.PERSONAL, Role.MERCHANT], team=_KYB_MANAGERS)
def upload_document(application_id: str) -> Response:
    party = _party()
    _review().check_owner(party, application_id)  # an unknown application is a 404 whatever the body
    request.max_content_length = _UPLOAD_BODY  # documents are larger than the API's usual bodies
    body = read_body(DocumentUpload)
    document = _review().upload(party, application_id, body.kind, body.content(), director=body.director)
    return json_response(DocumentView.of(document), 201)


@bp.post("/v1/kyc/applications/<application_id>/submit")
@operation(
    "Submit one's application for review",
    response=ApplicationView,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Submits the caller's application for review by an officer once every document it needs is "
        "uploaded; its particulars are screened against the sanctions lists."
    ),
    problems=(
        (NotFound, "no such application of the caller's"),
        (InvalidState, "a document it needs is missing, or it is not open"),
    ),
)
@require(roles=[Role.PERSONAL, Role.MERCHANT], team=_KYB_MANAGERS)
def submit(application_id: str) -> Response:
    return json_response(ApplicationView.of(_review().submit(_party(), application_id)))


def _created(application: KycApplication) -> Response:
    location = {"Location": f"/v1/kyc/applications/{application.id}"}
    return json_response(ApplicationView.of(application), 201, headers=location)


# -- the officers' routes --------------------------------------------------------------------------------------
_OFFICERS = [Role.COMPLIANCE]
# What an officer's decision on an application may be refused with (``KycApplication``'s review steps).
_DECISION: tuple[tuple[type[CryptopayError], str], ...] = (
    (NotFound, "no such application"),
    (InvalidState, "the application is not in a state for this step (claim it for review first)"),
    (Conflict, "another officer claimed it, or the same officer already approved it (a second one must)"),
    (Refused, "nobody reviews their own application"),
)


def _officer_view(application: KycApplication) -> ApplicationView:
    return ApplicationView.of(application, officer=True)


@bp.get("/v1/admin/kyc/queue")
@operation(
    "Applications waiting for review or being reviewed",
    response=PageOf(ApplicationView),
    tags=_ADMIN_TAGS,
    description=(
        "Applications submitted or being reviewed, oldest first, without personal details (read one for "
        "those, which is audited)."
    ),
)
@require(roles=_OFFICERS)
@paginated("kya")
def queue() -> Response:
    def row(application: KycApplication) -> ApplicationView:
        return ApplicationView.of(application, officer=True, particulars=False)

    return json_response(paginate(lambda after, limit: _review().queue(after=after, limit=limit), row))


@bp.get("/v1/admin/kyc/applications/<application_id>")
@operation(
    "Read an application with its personal details",
    response=ApplicationView,
    tags=_ADMIN_TAGS,
    description=(
        "One application with the applicant's particulars, documents (without content) and review "
        "history. Every read is audited."
    ),
    problems=((NotFound, "no such application"),),
)
@require(roles=_OFFICERS)
def read_application(application_id: str) -> Response:
    return json_response(_officer_view(_review().application(current_principal().id, application_id)))


@bp.post("/v1/admin/kyc/applications/<application_id>/claim")
@operation(
    "Claim an application for review",
    response=ApplicationView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description=(
        "Claims a submitted application for review by the calling officer, so no other officer decides it meanwhile. "
        "For its second approval, an officer related to the first's by their appointments to staff (409 "
        "`related_officers`) or made staff less than the cool-off ago (409 `officer_cooling_off`) is refused, "
        "audited: the application stays in the queue for another officer."
    ),
    problems=(*_DECISION, *RELATED),
)
@require(roles=_OFFICERS)
def claim(application_id: str) -> Response:
    return json_response(_officer_view(_review().claim(current_principal().id, application_id)))


@bp.post("/v1/admin/kyc/applications/<application_id>/approve")
@operation(
    "Approve a claimed application",
    response=ApplicationView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description=(
        "Approves the claimed application. A tier that needs two approvals is granted at the second, by a "
        "different officer. While another account that gave the same ID document is not linked to it, "
        "approval is refused with `id_in_use` naming those accounts (see link-id); for a KYB, with "
        "`registration_in_use` while another merchant that gave the same registration number is not. A "
        "director named on other businesses is only shown (`directors_elsewhere`), never a refusal. Four eyes "
        "need eyes: the approving officer must have read the application (`GET .../applications/{id}`) and "
        "each of its documents (`GET .../documents/{document_id}`) since its last submission, else "
        "`documents_not_reviewed` names what is still unread (`unread`). A second approval is refused when its officer "
        "and the first's were made staff by the same person, or one made the other (409 `related_officers`), or when "
        "its officer was made staff less than the cool-off ago (409 `officer_cooling_off`), each audited."
    ),
    problems=(
        *_DECISION,
        (DocumentsNotReviewed, "this officer has not read the application or a document since its last submission"),
        (IdInUse, ("another account gave the same ID document and is not linked (the problem names the accounts)")),
        (RegistrationInUse, "a KYB: another merchant gave the same registration number and is not linked"),
        (InvalidState, "a KYB director is not verified yet"),
        *RELATED,
    ),
)
@require(roles=_OFFICERS)
def approve(application_id: str) -> Response:
    return json_response(_officer_view(_review().approve(current_principal().id, application_id)))


@bp.post("/v1/admin/kyc/applications/<application_id>/link-id")
@operation(
    "Link the other accounts that gave this applicant's ID to the application",
    request=IdLink,
    response=ApplicationView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description=(
        "Records, with a reason, that the other accounts that gave this applicant's ID document (a KYB: the "
        "other merchants that gave its registration number) belong to the same party or are otherwise "
        "explained, so the approval may go on. Only the reviewing officer. Audited `kyc.id_linked`."
    ),
    problems=(
        *_DECISION,
        (InvalidInput, "no reason, or a reason over 1,000 characters"),
    ),
)
@require(roles=_OFFICERS)
def link_id(application_id: str) -> Response:
    reason = read_body(IdLink).reason
    return json_response(_officer_view(_review().link_id(current_principal().id, application_id, reason)))


@bp.post("/v1/admin/kyc/applications/<application_id>/directors/<director_id>/verify")
@operation(
    "Record that a KYB director's particulars match their ID and selfie",
    response=ApplicationView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description=(
        "Records that a KYB director's particulars match their ID photos and selfie; a KYB is approved "
        "only with every director verified. Only the reviewing officer."
    ),
    problems=(
        *_DECISION,
        (InvalidInput, "the application has no such director"),
    ),
)
@require(roles=_OFFICERS)
def verify_director(application_id: str, director_id: str) -> Response:
    verified = _review().verify_director(current_principal().id, application_id, director_id)
    return json_response(_officer_view(verified))


@bp.post("/v1/admin/kyc/applications/<application_id>/reject")
@operation(
    "Reject a claimed application with a reason",
    request=Rejection,
    response=ApplicationView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description=(
        "Rejects the claimed application with a reason the applicant can act on (they are told). They may apply again."
    ),
    problems=(
        *_DECISION,
        (InvalidInput, "no reason"),
    ),
)
@require(roles=_OFFICERS)
def reject(application_id: str) -> Response:
    reason = read_body(Rejection).reason
    return json_response(_officer_view(_review().reject(current_principal().id, application_id, reason)))


@bp.post("/v1/admin/kyc/applications/<application_id>/request-information")
@operation(
    "Send a claimed application back to the applicant, saying what is needed",
    request=InformationRequest,
    response=ApplicationView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description=(
        "Sends the claimed application back to the applicant with a message saying what is needed; they "
        "change it and submit again."
    ),
    problems=(
        *_DECISION,
        (InvalidInput, "no message"),
    ),
)
@require(roles=_OFFICERS)
def request_information(application_id: str) -> Response:
    message = read_body(InformationRequest).message
    found = _review().request_information(current_principal().id, application_id, message)
    return json_response(_officer_view(found))


@bp.get("/v1/admin/kyc/applications/<application_id>/documents/<document_id>")
@operation(
    "Read a document",
    response=DocumentContent,
    tags=_ADMIN_TAGS,
    description=(
        "One document's content (base64) and details, decrypted for the officer (`no-store`). Every read is audited."
    ),
    problems=((NotFound, "no such application or document"),),
)
@require(roles=_OFFICERS)
def read_document(application_id: str, document_id: str) -> Response:
    try:
        document, content = _review().document(current_principal().id, application_id, document_id)
    except InvalidInput:
        raise not_found("document", document_id) from None
    body = DocumentContent(DocumentView.of(document), base64.b64encode(content).decode())
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- freezes ---------------------------------------------------------------------------------------------------
@attrs.frozen
class FreezeRequest:
    reason: str = attrs.field(
        metadata=limits(
            "why, for the record (not shown to the party)", min_length=1, max_length=1000, text=TextKind.PROSE
        )
    )


@attrs.frozen
class AccountStateView:
    """A party's compliance state: frozen or active, and its verification tier."""

    party_id: str
    kind: str
    state: str
    frozen_at: datetime | None
    frozen_by: str | None
    freeze_reason: str | None
    tier: int | None

    @classmethod
    def of(cls, profile: KycProfile) -> AccountStateView:
        tier = profile.tier_at(runtime().services.clock.now())
        return cls(
            party_id=profile.party_id,
            kind=profile.kind.value,
            state="frozen" if profile.frozen else "active",
            frozen_at=profile.frozen_at,
            frozen_by=profile.frozen_by,
            freeze_reason=profile.freeze_reason,
            tier=tier.level if tier else None,
        )


def party_kind(party_id: str) -> PartyKind:
    """A merchant id, a personal user's id or a wallet holder's (whatever role the account has now); anything else
    is a 404."""
    services = runtime().services
    if services.merchants.get(party_id) is not None:
        return PartyKind.MERCHANT
    user = services.users.get(party_id)
    if user is not None and (user.role is Role.PERSONAL or services.holds_wallet(party_id)):  # a wallet's holder
        return PartyKind.PERSONAL
    raise not_found("account", party_id)


@bp.post("/v1/admin/accounts/<party_id>/freeze")
@operation(
    "Freeze an account: every outgoing movement is held",
    request=FreezeRequest,
    response=AccountStateView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description=(
        "Freezes a personal or merchant account: every outgoing movement (sends, sales, withdrawals, "
        "payouts) is held until it is unfrozen; the reason is kept for the record, not shown to the "
        "party. Audited."
    ),
    problems=(
        (NotFound, "no such personal user or merchant"),
        (Conflict, "the account is already frozen"),
        (InvalidInput, "no reason"),
    ),
)
@require(roles=_OFFICERS)
@audited_step_up
def freeze(party_id: str) -> Response:
    reason = read_body(FreezeRequest).reason
    profile = _review().freeze(current_principal().id, party_id, party_kind(party_id), reason)
    return json_response(AccountStateView.of(profile))


@bp.post("/v1/admin/accounts/<party_id>/unfreeze")
@operation(
    "Unfreeze an account: what was held moves at the next run",
    response=AccountStateView,
    tags=_ADMIN_TAGS,
    errors=(409,),
    description="Lifts a freeze: what was held moves at the next run. Audited.",
    problems=(
        (NotFound, "no such personal user or merchant"),
        (Conflict, "the account is not frozen"),
    ),
)
@require(roles=_OFFICERS)
@audited_step_up
def unfreeze(party_id: str) -> Response:
    profile = _review().unfreeze(current_principal().id, party_id, party_kind(party_id))
    return json_response(AccountStateView.of(profile))
