"""``cryptopay compliance``: the officers' KYC/KYB review queue and account freezes from the server's shell (audited).

Every decision names the officer (``--officer EMAIL``): an account with the ``compliance`` role, so four-eyes holds
from the CLI exactly as over REST (the officer who gave the first approval cannot give the second).

    cryptopay compliance queue
    cryptopay compliance claim kya_1 --officer ann@example.co.ke
    cryptopay compliance approve kya_1 --officer ann@example.co.ke
    cryptopay compliance reject kya_1 --officer bob@example.co.ke --reason "the ID number does not match"
    cryptopay compliance freeze mer_1 --officer ann@example.co.ke --reason "sanctions match under review"
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import typer
from cryptopay.core.compliance.cases import Alert, AlertStatus, Case, CaseStatus, filing_date, read_details
from cryptopay.core.compliance.reports import Reporter, StrReport, str_csv
from cryptopay.core.compliance.screening import Snapshot
from cryptopay.core.errors import NotFound, Unavailable
from cryptopay.core.identity import Role
from cryptopay.core.kyc import KycProfile, PartyKind
from cryptopay.core.kyc.applications import KycApplication
from cryptopay.core.kyc.review import KycReview
from cryptopay.core.payments.model import PaymentCredit
from cryptopay.core.remittances import RemittanceOrder
from cryptopay.core.reports.periods import MONTH_PATTERN
from cryptopay.core.wallets.model import Transfer

from cryptopay_cli.context import acting_as, audit_read, operator, services, staff_id
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, private_output

if TYPE_CHECKING:  # the composition root loads when a command runs
    from cryptopay.adapters.bootstrap import Services

app = typer.Typer(
    help="Compliance: the KYC/KYB review queue, freezes, AML alerts and cases, sanctions lists and screening, reports.",
    no_args_is_help=True,
)

OFFICER = typer.Option(..., "--officer", help="The deciding officer's email (an account with the compliance role).")
JSON = typer.Option(False, "--json", help="One JSON object per line instead of a table.")


def _review() -> KycReview:
    return services().kyc_review


_OFFICERS = frozenset({Role.COMPLIANCE})


def _officer_id(email: str) -> str:
    """A compliance officer's user id by email (exit 3 for no account, 5 for one without the role)."""
    return staff_id(email, _OFFICERS)


def _officer(email: str, command: str) -> str:
    """The officer's user id, the operator's acting in their name audited first (``acting_as``, review7 F11)."""
    return acting_as(email, f"compliance {command}", _OFFICERS)


def _deciding(officer: str, application_id: str, claim_first: bool, command: str) -> str:
    """The officer's user id (``_officer``), having claimed the application for them first when ``claim_first``."""
    officer_id = _officer(officer, command)
    if claim_first:
        _review().claim(officer_id, application_id)
    return officer_id


def _row(a: KycApplication) -> dict[str, Any]:
    """An application as the API's ``ApplicationView`` names and types it (``party_id``, ``approvals`` and
    ``approvals_needed`` as numbers, lists as lists, null for what is absent: R14-4), so one script reads both."""
    return {
        "id": a.id,
        "party_id": a.party_id,
        "kind": a.kind.value,
        "level": a.level,
        "state": a.state.value,
        "claimed_by": a.claimed_by,
        "approvals": len(a.approvals),
        "approvals_needed": _review().policy.tier(a.kind, a.level).approvals_required,
        "submitted_at": a.submitted_at,
        "reason": a.reason,
        "id_shared_with": list(a.id_shared_with),  # other accounts that gave the same ID (a KYB: registration)
        "id_linked": list(a.id_linked),
        # a KYB's directors also on other merchants' applications (information only)
        "directors_elsewhere": {d: list(parties) for d, parties in a.directors_elsewhere.items()},
    }


def _show(application: KycApplication) -> None:
    emit_json(_row(application))


