"""Analytics sum credits per Nairobi day and per rail, leaving reversed credits and days outside the span out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from cryptopay.core.money import Money
from cryptopay.core.payments.model import PaymentCredit
from cryptopay.core.reports.analytics import analyse
from cryptopay.core.reports.periods import report_span


def _credit(n: int, at: datetime, amount: str, network: str = "tron", *, reversed_: bool = False) -> PaymentCredit:
    return PaymentCredit(
        id=f"pc_{n}",
        invoice_id=f"inv_{n}",
        merchant_id="m1",
        transfer=(network, f"0x{n}", 0),
        generation=0,
        received=Money.of(amount, "USDT"),
        fee=Money.zero("USDT"),
        entry_id=f"e{n}",
        credited_at=at,
        reversal_entry_id="rev" if reversed_ else None,
    )


def test_volume_per_nairobi_day_and_per_rail():
    """21:30 UTC is the next day in Nairobi; a reversed credit counts nowhere; rails are sorted by volume."""
    span = report_span("day", "2026-03-01", "2026-03-03", today=date(2026, 3, 3))
    credits = [
        _credit(1, datetime(2026, 3, 1, 9, tzinfo=UTC), "10"),
        _credit(2, datetime(2026, 3, 1, 21, 30, tzinfo=UTC), "5", "ethereum"),  # 2 March in Nairobi
        _credit(3, datetime(2026, 3, 2, 9, tzinfo=UTC), "7", reversed_=True),
        _credit(4, datetime(2026, 3, 3, 9, tzinfo=UTC), "2.5"),
    ]
    found = analyse(span, credits, [])
    per_day = {d.isoformat(): m.amount for d, m in found.volume["USDT"].items()}
    assert per_day == {"2026-03-01": Decimal("10"), "2026-03-02": Decimal("5"), "2026-03-03": Decimal("2.5")}
    assert [(r.network, r.received.amount, r.payments) for r in found.rails] == [
        ("tron", Decimal("12.5"), 2),
        ("ethereum", Decimal("5"), 1),
    ]
    assert found.assets == ("USDT",) and found.outcome(date(2026, 3, 1)).total == 0
