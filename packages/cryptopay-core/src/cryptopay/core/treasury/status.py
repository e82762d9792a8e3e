"""Where the treasury stands: the M-Pesa float and, per network and asset, what the books say we hold against
what the chain holds at our deposit addresses and hot wallet, with the coin that pays the fees.

``Treasury.status`` is what ``cryptopay treasury status`` prints; ``measure`` (the worker's ``treasury.measure``)
sets the same figures as gauges and warns when the float is below its alert level. ``can_cover`` is the refusal
before overdraft as one core function for every payment the treasury makes: KES from the float (payouts, a
wallet's sale of crypto), or crypto from a hot wallet (less its reserve).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import Asset, Money
from cryptopay.core.payments._support import transaction
from cryptopay.core.ports.chains import BalanceReader
from cryptopay.core.ports.monitoring import Metrics
from cryptopay.core.ports.treasury import TreasuryStore
from cryptopay.core.rails import Rail
from cryptopay.core.treasury.cover import Cover, FloatPosition
from cryptopay.core.treasury.guard import FloatGuard
from cryptopay.core.treasury.model import SweepState

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["GasHolding", "Holding", "Treasury", "TreasuryStatus"]

log = logging.getLogger("cryptopay.treasury")
CHAIN_INTERVAL = timedelta(minutes=5)


@attrs.frozen(kw_only=True)
class Holding:
    """One asset on one network: the books' custody account against the chain (None: the chain was not read)."""

    network: str
    asset: Asset
    books: Money
    deposits: Money | None = None  # at our deposit addresses
    hot: Money | None = None  # at the hot wallet
    reserve: Money | None = None
    open_sweeps: int = 0

    @property
    def on_chain(self) -> Money | None:
        if self.deposits is None:
            return None
        return self.deposits + (self.hot or Money.zero(self.asset))

    @property
    def difference(self) -> Money | None:
        """Chain less books (reconciliation explains in-flight payments and refunds; see ``custody-on-chain``)."""
        return None if self.on_chain is None else self.on_chain - self.books

    @property
    def sendable(self) -> Money | None:
        """What may leave the hot wallet now, keeping the reserve."""
        if self.hot is None:
            return None
        return self.hot - (self.reserve or Money.zero(self.asset))


@attrs.frozen(kw_only=True)
class GasHolding:
    """A network's coin, which pays its fees: the fees booked so far, and what the hot wallet holds."""

    network: str
    coin: Asset
    fees_booked: Money
    hot: Money | None = None


@attrs.frozen(kw_only=True)
class TreasuryStatus:
    at: datetime
    float: FloatPosition
    inventory: tuple[Holding, ...]
    gas: tuple[GasHolding, ...]
    sweeps_open: int
    sweeps_failed: int


