"""``cryptopay webhooks``: send a delivered or dead-lettered webhook again (same event id and body); set an
endpoint's payload version.

Exit 3 when the delivery or endpoint is unknown (or belongs to another ``--merchant``), 4 while a delivery is still
being retried, 2 for a payload version other than 1 or 2.
"""

from __future__ import annotations

import typer
from cryptopay.core.audit import AuditEvent
from cryptopay.core.webhooks import EndpointChanges, redeliver_webhook, update_endpoint

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, errors_to_exit_codes

app = typer.Typer(help="Merchant webhooks: redeliver one, set an endpoint's payload version.", no_args_is_help=True)


@app.command("payload-version")
def payload_version(
    endpoint_id: str = typer.Argument(..., help="The endpoint's id (whe_...)."),
    version: int = typer.Argument(..., help="1: amounts as flat strings; 2: the API's money objects."),
    merchant: str = typer.Option(..., "--merchant", help="The endpoint's merchant (refused otherwise)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Set the shape of the bodies an endpoint receives from now on (deliveries already made keep theirs). Audited."""
    svc = services()
    with errors_to_exit_codes():
        updated = update_endpoint(
            endpoint_id, merchant, EndpointChanges(payload_version=version), uow_factory=svc.webhooks_uow
        )
        details = {"merchant": merchant, "payload_version": str(updated.payload_version)}
        subject = f"webhook_endpoint:{updated.id}"
        svc.audit.append(AuditEvent(operator(), "webhook_endpoint.updated", subject, svc.clock.now(), details))
    if as_json:
        emit_json({"id": updated.id, "merchant_id": updated.merchant_id, "payload_version": updated.payload_version})
    else:
        typer.echo(f"webhook endpoint {updated.id} now receives payload version {updated.payload_version}")


@app.command("redeliver")
def redeliver(
    delivery_id: str = typer.Argument(..., help="The delivery's id."),
    merchant: str | None = typer.Option(None, "--merchant", help="Refuse unless the delivery is this merchant's."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Queue the delivery again now with a fresh retry schedule; audited ``webhook_delivery.redelivered`` by the
    operator (the merchant, the event) as ``payload-version`` is (reviewer10 R10-3)."""
    svc = services()
    with errors_to_exit_codes():
        again = redeliver_webhook(
            delivery_id,
            merchant_id=merchant,
            uow_factory=svc.webhooks_uow,
            queue=svc.queue,
            clock=svc.clock,
        )
        details = {"merchant": again.merchant_id, "event": again.event_id, "event_type": again.event_type}
        subject = f"webhook_delivery:{again.id}"
        svc.audit.append(AuditEvent(operator(), "webhook_delivery.redelivered", subject, svc.clock.now(), details))
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
