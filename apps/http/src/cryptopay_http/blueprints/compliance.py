"""AML monitoring for officers (role ``compliance``): alerts raised by the rules, and the cases they work.

``GET /v1/admin/compliance/alerts`` (``?status=open|in_case``) and ``.../cases`` (``?status=``) page by id;
``POST .../cases`` groups open alerts of one party into a case; a case takes notes, a status
(open, investigating, escalated, closed_no_action: the last two need a note) and an assignee; ``POST
.../cases/<id>/str`` exports its STR as goAML XML (kept on the case) and ``.../filing`` records the STR's filing
with the FRC (goAML report id, date), the one way to ``reported``.
Every change is audited. ``GET .../held-payments`` lists merchant payments held for a listed payer awaiting a
decision; ``POST .../held-payments/<id>/release|return`` propose one (four-eyes), ``.../approve`` (a second
officer; a step-up: money moves) carries it out and ``.../decline`` clears it; ``.../keep`` decides at once; each with
a note, closing its alerts (``payments.held``). ``GET .../held-transfers`` lists wallet sends held for a frozen
recipient (``GET .../held-transfers/<id>`` one, with its recipient's tier and what it may still receive);
``POST .../held-transfers/<id>/release|return`` propose one with a note (four-eyes, a step-up),
``.../approve`` (a second officer, a step-up: money moves) and ``.../decline`` (``wallets.held_sends``).
"""

from __future__ import annotations

from datetime import date, datetime

import attrs
from cryptopay.core.compliance.cases import (
    REFERENCE_MAX,
    Alert,
    AlertStatus,
    Case,
    CaseStatus,
    InvalidFiling,
    StrNotExported,
    StrNotFiled,
    StrReferenceInUse,
    filing_date,
    read_details,
)
from cryptopay.core.compliance.monitoring import Blocked, Monitoring
from cryptopay.core.compliance.own_party import OwnParty
from cryptopay.core.compliance.reports import Reporter
from cryptopay.core.compliance.screening import Snapshot
from cryptopay.core.errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    NotFound,
    Refused,
    ScreeningUnavailable,
)
from cryptopay.core.identity import Role
from cryptopay.core.money import Money
from cryptopay.core.payments.held import HeldPayments
from cryptopay.core.payments.model import HoldDecision, PaymentCredit
from cryptopay.core.remittances import RemittanceOrder, RemittanceState
from cryptopay.core.remittances.service import Remittances
from cryptopay.core.reports.periods import MONTH_PATTERN
from cryptopay.core.text import TextKind
from cryptopay.core.wallets.held_sends import HeldSends, RecipientRoom
from cryptopay.core.wallets.model import HeldSendDecision, Transfer
from flask import Blueprint, Response, request

from cryptopay_http.auth import audit_security, current_principal, require
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.officer_desk import FOUR_EYES, OfficerDesk
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.query import Param, enum_param, query
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("compliance", __name__)
_TAGS = ("admin", "compliance")
_OFFICERS = [Role.COMPLIANCE]
_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _monitoring() -> Monitoring:
    return runtime().services.monitoring


@attrs.frozen
class AlertView:
    id: str
    rule_id: str
    rule_version: int
    kind: str
    party_id: str
    movement_id: str
    blocking: bool
    status: str
    case_id: str | None
    evidence: dict[str, str]
    created_at: datetime

    @classmethod
    def of(cls, a: Alert) -> AlertView:
        return cls(
            a.id,
            a.rule_id,
            a.rule_version,
            a.kind,
            a.party_id,
            a.movement_id,
            a.blocking,
            a.status.value,
            a.case_id,
            dict(a.evidence),
            a.created_at,
        )


@attrs.frozen
class NoteView:
    at: datetime
    author: str
    text: str


@attrs.frozen
class StrExportView:
    """An export of the case's STR as goAML XML: by whom, when, and the SHA-256 of the XML (hex)."""

    at: datetime
    officer: str
    digest: str


@attrs.frozen
class StrFilingView:
    """The STR as filed with the FRC through goAML: its report id there, the filing date, the officer who recorded
    it and when, and the digest of the export filed."""

    reference: str
    filed_on: date
    officer: str
    recorded_at: datetime
    export_digest: str


@attrs.frozen
class CaseView:
    id: str
    party_id: str
    status: str
    assignee: str | None
    alert_ids: list[str]
    deadline: datetime
    overdue: bool
    notes: list[NoteView]
    created_at: datetime
    closed_at: datetime | None
    str_exports: list[StrExportView]
    filing: StrFilingView | None

    @classmethod
    def of(cls, c: Case) -> CaseView:
        notes = [NoteView(n.at, n.author, n.text) for n in c.notes]
        overdue = c.overdue(runtime().services.clock.now())
        exports = [StrExportView(e.at, e.officer, e.digest) for e in c.str_exports]
        f = c.filing
        filing = StrFilingView(f.reference, f.filed_on, f.officer, f.recorded_at, f.export_digest) if f else None
        return cls(
            c.id,
            c.party_id,
            c.status.value,
            c.assignee,
            list(c.alert_ids),
            c.deadline,
            overdue,
            notes,
            c.created_at,
            c.closed_at,
            exports,
            filing,
        )


@attrs.frozen
class OpenCase:
    """Open alerts of one party to investigate together."""

    alert_ids: list[str] = attrs.field(metadata=limits("the alerts", min_items=1, max_items=100, item_max_length=64))
    assignee: str | None = attrs.field(
        default=None, metadata=limits("an officer's user id (default: you)", pattern=_ID)
    )


