"""``cryptopay webhooks``: send a delivered or dead-lettered webhook again (same event id and body).

Exit 3 when the delivery is unknown (or belongs to another ``--merchant``), 4 while it is still being retried.
"""

from __future__ import annotations

import typer
from cryptopay.core.webhooks import redeliver_webhook

from cryptopay_cli.context import services
from cryptopay_cli.output import emit_json, errors_to_exit_codes

app = typer.Typer(help="Merchant webhooks: redeliver one.", no_args_is_help=True)


@app.command("redeliver")
def redeliver(
    delivery_id: str = typer.Argument(..., help="The delivery's id."),
    merchant: str | None = typer.Option(None, "--merchant", help="Refuse unless the delivery is this merchant's."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Queue the delivery again now with a fresh retry schedule."""
    svc = services()
    with errors_to_exit_codes():
        again = redeliver_webhook(
            delivery_id,
            merchant_id=merchant,
            uow_factory=svc.webhooks_uow,
            queue=svc.queue,
            clock=svc.clock,
        )
    view = {
        "id": again.id,
        "merchant_id": again.merchant_id,
        "event_id": again.event_id,
        "event_type": again.event_type,
        "status": again.status.value,
        "next_attempt_at": again.next_attempt_at,
    }
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"webhook delivery {again.id} ({again.event_type}) queued again")
