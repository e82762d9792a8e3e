"""KYC/KYB review, the use cases: applicants apply and upload, officers claim, approve, reject or ask for more.

Every step is one transaction over the profile, the application, the audit log and the outbox; a tier granted by
the last approval is in force as soon as it commits (limits read the profile; ``on_granted`` is then told, for
what waited on the tier). Four-eyes is the profile's rule
(``KycTier.approvals_required``): a first approval sends the application back to the queue, and the officer who
gave it can neither claim it again nor approve it twice; the second officer is refused when related to the first by
their appointments to staff, or appointed too recently (``compliance.four_eyes``: 409, audited
``kyc.approval_<code>_refused``). The applicant is told each outcome by the notifier, after
the commit; a notice that cannot be sent is audited (``kyc.notice_failed``), the decision stands.

Documents are checked by content (``kyc.documents``), encrypted by the key vault with the application and document
ids as context (a blob moved to another record does not decrypt), and kept in the document store. Only officers
read them back (``document``), and every read is audited, as is every read of an application's personal details.

An officer never acts on a party they belong to (outside review R12): with ``parties_of`` wired (the officer's own
user id, the merchant they own or whose team they are on), reading, claiming or deciding such a party's application,
reading its documents, and freezing or unfreezing it are refused (``OwnParty``, 403 ``own_party``), each refusal
audited ``kyc.own_party_refused`` (the action and the party) in its own transaction; nothing else changes.

No list to screen against (decision, R12-3): with screening required (``CRYPTOPAY_SCREENING_REQUIRED``) and no
sanctions list loaded, an application is still accepted (and may be approved), flagged ``screening_pending``
(audited ``kyc.screening_pending``), never a clean "no match" when nothing was checked; an import screens every
pending application's names (``screen_pending``: its matches kept for the officers, ``kyc.screened``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from datetime import datetime, timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.four_eyes import FourEyes, FourEyesRefused
from cryptopay.core.compliance.own_party import OwnParty, owns, refuse_own_party
from cryptopay.core.errors import Conflict, CryptopayError, InvalidInput, NotFound, Refused
from cryptopay.core.kyc.applications import (
    ApplicationState,
    BusinessDetails,
    DocumentsNotReviewed,
    IdInUse,
    KycApplication,
    PersonDetails,
    RegistrationInUse,
    StoredDocument,
)
from cryptopay.core.kyc.documents import DocumentKind, inspect
from cryptopay.core.kyc.profile import KycEvent, KycProfile
from cryptopay.core.kyc.tiers import DEFAULT_KYC_POLICY, KycPolicy, PartyKind
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.compliance import ScreeningPort
from cryptopay.core.ports.kyc import DocumentStore, ImageProbe, KycUnitOfWork
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.storage import AuditLog, in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.vault import KeyVault

_log = logging.getLogger("cryptopay.kyc")

__all__ = [
    "ID_CLAIMING",
    "ORPHAN_GRACE",
    "QUEUE_STATES",
    "KycReview",
    "KycStanding",
    "OwnParty",
    "document_context",
]

QUEUE_STATES = (ApplicationState.SUBMITTED, ApplicationState.IN_REVIEW)
# An application in one of these states claims its ID document: a draft does not (anyone may type a number), nor
# does a rejected one
ID_CLAIMING = (*QUEUE_STATES, ApplicationState.INFORMATION_REQUESTED, ApplicationState.APPROVED)
ORPHAN_GRACE = timedelta(hours=1)  # far longer than an upload takes between its blob and its record


def document_context(application_id: str, document_id: str) -> str:
    """The vault context a document's blob is bound to."""
    return f"kyc-document:{application_id}:{document_id}"


@attrs.frozen
class KycStanding:
    """A party's verification as they see it: the profile (None before any application) and its applications."""

    profile: KycProfile | None
    applications: list[KycApplication]


