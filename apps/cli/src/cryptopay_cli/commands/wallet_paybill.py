"""``cryptopay wallets paybill-register|paybill-payments|paybill-release|paybill-return``: payments customers make
to our paybill outside an STK prompt (Daraja C2B), for operators.

Registered on the ``wallets`` group (``commands/wallets.py``). ``paybill-register`` gives Daraja fresh confirmation
and validation URLs (the token they end in is new; the older one stops working). A payment whose account number
named no wallet that could take it waits in the suspense account: ``paybill-release`` credits it to a wallet (its
limits checked again), ``paybill-return`` gives it back to the payer (reverse its TransID in the M-Pesa portal: the
reconciliation then expects that reversal on the statement). Both are audited with the operator's name and note;
exit 3 for an unknown payment or wallet, 4 for one not in suspense, 2 for a decision without a note, 5 over the
wallet's limits.
"""

from __future__ import annotations

import typer
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.wallets.paybill import PaybillPayment, PaybillState

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_ID = typer.Argument(..., help="The paybill payment's id (pbl_...).")
_NOTE = typer.Option(..., "--note", help="Why (kept in the audit log).")
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
    }


def paybill_register() -> None:
    """Register fresh C2B confirmation and validation URLs for our paybill with Daraja (audited)."""
    with errors_to_exit_codes():
        registration = services().paybill.register_urls(actor=operator())
    emit_json({"id": registration.id, "shortcode": registration.shortcode, "state": registration.state.value})


def paybill_payments(
    state: str = typer.Option(
        "", "--state", help="Only these: verifying, credited, suspended, released, returned or unverified."
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
    """Credit a payment waiting in the suspense account to a wallet (its limits checked again; audited)."""
    with errors_to_exit_codes():
        released = services().paybill.release(payment_id, to, actor=operator(), note=note)
    emit_json(_row(released))


def paybill_return(payment_id: str = _ID, note: str = _NOTE) -> None:
    """Give a payment waiting in the suspense account back to its payer (reverse its TransID at M-Pesa; audited)."""
    with errors_to_exit_codes():
        returned = services().paybill.send_back(payment_id, actor=operator(), note=note)
    emit_json(_row(returned))


def register(app: typer.Typer) -> None:
    """Add the paybill commands to the ``wallets`` group."""
    app.command("paybill-register")(paybill_register)
    app.command("paybill-payments")(paybill_payments)
    app.command("paybill-release")(paybill_release)
    app.command("paybill-return")(paybill_return)
