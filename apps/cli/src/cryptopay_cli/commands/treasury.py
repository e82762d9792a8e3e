"""``cryptopay treasury``: the float and the inventory, sweeps, and operators' records of rebalancing.

``status`` shows the M-Pesa float (the books, M-Pesa's latest word moved by the books since, payouts in flight,
the reserve, what is available, payouts held) and, per network and asset, custody per the books against the chain
(deposit addresses and hot wallet) with the coin that pays the fees. ``record-topup`` books KES moved into the
float (releasing held payouts it covers); ``record-conversion`` books crypto sold for KES with its fills and fee,
and the realised FX gain or loss against customers' quotes. Both are idempotent on ``--reference`` and audited.

Exit codes: 2 bad input, 4 the reference was used with other figures, 5 refused (more sold than bought at
customers' quotes, not enough custody), 6 the database or a chain unavailable.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money, asset_by_code, to_decimal
from cryptopay.core.treasury import Fill, Sweep, SweepState, TreasuryStatus

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, plain

app = typer.Typer(help="The treasury: float and inventory, sweeps, top-ups and conversions.", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
_ACTOR = typer.Option(None, "--actor", help="On whose behalf (ops.on_behalf_of); actor: OS login.")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _status_view(status: TreasuryStatus) -> dict[str, Any]:
    f = status.float
    return {
        "at": status.at,
        "float": {
            "books": plain(f.books.amount),
            "known": _money(f.known.amount if f.known else None),
            "source": f.source,
            "as_of": f.as_of,
            "in_flight": plain(f.in_flight.amount),
            "reserve": plain(f.reserve.amount),
            "available": _money(f.available.amount if f.available is not None else None),
            "working_account": _money(f.working.amount if f.working else None),
            "low": f.low,
            "payouts_held": f.held,
        },
        "inventory": [
            {
                "network": h.network,
                "asset": h.asset.code,
                "books": plain(h.books.amount),
                "deposits": _money(h.deposits.amount if h.deposits else None),
                "hot_wallet": _money(h.hot.amount if h.hot else None),
                "difference": _money(h.difference.amount if h.difference is not None else None),
                "sendable": _money(h.sendable.amount if h.sendable is not None else None),
                "open_sweeps": h.open_sweeps,
            }
            for h in status.inventory
        ],
        "gas": [
            {
                "network": g.network,
                "coin": g.coin.code,
                "fees_booked": plain(g.fees_booked.amount),
                "hot_wallet": _money(g.hot.amount if g.hot else None),
            }
            for g in status.gas
        ],
        "sweeps": {"open": status.sweeps_open, "failed": status.sweeps_failed},
    }


@app.command("status")
def status(
    books_only: bool = typer.Option(False, "--books-only", help="Do not read the chains (quicker)."),
    as_json: bool = _JSON,
) -> None:
    """The M-Pesa float and, per network and asset, the books against the chain."""
    with errors_to_exit_codes():
        view = _status_view(services().treasury.status(read_chains=not books_only))
    if as_json:
        emit_json(view)
        return
    f = view["float"]
    typer.echo(f"M-Pesa float (KES), {f['source']}")
    emit_table([f], ["books", "known", "in_flight", "reserve", "available", "working_account", "payouts_held", "low"])
    typer.echo("\nInventory (custody per the books against the chain)")
    emit_table(view["inventory"], ["network", "asset", "books", "deposits", "hot_wallet", "difference", "open_sweeps"])
    typer.echo("\nGas (the coin that pays network fees)")
    emit_table(view["gas"], ["network", "coin", "fees_booked", "hot_wallet"])
    typer.echo(f"\nsweeps open: {view['sweeps']['open']}, failed: {view['sweeps']['failed']}")


def _sweep_view(sweep: Sweep) -> dict[str, Any]:
    return {
        "id": sweep.id,
        "network": sweep.network,
        "state": sweep.state.value,
        "deposit_address": sweep.deposit_address,
        "seen": str(sweep.seen),
        "swept": str(sweep.swept) if sweep.swept else None,
        "fee": str(sweep.fee) if sweep.fee else None,
        "sweep_tx": sweep.sweep_tx,
        "created_at": sweep.created_at,
        "note": sweep.note,
    }


_SWEEP_COLUMNS = ["id", "network", "state", "deposit_address", "seen", "swept", "fee", "sweep_tx", "note"]


@app.command("sweeps")
def sweeps(
    state: SweepState | None = typer.Option(None, "--state", help="Only sweeps in this state."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    as_json: bool = _JSON,
) -> None:
    """Sweeps of deposit addresses into the hot wallets, oldest first."""
    with errors_to_exit_codes():
        found = services().sweeps.recorded(state=state, limit=limit)
    views = [_sweep_view(s) for s in found]
    if as_json:
        emit_json({"sweeps": views})
    else:
        emit_table(views, _SWEEP_COLUMNS)


@app.command("sweep")
def sweep_now(as_json: bool = _JSON) -> None:
    """Plan the sweeps that are due and advance every open one by a step now (the worker does it every 10 min)."""
    with errors_to_exit_codes():
        done = services().sweeps.run()
    views = [_sweep_view(s) for s in done]
    if as_json:
        emit_json({"sweeps": views})
    else:
        emit_table(views, _SWEEP_COLUMNS)


def _kes(text: str, option: str) -> Money:
    try:
        return Money.of(to_decimal(text), KES)
    except (InvalidInput, ArithmeticError, ValueError):
        raise InvalidInput(f"{option} must be an amount in shillings, e.g. 150000", field=option) from None


@app.command("record-topup")
def record_topup(
    amount: str = typer.Option(..., "--amount", help="KES moved into the M-Pesa float."),
    reference: str = typer.Option(..., "--reference", help="The bank transfer's reference (the idempotency key)."),
    note: str = typer.Option("", "--note", help="A note for the ledger entry and the audit record."),
    actor: str | None = _ACTOR,
    as_json: bool = _JSON,
) -> None:
    """Book KES moved from the bank into the M-Pesa float; held payouts it covers are released."""
    with errors_to_exit_codes():
        done = services().rebalancing.record_topup(
            reference=reference, amount=_kes(amount, "--amount"), note=note, actor=operator(actor)
        )
    view = {
        "reference": done.reference,
        "amount": plain(done.amount.amount),
        "entry": done.entry.id,
        "released": [p.id for p in done.released],
    }
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"top-up {done.reference}: {done.amount} into the float (entry {done.entry.id})")
        typer.echo(f"{len(done.released)} held payouts released: {', '.join(view['released']) or 'none'}")


def _fill(text: str, asset: str) -> Fill:
    amount, _, price = text.partition("@")
    try:
        return Fill(Money.of(to_decimal(amount.strip()), asset_by_code(asset.upper())), Decimal(price.strip()))
    except (InvalidInput, ArithmeticError, ValueError, InvalidOperation):
        raise InvalidInput(f"a fill is AMOUNT@PRICE (e.g. 600@130.25), got {text!r}", field="--fill") from None


@app.command("record-conversion")
def record_conversion(
    reference: str = typer.Option(..., "--reference", help="The trade's reference (the idempotency key)."),
    network: str = typer.Option(..., "--network", help="Where the crypto left our custody (e.g. tron)."),
    fills: list[str] = typer.Option(..., "--fill", help="AMOUNT@PRICE per fill, KES per unit; repeat per fill."),
    fee: str = typer.Option("0", "--fee", help="The venue's fee in KES."),
    venue: str = typer.Option(..., "--venue", help="The exchange or OTC desk."),
    asset: str = typer.Option("USDT", "--asset", help="The crypto sold, by its code (e.g. USDT, BTC)."),
    into: str = typer.Option("bank", "--into", help="Where the KES landed: bank or float."),
    actor: str | None = _ACTOR,
    as_json: bool = _JSON,
) -> None:
    """Book crypto sold for KES, with the realised FX gain or loss against the quotes customers were given."""
    with errors_to_exit_codes():
        done = services().rebalancing.record_conversion(
            reference=reference,
            network=network.strip().lower(),
            fills=[_fill(f, asset) for f in fills],
            fee=_kes(fee, "--fee"),
            venue=venue,
            actor=operator(actor),
            into=into,
        )
    view = {
        "reference": done.reference,
        "sold": str(done.sold),
        "proceeds": plain(done.proceeds.amount),
        "fee": plain(done.fee.amount),
        "cost": plain(done.cost.amount),
        "gain": plain(done.gain.amount),
        "entry": done.entry.id,
    }
    if as_json:
        emit_json(view)
    else:
        emit_table([view], list(view))
