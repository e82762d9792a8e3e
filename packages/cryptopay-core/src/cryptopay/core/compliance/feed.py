"""What every product tells AML monitoring about the money it moves: once before, once after.

``before`` runs the blocking rules on the movement about to happen, outside the product's own transaction: a hit
commits its alert and raises ``Blocked`` (naming the rule), so nothing moves. ``after`` journals the movements that
happened, once the product's transaction committed, for the batch rules (structuring, velocity, rapid in-and-out,
round trips...). Only money that moved is journaled: a movement the limits or the funds refused never reaches the
batch rules. A journal write that fails after the money moved is logged and does not undo or fail the movement (the
customer's money has moved; an error would invite a retry that moves it twice); the batch misses that one movement.
A product on the monitor's own storage may instead journal its movements in its own transaction
(``journals_within``): journaled exactly when the money moves, with no transaction of their own (the P2P send does).

Products hold a ``MonitoringFeed``; the default watches nothing (embedders and tests that are not about monitoring).

>>> from datetime import datetime, timezone
>>> from cryptopay.core.compliance.rules import Direction
>>> feed = MonitoringFeed()
>>> move = movement("trf_1", "usr_1", "p2p", Direction.OUT, Money.of(500, KES), datetime.now(timezone.utc))
>>> feed.before(move), feed.after(move)
(None, None)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs
from cryptopay.core.compliance.cases import Alert, Clearance
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.errors import CryptopayError
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.compliance import MovementMonitor

__all__ = ["MonitoringFeed", "movement"]

log = logging.getLogger(__name__)


def movement(
    movement_id: str,
    party_id: str,
    product: str,
    direction: Direction,
    value: Money,
    at: datetime,
    *,
    counterparty: str | None = None,
    asset: str | None = None,
    party_since: datetime | None = None,
    network: str | None = None,
) -> Movement:
    """A movement of ``value`` (KES); ``asset`` names the virtual asset moved, if any (never KES)."""
    return Movement(
        id=movement_id,
        party_id=party_id,
        product=product,
        direction=direction,
        amount=value,
        at=at,
        counterparty=counterparty,
        asset=None if asset in (None, KES.code) else asset,
        party_since=party_since,
        network=network,
    )


@attrs.frozen
class MonitoringFeed:
    """``before`` (``Blocked`` refuses) and ``after`` (journal) around a product's movement; None: not watched."""

    monitor: MovementMonitor | None = None

    def before(self, planned: Movement) -> None:
        if self.monitor is not None:
            self.monitor.check(planned, journal=False)

    def screen_names(self, planned: Movement, names: Sequence[tuple[str, str]], *, refuse: bool = True) -> list[Alert]:
        """The parties ``planned`` names screened against the sanctions lists (``Blocked`` refuses; ``refuse=False``:
        never, every match's alert is returned); the possible matches' alerts, which the product holds its payout
        on.

        >>> MonitoringFeed().screen_names(None, [("sender", "Grace")])  # not watched: nothing is screened
        []
        """
        return [] if self.monitor is None else self.monitor.screen_names(planned, names, refuse=refuse)

    def rescreen_names(self, planned: Movement, names: Sequence[tuple[str, str]]) -> list[Alert]:
        """The parties of a movement under way screened again (the lists changed): every alert their matches hold,
        blocking ones included, never refused (``Monitoring.rescreen_names``); not watched, none."""
        return [] if self.monitor is None else self.monitor.rescreen_names(planned, names)

    def payee_name_mismatch(self, made: Movement, evidence: Mapping[str, str]) -> list[Alert]:
        """A movement made to a payee registered under another name than the one given: its rules' alerts, raised
        now or before (``Monitoring.payee_name_mismatch``); not watched, none.

        >>> MonitoringFeed().payee_name_mismatch(None, {"name": "Peter"})
        []
        """
        return [] if self.monitor is None else self.monitor.payee_name_mismatch(made, evidence)

    def clearance(self, alert_ids: Sequence[str]) -> list[Clearance]:
        """Where compliance's review of each alert stands; not watched, none is cleared (no one could clear it).

        >>> [c.cleared for c in MonitoringFeed().clearance(["alr_1"])]
        [False]
        """
        if self.monitor is None:
            return [Clearance(alert_id, None, "missing") for alert_id in alert_ids]
        return self.monitor.clearance(alert_ids)

    def journals_within(self, uow: object) -> bool:
        """Whether a product whose unit-of-work factory is ``uow`` journals its movements itself, in its own
        transaction (``uow.movements.add``, and no ``after``): when the monitor journals to that same storage.

        >>> MonitoringFeed().journals_within(lambda: None)
        False
        """
        return self.monitor is not None and self.monitor.journals_to(uow)

    def after(self, *moved: Movement) -> None:
        if self.monitor is None:
            return
        for item in moved:
            try:
                self.monitor.observe(item)
            except CryptopayError as error:
                log.warning("movement %s moved but was not journaled for monitoring: %s", item.id, error.code)

    def after_valued(self, what: str, moved: Callable[[], Sequence[Movement]]) -> None:
        """``after`` for movements that need a price to be valued in KES (``moved`` builds them, only when watched):
        a price that cannot be had is logged, not raised (the money moved; the journal misses ``what``).

        >>> MonitoringFeed().after_valued("trf_1:in", lambda: 1 / 0)  # not watched: nothing is built
        """
        if self.monitor is None:
            return
        try:
            items = moved()
        except CryptopayError as error:
            log.warning("%s moved but was not journaled for monitoring (no KES value): %s", what, error.code)
            return
        self.after(*items)
