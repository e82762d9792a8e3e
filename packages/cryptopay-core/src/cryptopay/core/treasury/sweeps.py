"""Sweeps: deposit addresses holding at least the threshold are swept into the network's hot wallet.

``run`` (the worker's ``treasury.sweep`` job) first plans: for each network with a sweeper, every deposit address
whose token balance (read from the chain) reaches the threshold and has no open sweep gets a ``Sweep`` record,
committed before anything is sent (recorded before sent, like payouts). Then it advances every open sweep by one
step through the network's ``Sweeper`` (gas top-up, then the transfer, each idempotent on the sweep id, so a crash
or a retry never sends twice). When the transfer is deep enough, the sweep's network fees are booked
(``flows.book_sweep_fees``: Dr expenses:network_fees / Cr assets:gas) with an audit record, in one unit of work;
a failed sweep is audited and logged as an error for an operator (the tokens stay at the deposit address).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from cryptopay.core import flows
from cryptopay.core.errors import Conflict, CryptopayError
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import Money
from cryptopay.core.payments._support import audit, transaction
from cryptopay.core.ports.chains import BalanceReader
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.treasury import Sweeper, SweepProgress, SweepStage, TreasuryStore
from cryptopay.core.treasury.model import Sweep, SweepState

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["DEFAULT_THRESHOLD", "Sweeps"]

DEFAULT_THRESHOLD = Decimal(50)
"""Token units (USDT) a deposit address must hold before it is swept: below it the fees are not worth it."""

log = logging.getLogger("cryptopay.treasury")
_ACTOR = "system:treasury"


class Sweeps:
    """Plans and advances sweeps of deposit addresses into the hot wallets."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        store: TreasuryStore,
        ledger: Ledger,
        clock: Clock,
        ids: IdGenerator,
        sweepers: Mapping[str, Sweeper],
        balances: Mapping[str, BalanceReader],
        threshold: Decimal = DEFAULT_THRESHOLD,
    ) -> None:
        self._uow, self._store, self._ledger, self._clock, self._ids = uow, store, ledger, clock, ids
        self._sweepers, self._balances, self._threshold = dict(sweepers), dict(balances), threshold

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(sorted(self._sweepers))

    def recorded(self, *, state: SweepState | None = None, limit: int = 100) -> list[Sweep]:
        """Sweeps oldest first, in one state or all."""
        return self._store.sweeps(state=state, limit=limit)

    def run(self) -> list[Sweep]:
        """Plan the sweeps that are due, then advance every open one by a step; returns the open and finished ones."""
        self.plan()
        return self.advance()

    def plan(self) -> list[Sweep]:
        """Record a sweep for each deposit address holding at least the threshold and not being swept already."""
        busy = {(s.network, s.deposit_address) for s in self._store.sweeps(open_only=True, limit=10_000)}
        planned = []
        for network, sweeper in sorted(self._sweepers.items()):
            reader = self._balances.get(network)
            if reader is None:
                continue
            addresses = transaction(self._uow, partial(_addresses, network=network))
            for address in addresses:
                if (network, address) in busy:
                    continue
                held = reader.balance(address, sweeper.asset)
                if held.amount >= self._threshold and (sweep := self._record(sweeper, address, held)):
                    planned.append(sweep)
        return planned

    def _record(self, sweeper: Sweeper, address: str, held: Money) -> Sweep | None:
        now = self._clock.now()
        sweep = Sweep(
            id=self._ids.new_id("swp"),
            network=sweeper.network,
            deposit_address=address,
            hot_wallet=sweeper.hot_wallet,
            seen=held,
            created_at=now,
        )
        try:
            self._store.add_sweep(sweep)  # committed before the sweeper sends anything
        except Conflict:
            return None  # another worker planned it first
        transaction(
            self._uow,
            lambda uow: audit(
                uow,
                _ACTOR,
                "sweep.planned",
                f"sweep:{sweep.id}",
                now,
                network=sweep.network,
                address=address,
                amount=held,
            ),
        )
        return sweep

    def advance(self) -> list[Sweep]:
        """Advance every open sweep by one step; returns them as they stand afterwards."""
        done = []
        for sweep in self._store.sweeps(open_only=True, limit=1_000):
            sweeper = self._sweepers.get(sweep.network)
            if sweeper is None:
                continue
            try:
                progress = sweeper.sweep(sweep.id, sweep.deposit_address)
            except CryptopayError as error:  # a node that did not answer: the next run tries the same step again
                log.warning("sweep %s did not advance: %s", sweep.id, error.message)
                done.append(sweep)
                continue
            done.append(self._apply(sweep, sweeper, progress))
        return done

    def _apply(self, sweep: Sweep, sweeper: Sweeper, progress: SweepProgress) -> Sweep:
        now = self._clock.now()
        top_up = progress.top_up.tx_hash if progress.top_up else None
        sent = progress.transfer.tx_hash if progress.transfer else None
        if progress.stage is SweepStage.CONFIRMED:
            return self._confirmed(sweep, sweeper, progress)
        if progress.stage is SweepStage.EMPTY:
            sweep.moved(now, SweepState.EMPTY, note="nothing left to sweep")
        elif progress.stage is SweepStage.TOPPING_UP:
            sweep.moved(now, SweepState.TOPPING_UP, top_up_tx=top_up)
        elif progress.stage is SweepStage.SENT:
            sweep.moved(now, SweepState.SENT, top_up_tx=top_up, sweep_tx=sent, swept=progress.amount)
        else:
            return self._failed(sweep, sweeper, progress)
        self._stored(sweep)
        return sweep

    def _stored(self, sweep: Sweep) -> None:
        """Write the sweep's new state unless another worker closed it meanwhile (its state stands)."""
        if not self._store.update_sweep(sweep):
            log.info("sweep %s was closed by another worker meanwhile; its state stands", sweep.id)

    def _confirmed(self, sweep: Sweep, sweeper: Sweeper, progress: SweepProgress) -> Sweep:
        """Book the fees and audit in one unit of work (idempotent on the sweep id), then close the sweep."""
        now, fee = self._clock.now(), progress.fees(sweeper.coin)
        swept = progress.amount or sweep.swept or sweep.seen
        tx = progress.transfer.tx_hash if progress.transfer else ""
        entry_id = transaction(self._uow, lambda uow: self._book(uow, sweep, "sweep.confirmed", fee, tx, amount=swept))
        sweep.confirmed(now, swept=swept, fee=fee, entry_id=entry_id)
        sweep.sweep_tx = tx or sweep.sweep_tx
        self._stored(sweep)
        return sweep

    def _failed(self, sweep: Sweep, sweeper: Sweeper, progress: SweepProgress) -> Sweep:
        """The chain refused it: the gas it burnt is booked, it is audited and logged; the next run plans anew."""
        now, fee = self._clock.now(), progress.fees(sweeper.coin)
        top_up = progress.top_up.tx_hash if progress.top_up else None
        sent = progress.transfer.tx_hash if progress.transfer else None
        note = "the chain refused or dropped a sweep transaction: the tokens stay at the deposit address"
        entry_id = transaction(self._uow, lambda uow: self._book(uow, sweep, "sweep.failed", fee, sent or top_up or ""))
        sweep.moved(now, SweepState.FAILED, top_up_tx=top_up, sweep_tx=sent, note=note)
        sweep.fee, sweep.entry_id = fee, entry_id
        self._stored(sweep)
        log.error("sweep %s of %s on %s failed: %s", sweep.id, sweep.deposit_address, sweep.network, note)
        return sweep

    def _book(
        self, uow: PaymentsUnitOfWork, sweep: Sweep, action: str, fee: Money, tx: str, **details: object
    ) -> str | None:
        """Book a finished sweep's fees and audit it, once (idempotent on the sweep id)."""
        if (booked := uow.ledger.find_idempotency(f"sweep:{sweep.id}:fees")) is not None:
            return booked.result_id  # booked and audited by a run that stopped before closing the sweep
        entry = None
        if fee.is_positive():
            entry = flows.book_sweep_fees(
                self._ledger, sweep_id=sweep.id, network=sweep.network, fee=fee, session=uow.ledger
            ).id
        audit(
            uow,
            _ACTOR,
            action,
            f"sweep:{sweep.id}",
            self._clock.now(),
            network=sweep.network,
            fee=fee,
            tx=tx,
            **details,
        )
        return entry


def _addresses(uow: PaymentsUnitOfWork, *, network: str) -> list[str]:
    return uow.deposit_addresses.addresses_for(network)
