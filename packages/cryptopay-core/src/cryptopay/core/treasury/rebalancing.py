"""Rebalancing, recorded by operators: KES moved into the float, and crypto sold for KES on an exchange or OTC desk.

Each is one balanced ledger entry (``flows.record_float_topup``, ``flows.record_conversion``) and one audit record,
in one unit of work, idempotent on the operator's reference: the same reference with the same figures returns the
first entry (and audits nothing more); with other figures it is an ``IdempotencyConflict``.

A conversion's realised FX result is measured against the quotes customers were given: the crypto bought from
merchants at settlement sits in ``equity:trading:<ASSET>`` against the KES paid for it (at each quote's mid) in the
same entries' ``equity:trading:KES`` lines, so their ratio is the average cost of what is unsold. Selling takes
that cost out of the trading accounts; proceeds above it are ``revenue:fx_gain:KES``, below it
``expenses:fx_loss:KES``.

>>> from cryptopay.core.testing.treasury import rebalancing_stack
>>> stack = rebalancing_stack(bought="1000", paid="129000")   # 1,000 USDT settled at 129 KES each
>>> done = stack.rebalancing.record_conversion(reference="otc-7", network="tron", venue="OTC desk",
...     fills=[Fill(Money.of("600", "USDT"), Decimal("130")), Fill(Money.of("400", "USDT"), Decimal("131"))],
...     fee=Money.of("250", "KES"), actor="ops@example.co.ke")
>>> str(done.proceeds), str(done.cost), str(done.gain)
('130400.00 KES', '129000.00 KES', '1400.00 KES')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.errors import InvalidInput, NotFound, Refused
from cryptopay.core.ledger import Entry, Ledger
from cryptopay.core.ledger.service import trading_account
from cryptopay.core.money import KES, Asset, Money, Rounding
from cryptopay.core.payments._support import audit, transaction
from cryptopay.core.ports.system import Clock
from cryptopay.core.treasury.guard import FloatGuard
from cryptopay.core.treasury.model import BookedConversion

if TYPE_CHECKING:
    from cryptopay.core.payouts.model import Payout
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["Conversion", "Fill", "Rebalancing", "TopUp", "booked_conversions"]

DESTINATIONS = {"bank": flows.BANK, "float": flows.FLOAT}
_ENTRIES = 1_000_000  # every entry of a trading account (an operator's occasional command)
_CONVERSION = "treasury:conversion:"  # the idempotency key of a conversion's entry, before its reference


@attrs.frozen
class Fill:
    """One fill of a sale: how much crypto went at what KES price per unit."""

    amount: Money
    price: Decimal


@attrs.frozen(kw_only=True)
class TopUp:
    reference: str
    amount: Money
    entry: Entry
    released: tuple[Payout, ...] = ()  # held payouts the float covers now


@attrs.frozen(kw_only=True)
class Conversion:
    """A recorded sale: what was sold, the gross proceeds, the fee, its cost at customers' quotes, the result."""

    reference: str
    sold: Money
    proceeds: Money
    fee: Money
    cost: Money
    entry: Entry

    @property
    def gain(self) -> Money:
        """Realised FX gain (negative: a loss) against the quotes customers were given."""
        return self.proceeds - self.cost

    @property
    def average_price(self) -> Decimal:
        return self.proceeds.amount / self.sold.amount


