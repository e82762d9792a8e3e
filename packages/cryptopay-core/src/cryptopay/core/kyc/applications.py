"""A KYC (individual) or KYB (merchant) application: what the applicant gave, its documents, and its review.

The application carries the details and documents; the party's ``KycProfile`` stays the one authority on the tier
granted and on how many different officers must approve (four-eyes for the top personal tier and every KYB).

States::

    draft --submit--> submitted --claim--> in_review --approve (last)--> approved
      ^                  ^                    |  |--approve (first of two): back to submitted, unclaimed
      |                  |                    |  |--release (its approval refused by four-eyes): back, unclaimed
      |                  |                    |  '--reject--> rejected
      '-- information_requested <--request information--'   (the applicant adds or replaces, then submits again)

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> app = KycApplication(id="kya_1", party_id="usr_1", kind=PartyKind.PERSONAL, level=1, created_at=at,
...                      submitted_by="usr_1")
>>> app.state.value, [k.value for k in app.missing_documents()]
('draft', [])
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, Refused
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.documents import DocumentKind
from cryptopay.core.kyc.tiers import DEFAULT_KYC_POLICY, KycPolicy, PartyKind, Requirement

__all__ = [
    "ApplicationState",
    "BusinessDetails",
    "Director",
    "DocumentsNotReviewed",
    "IdInUse",
    "KycApplication",
    "PersonDetails",
    "RegistrationInUse",
    "ReviewStep",
    "StoredDocument",
    "id_key",
    "registration_key",
]


class ApplicationState(enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    INFORMATION_REQUESTED = "information_requested"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def open(self) -> bool:
        return self not in (ApplicationState.APPROVED, ApplicationState.REJECTED)


EDITABLE = (ApplicationState.DRAFT, ApplicationState.INFORMATION_REQUESTED)


@attrs.frozen(kw_only=True)
class PersonDetails:
    """An individual's particulars (each already format-checked: see ``kyc.checks``)."""

    legal_name: str
    date_of_birth: date
    id_type: IdType
    id_number: str
    phone: str  # MSISDN, 2547XXXXXXXX
    address: str


class IdInUse(Conflict):
    """Another account gave the same ID document: an approval waits until an officer links them with a reason
    (``KycReview.link_id``); the details name the accounts (``accounts``)."""

    code = "id_in_use"


class DocumentsNotReviewed(Conflict):
    """Four eyes need eyes: the approving officer has not read the application's particulars, or one of its
    documents, since its last submission (audited ``kyc.application_viewed`` / ``kyc.document_viewed`` by that
    officer); the details name what is still unread (``unread``: ``application`` and document kinds, a director's
    as ``<director>:<kind>``). Open them, then approve."""

    code = "documents_not_reviewed"


class RegistrationInUse(IdInUse):
    """A KYB's ``IdInUse``: another merchant gave the same business registration number (``registration_key``).
    Its own code, so a client tells a business's refusal from a person's; the same details and the same link."""

    code = "registration_in_use"


def _normalised(number: str) -> str:
    """A document number upper-cased, without the spaces, dots, hyphens and slashes people type into it."""
    return "".join(ch for ch in number.upper() if ch not in " \t.-/")


def id_key(id_type: IdType, id_number: str) -> str:
    """What tells one identity document from another: its type and its number upper-cased, without the spaces,
    dots, hyphens and slashes people type into it. Stored only as a keyed hash (the SQL adapter's ``PersonalData``
    lookup), so the officers see every account that gave the same document without the numbers being searchable.

    >>> id_key(IdType.NATIONAL_ID, " 2345-6789 "), id_key(IdType.PASSPORT, "ak 123.4567")
    ('national_id:23456789', 'passport:AK1234567')
    """
    return f"{id_type.value}:{_normalised(id_number)}"


def registration_key(registration_number: str) -> str:
    """``id_key`` for a business: its registration number, normalised the same way, in a namespace of its own (no
    person's ID is ever the same key as a business's registration).

    >>> registration_key("pvt-ab12 cd3"), registration_key("CPR/2015/123456")
    ('business_registration:PVTAB12CD3', 'business_registration:CPR2015123456')
    """
    return f"business_registration:{_normalised(registration_number)}"


@attrs.frozen(kw_only=True)
class Director:
    """A director of a business, an individual verified on the business's application: their particulars (each
    format-checked at the edge), their own ID photos and selfie (documents naming the director's ``id``), and an
    officer's check of both. ``party_id`` links their own account when they have one."""

    name: str
    id_type: IdType
    id_number: str
    party_id: str | None = None
    id: str = ""  # d1, d2, ... in the order given: assigned when the application opens
    date_of_birth: date | None = None
    phone: str | None = None  # MSISDN, 2547XXXXXXXX
    address: str | None = None

    def needed_documents(self) -> list[DocumentKind]:
        """Their ID's front (and back unless a passport) and a live selfie."""
        back = [] if self.id_type is IdType.PASSPORT else [DocumentKind.ID_BACK]
        return [DocumentKind.ID_FRONT, *back, DocumentKind.SELFIE]