@attrs.frozen
class CaseNoteRequest:
    text: str = attrs.field(
        metadata=limits("what was found or done", min_length=1, max_length=4000, text=TextKind.PROSE)
    )


@attrs.frozen
class CaseStatusRequest:
    status: CaseStatus = attrs.field(metadata=limits("the new status"))
    note: str | None = attrs.field(
        default=None, metadata=limits("why (needed to escalate or close)", max_length=4000, text=TextKind.PROSE)
    )


@attrs.frozen
class CaseFilingRequest:
    """The case's STR as filed with the FRC through goAML."""

    reference: str = attrs.field(
        metadata=limits(f"the FRC's goAML report id (1 to {REFERENCE_MAX} printable characters)", max_length=200)
    )
    filed_on: str = attrs.field(
        metadata=limits("the filing date (YYYY-MM-DD, Nairobi): not in the future, not before the STR's export")
    )
    note: str | None = attrs.field(
        default=None, metadata=limits("anything the filing needs said", max_length=4000, text=TextKind.PROSE)
    )


@attrs.frozen
class CaseAssignRequest:
    assignee: str = attrs.field(metadata=limits("an officer's user id", pattern=_ID))


def _status_of(kind: type[AlertStatus] | type[CaseStatus]) -> AlertStatus | CaseStatus | None:
    text = request.args.get("status")
    return None if text is None else kind(text)


@bp.get("/v1/admin/compliance/alerts")
@operation(
    "Alerts raised by the monitoring rules (officers)",
    response=PageOf(AlertView),
    tags=_TAGS,
    description=(
        "Alerts the AML monitoring rules raised on movements (structuring, velocity, sanctioned "
        "counterparties...), newest first, with the party, the rule, the movement and whether a case "
        "holds them; filter by `status`."
    ),
)
@require(roles=_OFFICERS)
@paginated("alr")
@query(enum_param("status", lambda: [s.value for s in AlertStatus], "only alerts in this state"))
def alerts() -> Response:
    status = _status_of(AlertStatus)
    assert status is None or isinstance(status, AlertStatus)

    def fetch(after: str | None, limit: int) -> list[Alert]:
        found = _monitoring().alerts(status=status, after=after, limit=limit)
        # names, phone numbers and amounts: an officer's read is audited, as a KYC application's is
        audit_security("compliance.alerts_viewed", "compliance:alerts", **read_details(status, found, after=after))
        return found

    return json_response(paginate(fetch, AlertView.of))


@bp.get("/v1/admin/compliance/cases")
@operation(
    "Cases (officers)",
    response=PageOf(CaseView),
    tags=_TAGS,
    description=(
        "Investigation cases, newest first, with their party, alerts, assignee, status and notes; filter by `status`."
    ),
)
@require(roles=_OFFICERS)
@paginated("cas")
@query(enum_param("status", lambda: [s.value for s in CaseStatus], "only cases in this status"))
def cases() -> Response:
    status = _status_of(CaseStatus)
    assert status is None or isinstance(status, CaseStatus)

    def fetch(after: str | None, limit: int) -> list[Case]:
        found = _monitoring().cases(status=status, after=after, limit=limit)
        audit_security("compliance.cases_viewed", "compliance:cases", **read_details(status, found, after=after))
        return found

    return json_response(paginate(fetch, CaseView.of))


@bp.post("/v1/admin/compliance/cases")
@operation(
    "Open a case from alerts of one party",
    request=OpenCase,
    response=CaseView,
    status=201,
    tags=_TAGS,
    description=(
        "Opens a case grouping one or more open alerts about one party, optionally assigned to an "
        "officer. Audited. Its URL is in `Location`."
    ),
    problems=(
        (InvalidInput, "no alert, or alerts about several parties"),
        (NotFound, "an alert named does not exist"),
        (Conflict, "an alert is already in a case"),
    ),
)
@require(roles=_OFFICERS)
def open_case() -> Response:
    body = read_body(OpenCase)
    case = _monitoring().open_case(current_principal().id, body.alert_ids, assignee=body.assignee)
    return json_response(CaseView.of(case), 201, headers={"Location": f"/v1/admin/compliance/cases/{case.id}"})


@bp.get("/v1/admin/compliance/cases/<case_id>")
@operation(
    "Read a case (officers)", response=CaseView, tags=_TAGS, description="One case with its alerts, notes and history."
)
@require(roles=_OFFICERS)
def read_case(case_id: str) -> Response:
    case, _ = _monitoring().case_alerts(case_id, officer=current_principal().id)  # never one's own (R12)
    audit_security("compliance.case_viewed", f"case:{case.id}")
    return json_response(CaseView.of(case))


@bp.post("/v1/admin/compliance/cases/<case_id>/notes")
@operation(
    "Add a note to a case (officers)",
    request=CaseNoteRequest,
    response=CaseView,
    tags=_TAGS,
    description="Adds an officer's note to a case. Audited.",
    problems=(
        (InvalidState, "the case is final (reported, or closed with no action)"),
        (InvalidInput, "the note has no text"),
    ),
)
@require(roles=_OFFICERS)
def note(case_id: str) -> Response:
    text = read_body(CaseNoteRequest).text
    return json_response(CaseView.of(_monitoring().note(current_principal().id, case_id, text)))


