"""Fixtures: the HTTP app over a ``PaymentsStack`` (every payment use case on fakes), its client and auth helper."""

from __future__ import annotations

import pytest
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_http import Services
from flask.testing import FlaskClient

from tests.integration.http.http_support import AuthActions, fast_hasher
from tests.integration.http.http_support import app as app
from tests.integration.http.http_support import auth as auth
from tests.integration.http.http_support import client as client
from tests.integration.http_payments.payments_support import INSTANT, RAILS, Shop, WebhookRig
from tests.support.services import in_memory_services, with_stack


@pytest.fixture
def stack() -> PaymentsStack:
    return PaymentsStack(networks=("tron", "ethereum"))


@pytest.fixture
def hooks(stack: PaymentsStack) -> WebhookRig:
    return WebhookRig(stack)


@pytest.fixture
def services(stack: PaymentsStack, hooks: WebhookRig) -> Services:
    services = in_memory_services(clock=stack.clock, ids=stack.ids, hasher=fast_hasher())
    # the API creates merchant profiles in the stack's store, which settlements read
    return with_stack(services, stack, rails=RAILS, webhooks_uow=hooks.uow, queue=hooks.queue)


@pytest.fixture
def shop(auth: AuthActions, client: FlaskClient) -> Shop:
    """A merchant settled instantly over M-Pesa B2C, with a store accepting USDT on Tron and Ethereum."""
    merchant = Shop(auth, client, "Duka Ltd", INSTANT)
    merchant.store(["usdt-tron", "usdt-ethereum"])
    return merchant


@pytest.fixture
def rival(auth: AuthActions, client: FlaskClient) -> Shop:
    """A second merchant, to prove tenants never see each other's objects."""
    merchant = Shop(auth, client, "Rival Ltd", INSTANT)
    merchant.store(["usdt-tron"])
    return merchant
