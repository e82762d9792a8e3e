"""The merchant journey (merchant_journey.feature) on the in-memory deployment: fakes and a manual clock."""

from collections.abc import Iterator

import pytest
from cryptopay.core.testing.payments_stack import PaymentsStack
from pytest_bdd import scenarios

from features.merchant_journey_steps import *  # noqa: F403  (the steps become this module's fixtures)

scenarios("merchant_journey.feature")


@pytest.fixture
def stack() -> Iterator[PaymentsStack]:
    """The in-memory deployment; every scenario leaves the trial balance at zero."""
    deployment = PaymentsStack()
    yield deployment
    assert deployment.books_balanced(), deployment.ledger.trial_balance()