@bp.post("/v1/admin/compliance/cases/<case_id>/status")
@operation(
    "Move a case to another status (officers)",
    request=CaseStatusRequest,
    response=CaseView,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Moves a case to another status (`investigating`, `escalated`, `closed_no_action`); escalating and "
        "closing need a note saying why. A case is reported only by recording its STR filing "
        "(`.../filing`): `reported` here is refused (422 `str_not_filed`). Audited."
    ),
    problems=(
        (InvalidState, "the case is final (reported, or closed with no action)"),
        (InvalidInput, "the status needs a note saying why"),
        (StrNotFiled, "`reported`: a case is reported by recording its STR filing"),
    ),
)
@require(roles=_OFFICERS)
def move(case_id: str) -> Response:
    body = read_body(CaseStatusRequest)
    return json_response(CaseView.of(_monitoring().move(current_principal().id, case_id, body.status, body.note)))


@attrs.frozen
class StrExportRequest:
    """Who reports: the reporting entity's goAML id at the FRC (the officer is the caller)."""

    rentity_id: str = attrs.field(
        metadata=limits("the reporting entity's goAML id at the FRC", pattern=r"^[A-Za-z0-9]{1,64}$")
    )


@bp.post("/v1/admin/compliance/cases/<case_id>/str")
@operation(
    "Export a case's STR as goAML XML (officers)",
    request=StrExportRequest,
    tags=_TAGS,
    media_type="application/xml",
    description=(
        "The case's suspicious transaction report in goAML's XML structure (report, reporting person: the caller, "
        "reason, one transaction per movement, indicators), to validate and file in the FRC's goAML portal. The "
        "export is kept on the case (the officer, the time, the XML's SHA-256: `str_exports`) so that its filing "
        "can be recorded (`.../filing`). Audited (`compliance.str_exported`). 422 `invalid_input` (field `officer`) "
        "when the caller's account has no first and last name for the reporting person (`cryptopay users set-name`)."
    ),
)
@require(roles=_OFFICERS)
def export_str(case_id: str) -> Response:
    body = read_body(StrExportRequest)
    services = runtime().services
    officer = current_principal().id
    user = services.users.get(officer)
    email = (user.email if user is not None else None) or officer
    name = user.display_name if user is not None else None  # none: 422, how to set one (R14-5)
    reporter = Reporter(rentity_id=body.rentity_id, officer_name=name, officer_email=email)
    party = _monitoring().case(case_id).party_id
    report, xml = services.reporting.goaml_export(
        case_id, reporter, party_name=services.kyc_review.party_name(party), officer=officer
    )
    disposition = f'attachment; filename="{report.reference}.xml"'
    return Response(
        xml, mimetype="application/xml", headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )


@bp.post("/v1/admin/compliance/cases/<case_id>/filing")
@operation(
    "Record a case's STR filing with the FRC (officers)",
    request=CaseFilingRequest,
    response=CaseView,
    tags=_TAGS,
    errors=(409,),
    description=(
        "Records that the case's suspicious transaction report was filed with the Financial Reporting Centre "
        "through goAML (the FRC's report id, the filing date) and moves the case to `reported`: the only way a "
        "case is reported. The STR must have been exported as goAML XML first (`.../str`, the console's "
        "download or `cryptopay compliance report str`); the filing names the last export made by its date. Audited "
        "(`compliance.str_filed`)."
    ),
    problems=(
        (StrNotExported, "the case's STR was never exported as goAML XML"),
        (
            InvalidFiling,
            "the report id is not 1 to 64 printable characters, or the date is malformed, in the "
            "future or before the export",
        ),
        (StrReferenceInUse, "the report id is recorded on another case"),
        (InvalidState, "the case is final (reported, or closed with no action)"),
    ),
)
@require(roles=_OFFICERS)
def file_str(case_id: str) -> Response:
    body = read_body(CaseFilingRequest)
    filed_on = filing_date(body.filed_on)
    case = _monitoring().file(current_principal().id, case_id, body.reference, filed_on, body.note)
    return json_response(CaseView.of(case))


@bp.post("/v1/admin/compliance/cases/<case_id>/assign")
@operation(
    "Assign a case to an officer (officers)",
    request=CaseAssignRequest,
    response=CaseView,
    tags=_TAGS,
    description="Assigns a case to an officer (by user id). Audited.",
    problems=((InvalidState, "the case is final (reported, or closed with no action)"),),
)
@require(roles=_OFFICERS)
def assign(case_id: str) -> Response:
    assignee = read_body(CaseAssignRequest).assignee
    return json_response(CaseView.of(_monitoring().assign(current_principal().id, case_id, assignee)))


# -- sanctions screening and the monthly report ------------------------------------------------------------------
@attrs.frozen
class SnapshotView:
    id: str
    source: str
    version: str
    entries: int
    addresses: int
    imported_at: datetime


@attrs.frozen
class SnapshotList:
    data: list[SnapshotView]


@attrs.frozen
class NameScreen:
    name: str = attrs.field(
        metadata=limits("a person's or business's name", min_length=1, max_length=200, text=TextKind.NAME)
    )
    threshold: int | None = attrs.field(
        default=None, metadata=limits("override the score threshold", minimum=50, maximum=100)
    )


@attrs.frozen
class AddressScreen:
    network: str = attrs.field(
        metadata=limits("the chain", choices=lambda: ("ethereum", "polygon", "bsc", "tron", "bitcoin"))
    )
    address: str = attrs.field(metadata=limits("the on-chain address", min_length=1, max_length=128))


@attrs.frozen
class MatchView:
    source: str
    ref: str
    matched: str  # the listed name, or the address
    score: str | None  # the name score out of 100 ("96.5"); null for an address (exact)


