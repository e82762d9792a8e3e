"""Paybill (C2B) repositories on SQL (``uow.paybill_payments``, ``uow.paybill_urls``): JSON documents plus the columns
they are found by. A payment's payer (number as sent, names, the account number typed) is sealed personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.personal import PersonalFields
from cryptopay.adapters.sql.repositories.payments import _Documents
from cryptopay.adapters.sql.tables_wallets import paybill_payments, paybill_url_registrations
from cryptopay.core.wallets.paybill import ASKED, PaybillPayment, PaybillState, UrlRegistration

__all__ = ["SqlPaybillPayments", "SqlUrlRegistrations"]


class SqlPaybillPayments(_Documents[PaybillPayment]):
    cls, table, what = PaybillPayment, paybill_payments, "paybill payment"
    fields = PersonalFields("paybill_payments", ("msisdn", "payer", "bill_ref"))

    def _columns(self, item: PaybillPayment) -> dict[str, Any]:
        return {
            "id": item.id,
            "trans_id": item.trans_id,
            "state": item.state.value,
            "check_at": item.check_at if item.state in ASKED else None,  # the index of what is asked about
            "status_digest": item.status_digest,
            "timeout_digest": item.timeout_digest,
            "reversal_digest": item.reversal_digest,
            "reversal_timeout_digest": item.reversal_timeout_digest,
            "was_unverified": item.was_unverified,
        }

    def add(self, payment: PaybillPayment) -> None:
        self._insert(payment, conflict=f"paybill payment {payment.trans_id} exists")

    def get(self, payment_id: str, *, lock: bool = False) -> PaybillPayment | None:
        return self._one(paybill_payments.c.id == payment_id, lock=lock)

    def by_trans_id(self, trans_id: str, *, lock: bool = False) -> PaybillPayment | None:
        return self._one(paybill_payments.c.trans_id == trans_id, lock=lock)

    def update(self, payment: PaybillPayment) -> None:
        self._update(payment)

    def due_for_status(self, now: datetime, *, limit: int) -> list[PaybillPayment]:
        c = paybill_payments.c  # check_at is kept only while asked about (``ASKED``)
        return self._select(c.check_at <= now, order=("check_at", "id"), limit=limit)

    def by_status_token(self, digest: str, *, timeout: bool, lock: bool = False) -> PaybillPayment | None:
        c = paybill_payments.c
        return self._one((c.timeout_digest if timeout else c.status_digest) == digest, lock=lock)

    def by_reversal_token(self, digest: str, *, timeout: bool, lock: bool = False) -> PaybillPayment | None:
        c = paybill_payments.c
        return self._one((c.reversal_timeout_digest if timeout else c.reversal_digest) == digest, lock=lock)

    def listed(self, *, state: PaybillState | None, after: str | None, limit: int) -> list[PaybillPayment]:
        c = paybill_payments.c
        where = [c.state == state.value] if state is not None else []
        if after is not None:
            where.append(c.id < after)
        return self._select(*where, limit=limit, newest_first=True)

    def all(self) -> list[PaybillPayment]:
        return self._select(sa.true())

    def count(self, state: PaybillState) -> int:
        query = sa.select(sa.func.count()).where(paybill_payments.c.state == state.value)  # ix_paybill_payments_state
        return int(self._conn.execute(query).scalar_one())

    def unverified_ever(self) -> int:
        query = sa.select(sa.func.count()).where(paybill_payments.c.was_unverified.is_(True))
        return int(self._conn.execute(query).scalar_one())


class SqlUrlRegistrations(_Documents[UrlRegistration]):
    cls, table, what = UrlRegistration, paybill_url_registrations, "URL registration"

    def _columns(self, item: UrlRegistration) -> dict[str, Any]:
        return {
            "id": item.id,
            "shortcode": item.shortcode,
            "token_digest": item.token_digest,
            "registered_at": item.registered_at,
        }

    def add(self, registration: UrlRegistration) -> None:
        self._insert(registration)

    def update(self, registration: UrlRegistration) -> None:
        self._update(registration)

    def by_token(self, token_digest: str) -> UrlRegistration | None:
        return self._one(paybill_url_registrations.c.token_digest == token_digest)

    def for_shortcode(self, shortcode: str) -> list[UrlRegistration]:
        c = paybill_url_registrations.c
        return self._select(c.shortcode == shortcode, order=("registered_at", "id"))
