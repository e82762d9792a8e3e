"""Settlements: a merchant's USDT sold at a locked quote and paid out over M-Pesa; listed, and run on demand.

``POST /v1/settlements/run`` settles the merchants whose cut-off has passed (admins: all, or the one named;
a merchant: itself), or with ``dry_run`` shows the plan without writing anything. It only plans and holds the
payouts; the worker sends them to M-Pesa (the ``payouts.start`` job). It needs an ``Idempotency-Key``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs
from cryptopay.core.errors import NotFound
from cryptopay.core.identity import Role
from cryptopay.core.money import Money
from cryptopay.core.settlement import Settlement, SettlementMethod, SettlementState
from cryptopay.core.settlement.policy import PayoutPlan
from cryptopay.core.settlement.service import SettlementRun
from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from cryptopay_http.auth import current_principal, not_found, require
from cryptopay_http.blueprints.payouts import PayoutView
from cryptopay_http.convert import json_response, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.payments_edge import ACTING_MERCHANT, acting_merchant, check_tenant, payments
from cryptopay_http.query import MERCHANT_ID, query

__all__ = ["SettlementView", "bp"]

bp = Blueprint("settlements", __name__)
_TAGS = ("settlements",)


@attrs.frozen
class SettlementConversionView:
    """One asset sold in a settlement: ``converted`` at quote ``quote_id`` gave ``credited`` shillings."""

    quote_id: str
    converted: Money
    credited: Money
    fx_spread: Money


@attrs.frozen
class SettlementView:
    """One merchant's settlement at one cut-off: what was sold at which quote, and the payouts it planned."""

    id: str
    merchant_id: str
    state: SettlementState
    cutoff: datetime
    method: SettlementMethod
    destination: str
    quote_id: str | None
    converted: Money | None
    credited: Money
    fx_spread: Money
    remainder: Money
    payout_ids: list[str]
    reason: str
    created_at: datetime
    complete_by: datetime
    completed_at: datetime | None
    conversions: list[SettlementConversionView] = attrs.field(
        factory=list, metadata={"description": "every asset sold (USDT, USDC, BTC), each at its own quote"}
    )
    payout_charges: Money | None = attrs.field(
        default=None,
        metadata={"description": "the payout charges taken on top of the parts (the store's payout charge, KES)"},
    )

    @classmethod
    def of(cls, s: Settlement) -> SettlementView:
        return cls(
            s.id,
            s.merchant_id,
            s.state,
            s.cutoff,
            s.method,
            s.destination,
            s.quote_id,
            s.converted,
            s.credited,
            s.fx_spread,
            s.remainder,
            list(s.payout_ids),
            s.reason,
            s.created_at,
            s.complete_by,
            s.completed_at,
            [SettlementConversionView(c.quote_id, c.converted, c.credited, c.fx_spread) for c in s.conversions],
            s.charges,
        )


@attrs.frozen
class PlanView:
    """What a run pays (or would pay): parts of whole shillings, their charges, and what waits for the next run."""

    converted: Money
    quote_id: str | None
    parts: list[Money]
    total_paid: Money
    total_fees: Money
    remainder: Money
    charges: list[Money] = attrs.field(
        factory=list, metadata={"description": "each part's payout charge (in the order of `parts`), taken on top"}
    )

    @classmethod
    def of(cls, plan: PayoutPlan) -> PlanView:
        parts = [p.amount for p in plan.parts]
        charges = [p.fee for p in plan.parts]
        return cls(plan.converted, plan.quote_id, parts, plan.total_paid, plan.total_fees, plan.remainder, charges)


@attrs.frozen
class RunView:
    """The outcome of one merchant's run; ``reason`` says why nothing was paid, when nothing was."""

    merchant_id: str
    reason: str
    dry_run: bool
    settlement: SettlementView | None
    payouts: list[PayoutView]
    plan: PlanView | None

    @classmethod
    def of(cls, run: SettlementRun) -> RunView:
        return cls(
            run.merchant_id,
            run.reason,
            run.dry_run,
            SettlementView.of(run.settlement) if run.settlement else None,
            [PayoutView.of(p) for p in run.payouts],
            PlanView.of(run.plan) if run.plan else None,
        )


@attrs.frozen
class RunSettlements:
    """Which merchant to settle (admins may leave it out: every merchant), and whether only to plan."""

    merchant_id: str | None = None
    dry_run: bool = False


@attrs.frozen
class RunResult:
    runs: list[RunView]


@bp.get("/v1/settlements")
@operation(
    "List the merchant's settlements (admins: ?merchant_id=)",
    response=PageOf(SettlementView),
    tags=_TAGS,
    description=(
        "The merchant's settlements, newest first: each converts what its confirmed invoices credited "
        "into shillings (with the FX spread) and pays them out by the merchant's settlement method, in "
        "one or more payouts. Admins name the merchant with `merchant_id`."
    ),
    problems=(*ACTING_MERCHANT,),
)
@require(scope="settlements:read")
@paginated("stl")
@query(MERCHANT_ID)
def list_settlements() -> Response:
    merchant_id = acting_merchant(request.args.get("merchant_id"))

    def fetch(before: str | None, limit: int) -> list[Settlement]:
        found: list[Settlement] = payments().listings.settlements(merchant_id, before=before, limit=limit)
        return found

    return json_response(paginate(fetch, SettlementView.of))


class SettlementId(BaseConverter):
    """A settlement id: any path segment but ``run``, which names the run operation (so GET .../run is a 405)."""

    regex = r"(?!run$)[^/]+"
    schema: ClassVar[dict[str, object]] = {"not": {"const": "run"}}


@bp.record_once
def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("settlement_id", SettlementId)


@bp.get("/v1/settlements/<settlement_id:settlement_id>")
@operation(
    "Read a settlement",
    response=SettlementView,
    tags=_TAGS,
    errors=(405,),
    description=(
        "One settlement: its state, what it converted and credited, its conversions (quote, converted, "
        "credited, FX spread) and when it must be complete. `GET /v1/settlements/run` is a 405 (`run` "
        "names the run operation)."
    ),
)
@require(scope="settlements:read")
def get_settlement(settlement_id: str) -> Response:
    with payments().uow() as uow:
        settlement: Settlement | None = uow.settlements.get(settlement_id)
    if settlement is None:
        raise not_found("settlement", settlement_id)
    check_tenant("settlement", settlement_id, settlement.merchant_id)
    return json_response(SettlementView.of(settlement))


@bp.post("/v1/settlements/run")
@operation(
    "Run settlements now (admins: all or one merchant; merchants: their own)",
    request=RunSettlements,
    response=RunResult,
    tags=_TAGS,
    errors=(404,),
    description=(
        "Settles now instead of waiting for the schedule: converts the merchant's settleable balance and "
        "plans and starts its payouts to the saved settlement destination. An admin may leave "
        "`merchant_id` out to run every merchant; a merchant runs its own. With `dry_run` nothing is "
        "written and the plan (parts, charges, what waits for the next run) is returned. Each run's "
        "`reason` says why nothing was paid, when nothing was."
    ),
    problems=(
        *ACTING_MERCHANT,
        (NotFound, "the merchant has no store settings, or names the remittance desk"),
    ),
)
@require(scope="settlements:write")
@idempotent
def run_settlements() -> Response:
    body = read_body(RunSettlements, optional=True)
    everyone = current_principal().role is Role.ADMIN and body.merchant_id is None
    merchant_id = None if everyone else acting_merchant(body.merchant_id)
    runs = payments().settling.run_settlements(merchant_id=merchant_id, dry_run=body.dry_run)
    return json_response(RunResult([RunView.of(run) for run in runs]))
