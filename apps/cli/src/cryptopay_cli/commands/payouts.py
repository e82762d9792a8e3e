"""``cryptopay payouts``: list payouts, show one with its status queries, retry a definitively failed one, run the
overdue status queries now, and pay bank transfers (``bank-file``; their confirmation is the API's and the console's,
``bank-confirmations`` lists the ones proposed and awaiting a second admin).

``list`` and ``show`` are audited reads by the operator (``payouts.viewed``, ``payout.viewed``: payees' numbers and
accounts). ``show`` exits 3 for an unknown payout; it prints M-Pesa's own result text (``result_desc``), which only
operators see (merchants and customers read fixed words for the result code).

``retry`` exits 3 for an unknown payout and 5 when the payout is not failed or was already retried, or when M-Pesa's
daily limit of the number cannot take it today (the message says what remains and on which day it can be retried);
``confirm-bank`` exits 5, audited ``payout.conclusion_refused`` (R10-7: a bank transfer completes on two admins'
word on the API, ``POST /v1/admin/payouts/<id>/bank-confirmation`` with the bank's reference, then
``.../bank-confirmation/approve``; ``decline-conclusion`` clears a wrong proposal).

A payout whose outcome stayed ``unknown`` past the bound (R10-4: a B2B request lost before M-Pesa answered has no id
to ask Transaction Status by) is a reconciliation difference until two admins conclude it from M-Pesa's own record on
the API, each signed in with their second factor (``POST /v1/admin/payouts/<id>/conclusion``, then
``.../conclusion/approve``): ``unresolved`` lists them (an audited read); ``conclude`` and ``approve-conclusion``
exit 5 from the shell, audited ``payout.conclusion_refused`` (LASTREAD L-2: the shell cannot prove who is at the
keyboard, so a shell proposer and an API approver could be one person). ``decline-conclusion`` clears a proposal
(nothing moves).

A receipt two admins concluded a payout with and mistyped is corrected by two admins on the API or the console
(``POST /v1/admin/payouts/<id>/receipt-correction``, then ``.../approve``): ``correct-receipt`` and
``approve-receipt-correction`` exit 5 from the shell, audited, for the same reason; ``decline-receipt-correction``
clears a proposal; ``show`` lists the corrections (the old receipt kept).
"""

from __future__ import annotations

from pathlib import Path

import typer
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.payouts.bank_file import bank_file_csv
from cryptopay.core.payouts.model import ReceiptCorrection

from cryptopay_cli.context import audit_read, operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, private_output
from cryptopay_cli.views import emit_fields, flat, payout_view

