"""A whole payments deployment in memory (``PaymentsStack``) installed as the CLI's services for each test.

The CLI gets a ``Services`` over the stack (``tests.support.services.stack_services``) with what the commands read
beyond the use cases: ``users`` (to find a merchant's owner), ``rails`` (the deployment's rails), and
``webhooks_uow``/``queue`` (for redelivery). The stack keeps them as attributes too, for the tests to inspect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptopay.adapters.bootstrap import Services
from cryptopay.core.identity.model import Role, User
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.identity import InMemoryUsers
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.queue import FakeQueue
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.webhooks import webhook_storage
from cryptopay_cli.context import use_services

from tests.integration.cli_payments.cli_payments_support import OWNER
from tests.support.services import stack_services as services_of


@pytest.fixture
def stack() -> Iterator[PaymentsStack]:
    """A fresh in-memory deployment with a merchant user, installed as the CLI's services for one test."""
    yield from installed_stack(("tron",))


def installed_stack(networks: tuple[str, ...]) -> Iterator[PaymentsStack]:
    """``stack``'s body over the chains of ``networks`` (the first network's USDT rail is the deployment's)."""
    deployment: Any = PaymentsStack(networks=networks)
    deployment.users = InMemoryUsers()
    proven = deployment.clock.now()  # the owner proved its email (``identity.email_proof``)
    deployment.users.add(User("usr_owner", OWNER, "unused-hash", Role.MERCHANT, proven, email_verified_at=proven))
    deployment.users.add(User("usr_pat", "pat@example.com", "unused-hash", Role.PERSONAL, deployment.clock.now()))
    deployment.audit_trail = InMemoryAuditLog()
    deployment.notifier = InMemoryNotifier()
    deployment.rails = {f"usdt-{n}": rail_for(n, "USDT", confirmations=3) for n in networks}
    deployment.webhook_storage = webhook_storage()
    deployment.webhooks_uow = deployment.webhook_storage.unit_of_work
    deployment.queue = FakeQueue(JobRegistry(), deployment.clock)
    deployment.services = services_of(
        deployment,
        users=deployment.users,
        rails=deployment.rails,
        webhooks_uow=deployment.webhooks_uow,
        queue=deployment.queue,
        audit=deployment.audit_trail,
        notifier=deployment.notifier,
    )
    previous = use_services(deployment.services)
    yield deployment
    use_services(previous)


@pytest.fixture
def stack_services(stack: Any) -> Services:
    """The ``Services`` the CLI runs on in these tests."""
    found: Services = stack.services
    return found
