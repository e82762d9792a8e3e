"""Where the payment commands get their services: the composition root's container, or what a test installed.

Commands never wire adapters themselves. ``services()`` is ``cryptopay.adapters.bootstrap.container()`` unless
``use_services(obj)`` installed another object offering the same attributes (``Services``), such as
``cryptopay.core.testing.payments_stack.PaymentsStack`` in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from cryptopay.core.ledger import Ledger
from cryptopay.core.listings import Listings
from cryptopay.core.ports.identity import AuditTrail, UserRepository
from cryptopay.core.ports.notifications import Notifier
from cryptopay.core.ports.payments import PaymentsUnitOfWork
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.reconciliation import Reconciliation

__all__ = ["Services", "services", "use_services"]


class Services(Protocol):
    """What the payment commands read from the container (the attribute names ``PaymentsStack`` also offers).

    ``invoicing``, ``settling``, ``payouts``: the use cases of ``cryptopay.core.payments``; ``listings`` and
    ``reconciliation``: the read models and the reconciliation use case; ``merchants``: a
    ``MerchantRepository``; ``uow``: a ``PaymentsUnitOfWork`` factory. ``users`` (a ``UserRepository``, for
    ``merchants create``), ``webhooks_uow`` and ``queue`` (for ``webhooks redeliver``) and ``rails`` (the
    deployment's rails by key) are read only by the commands that need them.
    """

    invoicing: Any
    detection: Any
    settling: Any
    payouts: Any
    refunds: Any
    merchants: Any
    ledger: Ledger
    listings: Listings
    reconciliation: Reconciliation
    pricer: Any
    clock: Clock
    ids: IdGenerator
    audit_trail: AuditTrail  # operator actions outside a unit of work (merchants, users)
    users: UserRepository
    notifier: Notifier

    @property
    def uow(self) -> Callable[[], AbstractContextManager[PaymentsUnitOfWork]]: ...


_installed: Any = None


def services() -> Services:
    """The services the commands use: the installed object, else the process-wide container."""
    if _installed is not None:
        found: Services = _installed
        return found
    from cryptopay.adapters.bootstrap import container

    built: Services = container()
    return built


def use_services(obj: Any) -> Any:
    """Install ``obj`` as the services (``None`` restores the container); returns what was installed before."""
    global _installed
    previous, _installed = _installed, obj
    return previous
