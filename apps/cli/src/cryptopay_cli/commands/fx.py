"""``cryptopay fx``: lock quotes and inspect what each rate source says.

Sources and policy come from ``CRYPTOPAY_FX_*`` environment variables (see ``cryptopay.adapters.fx.settings``);
``CRYPTOPAY_FX_SANDBOX_URL`` points every source at the local simulator (``cryptopay sandbox fx``).
Exit code 6 means no fresh source answered, 5 that the stablecoin is off its peg.
"""

from __future__ import annotations

from typing import Any

import typer
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.pricing import Pricer, Survey

from cryptopay_cli.context import services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes

app = typer.Typer(help="FX: lock quotes from the median of fresh rate sources; inspect the sources.")

_PAIR = typer.Argument(..., help="A currency pair such as USDT/KES (price of one USDT in KES).")
_JSON = typer.Option(False, "--json", help="Print one JSON object instead of a table.")


def _pricer() -> Pricer:
    """The composition root's pricer: sources and cache from the environment, quotes persisted in the database."""
    return services().pricer


def _quote_row(quote: Quote) -> dict[str, Any]:
    return {
        "id": quote.id,
        "pair": str(quote.pair),
        "bid": quote.bid,
        "ask": quote.ask,
        "mid": quote.mid,
        "sources": list(quote.sources),
        "as_of": quote.as_of,
        "expires_at": quote.expires_at,
    }


_MERCHANT = typer.Option(
    None, "--merchant", help="Claim it for this merchant's refunds (refunds create --quote): one refund, its own."
)


@app.command("quote")
def quote(pair: str = _PAIR, merchant_id: str | None = _MERCHANT, as_json: bool = _JSON) -> None:
    """Lock and print a quote for PAIR: bid, ask, mid, sources, as_of, expires_at and the quote id."""
    with errors_to_exit_codes():
        wanted = Pair.parse(pair)
        locked = _pricer().quote(wanted) if merchant_id is None else services().refunds.lock_quote(merchant_id, wanted)
    row = _quote_row(locked)
    if as_json:
        emit_json(row)
        return
    emit_table(
        [{"field": k, "value": ", ".join(v) if isinstance(v, list) else v} for k, v in row.items()], ["field", "value"]
    )


def _survey_rows(survey: Survey) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"source": r.source, "pair": str(r.pair), "mid": r.mid, "as_of": r.as_of, "status": "fresh"}
        for r in survey.rates
    ]
    rows += [{"source": f.source, "pair": str(f.pair), "status": f.reason} for f in survey.failures]
    return rows


@app.command("rates")
def rates(pair: str = _PAIR, as_json: bool = _JSON) -> None:
    """Show what every source says about PAIR now (fresh rates and why others were skipped); locks nothing."""
    with errors_to_exit_codes():
        survey = _pricer().survey(Pair.parse(pair))
    rows = _survey_rows(survey)
    if as_json:
        emit_json({"pair": str(survey.pair), "at": survey.at, "peg": survey.peg, "sources": rows})
        return
    emit_table(rows, ["source", "pair", "mid", "as_of", "status"])