class Treasury:
    """The float and the inventory, read through the ports; the same refusal rule for every payment."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        ledger: Ledger,
        store: TreasuryStore,
        guard: FloatGuard,
        rails: Sequence[Rail] = (),
        chains: Mapping[str, BalanceReader] | None = None,
        hot_wallets: Mapping[str, str] | None = None,
        inventory_reserve: Mapping[str, Decimal] | None = None,
        metrics: Metrics | None = None,
        chain_interval: timedelta = CHAIN_INTERVAL,
    ) -> None:
        self._uow, self._ledger, self._store, self._guard = uow, ledger, store, guard
        self._rails = tuple(r for r in rails if r.network.native is not None)
        self._chains, self._hot = dict(chains or {}), dict(hot_wallets or {})
        self._reserve, self._metrics = dict(inventory_reserve or {}), metrics
        self._chain_interval = chain_interval
        self._chains_read_at: datetime | None = None
        self._low = False  # the float was below its alert level at the last measure

    @property
    def guard(self) -> FloatGuard:
        return self._guard

    def status(self, *, read_chains: bool = True) -> TreasuryStatus:
        """The float, every holding and the gas; ``read_chains=False`` reads the books only."""
        sweeps = self._store.sweeps(open_only=True, limit=10_000)
        failed = self._store.sweeps(state=SweepState.FAILED, limit=10_000)
        inventory = tuple(
            self._holding(rail, read_chains, sum(1 for s in sweeps if s.network == rail.network.name))
            for rail in self._rails
        )
        # One line per network (its coin pays every rail's fees there): USDT and USDC on Ethereum share one.
        by_network = {rail.network.name: rail for rail in self._rails}
        gas = tuple(self._gas(rail, read_chains) for rail in by_network.values())
        return TreasuryStatus(
            at=self._guard.position().at,
            float=self._guard.position(),
            inventory=inventory,
            gas=gas,
            sweeps_open=len(sweeps),
            sweeps_failed=len(failed),
        )

    def can_cover(self, amount: Money, *, network: str | None = None) -> Cover:
        """Whether the treasury can pay ``amount`` now: KES from the float; crypto from ``network``'s hot wallet
        less its reserve. A wallet's sale or purchase asks this before it moves anything."""
        if amount.asset.fiat:
            return self._guard.can_cover(amount)
        rail = next((r for r in self._rails if r.network.name == network and r.asset == amount.asset), None)
        if rail is None:
            raise InvalidInput(f"no {amount.asset.code} inventory on {network}", field="network")
        holding = self._holding(rail, True, 0)
        if holding.sendable is None:
            return Cover(False, f"the {network} hot wallet's balance cannot be read", None)
        if amount <= holding.sendable:
            return Cover(True, "", holding.sendable)
        reason = f"the {network} hot wallet cannot cover {amount}: {holding.sendable.amount} sendable after its reserve"
        return Cover(False, reason, holding.sendable)

    def measure(self) -> TreasuryStatus:
        """Read the status and set the float and inventory gauges; warn when the float is below its alert level.

        The chains (every deposit address) are read at most once per ``chain_interval``; between, the on-chain
        gauges keep their last value (the worker's fast mode runs this every second)."""
        status = self.status(read_chains=False)
        if self._chains_read_at is None or status.at - self._chains_read_at >= self._chain_interval:
            status, self._chains_read_at = self.status(), status.at  # chain reads at most every chain_interval
        if status.float.low and not self._low:
            self._guard.alert_low(status.float)  # once per fall below the level (per worker process)
        self._low = status.float.low
        if self._metrics is not None:
            _export(self._metrics, status)
        return status

    def _holding(self, rail: Rail, read_chains: bool, open_sweeps: int) -> Holding:
        network, asset = rail.network.name, rail.asset
        books = self._posted(flows.custody(network, asset), asset)
        reserve = Money.of(self._reserve.get(asset.code, Decimal(0)), asset)
        reader = self._chains.get(network) if read_chains else None
        if reader is None:
            return Holding(network=network, asset=asset, books=books, reserve=reserve, open_sweeps=open_sweeps)
        try:
            addresses = transaction(self._uow, partial(_addresses, network=network))
            deposits = reader.total(addresses, asset)  # EVM: JSON-RPC batches, not one call an address
            hot = reader.balance(self._hot[network], asset) if network in self._hot else None
        except CryptopayError as error:
            log.warning("could not read %s balances on %s: %s", asset.code, network, error.message)
            return Holding(network=network, asset=asset, books=books, reserve=reserve, open_sweeps=open_sweeps)
        return Holding(
            network=network,
            asset=asset,
            books=books,
            deposits=deposits,
            hot=hot,
            reserve=reserve,
            open_sweeps=open_sweeps,
        )

    def _gas(self, rail: Rail, read_chains: bool) -> GasHolding:
        assert rail.network.native is not None
        network, coin = rail.network.name, rail.network.native.asset
        booked = self._posted(flows.network_fees(network, coin), coin)
        reader = self._chains.get(network) if read_chains else None
        hot = None
        if reader is not None and network in self._hot:
            try:
                hot = reader.balance(self._hot[network], coin)
            except CryptopayError as error:
                log.warning("could not read the %s hot wallet's %s: %s", network, coin.code, error.message)
        return GasHolding(network=network, coin=coin, fees_booked=booked, hot=hot)

    def _posted(self, code: str, asset: Asset) -> Money:
        try:
            return self._ledger.balance(code).posted
        except NotFound:
            return Money.zero(asset)


def _addresses(uow: PaymentsUnitOfWork, *, network: str) -> list[str]:
    return uow.deposit_addresses.addresses_for(network)


def _export(metrics: Metrics, status: TreasuryStatus) -> None:
    gauge, position = metrics.gauge, status.float
    gauge("cryptopay_float_books_kes", float(position.books.amount), about="the books' M-Pesa float (posted)")
    if position.known is not None:
        gauge("cryptopay_float_known_kes", float(position.known.amount), about=_ABOUT_KNOWN)
    if position.available is not None:
        gauge("cryptopay_float_available_kes", float(position.available.amount), about=_ABOUT_AVAILABLE)
    if position.working is not None:
        gauge("cryptopay_mpesa_working_account_kes", float(position.working.amount), about=_ABOUT_WORKING)
    gauge("cryptopay_float_reserve_kes", float(position.reserve.amount), about="the float kept back from payouts")
    gauge("cryptopay_float_low", int(position.low), about="1 when the float is below its alert level")
    gauge("cryptopay_payouts_held", position.held, about="planned payouts held: the float cannot cover them")
    for h in status.inventory:
        labels = {"network": h.network, "asset": h.asset.code}
        gauge("cryptopay_inventory_books", float(h.books.amount), about="custody per the books", labels=labels)
        for where, amount in (("deposits", h.deposits), ("hot", h.hot)):
            if amount is not None:
                gauge(
                    "cryptopay_inventory_on_chain",
                    float(amount.amount),
                    about=_ABOUT_CHAIN,
                    labels={**labels, "where": where},
                )
    for g in status.gas:
        labels = {"network": g.network, "coin": g.coin.code}
        if g.hot is not None:
            gauge(
                "cryptopay_gas_hot_wallet", float(g.hot.amount), about="the hot wallet's coin for fees", labels=labels
            )
        gauge("cryptopay_network_fees_booked", float(g.fees_booked.amount), about="sweep fees booked", labels=labels)
    gauge("cryptopay_sweeps_open", status.sweeps_open, about="sweeps not yet confirmed")
    gauge("cryptopay_sweeps_failed", status.sweeps_failed, about="sweeps the chain refused (an operator looks)")


_ABOUT_KNOWN = "M-Pesa float: its latest word (Account Balance or a B2C result) moved by the books since"
_ABOUT_AVAILABLE = "float new payouts may take: known less payouts in flight less the reserve"
_ABOUT_WORKING = "M-Pesa working account per the latest B2C result"
_ABOUT_CHAIN = "what the chain holds at our deposit addresses and hot wallet"
