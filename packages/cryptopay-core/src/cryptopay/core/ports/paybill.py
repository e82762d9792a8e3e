"""Paybill (C2B) ports: the payments customers make to our paybill outside an STK prompt, the registered URLs, and
the unit of work that holds them with the wallets (``cryptopay.core.wallets.paybill``)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from cryptopay.core.ports.wallets import WalletUnitOfWork

if TYPE_CHECKING:  # the paybill module imports this port
    from cryptopay.core.wallets.paybill import PaybillPayment, PaybillState, UrlRegistration

__all__ = ["PaybillPaymentRepository", "PaybillUnitOfWork", "PaybillUowFactory", "UrlRegistrationRepository"]


class PaybillPaymentRepository(Protocol):
    def add(self, payment: PaybillPayment) -> None:
        """Keep a new payment; ``Conflict`` when its id or its M-Pesa TransID is kept already."""
        ...

    def get(self, payment_id: str, *, lock: bool = False) -> PaybillPayment | None: ...

    def by_trans_id(self, trans_id: str, *, lock: bool = False) -> PaybillPayment | None:
        """The payment M-Pesa's confirmation named by its TransID (the statement's receipt)."""
        ...

    def update(self, payment: PaybillPayment) -> None: ...

    def due_for_status(self, now: datetime, *, limit: int) -> list[PaybillPayment]:
        """Payments still verifying (or reversing with no result yet) whose ``check_at`` has come, the longest due
        first."""
        ...

    def by_status_token(self, digest: str, *, timeout: bool, lock: bool = False) -> PaybillPayment | None:
        """The payment whose open Transaction Status query's result URL (``timeout``: QueueTimeOutURL) ends in the
        token with this digest."""
        ...

    def by_reversal_token(self, digest: str, *, timeout: bool, lock: bool = False) -> PaybillPayment | None:
        """The payment whose Reversal's result URL (``timeout``: QueueTimeOutURL) ends in the token with this
        digest."""
        ...

    def listed(self, *, state: PaybillState | None, after: str | None, limit: int) -> list[PaybillPayment]:
        """Payments newest first (by id, descending), strictly before ``after``, in ``state`` when given."""
        ...

    def all(self) -> list[PaybillPayment]:
        """Every payment, oldest first (reconciliation's snapshot)."""
        ...

    def count(self, state: PaybillState) -> int:
        """How many payments are in ``state``."""
        ...

    def unverified_ever(self) -> int:
        """How many payments Transaction Status did not confirm at least once, whatever operators did since (a
        counter: it only grows)."""
        ...


class UrlRegistrationRepository(Protocol):
    def add(self, registration: UrlRegistration) -> None: ...

    def update(self, registration: UrlRegistration) -> None: ...

    def by_token(self, token_digest: str) -> UrlRegistration | None:
        """The registration whose confirmation or validation URL carries the token with this digest."""
        ...

    def for_shortcode(self, shortcode: str) -> list[UrlRegistration]:
        """The shortcode's registrations, oldest first."""
        ...


class PaybillUnitOfWork(WalletUnitOfWork, Protocol):
    """The wallets (a payment credits one) with the paybill payments and the registered URLs, in one transaction."""

    @property
    def paybill_payments(self) -> PaybillPaymentRepository: ...

    @property
    def paybill_urls(self) -> UrlRegistrationRepository: ...


class PaybillUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[PaybillUnitOfWork]: ...
