"""Rows of the ledger tables to and from the core's attrs values (the only place that knows both)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias

from cryptopay.core.ledger.model import (
    Account,
    AccountBalance,
    AccountKind,
    Entry,
    EntryDraft,
    EntryLine,
    Hold,
    HoldState,
)
from cryptopay.core.money import Asset, Money, asset_by_code
from cryptopay.core.ports.ledger import IdempotencyRecord
from sqlalchemy import RowMapping

__all__ = [
    "Row",
    "account_row",
    "balance_from_row",
    "balance_values",
    "drafted_entries",
    "entry_from_rows",
    "entry_row",
    "hold_from_row",
    "hold_row",
    "idempotency_from_row",
    "idempotency_row",
    "line_rows",
]

_ZERO = Decimal(0)


def _q(value: Decimal, asset: Asset) -> Decimal:
    return value.quantize(asset.quantum)


# A row by column name: a psycopg ``dict_row`` or SQLAlchemy's ``RowMapping`` (keyed by name or column).
Row: TypeAlias = Mapping[str, Any] | RowMapping


def account_row(account: Account) -> dict[str, Any]:
    zero = _q(_ZERO, account.asset)
    return {
        "code": account.code,
        "kind": account.kind.value,
        "asset": account.asset.code,
        "allow_negative": account.allow_negative,
        "debit_normal": account.kind.debit_normal,
        "debits_posted": zero,
        "credits_posted": zero,
        "debits_pending": zero,
        "credits_pending": zero,
        "available": zero,
    }


def account_from_row(row: Row) -> Account:
    kind = _KINDS.get(row["kind"]) or AccountKind(row["kind"])  # a look-up; an unknown kind refused by the Enum
    return Account(row["code"], kind, asset_by_code(row["asset"]), bool(row["allow_negative"]))


_KINDS = {kind.value: kind for kind in AccountKind}


def balance_from_row(row: Row) -> AccountBalance:
    account = account_from_row(row)
    asset = account.asset
    return AccountBalance(
        account,
        _q(row["debits_posted"], asset),
        _q(row["credits_posted"], asset),
        _q(row["debits_pending"], asset),
        _q(row["credits_pending"], asset),
    )


def balance_values(balance: AccountBalance) -> dict[str, Any]:
    return {
        "b_code": balance.account.code,
        "b_dp": balance.debits_posted,
        "b_cp": balance.credits_posted,
        "b_dpe": balance.debits_pending,
        "b_cpe": balance.credits_pending,
        "b_av": balance.available.amount,
    }


def entry_row(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "idempotency_key": entry.idempotency_key,
        "description": entry.description,
        "created_at": entry.created_at,
        "quote_id": entry.quote_id,
        "reverses": entry.reverses,
        "hold_id": entry.hold_id,
        "meta": [list(pair) for pair in entry.metadata],
    }


def line_rows(entry: Entry) -> list[dict[str, Any]]:
    return [
        {
            "entry_id": entry.id,
            "line_no": number,
            "account_code": line.account,
            "asset": line.amount.asset.code,
            "amount": line.amount.amount,
            "balance_before": line.balance_before,
            "balance_after": line.balance_after,
        }
        for number, line in enumerate(entry.lines)
    ]


def entry_from_rows(row: Row, lines: Iterable[Row]) -> Entry:
    stored = []
    for line in sorted(lines, key=lambda r: r["line_no"]):
        asset = asset_by_code(line["asset"])
        stored.append(
            EntryLine(
                line["account_code"],
                Money(_q(line["amount"], asset), asset),
                _q(line["balance_before"], asset),
                _q(line["balance_after"], asset),
            )
        )
    meta = row["meta"]
    return Entry(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        lines=tuple(stored),
        description=row["description"],
        created_at=row["created_at"],
        quote_id=row["quote_id"],
        reverses=row["reverses"],
        hold_id=row["hold_id"],
        metadata=tuple((str(k), str(v)) for k, v in meta),
    )


def drafted_entries(drafts: Iterable[EntryDraft], lines: Iterable[Row]) -> list[Entry]:
    """The entries ``ledger_post_new_entries`` posted, from their drafts and the balance history it returned."""
    history = {(line["entry_id"], line["line_no"]): line for line in lines}
    entries = []
    for draft in drafts:
        stored = []
        for number, posting in enumerate(draft.postings):
            line, asset = history[(draft.id, number)], posting.amount.asset
            stored.append(
                EntryLine(
                    posting.account, posting.amount, _q(line["balance_before"], asset), _q(line["balance_after"], asset)
                )
            )
        entries.append(draft.entry(tuple(stored)))
    return entries


def hold_row(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "idempotency_key": hold.idempotency_key,
        "debit_account": hold.debit_account,
        "credit_account": hold.credit_account,
        "asset": hold.amount.asset.code,
        "amount": hold.amount.amount,
        "state": hold.state.value,
        "created_at": hold.created_at,
        "expires_at": hold.expires_at,
        "posted_amount": hold.posted_amount.amount if hold.posted_amount else None,
        "entry_id": hold.entry_id,
        "description": hold.description,
    }


def hold_from_row(row: Row) -> Hold:
    asset = asset_by_code(row["asset"])
    posted = row["posted_amount"]
    return Hold(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        debit_account=row["debit_account"],
        credit_account=row["credit_account"],
        amount=Money(_q(row["amount"], asset), asset),
        state=HoldState(row["state"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        posted_amount=Money(_q(posted, asset), asset) if posted is not None else None,
        entry_id=row["entry_id"],
        description=row["description"],
    )


def idempotency_row(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "key": record.key,
        "request_hash": record.request_hash,
        "result_kind": record.result_kind,
        "result_id": record.result_id,
    }


def idempotency_from_row(row: Row) -> IdempotencyRecord:
    return IdempotencyRecord(row["key"], row["request_hash"], row["result_kind"], row["result_id"])