@attrs.define(kw_only=True)
class KycReview:
    """The KYC/KYB use cases over a unit of work, the document store, the vault and the notifier."""

    uow: Callable[[], AbstractContextManager[KycUnitOfWork]]
    documents: DocumentStore
    vault: KeyVault
    probe: ImageProbe
    notifier: Notifier
    clock: Clock
    ids: IdGenerator
    policy: KycPolicy = DEFAULT_KYC_POLICY
    screening: ScreeningPort | None = None  # names screened against the sanctions lists at submission
    # Called with the party id once an approval that granted a tier has committed (the personal wallet's transfers
    # left waiting by tier 0's receiving limits are claimed then: ``wallets.claims.WaitingClaims.after_verification``)
    on_granted: Callable[[str], None] | None = None
    # Called with the (party id, name) pairs of an application a list matched at submission, once it committed: the
    # wiring's ``Monitoring.rescreen`` of them, whose blocking alert holds the party now, not at the next rescreen
    # (review14 R14-7: a tier-0 wallet moves money while its holder's application waits)
    on_listed: Callable[[list[tuple[str, str]]], object] | None = None
    # The parties an officer belongs to (``identity.teams.parties_of``: their own user id and the merchant they act
    # for); None where no merchants are wired (the check then knows only the officer's own id)
    parties_of: Callable[[str], frozenset[str]] | None = None
    # A second approval's check against the first's officer (``compliance.four_eyes``); unwired: different officers
    four_eyes: FourEyes = attrs.Factory(FourEyes)

    # -- applicants --------------------------------------------------------------------------------------------
    def apply_personal(
        self, user_id: str, level: int, details: PersonDetails, *, notify_to: str | None
    ) -> KycApplication:
        """Open a personal application for ``level`` (documents next, then ``submit``)."""
        return self._open(user_id, PartyKind.PERSONAL, level, user_id, notify_to, person=details)

    def apply_business(
        self, merchant_id: str, details: BusinessDetails, *, owner_id: str, notify_to: str | None, level: int = 1
    ) -> KycApplication:
        """Open a merchant's KYB application (certificate of incorporation next, then ``submit``)."""
        if not details.directors:
            raise InvalidInput("name at least one director", field="directors")
        for n, director in enumerate(details.directors):
            if director.date_of_birth is None or not director.phone or not director.address:
                raise InvalidInput(
                    f"director {director.name} needs a date of birth, a phone and an address: each is verified",
                    field=f"directors[{n}]",
                )
        directors = tuple(attrs.evolve(d, id=f"d{n}") for n, d in enumerate(details.directors, start=1))
        business = attrs.evolve(details, directors=directors)
        return self._open(merchant_id, PartyKind.MERCHANT, level, owner_id, notify_to, business=business)

    def upload(
        self, party_id: str, application_id: str, kind: DocumentKind, data: bytes, *, director: str | None = None
    ) -> StoredDocument:
        """Check, encrypt and store one document of the party's open application (same kind again: replaced);
        ``director``: the document is that director's (a KYB's directors' ID photos and selfies)."""
        self.check_owner(party_id, application_id)  # before anything else: a stranger learns nothing of the content
        facts = inspect(kind, data, dimensions=self.probe.dimensions(data) if data else None)
        document_id = self.ids.new_id("kyd")
        now = self.clock.now()
        document = StoredDocument(
            id=document_id,
            kind=kind,
            content_type=facts.content_type,
            size=facts.size,
            sha256=facts.sha256,
            uploaded_at=now,
            width=facts.width,
            height=facts.height,
            director=director,
        )
        # The blob is written before the metadata commits: a failed commit leaves an unreadable orphan, never a
        # document the application names but the store lacks.
        self.documents.put(document_id, self.vault.encrypt(data, context=document_context(application_id, document_id)))

        def work(uow: KycUnitOfWork) -> StoredDocument | None:
            application = self._load_owned(uow, party_id, application_id)
            replaced = application.add_document(document, at=now)
            uow.kyc_applications.update(application)
            _audit(
                uow.audit,
                f"user:{application.submitted_by}",
                "kyc.document_uploaded",
                application,
                now,
                document=document_id,
                kind=kind.value,
                sha256=facts.sha256,
                director=director or "",
            )
            return replaced

        try:
            replaced = in_transaction(self.uow, work)
        except BaseException:
            self._discard(document_id)  # the record was not written: its blob goes (or the sweep takes it)
            raise
        if replaced is not None:
            self._discard(replaced.id)  # no record names it any more
        return document

    def _discard(self, document_id: str) -> None:
        """Remove a blob no record names; a store that cannot be reached leaves it to ``sweep_orphans``."""
        with suppress(CryptopayError):
            self.documents.delete(document_id)

    def sweep_orphans(self, *, older_than: timedelta = ORPHAN_GRACE) -> list[str]:
        """Remove stored blobs that no application names and that were written more than ``older_than`` ago.

        Orphans come from a crash between a blob's write and its record's commit, or from a removal whose store
        was unreachable. The grace keeps an upload in flight (blob written, record not yet committed) safe.
        """
        cutoff = self.clock.now() - older_than
        named = self._named_documents()
        removed = [key for key, at in self.documents.stored() if at < cutoff and key not in named]
        for key in removed:
            self.documents.delete(key)
        if removed:
            facts = {"count": str(len(removed)), "documents": ",".join(removed[:50])}
            event = AuditEvent("system:kyc", "kyc.orphan_documents_removed", "kyc:documents", self.clock.now(), facts)
            in_transaction(self.uow, lambda uow: uow.audit.append(event))
        return removed

    def _named_documents(self) -> set[str]:
        """Every document id an application names (every state: a decided application keeps its evidence)."""
        named: set[str] = set()
        after: str | None = None
        while True:
            with self.uow() as uow:
                page = uow.kyc_applications.queue(tuple(ApplicationState), after=after, limit=500)
            if not page:
                return named
            for application in page:
                named.update(application.document_ids())
            after = page[-1].id

    def submit(self, party_id: str, application_id: str) -> KycApplication:
        """Send the application to the officers (the profile's evidence is checked against the tier)."""
        now = self.clock.now()
        # read before screening, so a first list imported between them cannot leave it screened against nothing and
        # unmarked (lastread L3-6); marked, the import's ``screen_pending`` screens it again
        pending = self.screening is not None and self.screening.must_wait()  # screened against no list
        matches = self._screen(party_id, application_id)

        def work(uow: KycUnitOfWork) -> KycApplication:
            application = self._load_owned(uow, party_id, application_id)
            application.submit(at=now)
            application.sanctions_matches, application.screening_pending = matches, pending
            if pending:  # the officers see it on the application; screened once a list is imported
                _audit(uow.audit, "system:screening", "kyc.screening_pending", application, now)
            if matches:  # the officers see them on the application; the applicant is not told
                _audit(
                    uow.audit, "system:screening", "kyc.sanctions_match", application, now, matches="; ".join(matches)
                )
            profile = self._profile(uow, application)
            events = profile.submit(application.level, application.evidence(), at=now, policy=self.policy)
            uow.kyc.update(profile)
            self._find_id_shared(uow, application, now)
            uow.kyc_applications.update(application)
            _audit(uow.audit, f"user:{application.submitted_by}", "kyc.application_submitted", application, now)
            _publish(uow, self.ids, events)
            return application

        submitted = in_transaction(self.uow, work)
        if matches and self.on_listed is not None:
            try:
                self.on_listed([(submitted.party_id, name) for name in submitted.names()])
            except Exception as error:  # the submission stands: a failure here told only a listed applicant (L3-8)
                # the hold is left to the worker's rescreen (every 6 hours, and on a list import), which raises the
                # same alert and holds the party; logged without the person (the application id only)
                failed = type(error).__name__
                _log.error(
                    "holding a listed applicant failed (%s), application %s: left to the rescreen",
                    failed,
                    application_id,
                )
        return submitted

    def _screen(self, party_id: str, application_id: str) -> tuple[str, ...]:
        if self.screening is None:
            return ()
        with self.uow() as uow:
            application = self._load_owned(uow, party_id, application_id)
        found = [m for name in application.names() for m in self.screening.screen_name(name)]
        return tuple(f"{m.source} {m.ref}: {m.listed_name} ({m.score:g})" for m in found)

    def screen_pending(self) -> list[KycApplication]:
        """Screen the names of every application submitted while no list was loaded (``screening_pending``), now
        that one is: the matches kept for the officers (audited ``kyc.sanctions_match``), the flag cleared (audited
        ``kyc.screened``). Nothing while there is still no list. Run after each import (``cryptopay compliance lists
        import``) and by the worker's ``compliance.rescreen``; the applications screened."""
        if self.screening is None or self.screening.must_wait():
            return []
        return [found for a in self._pending() if (found := self._screen_one(a)) is not None]

    def _pending(self) -> Iterator[KycApplication]:
        states = (*QUEUE_STATES, ApplicationState.APPROVED, ApplicationState.INFORMATION_REQUESTED)
        after: str | None = None
        while True:
            with self.uow() as uow:
                page = uow.kyc_applications.queue(states, after=after, limit=200)
            if not page:
                return
            yield from (a for a in page if a.screening_pending)
            after = page[-1].id

    def _screen_one(self, pending: KycApplication) -> KycApplication | None:
        assert self.screening is not None
        found = [m for name in pending.names() for m in self.screening.screen_name(name)]
        matches = tuple(f"{m.source} {m.ref}: {m.listed_name} ({m.score:g})" for m in found)
        now = self.clock.now()

        def work(uow: KycUnitOfWork) -> KycApplication | None:
            application = uow.kyc_applications.get(pending.id)
            if application is None or not application.screening_pending:
                return None
            application.screening_pending = False
            application.sanctions_matches = tuple(dict.fromkeys((*application.sanctions_matches, *matches)))
            uow.kyc_applications.update(application)
            if matches:
                _audit(
                    uow.audit, "system:screening", "kyc.sanctions_match", application, now, matches="; ".join(matches)
                )
            _audit(uow.audit, "system:screening", "kyc.screened", application, now, matches=len(matches))
            return application

        screened = in_transaction(self.uow, work)
        if screened is not None and matches and self.on_listed is not None:  # held now, as at submission (R14-7)
            self.on_listed([(screened.party_id, name) for name in screened.names()])
        return screened

    def screened_names(self) -> Iterator[tuple[str, str]]:
        """(party id, name) of every party with an application under review or approved: who rescreening covers."""
        states = (*QUEUE_STATES, ApplicationState.APPROVED, ApplicationState.INFORMATION_REQUESTED)
        after: str | None = None
        while True:
            with self.uow() as uow:
                page = uow.kyc_applications.queue(states, after=after, limit=200)
            if not page:
                return
            for application in page:
                for name in application.names():
                    yield application.party_id, name
            after = page[-1].id

    def standing(self, party_id: str) -> KycStanding:
        """The party's profile and applications."""
        with self.uow() as uow:
            return KycStanding(uow.kyc.get(party_id), uow.kyc_applications.for_party(party_id))

    def party_name(self, party_id: str) -> str:
        """The party's name per its latest application with particulars (the legal or registered name), else its id:
        what a report names the client by."""
        for application in reversed(self.standing(party_id).applications):
            if application.person is not None:
                return application.person.legal_name
            if application.business is not None:
                return application.business.registered_name
        return party_id

    # -- officers ----------------------------------------------------------------------------------------------
    def queue(self, *, after: str | None = None, limit: int = 100) -> list[KycApplication]:
        """Applications waiting for an officer or being reviewed, oldest id first."""
        with self.uow() as uow:
            return uow.kyc_applications.queue(QUEUE_STATES, after=after, limit=limit)

    def application(self, officer: str, application_id: str) -> KycApplication:
        """An application with the applicant's personal details (the read is audited)."""

        self._refuse_own(officer, "kyc.application_viewed", application_id=application_id)

        def work(uow: KycUnitOfWork) -> KycApplication:
            application = _load(uow, application_id)
            _audit(uow.audit, f"user:{officer}", "kyc.application_viewed", application, self.clock.now())
            return application

        return in_transaction(self.uow, work)

    def claim(self, officer: str, application_id: str) -> KycApplication:
        """Take the application to review it; for its second approval, not by an officer four-eyes refuses with the
        first's (``compliance.four_eyes``: refused at the claim, so the application stays in the queue for another)."""

        def before(uow: KycUnitOfWork, application: KycApplication, at: datetime) -> None:
            self._second_officer(application, officer, at)

        try:
            return self._decide(
                officer,
                application_id,
                "kyc.application_claimed",
                lambda a, p, at: a.claim(officer, at=at),
                before=before,
            )
        except FourEyesRefused as refused:  # audited in a transaction of its own: the claim's rolled back
            self._four_eyes_refused(officer, application_id, refused)
            raise

    def approve(self, officer: str, application_id: str, *, operator: str | None = None) -> KycApplication:
        """Approve; the tier is granted (at once) when this is the last approval the tier needs. The officer must
        have read the particulars and every document since the last submission (``DocumentsNotReviewed``, 409);
        ``operator`` (``ops:<login>``) is who ran the command for the officer, when it came from the shell, kept in
        the audit record's details."""

        def step(application: KycApplication, profile: KycProfile, at: datetime) -> list[KycEvent]:
            application._claimed_by(officer)  # checked before the profile records anything
            application.check_directors()  # a KYB: every director verified first
            if unlinked := application.id_unlinked:  # found again just now (``_decide``'s ``before``)
                if application.business is not None:
                    raise RegistrationInUse(
                        f"application {application.id}: the same business registration number was given by "
                        f"{', '.join(unlinked)}; one business, one verified merchant: link them with a reason to "
                        "approve (or reject)",
                        accounts=list(unlinked),
                    )
                raise IdInUse(
                    f"application {application.id}: the same ID document was given by {', '.join(unlinked)}; "
                    "one person, one verified account: link them with a reason to approve (or reject)",
                    accounts=list(unlinked),
                )
            events = profile.approve(officer, at=at, policy=self.policy)
            granted = any(e.name == "kyc.approved" for e in events)
            needed = self.policy.tier(application.kind, application.level).approvals_required
            application.record_approval(officer, granted=granted, needed=needed, at=at)
            return events

        def before(uow: KycUnitOfWork, application: KycApplication, at: datetime) -> None:
            if operator is not None:
                _shell_may_approve(self.policy, application)
            application._claimed_by(officer)  # not claimed by this officer: that refusal first
            self._second_officer(application, officer, at)  # appointed too recently since the claim, say
            _require_read(uow, officer, application)
            self._find_id_shared(uow, application, at)

        shell = {} if operator is None else {"operator": operator}  # who ran the command for the officer
        try:
            return self._decide(
                officer, application_id, "kyc.application_approved", step, before=before, details=lambda: shell
            )
        except FourEyesRefused as refused:  # audited in a transaction of its own: the decision's rolled back
            self._four_eyes_refused(officer, application_id, refused, release=True)
            raise

    def _second_officer(self, application: KycApplication, officer: str, at: datetime) -> None:
        """A second approval's officer against the first's (``compliance.four_eyes``); the first's: nothing to check."""
        for earlier in application.approvals:
            refused = self.four_eyes.refusal(earlier, officer, now=at, what="application")
            if refused is not None:
                raise refused

    def _four_eyes_refused(
        self, officer: str, application_id: str, refused: FourEyesRefused, *, release: bool = False
    ) -> None:
        """Audit the refusal; ``release``: an approval refused after the officer's claim gives the claim back to the
        queue (audited ``kyc.application_released``), or it would stay claimed by an officer who cannot decide it
        and no other officer could take it."""

        def work(uow: KycUnitOfWork) -> None:
            application = _load(uow, application_id)
            now = self.clock.now()
            action = refused.action("kyc.approval")
            _audit(uow.audit, f"user:{officer}", action, application, now, **refused.audit_details)
            if release and application.state is ApplicationState.IN_REVIEW and application.claimed_by == officer:
                application.release(officer, f"four-eyes: {refused.code}", at=now)
                uow.kyc_applications.update(application)
                _audit(uow.audit, f"user:{officer}", "kyc.application_released", application, now, reason=refused.code)

        in_transaction(self.uow, work)

    def approvals_needed(self, application_id: str) -> int:
        """How many different officers the application's tier needs (2: a personal tier 2 and every KYB); no
        personal data, so not an audited read. ``NotFound`` for an unknown id."""
        with self.uow() as uow:
            application = _load(uow, application_id)
        return self.policy.tier(application.kind, application.level).approvals_required

    def link_id(self, officer: str, application_id: str, reason: str) -> KycApplication:
        """The reviewing officer links the other accounts that gave the applicant's ID document to this application,
        with the reason an approval may go on all the same (audited ``kyc.id_linked``, naming the accounts)."""
        reason = reason.strip()
        if not reason:
            raise InvalidInput("linking accounts that share an ID needs a reason", field="reason")
        if len(reason) > 1000:
            raise InvalidInput("a reason is at most 1,000 characters", field="reason")
        linked: list[str] = []

        def step(application: KycApplication, profile: KycProfile, at: datetime) -> None:
            linked.extend(application.link_id(officer, reason))

        # The reason is kept in the application's history (sealed at rest) and in the audit record's details.
        return self._decide(
            officer,
            application_id,
            "kyc.id_linked",
            step,
            before=self._find_id_shared,
            details=lambda: {"accounts": ",".join(linked), "reason": reason},
        )

    def _find_id_shared(self, uow: KycUnitOfWork, application: KycApplication, at: datetime) -> None:
        """Record on ``application`` the other accounts whose applications (submitted or decided, not drafts nor
        rejected) gave the same ID document, or for a KYB the same registration number; a new one is audited
        ``kyc.id_shared`` for the officers. A KYB's directors named on other merchants' applications are recorded
        too (``directors_elsewhere``, a new one audited ``kyc.director_shared``): information, never a refusal. A
        director's ID is never compared with a person's own application (directors may hold personal wallets)."""
        key = application.id_key()
        if key is None:
            return
        others = self._claimants(uow.kyc_applications.sharing_id(key), application)
        new = [p for p in others if p not in application.id_shared_with]
        application.id_shared_with = others
        if new:
            _audit(uow.audit, "system:kyc", "kyc.id_shared", application, at, accounts=",".join(new))
        elsewhere: dict[str, tuple[str, ...]] = {}
        for director_id, director_key in application.director_keys().items():
            found = uow.kyc_applications.sharing_id(director_key, directors=True)
            if parties := self._claimants(found, application):
                elsewhere[director_id] = parties
        fresh = [
            f"{d}:{p}" for d, ps in elsewhere.items() for p in ps if p not in application.directors_elsewhere.get(d, ())
        ]
        application.directors_elsewhere = elsewhere
        if fresh:
            _audit(uow.audit, "system:kyc", "kyc.director_shared", application, at, directors=",".join(fresh))

    @staticmethod
    def _claimants(found: list[KycApplication], application: KycApplication) -> tuple[str, ...]:
        """The other parties among ``found`` whose applications claim what they gave (``ID_CLAIMING``), in order."""
        return tuple(
            dict.fromkeys(a.party_id for a in found if a.party_id != application.party_id and a.state in ID_CLAIMING)
        )

    def verify_director(self, officer: str, application_id: str, director_id: str) -> KycApplication:
        """The reviewing officer checked a director's particulars against their documents (audited)."""

        def step(application: KycApplication, profile: KycProfile, at: datetime) -> None:
            application.verify_director(officer, director_id, at=at)

        return self._decide(officer, application_id, "kyc.director_verified", step, director=director_id)

    def reject(self, officer: str, application_id: str, reason: str) -> KycApplication:
        """Reject with a reason the applicant can act on; a tier already held stays in force."""
        reason = reason.strip()
        if not reason:
            raise InvalidInput("a rejection needs a reason the applicant can act on", field="reason")

        def step(application: KycApplication, profile: KycProfile, at: datetime) -> list[KycEvent]:
            application.reject(officer, reason, at=at)
            return profile.reject(officer, reason, at=at)

        # The reason is free text about the applicant: it is kept in the application's history (sealed at rest),
        # which the audit record names; the hash-chained log, which is never rewritten, does not copy it.
        return self._decide(officer, application_id, "kyc.application_rejected", step)

    def request_information(self, officer: str, application_id: str, message: str) -> KycApplication:
        """Send the application back to the applicant with what is needed."""
        message = message.strip()

        def step(application: KycApplication, profile: KycProfile, at: datetime) -> list[KycEvent]:
            application.request_information(officer, message, at=at)
            return profile.return_to_applicant(officer, message, at=at)

        return self._decide(officer, application_id, "kyc.information_requested", step)  # the message: as a reason

    def document(self, officer: str, application_id: str, document_id: str) -> tuple[StoredDocument, bytes]:
        """A document's metadata and content, decrypted for an officer (audited before it is read)."""
        self._refuse_own(officer, "kyc.document_viewed", application_id=application_id)

        def work(uow: KycUnitOfWork) -> StoredDocument:
            application = _load(uow, application_id)
            document = application.document(document_id)
            _audit(
                uow.audit,
                f"user:{officer}",
                "kyc.document_viewed",
                application,
                self.clock.now(),
                document=document_id,
                kind=document.kind.value,
            )
            return document

        document = in_transaction(self.uow, work)
        blob = self.documents.get(document_id)
        return document, self.vault.decrypt(blob, context=document_context(application_id, document_id))

    # -- freezes ---------------------------------------------------------------------------------------------
    def freeze(
        self, officer: str, party_id: str, kind: PartyKind, reason: str, *, operator: str | None = None
    ) -> KycProfile:
        """Hold every outgoing movement of the party (settlements, payouts, wallet movements) until unfrozen.

        The party is not told: telling someone under suspicion could tip them off (an officer decides what to say).
        ``operator`` (``ops:<login>``): who ran the command for the officer, when it came from the shell (review7
        F11: the shell cannot prove which officer is at the keyboard), kept in the audit record.
        """
        change = lambda p, at: p.freeze(officer, reason, at=at)  # noqa: E731
        return self._set_freeze(officer, party_id, kind, change, operator)

    def unfreeze(self, officer: str, party_id: str, kind: PartyKind, *, operator: str | None = None) -> KycProfile:
        """Release the party's freeze; what was held moves at the next run (``operator`` as for ``freeze``)."""
        return self._set_freeze(officer, party_id, kind, lambda p, at: p.unfreeze(officer, at=at), operator)

    def _set_freeze(
        self,
        officer: str,
        party_id: str,
        kind: PartyKind,
        change: Callable[[KycProfile, datetime], list[KycEvent]],
        operator: str | None,
    ) -> KycProfile:
        self._refuse_own(officer, "kyc.freeze_changed", party_id=party_id)
        now = self.clock.now()

        def work(uow: KycUnitOfWork) -> KycProfile:
            profile = uow.kyc.get(party_id)
            if profile is None:
                profile = KycProfile(party_id=party_id, kind=kind)
                uow.kyc.add(profile)
            events = change(profile, now)
            uow.kyc.update(profile)
            for event in events:
                details = {k: str(v) for k, v in event.data.items()} | (
                    {} if operator is None else {"operator": operator}
                )
                uow.audit.append(AuditEvent(f"user:{officer}", event.name, f"kyc:{party_id}", now, details))
            _publish(uow, self.ids, events)
            return profile

        return in_transaction(self.uow, work)

    # -- helpers -----------------------------------------------------------------------------------------------
    def _refuse_own(
        self, officer: str, action: str, *, party_id: str | None = None, application_id: str | None = None
    ) -> None:
        """``OwnParty`` when ``officer`` belongs to the party (``party_id``, or the one ``application_id`` is of),
        the refusal audited ``kyc.own_party_refused`` in a transaction of its own (``refuse_own_party``, the one
        check every officer's use case makes); ``NotFound`` for an unknown application (as the action would
        answer)."""
        if party_id is not None and not owns(officer, party_id, self.parties_of):
            return
        party = party_id
        if party is None:
            party = in_transaction(self.uow, lambda uow: _load(uow, application_id or "").party_id)
        refuse_own_party(
            self.uow,
            self.parties_of,
            officer,
            party,
            scope="kyc",
            action=action,
            subject=f"kyc:{party}",
            at=self.clock.now(),
            details={"application": application_id or ""},
        )

    def _open(
        self,
        party_id: str,
        kind: PartyKind,
        level: int,
        submitted_by: str,
        notify_to: str | None,
        *,
        person: PersonDetails | None = None,
        business: BusinessDetails | None = None,
    ) -> KycApplication:
        tier = self.policy.tier(kind, level)
        if tier.approvals_required == 0:
            raise InvalidInput(f"{tier.label} needs no application", field="level")
        now = self.clock.now()
        application = KycApplication(
            id=self.ids.new_id("kya"),
            party_id=party_id,
            kind=kind,
            level=level,
            created_at=now,
            submitted_by=submitted_by,
            notify_to=notify_to,
            person=person,
            business=business,
        )

        def work(uow: KycUnitOfWork) -> KycApplication:
            if any(a.state.open for a in uow.kyc_applications.for_party(party_id)):
                raise Conflict(f"{party_id} already has an open application: finish or wait for it")
            held = self._profile(uow, application).tier_at(now, policy=self.policy)
            if held is not None and held.level >= level:
                raise Conflict(f"{party_id} already holds {held.label}")
            uow.kyc_applications.add(application)
            _audit(uow.audit, f"user:{submitted_by}", "kyc.application_opened", application, now, level=level)
            return application

        return in_transaction(self.uow, work)

    def _profile(self, uow: KycUnitOfWork, application: KycApplication) -> KycProfile:
        profile = uow.kyc.get(application.party_id)
        if profile is None:
            profile = KycProfile(party_id=application.party_id, kind=application.kind)
            uow.kyc.add(profile)
        elif profile.kind is not application.kind:
            raise Conflict(f"{application.party_id} is verified as {profile.kind.value}")
        return profile

    def check_owner(self, party_id: str, application_id: str) -> None:
        """``NotFound`` unless ``application_id`` is one of the party's applications."""
        with self.uow() as uow:
            self._load_owned(uow, party_id, application_id)

    @staticmethod
    def _load_owned(uow: KycUnitOfWork, party_id: str, application_id: str) -> KycApplication:
        application = uow.kyc_applications.get(application_id)
        if application is None or application.party_id != party_id:
            raise NotFound(f"no application {application_id}")
        return application

    def _decide(
        self,
        officer: str,
        application_id: str,
        action: str,
        step: Callable[[KycApplication, KycProfile, datetime], list[KycEvent] | None],
        *,
        before: Callable[[KycUnitOfWork, KycApplication, datetime], None] | None = None,
        details: Callable[[], dict[str, str]] | None = None,
        **facts: str,
    ) -> KycApplication:
        self._refuse_own(officer, action, application_id=application_id)
        now = self.clock.now()

        def work(uow: KycUnitOfWork) -> tuple[KycApplication, list[KycEvent], IdInUse | None]:
            application = _load(uow, application_id)
            profile = self._profile(uow, application)
            if before is not None:  # in the decision's transaction, under the application's lock
                before(uow, application, now)
            try:
                events = step(application, profile, now) or []
            except IdInUse as error:  # refused, but what was found stays on the application for the officers
                uow.kyc_applications.update(application)
                accounts = ",".join(application.id_unlinked)
                _audit(uow.audit, f"user:{officer}", "kyc.approval_refused", application, now, accounts=accounts)
                return application, [], error
            uow.kyc.update(profile)
            uow.kyc_applications.update(application)
            _audit(uow.audit, f"user:{officer}", action, application, now, **facts, **(details() if details else {}))
            _publish(uow, self.ids, events)
            return application, events, None

        application, events, refused = in_transaction(self.uow, work)
        if refused is not None:
            raise refused
        self._tell(application, events, now)
        if self.on_granted is not None:
            for party_id in {e.party_id for e in events if e.name == "kyc.approved"}:
                self.on_granted(party_id)
        return application

    def _tell(self, application: KycApplication, events: list[KycEvent], at: datetime) -> None:
        notice = _notice(application, {e.name for e in events})
        if notice is None or application.notify_to is None:
            return
        try:
            self.notifier.send(Notification(application.notify_to, *notice))
        except CryptopayError as error:
            with self.uow() as uow:
                _audit(uow.audit, "system:kyc", "kyc.notice_failed", application, at, error=error.code)