@attrs.frozen
class MatchList:
    data: list[MatchView]
    lists: list[SnapshotView]  # the newest snapshot of each source, the lists screened against


@attrs.frozen
class FlowView:
    asset: str
    network: str
    product: str
    direction: str
    count: int
    total_kes: str


@attrs.frozen
class FlowList:
    month: str
    data: list[FlowView]


@bp.get("/v1/admin/compliance/sanctions/lists")
@operation(
    "Imported sanctions list snapshots, oldest first (officers)",
    response=SnapshotList,
    tags=_TAGS,
    description=(
        "The sanctions list snapshots imported (source, version, entries, addresses, when), oldest first; "
        "screening uses the latest of each source."
    ),
)
@require(roles=_OFFICERS)
def sanctions_lists() -> Response:
    views = [
        SnapshotView(s.id, s.source, s.version, s.entries, s.addresses, s.imported_at)
        for s in runtime().services.screening.snapshots()
    ]
    return json_response(SnapshotList(views))


@bp.post("/v1/admin/compliance/sanctions/screen-name")
@operation(
    "Screen a name against the latest lists (officers)",
    request=NameScreen,
    response=MatchList,
    tags=_TAGS,
    description=(
        "Screens a person's or business's name against the latest lists with fuzzy matching; each match "
        "has its list, reference, listed name and score out of 100 (at least the threshold, overridable "
        "from 50); `lists` names the snapshots screened against (source, version, imported_at). Nothing is "
        "recorded. With no list loaded it answers 503 `screening_unavailable`, never an empty clean answer."
    ),
    problems=(
        (InvalidInput, "a name with no letter or digit"),
        (ScreeningUnavailable, "no sanctions list is loaded: nothing can be screened (import one)"),
    ),
)
@require(roles=_OFFICERS)
def screen_name() -> Response:
    body = read_body(NameScreen)
    screening = runtime().services.screening
    used = _lists_used(screening.lists_in_use())
    found = screening.screen_name(body.name, threshold=body.threshold)
    return json_response(MatchList([MatchView(m.source, m.ref, m.listed_name, f"{m.score:g}") for m in found], used))


@bp.post("/v1/admin/compliance/sanctions/screen-address")
@operation(
    "Screen an on-chain address against the latest lists (officers)",
    request=AddressScreen,
    response=MatchList,
    tags=_TAGS,
    description=(
        "Screens an on-chain address on a network against the latest lists (an exact match); `lists` names the "
        "snapshots screened against. Nothing is recorded. With no list loaded it answers 503 "
        "`screening_unavailable`, never an empty clean answer."
    ),
    problems=((ScreeningUnavailable, "no sanctions list is loaded: nothing can be screened (import one)"),),
)
@require(roles=_OFFICERS)
def screen_address() -> Response:
    body = read_body(AddressScreen)
    screening = runtime().services.screening
    used = _lists_used(screening.lists_in_use())
    found = screening.screen_address(body.network, body.address)
    return json_response(MatchList([MatchView(m.source, m.ref, m.address, None) for m in found], used))


def _lists_used(lists: list[Snapshot]) -> list[SnapshotView]:
    return [SnapshotView(s.id, s.source, s.version, s.entries, s.addresses, s.imported_at) for s in lists]


_MONTH = Param(
    "month",
    lambda: {"type": "string", "pattern": MONTH_PATTERN},
    True,
    "YYYY-MM (Nairobi time)",
)


@bp.get("/v1/admin/compliance/reports/monthly")
@operation(
    "The month's virtual-asset flows by asset, network, product and direction",
    response=FlowList,
    tags=_TAGS,
    description=(
        "The month's virtual-asset flows (Nairobi time) by asset, network, product and direction: the "
        "count of movements and their total in KES, for the regulator's monthly return."
    ),
)
@require(roles=_OFFICERS)
@query(_MONTH)
def monthly_report() -> Response:
    month = request.args["month"]
    rows = runtime().services.reporting.monthly(int(month[:4]), int(month[5:]))
    views = [FlowView(r.asset, r.network, r.product, r.direction, r.count, r.total_kes) for r in rows]
    return json_response(FlowList(month, views))


# -- merchant payments held for a listed payer (``payments.held``) ------------------------------------------------
@attrs.frozen
class HeldPaymentView:
    id: str
    invoice_id: str
    merchant_id: str
    network: str
    tx_hash: str
    index: int
    amount: str
    currency: str
    credited_at: datetime
    alert_ids: list[str]
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    fee: str
    refund_id: str | None
    proposal: str | None  # four-eyes: a release or return proposed, awaiting a second officer
    proposed_by: str | None
    proposed_at: datetime | None
    proposal_note: str | None

    @classmethod
    def of(cls, c: PaymentCredit) -> HeldPaymentView:
        network, tx_hash, index = c.transfer
        return cls(
            c.id,
            c.invoice_id,
            c.merchant_id,
            network,
            tx_hash,
            index,
            str(c.received.amount),
            c.received.asset.code,
            c.credited_at,
            list(c.alerts),
            c.decision.value if c.decision is not None else None,
            c.decided_by,
            c.decided_at,
            str(c.fee.amount),
            c.refund_id,
            c.proposal.value if c.proposal is not None else None,
            c.proposed_by,
            c.proposed_at,
            c.proposal_note,
        )


@attrs.frozen
class HoldApprovalRequest:
    """What the approver read (required, as the paybill desk's: an approval never carries out a proposal switched
    after it was read)."""

    proposal: HoldDecision = attrs.field(
        metadata=limits("the proposal read (`released` or `returned`): another one proposed meanwhile is a 409"),
    )