app = typer.Typer(
    help="Payouts: list, show one, retry a failed one, query stale ones, bank file and bank confirmations, "
    "unresolved ones, receipt corrections.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_AFTER = typer.Option(None, "--after", help="The last payout id of the previous page (its 'more:' line).")
_LIMIT = typer.Option(100, "--limit", min=1, max=1000, help="Payouts per page.")


def _more(found: list[Payout], limit: int, command: str) -> tuple[list[Payout], str | None]:
    """A page (``found``: asked for ``limit + 1``) and the id to page on after, said on stderr when there is more:
    the list never stops silently at a page (R13-15)."""
    page, more = found[:limit], found[limit - 1].id if len(found) > limit else None
    if more is not None:
        typer.echo(f"more: cryptopay payouts {command} --after {more}", err=True)
    return page, more


_COLUMNS = ["id", "merchant_id", "state", "method", "destination", "amount", "charge", "attempt", "receipt", "note"]
_LIST_COLUMNS = ["id", "whose", "merchant_id", *_COLUMNS[2:]]
_WHOSE = {"settlement": "merchant", "sale": "wallet sale", "bill": "wallet bill", "remittance": "remittance"}


@app.command("list")
def list_payouts(
    state: PayoutState | None = typer.Option(None, "--state", help="Only payouts in this state."),
    merchant: str | None = typer.Option(None, "--merchant", help="Only this merchant's payouts."),
    as_json: bool = _JSON,
) -> None:
    """Every payout, whoever it pays (by state, newest first; ``whose``: a merchant's settlement, a wallet's sale
    or bill, a remittance), or one merchant's (newest first), in one state or in every state."""
    with errors_to_exit_codes():
        listings = services().listings
        found = listings.each_payout(merchant, state) if merchant is not None else listings.every_payout(state)
        views = [payout_view(p) for p in found]
        # every payee's phone number or bank account: an audited read by the operator
        audit_read(
            "payouts.viewed",
            "payouts",
            merchant=merchant or "",
            state=state.value if state else "",
            count=str(len(views)),
        )
    if as_json:
        emit_json({"payouts": views})
    else:
        emit_table([flat(v) | {"whose": _WHOSE.get(v["kind"], v["kind"])} for v in views], _LIST_COLUMNS)


@app.command("show")
def show(payout_id: str = typer.Argument(..., help="The payout's id (po_...)."), as_json: bool = _JSON) -> None:
    """One payout: state, M-Pesa's result (code and its own text), receipt, and every Transaction Status query asked
    about it (exit 3 if unknown)."""
    with errors_to_exit_codes():
        payout = services().payouts.get_payout(payout_id)
        audit_read("payout.viewed", f"payout:{payout.id}")  # the payee's number or account, M-Pesa's name for it
    view = {
        **payout_view(payout),
        "originator_id": payout.originator_id,
        "conversation_id": payout.conversation_id,
        "submitted_at": payout.submitted_at,
        "check_at": payout.check_at,
        "unknown_since": payout.unknown_since,
        "queries": [
            {
                "query_id": query.query_id,
                "asked_at": query.asked_at,
                "originator_id": query.originator_id,
                "conversation_id": query.conversation_id,
                "outcome": query.outcome,
            }
            for query in payout.queries
        ],
        # the receipt corrections two admins approved (the old receipt kept), and one proposed
        "receipt_corrections": [_correction(c) for c in payout.corrections],
        "receipt_correction_proposed": _correction(payout.correction) if payout.correction is not None else None,
    }
    if as_json:
        emit_json(view)
        return
    emit_fields({k: v for k, v in view.items() if k not in ("receipt_corrections", "receipt_correction_proposed")})
    if view["queries"]:
        typer.echo("")
        emit_table(view["queries"], ["query_id", "asked_at", "originator_id", "conversation_id", "outcome"])
    corrections = [*view["receipt_corrections"], *filter(None, [view["receipt_correction_proposed"]])]
    if corrections:
        typer.echo("")
        emit_table(corrections, ["before", "receipt", "reason", "by", "at", "approved_by", "approved_at"])


def _correction(c: ReceiptCorrection) -> dict[str, object]:
    return {
        "before": c.before,
        "receipt": c.receipt,
        "reason": c.reason,
        "by": c.by,
        "at": c.at,
        "approved_by": c.approved_by,
        "approved_at": c.approved_at,
    }


@app.command("retry")
def retry(
    payout_id: str = typer.Argument(..., help="The failed payout's id."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    as_json: bool = _JSON,
) -> None:
    """A new attempt (new id, new hold) for a definitively failed payout; each failure is retried once."""
    with errors_to_exit_codes():
        new = services().payouts.retry_failed_payout(payout_id, actor=operator(actor))
    view = payout_view(new)
    if as_json:
        emit_json(view)
    else:
        typer.echo(
            f"payout {payout_id} retried as {new.id} ({new.amount} to {new.destination}, "
            f"attempt {new.attempt}); the worker's payouts job sends it"
        )


@app.command("query-stale")
def query_stale(as_json: bool = _JSON) -> None:
    """Ask M-Pesa's Transaction Status now about every payout with no result by its deadline."""
    with errors_to_exit_codes():
        asked = services().payouts.query_stale_payouts()
    views = [payout_view(p) for p in asked]
    if as_json:
        emit_json({"queried": views})
        return
    emit_table([flat(v) for v in views], _COLUMNS)
    typer.echo(f"{len(views)} status quer{'y' if len(views) == 1 else 'ies'} sent; the answers arrive by callback")


@app.command("bank-file")
def bank_file(
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write the CSV to this new file, mode 0600; a symbolic link is refused (default: standard output).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing --output file (still 0600, no link)."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """The bank transfers awaiting an operator, as CSV (payout id, bank, account, amount, narrative); audited."""
    if output is None:
        with errors_to_exit_codes():
            waiting = services().payouts.bank_file(actor=operator(actor))
        typer.echo(bank_file_csv(waiting), nl=False)
        return
    with private_output(output, force=force) as handle:  # refused (exit 2) before anything is exported
        with errors_to_exit_codes():
            waiting = services().payouts.bank_file(actor=operator(actor))
        handle.write(bank_file_csv(waiting))
    typer.echo(f"{len(waiting)} bank transfer{'' if len(waiting) == 1 else 's'} written to {output}", err=True)


@app.command("unresolved")
def unresolved(after: str | None = _AFTER, limit: int = _LIMIT, as_json: bool = _JSON) -> None:
    """Payouts unknown past the bound (each a reconciliation difference), with any conclusion proposed, oldest
    first; a page at a time (``--after`` the id a ``more:`` line names)."""
    with errors_to_exit_codes():
        found, more = _more(services().payouts.unresolved(after=after, limit=limit + 1), limit, "unresolved")
        audit_read("payouts.unresolved_viewed", "payouts:unresolved", count=str(len(found)))
    views = [
        payout_view(p)
        | {
            "unknown_since": p.unknown_since,
            "proposed": p.conclusion.summary if p.conclusion is not None else "",
            "evidence": p.conclusion.evidence if p.conclusion is not None else "",
        }
        for p in found
    ]
    if as_json:
        emit_json({"unresolved": views, "more_after": more})
        return
    columns = ["id", "kind", "method", "destination", "amount", "unknown_since", "note", "proposed"]
    emit_table([flat(v) for v in views], columns)


@app.command("bank-confirmations")
def bank_confirmations(after: str | None = _AFTER, limit: int = _LIMIT, as_json: bool = _JSON) -> None:
    """Bank transfers whose confirmation one admin proposed and a second has yet to approve or refuse (on the API or
    the console's /console/payouts/bank-confirmations), oldest first: who proposed, the reference, the amount, the age
    (an audited read: payees' bank accounts); a page at a time (``--after`` the id a ``more:`` line names)."""
    with errors_to_exit_codes():
        svc = services()
        pending = svc.payouts.pending_bank_confirmations(after=after, limit=limit + 1)
        (found, more), now = _more(pending, limit, "bank-confirmations"), svc.clock.now()
        audit_read("payouts.bank_transfers_viewed", "payouts:bank", count=str(len(found)))
    views = [
        payout_view(p)
        | {
            "reference": p.conclusion.receipt if p.conclusion is not None else None,
            "proposed_by": p.conclusion.by if p.conclusion is not None else None,
            "proposed_at": p.conclusion.at if p.conclusion is not None else None,
            "age_minutes": int((now - p.conclusion.at).total_seconds() // 60) if p.conclusion is not None else None,
            "note": p.conclusion.note if p.conclusion is not None else None,
        }
        for p in found
    ]
    if as_json:
        emit_json({"bank_confirmations": views, "more_after": more})
        return
    columns = ["id", "reference", "amount", "proposed_by", "proposed_at", "age_minutes", "note"]
    emit_table([flat(v) for v in views], columns)


_ANY_FLAGS = {"allow_extra_args": True, "ignore_unknown_options": True}  # the old flags still get the pointer


@app.command("confirm-bank", context_settings=_ANY_FLAGS)
def confirm_bank(
    payout_id: str = typer.Argument(..., help="The bank transfer's payout id (from the bank file)."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """Refused from the shell (exit 5, audited): two admins propose and approve a bank confirmation on the API."""
    with errors_to_exit_codes():
        services().payouts.refuse_from_shell(payout_id, by=operator(actor), step="confirm-bank")


@app.command("conclude", context_settings=_ANY_FLAGS)
def conclude(
    payout_id: str = typer.Argument(..., help="The unknown payout's id."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """Refused from the shell (exit 5, audited): two admins propose and approve a conclusion on the API."""
    with errors_to_exit_codes():
        services().payouts.refuse_from_shell(payout_id, by=operator(actor), step="propose")


@app.command("approve-conclusion", context_settings=_ANY_FLAGS)
def approve_conclusion(
    payout_id: str = typer.Argument(..., help="The payout's id."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """Refused from the shell (exit 5, audited): a second admin approves a conclusion on the API."""
    with errors_to_exit_codes():
        services().payouts.refuse_from_shell(payout_id, by=operator(actor), step="approve")


@app.command("correct-receipt", context_settings=_ANY_FLAGS)
def correct_receipt(
    payout_id: str = typer.Argument(..., help="The concluded payout's id."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """Refused from the shell (exit 5, audited): two admins propose and approve a receipt correction on the API or
    the console."""
    with errors_to_exit_codes():
        services().payouts.refuse_from_shell(payout_id, by=operator(actor), step="correct-receipt")


@app.command("approve-receipt-correction", context_settings=_ANY_FLAGS)
def approve_receipt_correction(
    payout_id: str = typer.Argument(..., help="The payout's id."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """Refused from the shell (exit 5, audited): a second admin approves a receipt correction on the API or the
    console."""
    with errors_to_exit_codes():
        services().payouts.refuse_from_shell(payout_id, by=operator(actor), step="approve-receipt-correction")


@app.command("decline-receipt-correction")
def decline_receipt_correction(
    payout_id: str = typer.Argument(..., help="The payout's id."),
    note: str = typer.Option(..., "--note", help="Why, for the audit log."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """Clear the receipt correction proposed for a payout (its receipt stays as booked)."""
    with errors_to_exit_codes():
        payout = services().payouts.decline_receipt_correction(payout_id, by=operator(actor), note=note)
    typer.echo(f"payout {payout.id}: the receipt correction proposed is declined; its receipt stays {payout.receipt}")


@app.command("decline-conclusion")
def decline_conclusion(
    payout_id: str = typer.Argument(..., help="The payout's id."),
    note: str = typer.Option(..., "--note", help="Why, for the audit log."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
) -> None:
    """Clear the conclusion (or bank confirmation) proposed for a payout (nothing moves)."""
    with errors_to_exit_codes():
        payout = services().payouts.decline_conclusion(payout_id, by=operator(actor), note=note)
    typer.echo(f"payout {payout.id}: the conclusion proposed is declined; it stays {payout.state.value}")