class Rebalancing:
    """The operator's records of money moved into the float and crypto sold for KES."""

    def __init__(
        self, *, uow: PaymentsUowFactory, ledger: Ledger, clock: Clock, guard: FloatGuard | None = None
    ) -> None:
        self._uow, self._ledger, self._clock, self._guard = uow, ledger, clock, guard

    def record_topup(self, *, reference: str, amount: Money, actor: str, note: str = "") -> TopUp:
        """Book KES moved from the bank into the M-Pesa float, then release held payouts it now covers.

        A bank reference is one reference whatever its case and surrounding space (R10-14): the entry's idempotency
        key is ``treasury:topup:<reference, case-folded>``; a reference equal ignoring case to one booked already (one
        booked before R10-14 keeps its key as typed then, found among the bank account's entries) names that top-up:
        the same amount and note replay it, another amount is an ``IdempotencyConflict``."""
        typed = _reference(reference)
        if amount.asset != KES or not amount.is_positive():
            raise InvalidInput("a top-up is a positive amount of KES", field="amount")
        key, reference = self._topup_key(typed)

        def work(uow: PaymentsUnitOfWork) -> Entry:
            first = uow.ledger.find_idempotency(key) is None
            entry = flows.record_float_topup(
                self._ledger, reference=reference, amount=amount, note=note, session=uow.ledger, key=key
            )
            if first:
                audit(
                    uow,
                    actor,
                    "treasury.topup",
                    f"topup:{reference}",
                    self._clock.now(),
                    amount=amount,
                    entry=entry.id,
                    note=note,
                )
            return entry

        entry = transaction(self._uow, work)
        released = tuple(self._guard.release_covered()) if self._guard is not None else ()
        return TopUp(reference=reference, amount=amount, entry=entry, released=released)

    def _topup_key(self, typed: str) -> tuple[str, str]:
        """The idempotency key and reference of a top-up of ``typed``: those of a top-up booked under the same
        reference ignoring case, else the case-folded key and the reference as typed."""
        folded = f"{_TOPUP}{typed.casefold()}"
        if (found := self._ledger_entry(folded)) is not None:
            return folded, dict(found.metadata).get("reference", typed)
        for entry in self._ledger.walk(flows.BANK):  # before R10-14 the key kept the reference as typed
            key = entry.idempotency_key
            if key.startswith(_TOPUP) and key.casefold() == folded:
                return key, dict(entry.metadata).get("reference", key.removeprefix(_TOPUP))
        return folded, typed

    def _ledger_entry(self, key: str) -> Entry | None:
        def read(uow: PaymentsUnitOfWork) -> Entry | None:
            record = uow.ledger.find_idempotency(key)
            return uow.ledger.get_entry(record.result_id) if record is not None else None

        return transaction(self._uow, read)

    def record_conversion(
        self,
        *,
        reference: str,
        network: str,
        fills: Sequence[Fill],
        fee: Money,
        venue: str,
        actor: str,
        into: str = "bank",
    ) -> Conversion:
        """Book crypto sold for KES: it leaves custody on ``network``, the proceeds (less ``fee``) land ``into``
        the bank or the float, and the realised FX gain or loss against customers' quotes is booked."""
        reference = _reference(reference)
        sold, proceeds = _totals(fills)
        if fee.asset != KES or fee.is_negative() or fee >= proceeds:
            raise InvalidInput("the fee is KES, not negative and less than the proceeds", field="fee")
        if into not in DESTINATIONS:
            raise InvalidInput("proceeds go into the bank or the float", field="into")
        if not venue.strip():
            raise InvalidInput("name the exchange or desk", field="venue")
        cost = self._cost(sold)
        metadata = {
            "reference": reference,
            "venue": venue.strip(),
            "network": network,
            "fills": ";".join(f"{f.amount.amount}@{f.price}" for f in fills),
            "average_cost": str((cost.amount / sold.amount).quantize(Decimal("0.0001"))),
        }

        def work(uow: PaymentsUnitOfWork) -> Entry:
            first = uow.ledger.find_idempotency(f"{_CONVERSION}{reference}") is None
            entry = flows.record_conversion(
                self._ledger,
                reference=reference,
                network=network,
                sold=sold,
                proceeds=proceeds,
                fee=fee,
                cost=cost,
                into=DESTINATIONS[into],
                metadata=metadata,
                session=uow.ledger,
            )
            if first:
                audit(
                    uow,
                    actor,
                    "treasury.conversion",
                    f"conversion:{reference}",
                    self._clock.now(),
                    sold=sold,
                    proceeds=proceeds,
                    fee=fee,
                    cost=cost,
                    gain=proceeds - cost,
                    entry=entry.id,
                    **metadata,
                )
            return entry

        entry = transaction(self._uow, work)
        if self._guard is not None and into == "float":
            self._guard.release_covered()  # proceeds paid into the float may cover held payouts
        return Conversion(reference=reference, sold=sold, proceeds=proceeds, fee=fee, cost=cost, entry=entry)

    def cost_basis(self, asset_code: str) -> tuple[Money, Money]:
        """The unsold crypto bought at customers' quotes and the KES it cost: (units, KES)."""
        code = trading_account(asset_code)
        units, kes = Decimal(0), Decimal(0)
        for entry in self._ledger.entries(account=code, limit=_ENTRIES):
            for line in entry.lines:
                if line.account == code:
                    units -= line.amount.amount  # credits (negative) are crypto bought from merchants
                elif line.account == trading_account(KES.code):
                    kes += line.amount.amount  # debits (positive) are the KES paid for it
        return Money.rounded(units, asset_code, Rounding.DOWN), Money.rounded(kes, KES, Rounding.HALF_EVEN)

    def _cost(self, sold: Money) -> Money:
        units, kes = self.cost_basis(sold.asset.code)
        if units < sold:
            raise Refused(
                f"only {units} was bought at customers' quotes and is unsold: {sold} cannot be sold against them"
            )
        return Money.rounded(kes.amount * sold.amount / units.amount, KES, Rounding.HALF_EVEN)


