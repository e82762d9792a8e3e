"""``cryptopay wallets paybill-register|paybill-payments|paybill-release|paybill-return|paybill-reverify|
paybill-propose|paybill-decline``: payments customers make to our paybill outside an STK prompt (Daraja C2B), for
operators.

Registered on the ``wallets`` group (``commands/wallets.py``). ``paybill-register`` gives Daraja fresh confirmation
and validation URLs (the token they end in is new; the older one stops working). A payment whose account number
named no wallet that could take it waits in the suspense account. ``paybill-release`` (one operator crediting a
wallet) is refused with exit 5 since crediting became four-eyes, and so is ``paybill-return`` (one operator giving
it back) since returning became four-eyes too (paybillapi): it sends money out of our paybill.

A payment M-Pesa's Transaction Status did not confirm (``unverified``) is asked about again with
``paybill-reverify``. Crediting an unverified or suspended payment to a wallet is four-eyes: one officer proposes the
wallet and a second approves, both on the console (``/console/paybill``, each with a fresh one-time code), never
here: the shell cannot prove which officer is at the keyboard, so one person could propose in officer A's name here
and approve as B there (revpass7 P4). ``paybill-propose`` is refused with exit 5 (audited by the operator,
``paybill.shell_proposal_refused``); ``paybill-decline`` (nothing moves) declines or withdraws a proposal, a credit's
or a return's. Returning the money by M-Pesa's Reversal API is proposed and approved the same way, on the console or
through ``/v1/admin/paybill-payments`` (step-up), never here.
"""

from __future__ import annotations

import typer
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Role
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.wallets.paybill import PaybillPayment, PaybillState

from cryptopay_cli.context import acting_as, operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_ID = typer.Argument(..., help="The paybill payment's id (pbl_...).")
_NOTE = typer.Option(..., "--note", help="Why (kept in the audit log).")
_STAFF = frozenset({Role.ADMIN, Role.COMPLIANCE})
_OFFICER = typer.Option(..., "--officer", help="The officer's email (an account with the admin or compliance role).")
_COLUMNS = ["id", "trans_id", "kes", "state", "user_id", "reason", "bill_ref", "received_at"]


def _row(p: PaybillPayment) -> dict[str, object]:
    return {
        "id": p.id,
        "trans_id": p.trans_id,
        "kes": format(p.kes.amount, "f"),
        "state": p.state.value,
        "user_id": p.user_id or "",
        "reason": p.reason,
        "bill_ref": p.bill_ref,
        "payer": mask_msisdn(try_normalize_msisdn(p.msisdn) or p.msisdn),  # never a whole phone
        "received_at": p.received_at.isoformat(timespec="seconds"),
        "decided_by": p.decided_by or "",
        "note": p.note,
        "proposal": p.proposal.value if p.proposal is not None else "",
        "proposed_to": p.proposed_to or "",
        "proposed_by": p.proposed_by or "",
        # what M-Pesa's record shows we received: a credit or a return needs it (null: none kept)
        "mpesa_record": format(p.mpesa_record.amount, "f") if p.mpesa_record is not None else None,
    }


def paybill_register() -> None:
    """Register fresh C2B confirmation and validation URLs for our paybill with Daraja (audited)."""
    with errors_to_exit_codes():
        registration = services().paybill.register_urls(actor=operator())
    emit_json({"id": registration.id, "shortcode": registration.shortcode, "state": registration.state.value})


def paybill_payments(
    state: str = typer.Option(
        "",
        "--state",
        help="Only these: verifying, unverified, credited, suspended, released, returned, reversing or reversed.",
    ),
    as_json: bool = _JSON,
) -> None:
    """Payments to the paybill outside an STK prompt, newest first (``--state suspended``: those to decide)."""
    with errors_to_exit_codes():
        wanted = _state(state)
        rows = [_row(p) for p in services().paybill.listed(state=wanted, limit=200)]
    if as_json:
        emit_json({"payments": rows})
    else:
        emit_table(rows, _COLUMNS)


def _state(text: str) -> PaybillState | None:
    try:
        return PaybillState(text) if text else None
    except ValueError:
        known = ", ".join(s.value for s in PaybillState)
        raise InvalidInput(f"--state is one of {known}", field="state") from None


def paybill_release(
    payment_id: str = _ID,
    to: str = typer.Argument(..., help="The wallet to credit: user id, phone number or username."),
    note: str = _NOTE,
) -> None:
    """Refused (exit 5, audited ``paybill.shell_proposal_refused`` by the operator): crediting a payment to a wallet
    is four-eyes, proposed and approved on the console or the admin API."""
    with errors_to_exit_codes():
        services().paybill.propose_credit(payment_id, to, officer="", note=note, operator=operator())


def paybill_return(payment_id: str = _ID, note: str = _NOTE) -> None:
    """Refused (exit 5, audited ``paybill.shell_proposal_refused`` by the operator): returning a payment to its payer
    sends money out of our paybill, so it is four-eyes, proposed and approved on the console or the admin API."""
    with errors_to_exit_codes():
        services().paybill.propose_return(payment_id, officer="", note=note, operator=operator())


def paybill_reverify(payment_id: str = _ID, note: str = _NOTE) -> None:
    """Ask M-Pesa's Transaction Status again about an unverified payment, or a suspended one with no M-Pesa record
    (it stays in suspense; the worker sends it; audited)."""
    with errors_to_exit_codes():
        asked = services().paybill.reverify(payment_id, actor=operator(), note=note)
    emit_json(_row(asked))


def paybill_propose(
    payment_id: str = _ID,
    to: str = typer.Argument(..., help="The wallet to credit: user id, phone number or username."),
    officer: str = _OFFICER,
    note: str = _NOTE,
) -> None:
    """Refused (exit 5, audited by the operator): a credit is proposed on the console (``/console/paybill``) by an
    officer signed in with a fresh one-time code; the shell cannot prove which officer is at the keyboard."""
    with errors_to_exit_codes():
        desk = services().paybill
        proposed = desk.propose_credit(
            payment_id,
            to,
            officer=acting_as(officer, "wallets paybill-propose", _STAFF),
            note=note,
            operator=operator(),
        )
    emit_json(_row(proposed))


def paybill_decline(payment_id: str = _ID, officer: str = _OFFICER, note: str = _NOTE) -> None:
    """Decline (or withdraw) the credit or return proposed on a payment: nothing moves (audited)."""
    with errors_to_exit_codes():
        declined = services().paybill.decline(
            payment_id, officer=acting_as(officer, "wallets paybill-decline", _STAFF), note=note
        )
    emit_json(_row(declined))


def register(app: typer.Typer) -> None:
    """Add the paybill commands to the ``wallets`` group."""
    app.command("paybill-register")(paybill_register)
    app.command("paybill-payments")(paybill_payments)
    app.command("paybill-release")(paybill_release)
    app.command("paybill-return")(paybill_return)
    app.command("paybill-reverify")(paybill_reverify)
    app.command("paybill-propose")(paybill_propose)
    app.command("paybill-decline")(paybill_decline)