def _held() -> HeldPayments:
    return runtime().services.held_payments


_DECIDED = (
    (NotFound, "no held payment with this id"),
    (Conflict, "decided already, or the alerts' case was concluded otherwise"),
    (InvalidState, "the payment left the chain: nothing is held"),
    (OwnParty, "the payment is of a merchant you belong to"),
)
_PROPOSED = (
    (NotFound, "no held payment with this id"),
    (Conflict, "decided already, or a release or return is proposed already"),
    (InvalidState, "the payment left the chain: nothing is held"),
    (OwnParty, "the payment is of a merchant you belong to"),
)
_PAYMENTS = OfficerDesk(
    bp, "/v1/admin/compliance/held-payments", "payment", "credit_id", HeldPaymentView, HeldPaymentView.of
)

_PAYMENTS.waiting(
    "held_payments",
    "Merchant payments held for a listed payer, awaiting a decision (officers)",
    prefix="crd",
    description=(
        "Payments to merchants from an address a sanctions list names, held in custody (never the merchant's "
        "balance) until an officer releases, returns or keeps each one; by id. Audited."
    ),
    fetch=lambda after, limit: _held().waiting(after=after, limit=limit),
)
_PAYMENTS.noted(
    "release",
    "release_held_payment",
    lambda: _held().release,
    "Propose releasing a held payment to its merchant (officers; four-eyes)",
    step_up=True,
    description=(
        "Proposes crediting the held payment to the merchant as it would have been, the merchant fee taken. Nothing "
        "moves until a second officer approves it (`.../approve`); settlement then pays it as any other, and the "
        "alerts are closed with no action and the note. Audited; needs a step-up."
    ),
    problems=_PROPOSED,
)
_PAYMENTS.noted(
    "return",
    "return_held_payment",
    lambda: _held().return_to_payer,
    "Propose returning a held payment to the address that paid it (officers; four-eyes)",
    step_up=True,
    description=(
        "Proposes sending the held payment back whole to the paying address as a refund (never from the merchant's "
        "balance), refused while a sanctions list still names that address. Nothing moves until a second officer "
        "approves it (`.../approve`); the alerts are then closed with no action and the note. Audited; needs a "
        "step-up."
    ),
    problems=(
        *_PROPOSED,
        (Blocked, "a sanctions list still names the paying address"),
        (Refused, "no hot wallet sends refunds on the payment's network, or the paying address is not known"),
    ),
)


@_PAYMENTS.post(
    "approve",
    "Approve the release or return another officer proposed (officers; four-eyes)",
    request=HoldApprovalRequest,
    step_up=True,
    description=(
        "Carries out the proposed release or return of the held payment, in the approver's name with the "
        "proposal's note; the proposer cannot approve it (409 `same_officer`, audited). Audited; needs a step-up."
    ),
    problems=(
        *_DECIDED,
        *FOUR_EYES,
        (Blocked, "a sanctions list still names the paying address (a return)"),
        (Refused, "no hot wallet sends refunds on the payment's network, or the paying address is not known"),
    ),
)
def approve_held_payment(credit_id: str) -> Response:
    expected = read_body(HoldApprovalRequest, optional=True).proposal  # no body: the 422 naming what was read
    return _PAYMENTS.answer(_held().approve(credit_id, officer=current_principal().id, expected=expected))


_PAYMENTS.noted(
    "decline",
    "decline_held_payment",
    lambda: _held().decline,
    "Decline (or withdraw) the release or return proposed (officers)",
    step_up=False,
    description="Clears the proposal, saying why; nothing moves and the payment waits for a decision. Audited.",
    problems=_DECIDED,
)
_PAYMENTS.noted(
    "keep",
    "keep_held_payment",
    lambda: _held().keep,
    "Keep a held payment frozen for the authorities (officers)",
    step_up=False,
    description=(
        "Keeps the held payment frozen in custody for the authorities; the alerts' case is escalated (to be "
        "reported) with the note: export its STR from the case, then record its filing (`.../filing`). Nothing "
        "moves. Audited."
    ),
    problems=_DECIDED,
)


# --- sends held for a frozen recipient (review4 R6: ``cryptopay.core.wallets.held_sends``) -------------------------


@attrs.frozen
class RoomView:
    """KES amounts; null: no such limit for the recipient's tier."""

    single: Money | None = attrs.field(metadata={"description": "in one receipt"})
    today: Money | None = attrs.field(metadata={"description": "what is left of today's limit (Nairobi)"})
    this_month: Money | None = attrs.field(metadata={"description": "what is left of this month's limit"})


