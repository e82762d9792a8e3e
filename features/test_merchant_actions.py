"""Refunds, cancelled invoices and payment links (merchant_actions.feature, payment_links.feature) on the in-memory deployment."""

from collections.abc import Iterator

import pytest
from cryptopay.core.testing.payments_stack import PaymentsStack
from pytest_bdd import scenarios

from features.merchant_actions_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.merchant_journey_steps import *  # noqa: F403

scenarios("merchant_actions.feature", "payment_links.feature")


@pytest.fixture
def stack() -> Iterator[PaymentsStack]:
    deployment = PaymentsStack()
    yield deployment
    assert deployment.books_balanced(), deployment.ledger.trial_balance()