_TOPUP = "treasury:topup:"


def _reference(reference: str) -> str:
    text = reference.strip()
    if not text or len(text) > 100 or any(c.isspace() for c in text):
        raise InvalidInput("a reference is 1 to 100 characters without spaces", field="reference")
    return text


def _totals(fills: Sequence[Fill]) -> tuple[Money, Money]:
    if not fills:
        raise InvalidInput("a conversion has at least one fill", field="fills")
    asset = fills[0].amount.asset
    if asset.fiat or any(f.amount.asset != asset for f in fills):
        raise InvalidInput("every fill sells the same crypto asset", field="fills")
    if any(not f.amount.is_positive() or f.price <= 0 for f in fills):
        raise InvalidInput("every fill has a positive amount and price", field="fills")
    sold = sum((f.amount for f in fills), Money.zero(asset))
    gross = sum((f.amount.amount * f.price for f in fills), Decimal(0))
    return sold, Money.rounded(gross, KES, Rounding.DOWN)


def booked_conversions(ledger: Ledger, assets: Iterable[Asset]) -> list[BookedConversion]:
    """Every conversion booked of ``assets`` (the ``treasury:conversion:<reference>`` entries of their trading
    accounts), oldest first, with what its recorded fills sold: the reconciliation's ``custody`` check takes them
    out of custody (the entry's custody line must match them, or the check reports the difference).

    >>> from cryptopay.core.testing.treasury import rebalancing_stack
    >>> from cryptopay.core.money import USDT
    >>> stack = rebalancing_stack(bought="1000", paid="129000")
    >>> _ = stack.rebalancing.record_conversion(reference="otc-7", network="tron", venue="OTC desk",
    ...     fills=[Fill(Money.of("600", "USDT"), Decimal("130")), Fill(Money.of("400", "USDT"), Decimal("131"))],
    ...     fee=Money.of("250", "KES"), actor="ops@example.co.ke")
    >>> [(c.reference, c.network, str(c.sold)) for c in booked_conversions(stack.ledger, [USDT])]
    [('otc-7', 'tron', '1000.000000 USDT')]
    """
    found: list[BookedConversion] = []
    for asset in dict.fromkeys(a for a in assets if not a.fiat):
        for entry in reversed(_entries_of(ledger, trading_account(asset.code))):
            if not entry.idempotency_key.startswith(_CONVERSION):
                continue
            metadata = dict(entry.metadata)
            fills = (part.partition("@")[0] for part in metadata.get("fills", "").split(";") if part)
            sold = sum((Money.of(amount, asset) for amount in fills), Money.zero(asset))
            reference = entry.idempotency_key.removeprefix(_CONVERSION)
            found.append(BookedConversion(reference, metadata.get("network", ""), sold, entry.id))
    return found


def _entries_of(ledger: Ledger, account: str) -> list[Entry]:
    try:
        return ledger.entries(account=account, limit=_ENTRIES)
    except NotFound:
        return []