@attrs.frozen
class HeldTransferView:
    """A wallet send held for a frozen recipient (``held``), or one an officer decided (``delivered``: released,
    ``returned``: back with its sender)."""

    id: str
    sender_id: str
    recipient_id: str | None
    amount: Money
    fee: Money
    state: str = attrs.field(metadata={"description": "held (waiting for an officer), delivered or returned"})
    created_at: datetime
    held_at: datetime | None
    note: str | None = attrs.field(metadata={"description": "the sender's note to the recipient"})
    proposal: str | None = attrs.field(
        metadata={"description": "four-eyes: `release` or `return` proposed, awaiting a second officer"}
    )
    proposed_by: str | None
    proposed_at: datetime | None
    proposal_note: str | None
    recipient_tier: str | None = attrs.field(
        default=None,
        metadata={"description": "the recipient's KYC tier in force now (null: none, so a release is refused)"},
    )
    recipient_may_receive: RoomView | None = attrs.field(
        default=None,
        metadata={
            "description": "what the recipient may still receive by its receiving limits, its freeze set aside as "
            "the release check sets it aside; this send already counts in what it received (null: no tier)"
        },
    )
    kept_by: str | None = attrs.field(
        default=None, metadata={"description": "the officer who last kept it held (`.../keep`), if any"}
    )
    kept_at: datetime | None = None
    kept_note: str | None = attrs.field(default=None, metadata={"description": "why it was kept held"})

    @classmethod
    def of(cls, t: Transfer, room: RecipientRoom | None = None) -> HeldTransferView:
        p = t.proposal
        room = room if room is not None else _held_sends().recipient_room(t)
        return cls(
            t.id,
            t.sender_id,
            t.recipient_id,
            t.amount,
            t.fee,
            t.state.value,
            t.created_at,
            t.held_at,
            t.note,
            None if p is None else p.decision.value,
            None if p is None else p.by,
            None if p is None else p.at,
            None if p is None else p.note,
            room.tier,
            None if room.tier is None else RoomView(room.single, room.today, room.this_month),
            None if t.kept is None else t.kept.by,
            None if t.kept is None else t.kept.at,
            None if t.kept is None else t.kept.note,
        )


@attrs.frozen
class HeldSendApprovalRequest:
    """What the approver read (required: a release switched to a return after it was read is a 409)."""

    proposal: HeldSendDecision = attrs.field(
        metadata=limits("the proposal read (`release` or `return`): another one proposed meanwhile is a 409"),
    )


def _held_sends() -> HeldSends:
    return runtime().services.wallets.held_sends()


_SEND_DECIDED = (
    (NotFound, "no held transfer with this id"),
    (InvalidState, "an officer decided it already, or (approve, decline) nothing is proposed"),
    (InvalidInput, "no note saying why"),
    (OwnParty, "you made the send or would receive it"),
    (Conflict, "a proposal waits already (propose), or it changed since you read it (approve)"),
)
_SENDS = OfficerDesk(
    bp, "/v1/admin/compliance/held-transfers", "transfer", "transfer_id", HeldTransferView, HeldTransferView.of
)

_SENDS.waiting(
    "held_transfers",
    "Wallet sends held for a frozen recipient, awaiting a decision (officers)",
    prefix="trf",
    description=(
        "Sends to a wallet that compliance or an operator froze: accepted as any send (the sender is told nothing), "
        "the amount held until an officer releases it to the recipient or returns it to the sender; by id. Audited."
    ),
    fetch=lambda after, limit: _held_sends().waiting(after=after, limit=limit),
)
_SENDS.one(
    "held_transfer",
    "A held send, with its recipient's tier and what it may still receive (officers)",
    description=(
        "A send held for a frozen recipient (or one decided since): its proposal, and the recipient's KYC tier "
        "now and what it may still receive in one receipt, today and this month (read before a release, which is "
        "refused past them). Audited `compliance.held_transfer_viewed`."
    ),
    problems=((NotFound, "no held transfer with this id"),),
    get=lambda transfer_id: _held_sends().get(transfer_id),
)
_SENDS.noted(
    "release",
    "release_held_transfer",
    lambda: _held_sends().release,
    "Propose releasing a held send to its recipient (officers; four-eyes)",
    step_up=True,
    description=(
        "Proposes crediting the held send to the recipient's wallet (counted in what it received; the freeze "
        "itself stays as it is). Nothing moves until a second officer approves it (`.../approve`). Audited "
        "`wallet.held_send_release_proposed` with the note; needs a step-up."
    ),
    problems=_SEND_DECIDED,
)
_SENDS.noted(
    "return",
    "return_held_transfer",
    lambda: _held_sends().return_to_sender,
    "Propose returning a held send to its sender (officers; four-eyes)",
    step_up=True,
    description=(
        "Proposes giving the held amount back to the sender's wallet (the send then reads as returned; its fee "
        "stays earned). Nothing moves until a second officer approves it. Audited "
        "`wallet.held_send_return_proposed` with the note; needs a step-up."
    ),
    problems=_SEND_DECIDED,
)


@_SENDS.post(
    "approve",
    "Approve the release or return another officer proposed on a held send (officers; four-eyes)",
    request=HeldSendApprovalRequest,
    step_up=True,
    description=(
        "Carries out the proposed release or return in the approver's name with the proposal's note; the proposer "
        "cannot approve it (409 `same_officer`, audited). Audited `wallet.held_send_released` / "
        "`wallet.held_send_returned` naming both officers; needs a step-up."
    ),
    problems=(*_SEND_DECIDED, *FOUR_EYES),
)
def approve_held_transfer(transfer_id: str) -> Response:
    expected = read_body(HeldSendApprovalRequest, optional=True).proposal  # no body: the 422 naming what was read
    return _SENDS.answer(_held_sends().approve(transfer_id, officer=current_principal().id, expected=expected))


_SENDS.noted(
    "keep",
    "keep_held_transfer",
    lambda: _held_sends().keep,
    "Keep a held send held, saying why (officers)",
    step_up=False,
    description=(
        "Records an officer's decision to keep the send held (the authorities asked, a court order is awaited): "
        "nothing moves, no second officer is needed, the send stays `held` (`kept_by`, `kept_at`, `kept_note`) and "
        "may still be released or returned later; a 409 while a release or return is proposed (decline it first). "
        "Audited `wallet.held_send_kept` with the note."
    ),
    problems=_SEND_DECIDED,
)
_SENDS.noted(
    "decline",
    "decline_held_transfer",
    lambda: _held_sends().decline,
    "Decline (or withdraw) the release or return proposed on a held send (officers)",
    step_up=False,
    description="Clears the proposal, saying why; nothing moves and the send waits for a decision. Audited.",
    problems=_SEND_DECIDED,
)


