"""Wallet deposits held for compliance, for officers (role ``compliance``): review8 R7.

A deposit held for a listed sender, a blocking monitoring rule or a frozen wallet (or with a compliance alert raised
on it) is released to its wallet by two officers, never by one person nor from the shell (``wallets.deposits``):
``GET /v1/admin/compliance/held-deposits`` lists those waiting (audited), ``GET .../held-deposits/<id>`` reads one,
``POST .../release`` proposes its release with a note (a step-up), ``.../approve`` (a second officer, a step-up:
money moves) credits it and closes its alerts with no action in the same unit of work, ``.../decline`` clears the
proposal. The proposer approving is a 409 ``same_officer``; an officer who holds the wallet is refused (403).
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.compliance.own_party import OwnParty
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.money import Money
from cryptopay.core.wallets.deposit import Deposit
from cryptopay.core.wallets.deposits import Deposits
from flask import Blueprint, Response

from cryptopay_http.auth import current_principal
from cryptopay_http.officer_desk import FOUR_EYES, OfficerDesk
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = Blueprint("compliance_deposits", __name__)


@attrs.frozen
class HeldDepositView:
    """A wallet deposit as compliance reads it: why it is held (the truth, which its holder reads as ``review``),
    its alerts and the release proposed, if any."""

    id: str
    user_id: str
    network: str
    amount: Money
    state: str = attrs.field(metadata={"description": "held (waiting for a decision), credited once released"})
    hold_reason: str | None = attrs.field(
        metadata={"description": "sanctioned_sender, compliance, wallet_frozen (four-eyes) or an ordinary hold"}
    )
    hold_detail: str | None
    from_address: str | None
    tx: str
    alerts: list[str] = attrs.field(metadata={"description": "the compliance alerts the release concludes"})
    proposed_by: str | None = attrs.field(metadata={"description": "four-eyes: the officer who proposed a release"})
    proposed_at: datetime | None
    proposal_note: str | None
    seen_at: datetime

    @classmethod
    def of(cls, d: Deposit) -> HeldDepositView:
        p = d.proposal
        return cls(
            d.id,
            d.user_id,
            d.network,
            d.amount,
            d.state.value,
            d.hold_reason.value if d.hold_reason is not None else None,
            d.hold_detail,
            d.from_address,
            f"{d.tx_hash}#{d.index}",
            list(d.alerts),
            None if p is None else p.by,
            None if p is None else p.at,
            None if p is None else p.note,
            d.seen_at,
        )


def _deposits() -> Deposits:
    return runtime().services.wallet_deposits


_DECIDED = (
    (NotFound, "no deposit with this id"),
    (InvalidState, "it is not held, or (approve, decline) no release is proposed"),
    (InvalidInput, "no note saying why"),
    (OwnParty, "the wallet is yours"),
    (Conflict, "a release is proposed already (release), or it changed since it was proposed (approve)"),
    (Refused, "the wallet is frozen: it receives nothing until it is unfrozen"),
)


_DEPOSITS = OfficerDesk(
    bp, "/v1/admin/compliance/held-deposits", "deposit", "deposit_id", HeldDepositView, HeldDepositView.of
)

_DEPOSITS.waiting(
    "held_deposits",
    "Wallet deposits held for compliance, awaiting two officers' decision (officers)",
    prefix="dep",
    description=(
        "Deposits held for a listed sender, a blocking monitoring rule or a frozen wallet or holder (or with a "
        "compliance alert raised on them), by id; ordinary holds (dust, an asset, a price, the tier) are not "
        "compliance's. Audited."
    ),
    fetch=lambda after, limit: _deposits().waiting(after=after, limit=limit),
)
_DEPOSITS.one(
    "held_deposit",
    "A wallet deposit, as compliance reads it (officers)",
    description="Why it is held, its alerts and the release proposed, if any. The read is audited.",
    problems=((NotFound, "no deposit with this id"),),
    get=lambda deposit_id: _deposits().deposit(deposit_id),
)
_DEPOSITS.noted(
    "release",
    "propose_deposit_release",
    lambda: _deposits().propose_release,
    "Propose releasing a held deposit to its wallet (officers; four-eyes)",
    step_up=True,
    description=(
        "Proposes crediting the held deposit to its wallet. Nothing moves and its alerts stay open until a second "
        "officer approves it (`.../approve`). Audited `wallet.deposit_release_proposed` with the note; needs a "
        "step-up."
    ),
    problems=_DECIDED,
)


@_DEPOSITS.post(
    "approve",
    "Approve the release another officer proposed on a held deposit (officers; four-eyes)",
    request=None,
    step_up=True,
    description=(
        "Credits the deposit to its wallet in the approver's name with the proposal's note, counted in what the "
        "wallet received, and closes its alerts in a case closed with no action, in one unit of work. The proposer "
        "cannot approve it (409 `same_officer`, audited); a frozen wallet receives nothing (422). Audited "
        "`wallet.deposit_released` naming both officers; needs a step-up."
    ),
    problems=(*_DECIDED, *FOUR_EYES),
)
def approve_deposit_release(deposit_id: str) -> Response:
    return _DEPOSITS.answer(_deposits().approve_release(deposit_id, officer=current_principal().id))


_DEPOSITS.noted(
    "decline",
    "decline_deposit_release",
    lambda: _deposits().decline_release,
    "Decline (or withdraw) the release proposed on a held deposit (officers)",
    step_up=False,
    description="Clears the proposal, saying why; nothing moves and the deposit stays held. Audited.",
    problems=_DECIDED,
)