def _notice(application: KycApplication, events: set[str]) -> tuple[str, str] | None:
    what = "business verification" if application.kind is PartyKind.MERCHANT else "identity verification"
    if "kyc.approved" in events:
        return f"Your {what} is approved", f"Tier {application.level} is now in force on your account, with its limits."
    if "kyc.rejected" in events:
        return f"Your {what} was not approved", f"Reason: {application.reason}. You may apply again."
    if "kyc.information_requested" in events:
        body = f"We need more information: {application.reason}. Update your application and submit it again."
        return f"Your {what} needs more information", body
    return None


def _load(uow: KycUnitOfWork, application_id: str) -> KycApplication:
    application = uow.kyc_applications.get(application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    return application


def _shell_may_approve(policy: KycPolicy, application: KycApplication) -> None:
    """Four eyes cannot be proven from a shell (one operator can name any two officers): an approval that needs two
    officers is given on the console or the API, each officer signed in with their second factor."""
    if policy.tier(application.kind, application.level).approvals_required > 1:
        raise Refused(
            f"application {application.id} needs two officers' approvals: give them on the console (each officer "
            "signed in with their second factor), not from the shell"
        )


def _require_read(uow: KycUnitOfWork, officer: str, application: KycApplication) -> None:
    """Refuse (``DocumentsNotReviewed``) unless ``officer`` read the application's particulars and each of its
    documents since its last submission, as the audit log records it (``application`` / ``document``, which the
    console's review page and the API's reads write): an approval is the approving officer's own look."""
    since = application.submitted_at
    read_application, read_documents = False, set()
    for record in uow.audit.about([f"kyc:{application.party_id}"]):
        details = dict(record.details)
        if record.actor != f"user:{officer}" or details.get("application") != application.id:
            continue
        if since is not None and record.at < since:
            continue
        if record.action == "kyc.application_viewed":
            read_application = True
        elif record.action == "kyc.document_viewed":
            read_documents.add(details.get("document"))
    unread = [] if read_application else ["application"]
    unread += [
        f"{d.director}:{d.kind.value}" if d.director else d.kind.value
        for d in application.documents
        if d.id not in read_documents
    ]
    if unread:
        raise DocumentsNotReviewed(
            f"application {application.id}: not read since its last submission by the approving officer: "
            f"{', '.join(unread)}; open them, then approve (each approving officer reads the particulars and "
            "every document)",
            unread=unread,
        )


def _audit(
    log: AuditLog, actor: str, action: str, application: KycApplication, at: datetime, **details: object
) -> None:
    facts = {"application": application.id, "state": application.state.value, **details}
    log.append(AuditEvent(actor, action, f"kyc:{application.party_id}", at, {k: str(v) for k, v in facts.items()}))


def _publish(uow: KycUnitOfWork, ids: IdGenerator, events: list[KycEvent]) -> None:
    for event in events:
        data = {"party_id": event.party_id, **event.data}
        uow.outbox.add(OutboxMessage.new(ids.new_id("out"), event.name, data, at=event.at))
