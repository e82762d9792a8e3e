"""``cryptopay fx`` against the FX simulator, configured only through environment variables."""

from __future__ import annotations

import json
from decimal import Decimal

from cryptopay_cli.main import build_app
from typer.testing import CliRunner

app = build_app()

runner = CliRunner()


def env_for(sandbox, **extra):
    return {"CRYPTOPAY_FX_SANDBOX_URL": sandbox.url, "CRYPTOPAY_FX_TIMEOUT_SECONDS": "0.3", **extra}


def test_fx_quote_json_prints_a_locked_quote(fx_sandbox):
    """`fx quote USDT/KES --json` prints bid, ask, mid, sources, times and the quote id, amounts as strings."""
    result = runner.invoke(app, ["fx", "quote", "USDT/KES", "--json"], env=env_for(fx_sandbox))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["id"].startswith("fxq_") and data["pair"] == "USDT/KES"
    assert Decimal(data["bid"]) <= Decimal(data["mid"]) <= Decimal(data["ask"])
    assert isinstance(data["bid"], str)
    assert data["sources"] == ["binance", "exchangerate-api (USD/KES x USDT/USD)"]
    assert data["expires_at"] > data["as_of"]


def test_fx_quote_prints_a_table_for_people(fx_sandbox):
    """Without --json the quote is a two-column table."""
    result = runner.invoke(app, ["fx", "quote", "usd/kes"], env=env_for(fx_sandbox))
    assert result.exit_code == 0, result.output
    assert "bid" in result.stdout and "expires_at" in result.stdout and "exchangerate-api" in result.stdout


def test_fx_quote_exits_6_when_no_fresh_source_answers(fx_sandbox):
    """With every source failing or stale the command exits 6 and says it refuses to quote."""
    fx_sandbox.set_mode("binance", "fail")
    fx_sandbox.set_mode("kraken", "fail")
    fx_sandbox.set_mode("coinbase", "fail")
    fx_sandbox.set_mode("bitstamp", "fail")
    fx_sandbox.set_mode("exchangerate-api", "stale")
    result = runner.invoke(app, ["fx", "quote", "USDT/KES"], env=env_for(fx_sandbox))
    assert result.exit_code == 6
    assert "refusing to quote USDT/KES" in result.stderr


def test_fx_quote_exits_5_on_a_depeg(fx_sandbox):
    """A USDT/USD depeg is a business refusal: exit code 5 with the observed price."""
    fx_sandbox.set_rate("binance", "USDT/USD", "0.90")
    fx_sandbox.set_rate("kraken", "USDT/USD", "0.90")
    result = runner.invoke(app, ["fx", "quote", "USDT/KES"], env=env_for(fx_sandbox))
    assert result.exit_code == 5
    assert "outside 0.98-1.02" in result.stderr


def test_fx_quote_rejects_a_malformed_pair_with_exit_2(fx_sandbox):
    """A pair that is not BASE/QUOTE is invalid input (exit 2)."""
    result = runner.invoke(app, ["fx", "quote", "USDTKES"], env=env_for(fx_sandbox))
    assert result.exit_code == 2
    assert "not a pair" in result.stderr


def test_fx_rates_shows_each_source_and_why_it_was_skipped(fx_sandbox):
    """`fx rates --json` lists fresh rates and the reason each skipped source gave."""
    fx_sandbox.set_mode("binance", "fail")
    result = runner.invoke(app, ["fx", "rates", "USDT/KES", "--json"], env=env_for(fx_sandbox))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["sources"]
    assert {"source": "binance", "pair": "USDT/KES", "status": "binance: HTTP 500"} in rows
    assert any(r["status"] == "fresh" and r["source"].startswith("exchangerate-api") for r in rows)


def test_sandbox_fx_serves_the_simulator_and_prints_how_to_point_at_it():
    """`sandbox fx` serves the simulator on the given port and prints the CRYPTOPAY_FX_SANDBOX_URL to export."""
    result = runner.invoke(app, ["sandbox", "fx", "--port", "0", "--duration", "0.2"])
    assert result.exit_code == 0, result.output
    assert "CRYPTOPAY_FX_SANDBOX_URL=http://127.0.0.1:" in result.stdout and "stopped" in result.stdout


def test_fx_quote_prices_bitcoin_in_shillings_through_the_dollar(fx_sandbox):
    """`fx quote BTC/KES`: no market quotes bitcoin in shillings, so USD/KES x the median BTC/USD of the four
    markets (Binance, Kraken, Coinbase, Bitstamp simulators) is quoted, with the usual margin."""
    result = runner.invoke(app, ["fx", "quote", "BTC/KES", "--json"], env=env_for(fx_sandbox))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["sources"] == ["exchangerate-api (USD/KES x BTC/USD)"]
    # the median of 97012.50, 97005.00, 97020.00 and 96998.00 (each a mid of its bid and ask) is 97008.75
    assert Decimal(data["mid"]) == (Decimal("129.20") * Decimal("97008.75")).quantize(Decimal("0.000001"))


def test_fx_rates_shows_every_market_s_bitcoin_price(fx_sandbox):
    """`fx rates BTC/USD` lists the four markets' fresh prices and why the forex source has none."""
    result = runner.invoke(app, ["fx", "rates", "BTC/USD", "--json"], env=env_for(fx_sandbox))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["sources"]
    assert sorted(r["source"] for r in rows if r["status"] == "fresh") == ["binance", "bitstamp", "coinbase", "kraken"]
