"""Speed policy: how long a store waits before a payment counts as confirmed, per rail and amount tier.

Like BTCPay's speed policy, but per rail and invoice size: a store lists tiers ``{rail, up_to_kes, confirmations
or finality}``; an invoice takes, for each of its rails, the first tier (smallest ``up_to_kes`` first, ``None``
meaning any amount) whose bound its worth in shillings does not exceed, and keeps that requirement for its whole
life (a policy changed later does not move an open invoice). A rail without a matching tier waits the deployment's
depth (``CRYPTOPAY_<NETWORK>_CONFIRMATIONS``).

Finality uses the network's own signal where it has one: EVM's ``safe`` and ``finalized`` block tags, Tron's
solidified blocks (``finalized``). Bitcoin has none, so its tiers name confirmations. The risks (README, Speed
policy): 1 EVM confirmation can be undone by a reorg of one block (rare on Ethereum since the merge, more frequent on
Polygon and BSC); ``safe`` (about 1-2 minutes on Ethereum) is unlikely to reorg but may, ``finalized`` (about 13
minutes on Ethereum) needs a third of all staked ether to be burned to undo; a Tron solidified block is
irreversible (about 1 minute); Bitcoin at 1 confirmation can be double-spent by a miner, 3 to 6 is customary.

>>> from decimal import Decimal
>>> from cryptopay.core.rails import rail_for
>>> usdt = rail_for("ethereum", "USDT")
>>> tiers = (SpeedTier("usdt-ethereum", Decimal("10000"), confirmations=1),
...          SpeedTier("usdt-ethereum", None, finality=Finality.FINALIZED))
>>> check_speed_policy(tiers)
>>> speed_for(usdt, tiers, Decimal("5000")).confirmations, speed_for(usdt, tiers, Decimal("50000")).finality
(1, <Finality.FINALIZED: 'finalized'>)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.money import KES, to_decimal
from cryptopay.core.rails import Finality, Rail, rail_for

if TYPE_CHECKING:
    from cryptopay.core.payments.model import StoreSettings
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = [
    "MAX_CONFIRMATIONS",
    "SpeedTier",
    "check_speed_policy",
    "describe",
    "parse_tier",
    "set_speed_policy",
    "speed_for",
]

MAX_CONFIRMATIONS = 1_000
_FIELD = "speed_policy"


def _bound(value: object) -> Decimal | None:
    return None if value is None else to_decimal(value)


@attrs.frozen
class SpeedTier:
    """Invoices worth up to ``up_to_kes`` (``None``: any amount) on ``rail`` wait ``confirmations`` or ``finality``."""

    rail: str
    up_to_kes: Decimal | None = attrs.field(default=None, converter=_bound)
    confirmations: int | None = None
    finality: Finality | None = None

    def requirement(self) -> str:
        """``"3 confirmations"`` or ``"finalized"``, for messages."""
        return self.finality.value if self.finality is not None else f"{self.confirmations} confirmations"


def parse_tier(text: str) -> SpeedTier:
    """A tier from its short form ``RAIL[:UP_TO_KES]=CONFIRMATIONS|safe|finalized`` (the CLI's ``--tier``).

    >>> parse_tier("usdt-ethereum:10000=1")
    SpeedTier(rail='usdt-ethereum', up_to_kes=Decimal('10000'), confirmations=1, finality=None)
    >>> parse_tier("usdt-tron=finalized").finality
    <Finality.FINALIZED: 'finalized'>
    """
    head, sep, wanted = text.strip().partition("=")
    rail, _, bound = head.partition(":")
    if not sep or not rail or not wanted:
        raise InvalidInput(f"{text!r} is not a tier like usdt-ethereum:10000=1 or usdt-tron=finalized")
    up_to = None if bound in ("", "*", "any") else to_decimal(bound)
    if wanted.strip().isdigit():
        return SpeedTier(rail.strip().lower(), up_to, confirmations=int(wanted))
    try:
        return SpeedTier(rail.strip().lower(), up_to, finality=Finality(wanted.strip().lower()))
    except ValueError:
        raise InvalidInput(f"{wanted!r} is neither a number of confirmations nor safe/finalized") from None


def check_speed_policy(tiers: Sequence[SpeedTier]) -> None:
    """Refuse a policy that names no rail this system knows (``usdt-ethereum``...), asks both or neither of
    confirmations and finality, a finality signal the rail's network lacks, a bound that is not a positive
    whole-cent KES amount, or the same bound twice for a rail. A tier for a rail the store does not accept (yet) is
    kept and does nothing until it does."""
    seen: set[tuple[str, Decimal | None]] = set()
    for tier in tiers:
        rail = _rail(tier.rail)
        if (tier.confirmations is None) == (tier.finality is None):
            raise InvalidInput(f"a {tier.rail} tier needs either confirmations or a finality", field=_FIELD)
        if tier.confirmations is not None and not 1 <= tier.confirmations <= MAX_CONFIRMATIONS:
            raise InvalidInput(f"confirmations must be 1 to {MAX_CONFIRMATIONS}", field=_FIELD)
        if tier.finality is not None:
            try:
                rail.network.check_finality(tier.finality)
            except InvalidInput as refused:
                raise InvalidInput(refused.message, field=_FIELD) from None
        bound = tier.up_to_kes
        if bound is not None and (bound <= 0 or bound != bound.quantize(KES.quantum)):
            raise InvalidInput("up_to_kes must be a positive amount of KES with at most 2 places", field=_FIELD)
        if (tier.rail, bound) in seen:
            raise InvalidInput(f"two {tier.rail} tiers share the bound {bound or 'any amount'}", field=_FIELD)
        seen.add((tier.rail, bound))


def _rail(key: str) -> Rail:
    asset, _, network = key.partition("-")
    try:
        return rail_for(network, asset.upper())
    except InvalidInput:
        raise InvalidInput(
            f"the speed policy names {key!r}, which is no rail (e.g. usdt-ethereum)", field=_FIELD
        ) from None


def speed_for(rail: Rail, tiers: Sequence[SpeedTier], worth_kes: Decimal) -> Rail:
    """``rail`` with the confirmations or finality of the first tier that covers ``worth_kes`` (else unchanged)."""
    mine = sorted((t for t in tiers if t.rail == rail.key), key=_order)
    for tier in mine:
        if tier.up_to_kes is None or worth_kes <= tier.up_to_kes:
            if tier.finality is not None:
                return attrs.evolve(rail, finality=tier.finality)
            assert tier.confirmations is not None  # check_speed_policy: one of the two
            return attrs.evolve(rail, confirmations=tier.confirmations, finality=None)
    return rail


def _order(tier: SpeedTier) -> tuple[bool, Decimal]:
    return (tier.up_to_kes is None, tier.up_to_kes or Decimal(0))


def describe(tiers: Sequence[SpeedTier]) -> str:
    """A policy in one line, for audit records: ``usdt-ethereum up to 10000: 1 confirmations; ...``."""
    return "; ".join(f"{t.rail} up to {t.up_to_kes or 'any'}: {t.requirement()}" for t in tiers) or "default"


def set_speed_policy(
    uow: PaymentsUowFactory, merchant_id: str, tiers: Sequence[SpeedTier], *, actor: str, now: datetime
) -> StoreSettings:
    """Replace a store's speed policy (checked first; open invoices keep theirs), with an audit record."""
    from cryptopay.core.payments._support import audit, transaction

    def change(unit: PaymentsUnitOfWork) -> StoreSettings:
        store = unit.stores.get(merchant_id, lock=True)  # the whole document is put back
        if store is None:
            raise NotFound(f"merchant {merchant_id} has no store settings")
        changed = attrs.evolve(store, speed=tuple(tiers))
        unit.stores.put(changed)
        audit(unit, actor, "store.speed_policy", f"merchant:{merchant_id}", now, speed_policy=describe(changed.speed))
        return changed

    return transaction(uow, change)
