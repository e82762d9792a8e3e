"""The bank file: bank transfers awaiting an operator, as CSV for a bank's bulk-payment upload or a person.

One row per payout; the narrative is the payout id, which two admins confirm with the bank's own reference (one
proposes it, ``POST /v1/admin/payouts/PAYOUT_ID/bank-confirmation``, a second approves it, ``.../approve``).
Amounts are decimal strings in KES.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import Money
>>> from cryptopay.core.settlement.model import SettlementMethod
>>> from cryptopay.core.payouts.model import Payout
>>> at = datetime(2026, 1, 5, 14, tzinfo=timezone.utc)
>>> payout = Payout(id="po_1", settlement_id="stl_1", merchant_id="m1", originator_id=None,
...                 method=SettlementMethod.BANK, destination="CITI:12345678", amount=Money.of(90000, "KES"),
...                 charge=Money.zero("KES"), hold_id="hld_1", created_at=at)
>>> print(bank_file_csv([payout]), end="")
payout_id,merchant_id,bank_code,bank_name,account_number,amount,currency,narrative,planned_at
po_1,m1,CITI,Citibank N.A. Kenya,12345678,90000.00,KES,cryptopay po_1,2026-01-05T14:00:00+00:00
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from cryptopay.core.payouts.model import Payout
from cryptopay.core.settlement.banks import bank_catalogue

__all__ = ["BANK_FILE_COLUMNS", "bank_file_csv", "bank_file_rows"]

BANK_FILE_COLUMNS = (
    "payout_id",
    "merchant_id",
    "bank_code",
    "bank_name",
    "account_number",
    "amount",
    "currency",
    "narrative",
    "planned_at",
)


def bank_file_rows(payouts: Iterable[Payout]) -> list[dict[str, str]]:
    """One row per bank transfer (the bank named from the catalogue; an unknown code keeps its code as name)."""
    catalogue, rows = bank_catalogue(), []
    for payout in payouts:
        code, _, account = payout.destination.partition(":")
        bank = catalogue.banks.get(code.upper())
        rows.append(
            {
                "payout_id": payout.id,
                "merchant_id": payout.merchant_id,
                "bank_code": code,
                "bank_name": bank.name if bank else code,
                "account_number": account,
                "amount": str(payout.amount.amount),
                "currency": payout.amount.asset.code,
                "narrative": f"cryptopay {payout.id}",
                "planned_at": payout.created_at.isoformat(),
            }
        )
    return rows


def bank_file_csv(payouts: Iterable[Payout]) -> str:
    """The bank file as CSV text (a header row, then one row per payout; ``\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=BANK_FILE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(bank_file_rows(payouts))
    return out.getvalue()
