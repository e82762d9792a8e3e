"""The CLI prints amounts positionally: a zero bitcoin or ether is ``0.00000000`` / ``0.000...``, never ``0E-8`` (R14-20)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptopay.core.money import BTC, ETH, KES, USDT, Money
from cryptopay.core.treasury.cover import FloatPosition
from cryptopay.core.treasury.status import GasHolding, Holding, TreasuryStatus
from cryptopay_cli.commands.treasury import _status_view
from cryptopay_cli.output import emit_table


def test_treasury_status_prints_zero_coins_without_an_exponent(capsys: pytest.CaptureFixture[str]) -> None:
    """`treasury status`'s inventory and gas tables (the reviewer's `bitcoin BTC 0E-8 0E-8 0E-8`, `ethereum ETH 0E-18`)."""
    at = datetime(2026, 12, 8, tzinfo=UTC)
    status = TreasuryStatus(
        at=at,
        float=FloatPosition(at=at, books=Money.zero(KES), known=None, source="unknown", as_of=None),
        inventory=(
            Holding(network="bitcoin", asset=BTC, books=Money.zero(BTC), deposits=Money.zero(BTC), hot=Money.zero(BTC)),
            Holding(network="ethereum", asset=USDT, books=Money.of("141.284877", USDT)),
        ),
        gas=(GasHolding(network="ethereum", coin=ETH, fees_booked=Money.zero(ETH), hot=Money.of("1E-18", ETH)),),
        sweeps_open=0,
        sweeps_failed=0,
    )
    view = _status_view(status)
    emit_table(view["inventory"], ["network", "asset", "books", "deposits", "hot_wallet", "difference"])
    emit_table(view["gas"], ["network", "coin", "fees_booked", "hot_wallet"])
    printed = capsys.readouterr().out
    assert "E-" not in printed
    assert printed.split("\n")[1].split() == ["bitcoin", "BTC"] + ["0.00000000"] * 4
    assert "141.284877" in printed
    assert printed.split("\n")[4].split() == ["ethereum", "ETH", "0." + "0" * 18, "0." + "0" * 17 + "1"]
    assert str(Money.zero(BTC)) == "0.00000000 BTC"  # Money in the CLI's sentences and rows too
