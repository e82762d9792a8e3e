"""The CLI's JSON edge for payments: merchants, invoices, settlement runs, settlements and payouts as plain dicts.

Money is ``{"amount": "98.00", "asset": "USDT"}`` (amounts as strings, never numbers); times are ISO 8601.
Table rows are the same dicts flattened to short strings.
"""

from __future__ import annotations

from typing import Any

from cryptopay.core.identity.model import Merchant
from cryptopay.core.invoices import Invoice
from cryptopay.core.money import Money
from cryptopay.core.payments import Refund, StoreSettings
from cryptopay.core.payments.model import PaymentLink
from cryptopay.core.payouts import Payout
from cryptopay.core.settlement import Settlement
from cryptopay.core.settlement.service import SettlementRun

from cryptopay_cli.output import emit_table

__all__ = [
    "emit_fields",
    "flat",
    "invoice_view",
    "link_view",
    "merchant_view",
    "money",
    "payout_view",
    "refund_view",
    "run_view",
    "settlement_view",
]


def money(value: Money | None) -> dict[str, str] | None:
    """Money in its JSON form, or None."""
    return value.to_json() if value is not None else None


def emit_fields(view: dict[str, Any]) -> None:
    """Print one view as a FIELD / VALUE table (``flat``: money as ``"98.00 USDT"``, nested parts left out)."""
    emit_table([{"field": k, "value": v} for k, v in flat(view).items()], ["field", "value"])


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """A view as a table row: money as ``"98.00 USDT"``, lists joined, nested dicts left out."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict) and set(value) == {"amount", "asset"}:
            out[key] = f"{value['amount']} {value['asset']}"
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = ",".join(value)
        elif not isinstance(value, dict | list):
            out[key] = value
    return out


def merchant_view(merchant: Merchant, store: StoreSettings | None) -> dict[str, Any]:
    profile = merchant.settlement
    return {
        "id": merchant.id,
        "name": merchant.business_name,
        "owner_user_id": merchant.owner_user_id,
        "settlement": profile.schedule.value,
        "method": profile.method.value,
        "destination": profile.destination,
        "minimum": money(profile.minimum),
        "rails": [rail.key for rail in store.rails] if store else [],
        "tolerance_percent": str(store.tolerance_percent) if store else None,
        "created_at": merchant.created_at,
    }


def invoice_view(invoice: Invoice, *, detail: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": invoice.id,
        "merchant_id": invoice.merchant_id,
        "state": invoice.state.value,
        "exception": invoice.exception.value,
        "price": money(invoice.price),
        "order_id": invoice.order_id,
        "created_at": invoice.created_at,
        "expires_at": invoice.expires_at,
    }
    if detail:
        view["options"] = [{"rail": o.rail.key, "address": o.address, "due": money(o.due)} for o in invoice.options]
        view["payments"] = [
            {
                "rail": p.rail_key,
                "tx_hash": p.transfer.tx_hash,
                "index": p.transfer.index,
                "block_number": p.transfer.block_number,
                "amount": money(p.amount),
                "confirmations": p.confirmations,
                "withdrawn": p.withdrawn,
                "held": p.held,  # compliance holds it (a listed payer): not counted, not the merchant's
                "late": p.is_late(invoice.expires_at),
                "paid_at": p.paid_at,
            }
            for p in invoice.payments
        ]
        view["quote_ids"] = list(invoice.quote_ids)
        view["monitoring_until"] = invoice.monitoring_until
    return view


def payout_view(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.id,
        "settlement_id": payout.settlement_id,
        "merchant_id": payout.merchant_id,  # a wallet's sale or bill: the wallet's user id
        "kind": payout.kind.value,  # whose: settlement (a merchant's), sale or bill (a wallet's), remittance
        "state": payout.state.value,
        "method": payout.method.value,
        "destination": payout.destination,
        "route": payout.route,
        "amount": money(payout.amount),
        "charge": money(payout.charge),
        "attempt": payout.attempt,
        "retry_of": payout.retry_of,
        "retried_by": payout.retried_by,
        "receipt": payout.receipt,
        "result_code": payout.result_code,
        "result_desc": payout.result_desc,
        "note": payout.note,
        "held": payout.held,  # why the float cannot cover it yet (operators only: it names the float)
        "created_at": payout.created_at,
        "finished_at": payout.finished_at,
    }


def settlement_view(settlement: Settlement) -> dict[str, Any]:
    return {
        "id": settlement.id,
        "merchant_id": settlement.merchant_id,
        "state": settlement.state.value,
        "cutoff": settlement.cutoff,
        "method": settlement.method.value,
        "destination": settlement.destination,
        "quote_id": settlement.quote_id,
        "converted": money(settlement.converted),
        "credited": money(settlement.credited),
        "fx_spread": money(settlement.fx_spread),
        "conversions": [
            {"quote_id": c.quote_id, "converted": money(c.converted), "credited": money(c.credited)}
            for c in settlement.conversions
        ],
        "payout_ids": list(settlement.payout_ids),
        "remainder": money(settlement.remainder),
        "payout_charges": money(settlement.charges),
        "reason": settlement.reason,
    }


def run_view(run: SettlementRun) -> dict[str, Any]:
    """One merchant's settlement run: what was (or, dry, would be) converted, the parts, the remainder, why."""
    plan, settlement = run.plan, run.settlement
    parts = (
        [{"sequence": p.sequence, "amount": money(p.amount), "fee": money(p.fee)} for p in plan.parts] if plan else []
    )
    return {
        "merchant_id": run.merchant_id,
        "dry_run": run.dry_run,
        "settlement_id": settlement.id if settlement else None,
        "state": settlement.state.value if settlement else None,
        "converted": money(settlement.converted if settlement else None),
        "credited": money(settlement.credited if settlement and settlement.converted else None),
        "to_pay": money(plan.converted if plan else None),
        "parts": parts,
        "payout_ids": [p.id for p in run.payouts],
        "charges": money(plan.total_fees if plan else None),
        "remainder": money(plan.remainder if plan else None),
        "reason": run.reason,
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "invoice_id": refund.invoice_id,
        "merchant_id": refund.merchant_id,
        "state": refund.state.value,
        "rail": refund.rail_key,
        "address": refund.address,
        "amount": money(refund.amount),
        "requested": money(refund.requested),
        "quote_id": refund.quote_id,
        "rate": str(refund.rate) if refund.rate is not None else None,
        "tx_hash": refund.tx_hash,
        "failure": refund.failure,
        "held": refund.held,  # screening_unavailable: waits for a sanctions list (R12-3)
        "requested_by": refund.requested_by,
        "created_at": refund.created_at,
        "funded_by_merchant": money(refund.funded),
        "owed_by_merchant": money(refund.owed),
    }


def link_view(link: PaymentLink, reason: str | None) -> dict[str, Any]:
    """A link as the CLI prints it; ``reason``: why it makes no invoice now (``PaymentLinks.closed_reason``: busy
    with checkouts in progress, or closed), None while it is open."""
    return {
        "id": link.id,
        "public_id": link.public_id,
        "merchant_id": link.merchant_id,
        "description": link.description,
        "amount": money(link.amount),
        "currency": link.currency.code,
        "rails": list(link.rails) if link.rails is not None else [],
        "expires_at": link.expires_at,
        "max_uses": link.max_uses,
        "uses": link.uses,
        "active": link.active,
        "open": reason is None,
        "closed_reason": reason,
        "created_at": link.created_at,
    }
