"""Bitcoin and USDC settlement (bitcoin_and_usdc_settlement.feature) on the in-memory deployment and fake markets."""

import pytest
from cryptopay.core.testing.payments_stack import PaymentsStack
from pytest_bdd import scenarios

from features.bitcoin_and_usdc_settlement_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.bitcoin_and_usdc_settlement_steps import FakeMarkets

scenarios("bitcoin_and_usdc_settlement.feature")


@pytest.fixture
def world() -> dict:
    stack = PaymentsStack(networks=("bitcoin", "polygon"))
    return {"stack": stack, "markets": FakeMarkets(stack)}