@attrs.frozen(kw_only=True)
class BusinessDetails:
    """A business's particulars for KYB."""

    registered_name: str
    registration_number: str
    kra_pin: str
    phone: str
    address: str
    directors: tuple[Director, ...]


@attrs.frozen(kw_only=True)
class StoredDocument:
    """A document's metadata; its content is a vault blob in the document store under ``id``."""

    id: str
    kind: DocumentKind
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    width: int | None = None
    height: int | None = None
    director: str | None = None  # the director (``Director.id``) whose document it is; None: the applicant's


@attrs.frozen
class ReviewStep:
    """One step of the review, for the applicant's and the officers' history."""

    at: datetime
    actor: str
    action: str
    note: str | None = None


@attrs.define(kw_only=True)
class KycApplication:
    """One application for one tier; at most one is open per party."""

    id: str
    party_id: str
    kind: PartyKind
    level: int
    created_at: datetime
    submitted_by: str  # the user who applied (a merchant's owner for KYB): never their own reviewer
    notify_to: str | None = None  # where the outcome is sent (the applicant's email)
    person: PersonDetails | None = None
    business: BusinessDetails | None = None
    documents: tuple[StoredDocument, ...] = ()
    state: ApplicationState = ApplicationState.DRAFT
    claimed_by: str | None = None
    approvals: tuple[str, ...] = ()
    reason: str | None = None  # a rejection's reason or the information asked for
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    history: tuple[ReviewStep, ...] = ()
    sanctions_matches: tuple[str, ...] = ()  # what screening found at submission ("source ref: name (score)")
    # submitted while screening was required and no sanctions list was loaded (R12-3): accepted (and approvable), its
    # names screened once a list is imported (``KycReview.screen_pending``); officers see it, the applicant does not
    screening_pending: bool = False
    verified_directors: tuple[str, ...] = ()  # directors an officer checked in this review (every one, to approve)
    # Other accounts whose applications gave the same ID document (``id_key``), found at submission and at each
    # approval: the officers' warning. An approval is refused while one is not in ``id_linked``: the parties an
    # officer linked to this application with a reason (``id_link_reason``: the same person, an account closed ...)
    # For a KYB the "ID document" is the business's registration number (``registration_key``): one business, one
    # verified merchant (a refusal is ``RegistrationInUse``).
    id_shared_with: tuple[str, ...] = ()
    id_linked: tuple[str, ...] = ()
    id_link_reason: str | None = None
    # A KYB's directors who are also named on other merchants' applications (``Director.id`` -> those merchants),
    # found with ``id_shared_with``: information for the officers, never a bar to approval (one person may direct
    # several businesses; and a director's own personal account is no conflict at all).
    directors_elsewhere: dict[str, tuple[str, ...]] = attrs.Factory(dict)

    def names(self) -> list[str]:
        """The names screened at onboarding: the applicant's, or the business's and its directors'."""
        if self.person is not None:
            return [self.person.legal_name]
        if self.business is not None:
            return [self.business.registered_name, *(d.name for d in self.business.directors)]
        return []

    def id_key(self) -> str | None:
        """What this application claims as its party's alone: the applicant's ID document (``id_key``), or a KYB's
        registration number (``registration_key``); None once erased."""
        if self.person is not None:
            return id_key(self.person.id_type, self.person.id_number)
        if self.business is not None:
            return registration_key(self.business.registration_number)
        return None

    def director_keys(self) -> dict[str, str]:
        """Each director's ID document as ``id_key``, by ``Director.id`` (what ``directors_elsewhere`` is found by;
        ``d<n>`` by position for a director given no id, as ``KycReview.apply_business`` assigns them)."""
        return {d.id or f"d{n}": id_key(d.id_type, d.id_number) for n, d in enumerate(self.directors, start=1)}

    @property
    def id_unlinked(self) -> tuple[str, ...]:
        """The accounts sharing this applicant's ID that no officer has linked yet (an approval waits for them)."""
        return tuple(p for p in self.id_shared_with if p not in self.id_linked)

    def link_id(self, officer: str, reason: str) -> tuple[str, ...]:
        """The reviewing officer links every account now sharing the applicant's ID (``id_shared_with``) to this
        application with ``reason``: the approval may then go on. Returns the accounts linked."""
        self._claimed_by(officer)
        if not self.id_shared_with:
            what = "registration number" if self.business is not None else "ID"
            raise InvalidState(f"application {self.id}: no other account gave this {what}")
        self.id_linked = tuple(dict.fromkeys((*self.id_linked, *self.id_shared_with)))
        self.id_link_reason = reason  # not in the history, which the applicant reads: the officers' and the audit's
        return self.id_shared_with

    def document_ids(self) -> list[str]:
        """Every document id this application names (its blobs in the document store)."""
        return [d.id for d in self.documents]

    # -- the applicant -----------------------------------------------------------------------------------------
    def needed_documents(self, policy: KycPolicy = DEFAULT_KYC_POLICY) -> list[DocumentKind]:
        """The document kinds this tier needs (an ID's back unless it is a passport)."""
        needs = policy.tier(self.kind, self.level).requirements
        kinds: list[DocumentKind] = []
        if Requirement.ID_DOCUMENT in needs:
            kinds.append(DocumentKind.ID_FRONT)
            if self.person is None or self.person.id_type is not IdType.PASSPORT:
                kinds.append(DocumentKind.ID_BACK)
        if Requirement.SELFIE in needs:
            kinds.append(DocumentKind.SELFIE)
        if Requirement.BUSINESS_REGISTRATION in needs:
            kinds.append(DocumentKind.CERTIFICATE_OF_INCORPORATION)
        return kinds

    def missing_documents(self, policy: KycPolicy = DEFAULT_KYC_POLICY) -> list[DocumentKind]:
        """The applicant's own documents still to upload (directors' ones: ``missing_director_documents``)."""
        have = {d.kind for d in self.documents if d.director is None}
        return [k for k in self.needed_documents(policy) if k not in have]

    @property
    def directors(self) -> tuple[Director, ...]:
        return self.business.directors if self.business is not None else ()

    def director(self, director_id: str) -> Director:
        for found in self.directors:
            if found.id == director_id:
                return found
        raise InvalidInput(f"application {self.id} has no director {director_id!r}", field="director")

    def missing_director_documents(self) -> list[str]:
        """Each director's documents still to upload, as ``<director>:<kind>`` (``d1:selfie``)."""
        have = {(d.director, d.kind) for d in self.documents if d.director is not None}
        return [
            f"{director.id}:{kind.value}"
            for director in self.directors
            for kind in director.needed_documents()
            if (director.id, kind) not in have
        ]

    def unverified_directors(self) -> list[Director]:
        return [d for d in self.directors if d.id not in self.verified_directors]

    def evidence(self) -> frozenset[Requirement]:
        """What this application, once approved, counts as verified."""
        found = {Requirement.EMAIL} if self.notify_to else set()
        kinds = {d.kind for d in self.documents}
        if self.person is not None:
            found |= {Requirement.PHONE, Requirement.NATIONAL_ID}
            front = DocumentKind.ID_FRONT in kinds
            if front and (DocumentKind.ID_BACK in kinds or self.person.id_type is IdType.PASSPORT):
                found.add(Requirement.ID_DOCUMENT)
            if DocumentKind.SELFIE in kinds:
                found.add(Requirement.SELFIE)
        if self.business is not None:
            found |= {Requirement.PHONE, Requirement.KRA_PIN}
            if DocumentKind.CERTIFICATE_OF_INCORPORATION in kinds:
                found.add(Requirement.BUSINESS_REGISTRATION)
        return frozenset(found)

    def add_document(self, document: StoredDocument, *, at: datetime) -> StoredDocument | None:
        """Attach ``document``, replacing one of the same kind (returned, so its content can be removed)."""
        self._editable()
        if document.director is not None:
            if document.kind not in self.director(document.director).needed_documents():
                raise InvalidInput(f"a director's {document.kind.value} is not a document we take", field="kind")
        elif document.kind not in self.needed_documents() and document.kind is not DocumentKind.KRA_PIN_CERTIFICATE:
            raise InvalidInput(f"tier {self.level} does not take a {document.kind.value}", field="kind")

        def same(d: StoredDocument) -> bool:
            return d.kind is document.kind and d.director == document.director

        replaced = next((d for d in self.documents if same(d)), None)
        self.documents = (*(d for d in self.documents if not same(d)), document)
        whose = f"{document.director}:" if document.director else ""
        self._step(at, f"user:{self.submitted_by}", "document_added", whose + document.kind.value)
        return replaced

    def submit(self, *, at: datetime) -> None:
        """Put the application in the officers' queue once every needed document is there."""
        self._editable()
        missing = [k.value for k in self.missing_documents()] + self.missing_director_documents()
        if missing:
            raise InvalidState(f"upload {', '.join(missing)} first", missing=missing)
        self.state, self.submitted_at, self.reason = ApplicationState.SUBMITTED, at, None
        self._step(at, f"user:{self.submitted_by}", "submitted")

    # -- the officers ------------------------------------------------------------------------------------------
    def claim(self, officer: str, *, at: datetime) -> None:
        """Take the application off the queue to review it (claiming one's own claim again changes nothing)."""
        self._not_applicant(officer)
        if self.state is ApplicationState.IN_REVIEW and self.claimed_by == officer:
            return
        if self.state is ApplicationState.IN_REVIEW:
            raise Conflict(f"application {self.id} is being reviewed by another officer")
        if self.state is not ApplicationState.SUBMITTED:
            raise InvalidState(f"application {self.id} is {self.state.value}, not waiting for review")
        if officer in self.approvals:
            raise Conflict(f"{officer} already approved application {self.id}: a different officer must review it")
        self.state, self.claimed_by = ApplicationState.IN_REVIEW, officer
        self._step(at, f"user:{officer}", "claimed")

    def verify_director(self, officer: str, director_id: str, *, at: datetime) -> Director:
        """The reviewing officer checked a director's particulars against their ID photos and selfie."""
        self._claimed_by(officer)
        director = self.director(director_id)
        if director.id not in self.verified_directors:
            self.verified_directors = (*self.verified_directors, director.id)
            self._step(at, f"user:{officer}", "director_verified", f"{director.id} {director.name}")
        return director

    def check_directors(self) -> None:
        """A KYB is approved only with every director verified (``InvalidState`` naming those left)."""
        left = self.unverified_directors()
        if left:
            names = ", ".join(f"{d.id} ({d.name})" for d in left)
            raise InvalidState(f"verify every director before approving: {names}", directors=[d.id for d in left])

    def record_approval(self, officer: str, *, granted: bool, needed: int, at: datetime) -> None:
        """Mirror the profile's decision: granted, or the first of ``needed`` approvals (back to the queue)."""
        self._claimed_by(officer)
        self.approvals = (*self.approvals, officer)
        self.claimed_by = None
        if granted:
            self.state, self.decided_at = ApplicationState.APPROVED, at
            self._step(at, f"user:{officer}", "approved")
        else:
            self.state = ApplicationState.SUBMITTED
            self._step(at, f"user:{officer}", "approval_recorded", f"{len(self.approvals)} of {needed}")

    def release(self, officer: str, why: str, *, at: datetime) -> None:
        """Give the officer's claim back to the queue (another officer may take it), saying why."""
        self._claimed_by(officer)
        self.state, self.claimed_by = ApplicationState.SUBMITTED, None
        self._step(at, f"user:{officer}", "released", why)

    def reject(self, officer: str, reason: str, *, at: datetime) -> None:
        self._claimed_by(officer)
        self.state, self.reason, self.decided_at, self.claimed_by = ApplicationState.REJECTED, reason, at, None
        self._step(at, f"user:{officer}", "rejected", reason)

    def request_information(self, officer: str, message: str, *, at: datetime) -> None:
        """Send the application back to the applicant; earlier approvals no longer count once it changes."""
        self._claimed_by(officer)
        if not message.strip():
            raise InvalidInput("say what information is needed", field="message")
        self.state, self.reason, self.claimed_by, self.approvals = (
            ApplicationState.INFORMATION_REQUESTED,
            message,
            None,
            (),
        )
        self.verified_directors = ()  # the applicant may change a director's documents: they are checked again
        self._step(at, f"user:{officer}", "information_requested", message)

    def document(self, document_id: str) -> StoredDocument:
        for document in self.documents:
            if document.id == document_id:
                return document
        raise InvalidInput(f"application {self.id} has no document {document_id}", field="document_id")

    # -- helpers -----------------------------------------------------------------------------------------------
    def _editable(self) -> None:
        if self.state not in EDITABLE:
            raise InvalidState(f"application {self.id} is {self.state.value}: it cannot be changed now")

    def _not_applicant(self, officer: str) -> None:
        if officer in (self.submitted_by, self.party_id):
            raise Refused("nobody can review their own application")

    def _claimed_by(self, officer: str) -> None:
        self._not_applicant(officer)
        if self.state is not ApplicationState.IN_REVIEW:
            raise InvalidState(f"application {self.id} is {self.state.value}: claim it for review first")
        if self.claimed_by != officer:
            raise Conflict(f"application {self.id} is claimed by another officer")

    def _step(self, at: datetime, actor: str, action: str, note: str | None = None) -> None:
        self.history = (*self.history, ReviewStep(at, actor, action, note))