# -- remittance orders held for compliance: a refund is four-eyes (review8 R8) ------------------------------------
@attrs.frozen
class RefundProposalView:
    officer: str
    at: datetime
    note: str
    address: str = attrs.field(metadata={"description": "where the refund would go (the sender's or another)"})


@attrs.frozen
class ReleaseProposalView:
    officer: str
    at: datetime
    note: str


@attrs.frozen
class HeldRemittanceView:
    """A remittance order as compliance officers read it before deciding its release or refund (staff only: its
    sender reads an ordinary payout or refund under way)."""

    id: str
    state: str = attrs.field(metadata={"description": "held (an officer decides), refunding once approved, ..."})
    note: str | None = attrs.field(metadata={"description": "why it is held (for officers)"})
    usdt: Money
    network: str | None
    paid_from: list[str] = attrs.field(metadata={"description": "the addresses that paid it"})
    refund_address: str = attrs.field(metadata={"description": "the refund address the sender gave"})
    review_alerts: list[str] = attrs.field(metadata={"description": "the compliance alerts holding it"})
    refund_proposal: RefundProposalView | None = attrs.field(
        metadata={"description": "four-eyes: a refund proposed, awaiting a second officer"}
    )
    refund_id: str | None
    release_proposal: ReleaseProposalView | None = attrs.field(
        default=None, metadata={"description": "four-eyes: a release (its payout) proposed, awaiting a second officer"}
    )
    cleared_alerts: list[str] = attrs.field(
        factory=list,
        metadata={"description": "the alerts two officers decided (a release or a refund approved): only these clear"},
    )

    @classmethod
    def of(cls, order: RemittanceOrder) -> HeldRemittanceView:
        p, r = order.refund_proposal, order.release_proposal
        proposal = None if p is None else RefundProposalView(p.officer, p.at, p.note, p.address)
        release = None if r is None else ReleaseProposalView(r.officer, r.at, r.note)
        return cls(
            order.id,
            order.state.value,
            order.note,
            order.usdt,
            order.network,
            list(order.paid_from),
            order.refund_address,
            list(order.review_alerts),
            proposal,
            order.refund_id,
            release,
            list(order.cleared_alerts),
        )


@attrs.frozen
class RemittanceRefundRequest:
    note: str = attrs.field(
        metadata=limits(
            "why (kept in the audit log and the alerts' case)", min_length=1, max_length=4000, text=TextKind.PROSE
        )
    )
    address: str | None = attrs.field(
        default=None,
        metadata=limits(
            "another refund address on the network the order was paid on (audited old -> new); default: the sender's",
            max_length=128,
        ),
    )


@attrs.frozen
class RemittanceApprovalRequest:
    """What the approver read (required, R9-1: the proposal carries a free address, so without it a proposer could
    withdraw and re-aim the refund to an address of their own after the second officer read the sender's)."""

    address: str = attrs.field(
        metadata=limits(
            "the refund address the approver read: another one proposed meanwhile is a 409",
            min_length=1,
            max_length=128,
        ),
    )


@attrs.frozen
class RemittanceDeclineRequest:
    """Why the officer declines (or withdraws) a held remittance order's proposal, and which proposal they read."""

    note: str = attrs.field(
        metadata=limits(
            "why (kept in the audit log and the alerts' case)", min_length=1, max_length=4000, text=TextKind.PROSE
        )
    )
    proposed_at: datetime | None = attrs.field(
        default=None,
        metadata=limits(
            "when the proposal the officer read was made (the order's `refund_proposal.at` or "
            "`release_proposal.at`, as read): another one proposed since is a 409 and stands (reader2 M-9). "
            "Without it, whichever proposal stands is cleared"
        ),
    )


_REMITTANCE_DECIDED = (
    (NotFound, "no remittance order with this id"),
    (InvalidState, "not held for compliance (an operator refunds it), or (approve, decline) nothing is proposed"),
    (InvalidInput, "no note saying why, or not an address on the network it was paid on"),
    (Refused, "paid out or refunding already, a payout in flight, or nothing confirmed arrived"),
    (Blocked, "a sanctions list names the refund address"),
    (
        Conflict,
        "a refund is proposed already (propose), or it changed since you read it (approve; decline with "
        "`proposed_at`: another proposed since stands)",
    ),
)


def _remittances() -> Remittances:
    return runtime().services.remittances


_REMITTANCES = OfficerDesk(
    bp, "/v1/admin/compliance/held-remittances", "remittance", "order_id", HeldRemittanceView, HeldRemittanceView.of
)

_REMITTANCES.waiting(
    "held_remittances",
    "Remittance orders held, newest first (officers)",
    prefix="rmt",
    description=(
        "Every order an operator or compliance must decide (`held`); those with `review_alerts` are compliance's: "
        "their refund is proposed and approved here (four-eyes). Audited `compliance.held_remittances_viewed`."
    ),
    fetch=lambda before, limit: _remittances().orders(state=RemittanceState.HELD, before=before, limit=limit),
)
_REMITTANCES.one(
    "held_remittance",
    "A remittance order held for compliance, with its refund proposal (officers)",
    description=(
        "The order as officers read it before deciding its refund. Audited `compliance.held_remittance_viewed`."
    ),
    problems=((NotFound, "no remittance order with this id"),),
    get=lambda order_id: _remittances().get(order_id),
)