@app.command("queue")
def queue(
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """Applications waiting for review or being reviewed, oldest first."""
    with errors_to_exit_codes():
        rows = [_row(a) for a in _review().queue(limit=limit)]
    if as_json:
        for row in rows:
            emit_json(row)
        return
    for row in rows:  # for people: approvals so far of those needed
        row["approvals"] = f"{row['approvals']}/{row.pop('approvals_needed')}"
    emit_table(rows, ["id", "party_id", "kind", "level", "state", "claimed_by", "approvals", "submitted_at"])


@app.command("show")
def show(application_id: str, officer: str = OFFICER) -> None:
    """An application with its particulars and documents' metadata (the read is audited)."""
    with errors_to_exit_codes():
        application = _review().application(_officer(officer, "show"), application_id)
        person = application.person
        business = application.business
        emit_json(
            {
                **_row(application),
                "person": None
                if person is None
                else {"legal_name": person.legal_name, "id_type": person.id_type.value},
                "business": None
                if business is None
                else {
                    "registered_name": business.registered_name,
                    "directors": [
                        {"id": d.id, "name": d.name, "verified": d.id in application.verified_directors}
                        for d in business.directors
                    ],
                },
                "documents": [
                    {"id": d.id, "kind": d.kind.value, "type": d.content_type, "director": d.director}
                    for d in application.documents
                ],
                "missing_documents": [k.value for k in application.missing_documents()]
                + application.missing_director_documents(),
            }
        )


@app.command("claim")
def claim(application_id: str, officer: str = OFFICER) -> None:
    """Take an application off the queue to review it (exit 4 if another officer has it)."""
    with errors_to_exit_codes():
        _show(_review().claim(_officer(officer, "claim"), application_id))


@app.command("approve")
def approve(
    application_id: str,
    officer: str = OFFICER,
    claim_first: bool = typer.Option(True, "--claim/--no-claim", help="Claim it first if it is waiting."),
) -> None:
    """Approve an application one officer decides (a personal tier 1): the officer must have read it since its
    last submission (``show``, or the console), else exit 4 ``documents_not_reviewed``. One that needs two officers
    (tier 2, every KYB) is refused with exit 5, nothing claimed: the shell cannot prove which officer is at the
    keyboard, so those are approved on the console. The audit record names the operator too (``ops:<login>``)."""
    with errors_to_exit_codes():
        if _review().approvals_needed(application_id) > 1:  # refused before anything is claimed
            _show(_review().approve(_officer(officer, "approve"), application_id, operator=operator()))
        officer_id = _deciding(officer, application_id, claim_first, "approve")
        _show(_review().approve(officer_id, application_id, operator=operator()))


@app.command("link-id")
def link_id(
    application_id: str,
    officer: str = OFFICER,
    reason: str = typer.Option(
        ..., "--reason", help="Why the accounts that gave this ID (or registration number) may both be verified."
    ),
) -> None:
    """Link the other accounts that gave the applicant's ID document, or a KYB's other merchants that gave its
    registration number (``id_shared_with``), to the application you claimed, with a reason (audited), so its
    approval may go on (approving before is exit 4, ``id_in_use`` / ``registration_in_use``)."""
    with errors_to_exit_codes():
        _show(_review().link_id(_officer(officer, "link-id"), application_id, reason))


@app.command("verify-director")
def verify_director(
    application_id: str,
    director_id: str = typer.Argument(..., help="The director's id on the application (d1, d2, ...)."),
    officer: str = OFFICER,
) -> None:
    """Record that a KYB director's particulars match their ID photos and selfie (you must hold the claim); a KYB
    is approved only once every director is verified."""
    with errors_to_exit_codes():
        _show(_review().verify_director(_officer(officer, "verify-director"), application_id, director_id))


@app.command("reject")
def reject(
    application_id: str,
    officer: str = OFFICER,
    reason: str = typer.Option(..., "--reason", help="What the applicant can act on (sent to them)."),
    claim_first: bool = typer.Option(True, "--claim/--no-claim", help="Claim it first if it is waiting."),
) -> None:
    """Reject with a reason; the applicant is told it."""
    with errors_to_exit_codes():
        officer_id = _deciding(officer, application_id, claim_first, "reject")
        _show(_review().reject(officer_id, application_id, reason))


@app.command("request-info")
def request_info(
    application_id: str,
    officer: str = OFFICER,
    message: str = typer.Option(..., "--message", help="What is needed (sent to the applicant)."),
    claim_first: bool = typer.Option(True, "--claim/--no-claim", help="Claim it first if it is waiting."),
) -> None:
    """Send the application back to the applicant saying what is needed."""
    with errors_to_exit_codes():
        officer_id = _deciding(officer, application_id, claim_first, "request-info")
        _show(_review().request_information(officer_id, application_id, message))


def _kind(party_id: str) -> PartyKind:
    svc = services()
    if svc.merchants.get(party_id) is not None:
        return PartyKind.MERCHANT
    user = svc.users.get(party_id)
    if user is not None and (user.role is Role.PERSONAL or svc.holds_wallet(party_id)):  # a wallet, whatever role
        return PartyKind.PERSONAL
    raise NotFound(f"no merchant or personal account {party_id}")


def _state(profile: KycProfile) -> None:
    emit_json(
        {
            "party": profile.party_id,
            "state": "frozen" if profile.frozen else "active",
            "frozen_at": profile.frozen_at,
            "frozen_by": profile.frozen_by,
            "reason": profile.freeze_reason,
        }
    )


@app.command("freeze")
def freeze(
    party_id: str = typer.Argument(..., help="A merchant id (mer_...) or a personal user's id (usr_...)."),
    officer: str = OFFICER,
    reason: str = typer.Option(..., "--reason", help="Why, for the record (the party is not told)."),
) -> None:
    """Hold every outgoing movement of an account (exit 4 if it is already frozen)."""
    with errors_to_exit_codes():
        _state(_review().freeze(_officer(officer, "freeze"), party_id, _kind(party_id), reason, operator=operator()))


@app.command("unfreeze")
def unfreeze(party_id: str, officer: str = OFFICER) -> None:
    """Release a freeze (exit 4 if the account is not frozen)."""
    with errors_to_exit_codes():
        _state(_review().unfreeze(_officer(officer, "unfreeze"), party_id, _kind(party_id), operator=operator()))


# -- monitoring: alerts and cases -----------------------------------------------------------------------------
cases_app = typer.Typer(
    help="AML cases: list, open from alerts, show, note, move, assign, file (record the STR's filing).",
    no_args_is_help=True,
)
app.add_typer(cases_app, name="cases")


def _alert_row(a: Alert) -> dict[str, Any]:
    evidence = ", ".join(f"{k}={v}" for k, v in sorted(a.evidence.items()))
    return {
        "id": a.id,
        "rule": f"{a.rule_id}@v{a.rule_version}",
        "party": a.party_id,
        "movement": a.movement_id,
        "status": a.status.value,
        "case": a.case_id,
        "created_at": a.created_at,
        "evidence": evidence,
    }


def _case_row(c: Case) -> dict[str, Any]:
    return {
        "id": c.id,
        "party": c.party_id,
        "status": c.status.value,
        "assignee": c.assignee,
        "alerts": ",".join(c.alert_ids),
        "deadline": c.deadline,
        "notes": len(c.notes),
    }


def _emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        for row in rows:
            emit_json(row)
    else:
        emit_table(rows, columns)


@app.command("alerts")
def alerts(
    status: AlertStatus | None = typer.Option(None, "--status", help="open or in_case."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """Alerts raised by the monitoring rules, oldest first (the read is audited)."""
    with errors_to_exit_codes():
        found = services().monitoring.alerts(status=status, limit=limit)
        audit_read("compliance.alerts_viewed", "compliance:alerts", **read_details(status, found))
        rows = [_alert_row(a) for a in found]
    _emit(rows, ["id", "rule", "party", "movement", "status", "case", "created_at", "evidence"], as_json)


@app.command("monitor")
def monitor(
    days: int = typer.Option(2, "--days", min=1, max=31, help="How many days of movements to evaluate."),
) -> None:
    """Run the batch rules now over the last ``--days`` of movements; prints the new alerts."""
    with errors_to_exit_codes():
        svc = services()
        now = svc.clock.now()
        for alert in svc.monitoring.run_batch(now - timedelta(days=days), now):
            emit_json(_alert_row(alert))


@cases_app.command("list")
def list_cases(
    status: CaseStatus | None = typer.Option(None, "--status", help="open, investigating, escalated, ..."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """Cases, oldest first (the read is audited)."""
    with errors_to_exit_codes():
        found = services().monitoring.cases(status=status, limit=limit)
        audit_read("compliance.cases_viewed", "compliance:cases", **read_details(status, found))
        rows = [_case_row(c) for c in found]
    _emit(rows, ["id", "party", "status", "assignee", "alerts", "deadline", "notes"], as_json)


@cases_app.command("open")
def open_case(
    alert_ids: list[str] = typer.Argument(..., help="Open alerts of one party."),
    officer: str = OFFICER,
) -> None:
    """Group alerts into a new case assigned to the officer."""
    with errors_to_exit_codes():
        emit_json(_case_row(services().monitoring.open_case(_officer(officer, "cases open"), alert_ids)))


@cases_app.command("show")
def show_case(case_id: str) -> None:
    """A case with its notes (the read is audited)."""
    with errors_to_exit_codes():
        case = services().monitoring.case(case_id)
        audit_read("compliance.case_viewed", f"case:{case.id}")
        notes = [{"at": n.at, "author": n.author, "text": n.text} for n in case.notes]
        exports = [{"at": e.at, "officer": e.officer, "digest": e.digest} for e in case.str_exports]
        filing = attrs.asdict(case.filing) if case.filing else None
        emit_json(
            {**_case_row(case), "notes": notes, "closed_at": case.closed_at, "str_exports": exports, "filing": filing}
        )


@cases_app.command("note")
def note_case(
    case_id: str, officer: str = OFFICER, text: str = typer.Option(..., "--text", help="The note (kept with the case).")
) -> None:
    """Add a note."""
    with errors_to_exit_codes():
        emit_json(_case_row(services().monitoring.note(_officer(officer, "cases note"), case_id, text)))


@cases_app.command("move")
def move_case(
    case_id: str,
    status: CaseStatus = typer.Argument(..., help="investigating, escalated or closed_no_action."),
    officer: str = OFFICER,
    note: str | None = typer.Option(None, "--note", help="Why (needed to escalate or close)."),
) -> None:
    """Move a case to another status (a closed or reported case is final: exit 4; reported is ``cases file``'s:
    exit 5; closing a case that holds a sanctions freeze is the console's or the API's: exit 5, audited)."""
    with errors_to_exit_codes():
        moved = services().monitoring.move(_officer(officer, "cases move"), case_id, status, note, operator=operator())
        emit_json(_case_row(moved))


@cases_app.command("file")
def file_case(
    case_id: str,
    officer: str = OFFICER,
    reference: str = typer.Option(..., "--reference", help="The FRC's goAML report id of the STR as filed."),
    filed_on: str = typer.Option(..., "--filed-on", help="The filing date, YYYY-MM-DD (Nairobi)."),
    note: str | None = typer.Option(None, "--note", help="Anything the filing needs said."),
) -> None:
    """Record the case's STR as filed with the FRC through goAML and move it to reported (after ``report str``
    exported its XML: exit 5 otherwise; a bad report id or date exit 2; a report id on another case exit 4)."""
    with errors_to_exit_codes():
        day = filing_date(filed_on)
        officer_id = _officer(officer, "cases file")
        emit_json(_case_row(services().monitoring.file(officer_id, case_id, reference, day, note)))


@cases_app.command("assign")
def assign_case(
    case_id: str, officer: str = OFFICER, to: str = typer.Option(..., "--to", help="The officer's email.")
) -> None:
    """Give a case to another officer."""
    with errors_to_exit_codes():
        emit_json(_case_row(services().monitoring.assign(_officer(officer, "cases assign"), case_id, _officer_id(to))))


# -- merchant payments held for a listed payer (``payments.held``) ----------------------------------------------
held_app = typer.Typer(
    help=(
        "Merchant payments held for a listed payer: list; decline a proposed release or return (proposals and "
        "approvals are made on the console or the API: four-eyes); keep for the authorities."
    ),
    no_args_is_help=True,
)
app.add_typer(held_app, name="held-payments")
DECISION_NOTE = typer.Option(..., "--note", help="Why (kept in the audit log and the alerts' case).")


def _held_row(c: PaymentCredit) -> dict[str, Any]:
    network, tx_hash, index = c.transfer
    return {
        "id": c.id,
        "invoice": c.invoice_id,
        "merchant": c.merchant_id,
        "tx": f"{network}:{tx_hash}#{index}",
        "amount": str(c.received),
        "alerts": ",".join(c.alerts),
        "credited_at": c.credited_at,
        "decision": c.decision.value if c.decision is not None else None,
        "fee": str(c.fee),
        "refund": c.refund_id,
        "proposal": c.proposal.value if c.proposal is not None else None,
        "proposed_by": c.proposed_by,
    }


@held_app.command("list")
def list_held(
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """Held payments awaiting a decision, by id (the read is audited)."""
    with errors_to_exit_codes():
        found = services().held_payments.waiting(limit=limit)
        audit_read("compliance.held_payments_viewed", "compliance:held_payments", count=str(len(found)))
        rows = [_held_row(c) for c in found]
    _emit(rows, ["id", "invoice", "merchant", "tx", "amount", "alerts", "credited_at", "proposal"], as_json)


@held_app.command("release")
def release_held(credit_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Refused (exit 5, audited by the operator): a release moves money, so it is proposed on the console
    (``/console/held-payments``) or the API (``POST /v1/admin/compliance/held-payments/ID/release``) by an officer
    signed in with their second factor; the shell cannot prove which officer is at the keyboard (revpass7 P4)."""
    with errors_to_exit_codes():
        proposed = services().held_payments.release(
            credit_id, officer=_officer(officer, "held-payments release"), note=note, operator=operator()
        )
        emit_json(_held_row(proposed))


@held_app.command("return")
def return_held(credit_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Refused (exit 5, audited by the operator): a return moves money, so it is proposed on the console or the API
    (``POST /v1/admin/compliance/held-payments/ID/return``) by an officer signed in with their second factor."""
    with errors_to_exit_codes():
        held = services().held_payments
        returned = held.return_to_payer(
            credit_id, officer=_officer(officer, "held-payments return"), note=note, operator=operator()
        )
        emit_json(_held_row(returned))


@held_app.command("approve")
def approve_held(credit_id: str, officer: str = OFFICER) -> None:
    """Refused (exit 5): a proposed release or return is approved by a second officer on the console or the API,
    signed in with their second factor; the shell cannot prove which officer is at the keyboard (as KYC's, I9)."""
    with errors_to_exit_codes():
        emit_json(
            _held_row(
                services().held_payments.approve(
                    credit_id, officer=_officer(officer, "held-payments approve"), operator=operator()
                )
            )
        )


@held_app.command("decline")
def decline_held(credit_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Decline (or, its proposer, withdraw) the release or return proposed; nothing moves."""
    with errors_to_exit_codes():
        emit_json(
            _held_row(
                services().held_payments.decline(
                    credit_id, officer=_officer(officer, "held-payments decline"), note=note
                )
            )
        )


@held_app.command("keep")
def keep_held(credit_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Keep a held payment frozen for the authorities; its alerts' case is escalated, to be reported."""
    with errors_to_exit_codes():
        emit_json(
            _held_row(
                services().held_payments.keep(credit_id, officer=_officer(officer, "held-payments keep"), note=note)
            )
        )


# -- wallet sends held for a frozen recipient (``wallets.held_sends``, review4 R6) -----------------------------------
sends_app = typer.Typer(
    help=(
        "Wallet sends held for a frozen recipient: list; keep one held (a note, nothing moves); decline a proposal. "
        "A release to the recipient or a return "
        "to the sender is proposed and approved by two officers on the console or the API (four-eyes): from the "
        "shell, which cannot prove who is at the keyboard, release, return and approve exit 5."
    ),
    no_args_is_help=True,
)
app.add_typer(sends_app, name="held-transfers")


def _send_row(t: Transfer) -> dict[str, Any]:
    return {
        "id": t.id,
        "sender": t.sender_id,
        "recipient": t.recipient_id,
        "amount": str(t.amount),
        "state": t.state.value,
        "held_at": t.held_at,
        "note": t.note,
        "proposal": t.proposal.decision.value if t.proposal is not None else None,
        "proposed_by": t.proposal.by if t.proposal is not None else None,
        "kept_by": t.kept.by if t.kept is not None else None,
        "kept_note": t.kept.note if t.kept is not None else None,
    }


@sends_app.command("list")
def list_held_sends(
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="At most this many."),
    as_json: bool = JSON,
) -> None:
    """Held sends awaiting a decision, by id, with the sender's note (the read is audited)."""
    with errors_to_exit_codes():
        found = services().wallets.held_sends().waiting(limit=limit)
        audit_read("compliance.held_transfers_viewed", "compliance:held_transfers", count=str(len(found)))
        rows = [_send_row(t) for t in found]
    _emit(rows, ["id", "sender", "recipient", "amount", "held_at", "proposal", "kept_by", "note"], as_json)


@sends_app.command("keep")
def keep_held_send(transfer_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Keep a held send held, saying why: nothing moves (audited, the operator acting as the officer); it may still
    be released or returned later."""
    with errors_to_exit_codes():
        held = services().wallets.held_sends()
        emit_json(_send_row(held.keep(transfer_id, officer=_officer(officer, "held-transfers keep"), note=note)))


@sends_app.command("release")
def release_held_send(transfer_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Refused (exit 5, audited): a release is proposed on the console or the API by an officer signed in with their
    second factor, and approved there by a second one."""
    with errors_to_exit_codes():
        held = services().wallets.held_sends()
        emit_json(
            _send_row(
                held.release(
                    transfer_id, officer=_officer(officer, "held-transfers release"), note=note, operator=operator()
                )
            )
        )


@sends_app.command("return")
def return_held_send(transfer_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Refused (exit 5, audited): a return is proposed on the console or the API by an officer signed in with their
    second factor, and approved there by a second one."""
    with errors_to_exit_codes():
        held = services().wallets.held_sends()
        returned = held.return_to_sender(
            transfer_id, officer=_officer(officer, "held-transfers return"), note=note, operator=operator()
        )
        emit_json(_send_row(returned))


@sends_app.command("approve")
def approve_held_send(transfer_id: str, officer: str = OFFICER) -> None:
    """Refused (exit 5): a proposed release or return is approved by a second officer on the console or the API,
    signed in with their second factor; the shell cannot prove which officer is at the keyboard."""
    with errors_to_exit_codes():
        held = services().wallets.held_sends()
        emit_json(
            _send_row(
                held.approve(transfer_id, officer=_officer(officer, "held-transfers approve"), operator=operator())
            )
        )


@sends_app.command("decline")
def decline_held_send(transfer_id: str, officer: str = OFFICER, note: str = DECISION_NOTE) -> None:
    """Decline (or, its proposer, withdraw) the release or return proposed; nothing moves."""
    with errors_to_exit_codes():
        held = services().wallets.held_sends()
        emit_json(_send_row(held.decline(transfer_id, officer=_officer(officer, "held-transfers decline"), note=note)))


# -- sanctions lists and screening ----------------------------------------------------------------------------
lists_app = typer.Typer(
    help="Sanctions lists: import OFAC sdn.xml or sdn.csv, or the UN consolidated list; show snapshots."
)
screen_app = typer.Typer(help="Screen a name or an on-chain address against the latest lists.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
app.add_typer(screen_app, name="screen")


def _snapshot_row(s: Snapshot) -> dict[str, Any]:
    return {
        "id": s.id,
        "source": s.source,
        "version": s.version,
        "entries": s.entries,
        "addresses": s.addresses,
        "imported_at": s.imported_at,
        "digest": s.digest[:16],
    }


@lists_app.command("import")
def import_list(
    path: Path = typer.Argument(
        ...,
        exists=True,
        readable=True,
        help="sdn.xml, the UN consolidated list, or OFAC's sdn.csv (alt.csv, add.csv, sdn_comments.csv read from "
        "beside it; a directory holding them works too).",
    ),
) -> None:
    """Import a list file as a new snapshot (the same list again changes nothing); prints the snapshot."""
    from cryptopay.adapters.sanctions import read_list

    with errors_to_exit_codes():
        parsed = read_list(path)
        svc = services()
        snapshot = svc.screening.import_list(parsed.source, parsed.version, parsed.entries, actor=operator())
        alerts = svc.monitoring.rescreen(svc.kyc_review.screened_names(), svc.screening)  # everyone, at once
        orders = _rescreen_remittances(svc)  # remittances under way: refused unpaid, held paid (per list version)
        changed = None if orders is None else len(orders)
        pending = svc.kyc_review.screen_pending()  # applications submitted while no list was loaded
        row = {**_snapshot_row(snapshot), "new_alerts": len(alerts), "remittances_changed": changed}
        emit_json({**row, "applications_screened": len(pending)})


@app.command("rescreen")
def rescreen() -> None:
    """Screen every verified or applying party's names, and the parties of remittances under way, against the
    latest lists now; prints new alerts on parties, then the remittance orders refused or held."""
    with errors_to_exit_codes():
        svc = services()
        for alert in svc.monitoring.rescreen(svc.kyc_review.screened_names(), svc.screening):
            emit_json(_alert_row(alert))
        for order in _rescreen_remittances(svc) or []:
            emit_json({"remittance": order.id, "state": order.state.value, "review_alerts": list(order.review_alerts)})
        for application in svc.kyc_review.screen_pending():  # submitted while no list was loaded
            emit_json({"application": application.id, "screened": True, "matches": len(application.sanctions_matches)})


def _rescreen_remittances(svc: Services) -> list[RemittanceOrder] | None:
    """``Remittances.rescreen`` where this deployment takes remittances (None where it does not)."""
    try:
        remittances = svc.remittances
    except Unavailable:
        return None
    return remittances.rescreen()


@lists_app.command("show")
def show_lists(as_json: bool = JSON) -> None:
    """Every imported snapshot, oldest first (the newest of each source is screened against)."""
    with errors_to_exit_codes():
        rows = [_snapshot_row(s) for s in services().screening.snapshots()]
    _emit(rows, ["id", "source", "version", "entries", "addresses", "imported_at", "digest"], as_json)


def _screened_against(lists: list[Snapshot]) -> None:
    """Name the snapshots a screening used, on stderr (stdout keeps one JSON line per match): the evidence of
    which list version a customer was screened against."""
    for s in lists:
        typer.echo(f"screened against {s.source} {s.version} (imported {s.imported_at.isoformat()})", err=True)


@screen_app.command("name")
def screen_name(
    name: str,
    threshold: float | None = typer.Option(None, "--threshold", min=50, max=100, help="Override the score threshold."),
) -> None:
    """Listed names matching ``name`` (one JSON line each); exit 5 if any match, 6 if no list is loaded."""
    with errors_to_exit_codes():
        _screened_against(services().screening.lists_in_use())
        matches = services().screening.screen_name(name, threshold=threshold)
    for m in matches:
        emit_json({"source": m.source, "ref": m.ref, "listed_name": m.listed_name, "score": m.score})
    if matches:
        raise typer.Exit(5)


@screen_app.command("address")
def screen_address(network: str, address: str) -> None:
    """Entries listing ``address`` on ``network`` (exactly); exit 5 if any, 6 if no list is loaded."""
    with errors_to_exit_codes():
        _screened_against(services().screening.lists_in_use())
        matches = services().screening.screen_address(network, address)
    for m in matches:
        emit_json({"source": m.source, "ref": m.ref, "network": m.network, "address": m.address})
    if matches:
        raise typer.Exit(5)


# -- reports --------------------------------------------------------------------------------------------------
report_app = typer.Typer(
    help="Reports: an STR in goAML XML or CSV; the monthly virtual-asset flows.", no_args_is_help=True
)
app.add_typer(report_app, name="report")


@report_app.command("str")
def report_str(
    case_id: str,
    officer: str = OFFICER,
    rentity_id: str = typer.Option(..., "--rentity-id", help="The reporting entity's goAML id at the FRC."),
    fmt: str = typer.Option("xml", "--format", help="xml (goAML) or csv."),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this new file, mode 0600; a symbolic link is refused (default: standard output)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file (still 0600, no link)."),
) -> None:
    """A suspicious transaction report of a case (the export is audited; an XML export is kept on the case, for
    ``cases file`` to record its filing)."""
    if fmt not in ("xml", "csv"):
        raise typer.BadParameter("xml or csv", param_hint="--format")
    if out is not None:
        with private_output(out, force=force) as handle:  # refused (exit 2) before the export is made and audited
            report, body = _str_report(case_id, officer, rentity_id, fmt)
            handle.write(body)
        emit_json({"report": report.reference, "format": fmt, "path": str(out), "transactions": len(report.movements)})
        return
    typer.echo(_str_report(case_id, officer, rentity_id, fmt)[1], nl=False)


def _str_report(case_id: str, officer: str, rentity_id: str, fmt: str) -> tuple[StrReport, str]:
    """The case's STR and its text in ``fmt`` (the export is audited)."""
    with errors_to_exit_codes():
        officer_id = _officer(officer, "report str")
        user = services().users.get(officer_id)
        assert user is not None
        email = user.email or officer.strip().lower()
        reporter = Reporter(rentity_id=rentity_id, officer_name=user.display_name, officer_email=email)
        case = services().monitoring.case(case_id)
        party_name = services().kyc_review.party_name(case.party_id)
        if fmt == "xml":  # the XML that is filed: its export is kept on the case (R12-8)
            report, xml = services().reporting.goaml_export(
                case_id, reporter, party_name=party_name, officer=officer_id
            )
            return report, xml.decode()
        report = services().reporting.suspicious_transaction_report(
            case_id, reporter, party_name=party_name, officer=officer_id
        )
    return report, str_csv(report)


@report_app.command("monthly")
def report_monthly(
    month: str = typer.Argument(..., help="YYYY-MM (Nairobi time)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of CSV."),
) -> None:
    """Virtual-asset flows of a month by asset, network, product and direction (CSV, or JSON lines)."""
    if re.fullmatch(MONTH_PATTERN, month) is None:  # the API's month parameter: one source
        raise typer.BadParameter(f"{month!r} is no month: YYYY-MM, 2000-01 to 2999-12", param_hint="MONTH")
    year, _, number = month.partition("-")
    with errors_to_exit_codes():
        rows = services().reporting.monthly(int(year), int(number))
    if as_json:
        for row in rows:
            emit_json(attrs.asdict(row))
        return
    typer.echo("asset,network,product,direction,count,total_kes")
    for row in rows:
        typer.echo(f"{row.asset},{row.network},{row.product},{row.direction},{row.count},{row.total_kes}")
