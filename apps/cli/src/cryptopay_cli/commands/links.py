"""``cryptopay links``: payment links of a merchant: create, list, show, deactivate.

A link's public id is what customers use (``POST /v1/payment-links/{public_id}/invoices``, the hosted page).
Exit 2 for bad terms, 3 for an unknown merchant or link.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import typer
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.money import Money, asset_by_code

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes
from cryptopay_cli.views import emit_fields, flat, link_view

app = typer.Typer(help="Payment links: create, list, show, deactivate.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_COLUMNS = ["id", "public_id", "description", "amount", "currency", "uses", "max_uses", "open", "expires_at"]


def _amount(amount: str | None, currency: str) -> Money | None:
    if amount is None:
        return None
    try:
        return Money.of(Decimal(amount), asset_by_code(currency.strip().upper()))
    except InvalidOperation:
        raise InvalidInput(f"--amount {amount!r} is not a decimal number") from None


@contextmanager
def _naming_the_option() -> Iterator[None]:
    """A refused amount names the option it came from (``--amount``), with its specific reason."""
    try:
        yield
    except InvalidInput as error:
        if error.details.get("field") != "amount":
            raise
        raise type(error)(f"--amount: {error.message}", **error.details) from None


@app.command("create")
def create(
    merchant: str = typer.Option(..., "--merchant", help="The merchant the link is for."),
    description: str = typer.Option(..., "--description", help="What the customer pays for."),
    amount: str | None = typer.Option(None, "--amount", help="A fixed price (default: the customer enters it)."),
    currency: str = typer.Option("KES", "--currency", help="The price's currency."),
    rails: list[str] | None = typer.Option(None, "--rail", help="A rail to offer (repeatable; default: every one)."),
    expires_in: int | None = typer.Option(None, "--expires-in-minutes", min=1, help="Close the link after this."),
    max_uses: int | None = typer.Option(None, "--max-uses", help="How many invoices it may make."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    as_json: bool = _JSON,
) -> None:
    """A new payment link; prints its public id. A fixed ``--amount`` is within its currency's bounds (KES: whole
    shillings, 10 to 1,000,000; USDT: 1 to 10,000), as is what customers enter on an open link (exit 2 otherwise)."""
    with errors_to_exit_codes(), _naming_the_option():
        svc = services()
        link = svc.payment_links.create_link(
            merchant,
            actor=operator(actor),
            description=description,
            amount=_amount(amount, currency),
            currency=asset_by_code(currency.strip().upper()),
            rails=rails or None,
            expires_at=svc.clock.now() + timedelta(minutes=expires_in) if expires_in else None,
            max_uses=max_uses,
        )
        view = link_view(link, svc.payment_links.closed_reason(link))
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"payment link {link.id}: public id {link.public_id}")


@app.command("list")
def list_links(
    merchant: str = typer.Option(..., "--merchant", help="The merchant whose links to list."), as_json: bool = _JSON
) -> None:
    """The merchant's payment links, newest first."""
    with errors_to_exit_codes():
        svc = services()
        if svc.merchants.get(merchant) is None:
            raise NotFound(f"no merchant {merchant}")
        found, before = [], None
        while page := svc.payment_links.list_links(merchant, before=before, limit=200):
            found += page
            before = page[-1].id
        views = [link_view(link, svc.payment_links.closed_reason(link)) for link in found]
    if as_json:
        emit_json({"links": views})
    else:
        emit_table([flat(v) for v in views], _COLUMNS)


@app.command("show")
def show(link_id: str = typer.Argument(..., help="The link id."), as_json: bool = _JSON) -> None:
    """One payment link, with its uses and whether it is open (exit 3 if unknown)."""
    with errors_to_exit_codes():
        svc = services()
        found = svc.payment_links.get_link(link_id)
        view = link_view(found, svc.payment_links.closed_reason(found))
    if as_json:
        emit_json(view)
    else:
        emit_fields(view)


@app.command("deactivate")
def deactivate(
    link_id: str = typer.Argument(..., help="The link id."),
    actor: str | None = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login."),
    as_json: bool = _JSON,
) -> None:
    """Close a payment link for good (audited)."""
    with errors_to_exit_codes():
        svc = services()
        link = svc.payment_links.deactivate_link(link_id, actor=operator(actor))
        view = link_view(link, svc.payment_links.closed_reason(link))
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"payment link {link.id} is deactivated")