@_REMITTANCES.post(
    "refund",
    "Propose refunding a remittance order held for compliance (officers; four-eyes)",
    request=RemittanceRefundRequest,
    step_up=True,
    description=(
        "Proposes sending the order's USDT back to the sender's refund address, or to another address on the "
        "network it was paid on (screened as the refund will be). Nothing moves and its alerts stay open until a "
        "second officer approves it (`.../approve`). Audited `remittance.refund_proposed` with the note and the "
        "address from and to; needs a step-up."
    ),
    problems=_REMITTANCE_DECIDED,
)
def propose_remittance_refund(order_id: str) -> Response:
    body = read_body(RemittanceRefundRequest)
    return _REMITTANCES.answer(
        _remittances().propose_refund(order_id, officer=current_principal().id, note=body.note, address=body.address)
    )


@_REMITTANCES.post(
    "approve",
    "Approve the refund another officer proposed on a held remittance order (officers; four-eyes)",
    request=RemittanceApprovalRequest,
    step_up=True,
    description=(
        "Carries out the proposed refund in the approver's name: the order's alerts concluded in a case closed with "
        "no action, the address change audited, the conversion reversed and the refund asked, in one unit of work; "
        "the proposer cannot approve it (409 `same_officer`, audited). Audited `remittance.refund_approved` naming "
        "both officers; needs a step-up."
    ),
    problems=(*_REMITTANCE_DECIDED, *FOUR_EYES),
)
def approve_remittance_refund(order_id: str) -> Response:
    expected = read_body(RemittanceApprovalRequest, optional=True).address  # no body: the 422 naming what was read
    return _REMITTANCES.answer(
        _remittances().approve_refund(order_id, officer=current_principal().id, expected=expected)
    )


@_REMITTANCES.post(
    "decline",
    "Decline (or withdraw) the refund proposed on a held remittance order (officers)",
    request=RemittanceDeclineRequest,
    step_up=False,
    description=(
        "Clears the proposal, saying why; nothing moves. With `proposed_at` (when the proposal read was made), "
        "another proposed since is a 409 and stands, as the console's decline does (LASTREAD reader1 L-4). Audited "
        "`remittance.refund_proposal_declined`."
    ),
    problems=_REMITTANCE_DECIDED,
)
def decline_remittance_refund(order_id: str) -> Response:
    body = read_body(RemittanceDeclineRequest)
    return _REMITTANCES.answer(
        _remittances().decline_refund(
            order_id, officer=current_principal().id, note=body.note, proposed_at=body.proposed_at
        )
    )


_RELEASE_DECIDED = (
    (NotFound, "no remittance order with this id"),
    (InvalidState, "not held for compliance (an operator retries it), or (approve, decline) no release is proposed"),
    (InvalidInput, "no note saying why"),
    (Refused, "not paid, a payout in flight, no Travel Rule record, or its shillings went back to be refunded"),
    (LimitExceeded, "the recipient's M-Pesa daily limit cannot take it today (approve): nothing is decided"),
    (
        Conflict,
        "a release or a refund is proposed already (propose), or it changed since you read it (approve; "
        "decline with `proposed_at`: another proposed since stands)",
    ),
)

_REMITTANCES.noted(
    "release",
    "propose_remittance_release",
    lambda: _remittances().propose_release,
    "Propose releasing a remittance order held for compliance: its payout (officers; four-eyes)",
    step_up=True,
    description=(
        "Proposes paying the held order out to its recipient (one not held whose alerts wait, such as an expired "
        "order paid short, has what it received beyond itself refunded by the worker). Nothing moves and its alerts "
        "stay open until a second officer approves it (`.../approve-release`); a case one officer closed with no "
        "action is not a release. Audited `remittance.release_proposed` with the note; needs a step-up."
    ),
    problems=_RELEASE_DECIDED,
)


@_REMITTANCES.post(
    "approve-release",
    "Approve the release another officer proposed on a held remittance order (officers; four-eyes)",
    request=None,
    step_up=True,
    description=(
        "Carries out the proposed release in the approver's name: the order's alerts concluded in a case closed with "
        "no action and its payout planned, in one unit of work; the proposer cannot approve it (409 "
        "`same_officer`, audited). Audited `remittance.release_approved` naming both officers; needs a step-up."
    ),
    problems=(*_RELEASE_DECIDED, *FOUR_EYES),
)
def approve_remittance_release(order_id: str) -> Response:
    return _REMITTANCES.answer(_remittances().approve_release(order_id, officer=current_principal().id))


@_REMITTANCES.post(
    "decline-release",
    "Decline (or withdraw) the release proposed on a held remittance order (officers)",
    request=RemittanceDeclineRequest,
    step_up=False,
    description=(
        "Clears the proposal, saying why; nothing moves. With `proposed_at` (when the proposal read was made), "
        "another proposed since is a 409 and stands, as the console's decline does (LASTREAD reader1 L-4). Audited "
        "`remittance.release_proposal_declined`."
    ),
    problems=_RELEASE_DECIDED,
)
def decline_remittance_release(order_id: str) -> Response:
    body = read_body(RemittanceDeclineRequest)
    return _REMITTANCES.answer(
        _remittances().decline_release(
            order_id, officer=current_principal().id, note=body.note, proposed_at=body.proposed_at
        )
    )
