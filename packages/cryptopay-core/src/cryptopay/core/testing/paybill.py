"""In-memory paybill (C2B) repositories: the payments and the registered URLs (``cryptopay.core.ports.paybill``)."""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.wallets.paybill import ASKED, PaybillPayment, PaybillState, UrlRegistration

__all__ = ["InMemoryPaybillPayments", "InMemoryUrlRegistrations"]


class InMemoryPaybillPayments:
    def __init__(self) -> None:
        self._rows: dict[str, PaybillPayment] = {}

    def add(self, payment: PaybillPayment) -> None:
        if payment.id in self._rows or self.by_trans_id(payment.trans_id) is not None:
            raise Conflict(f"paybill payment {payment.trans_id} exists")
        self._rows[payment.id] = attrs.evolve(payment)

    def get(self, payment_id: str, *, lock: bool = False) -> PaybillPayment | None:
        row = self._rows.get(payment_id)
        return attrs.evolve(row) if row else None

    def by_trans_id(self, trans_id: str, *, lock: bool = False) -> PaybillPayment | None:
        return next((attrs.evolve(p) for p in self._rows.values() if p.trans_id == trans_id), None)

    def update(self, payment: PaybillPayment) -> None:
        if payment.id not in self._rows:
            raise NotFound(f"no paybill payment {payment.id}")
        self._rows[payment.id] = attrs.evolve(payment)

    def due_for_status(self, now: datetime, *, limit: int) -> list[PaybillPayment]:
        due = [p for p in self._rows.values() if p.state in ASKED and p.check_at is not None and p.check_at <= now]
        return [attrs.evolve(p) for p in sorted(due, key=lambda p: (p.check_at, p.id))[:limit]]

    def by_status_token(self, digest: str, *, timeout: bool, lock: bool = False) -> PaybillPayment | None:
        rows = self._rows.values()
        return next(
            (attrs.evolve(p) for p in rows if (p.timeout_digest if timeout else p.status_digest) == digest), None
        )

    def by_reversal_token(self, digest: str, *, timeout: bool, lock: bool = False) -> PaybillPayment | None:
        rows = self._rows.values()
        return next(
            (attrs.evolve(p) for p in rows if (p.reversal_timeout_digest if timeout else p.reversal_digest) == digest),
            None,
        )

    def listed(self, *, state: PaybillState | None, after: str | None, limit: int) -> list[PaybillPayment]:
        rows = [
            p for p in self._rows.values() if (state is None or p.state is state) and (after is None or p.id < after)
        ]
        return [attrs.evolve(p) for p in sorted(rows, key=lambda p: p.id, reverse=True)[:limit]]

    def all(self) -> list[PaybillPayment]:
        return [attrs.evolve(p) for p in sorted(self._rows.values(), key=lambda p: p.id)]

    def count(self, state: PaybillState) -> int:
        return sum(1 for p in self._rows.values() if p.state is state)

    def unverified_ever(self) -> int:
        return sum(1 for p in self._rows.values() if p.was_unverified)


class InMemoryUrlRegistrations:
    def __init__(self) -> None:
        self._rows: dict[str, UrlRegistration] = {}

    def add(self, registration: UrlRegistration) -> None:
        if registration.id in self._rows:
            raise Conflict(f"registration {registration.id} exists")
        self._rows[registration.id] = attrs.evolve(registration)

    def update(self, registration: UrlRegistration) -> None:
        if registration.id not in self._rows:
            raise NotFound(f"no registration {registration.id}")
        self._rows[registration.id] = attrs.evolve(registration)

    def by_token(self, token_digest: str) -> UrlRegistration | None:
        return next((attrs.evolve(r) for r in self._rows.values() if r.token_digest == token_digest), None)

    def for_shortcode(self, shortcode: str) -> list[UrlRegistration]:
        mine = (r for r in self._rows.values() if r.shortcode == shortcode)
        return [attrs.evolve(r) for r in sorted(mine, key=lambda r: (r.registered_at, r.id))]
