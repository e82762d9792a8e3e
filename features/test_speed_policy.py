"""The speed policy (speed_policy.feature) on the in-memory deployment and its fake Ethereum."""

import pytest
from cryptopay.core.testing.payments_stack import PaymentsStack
from pytest_bdd import scenarios

from features.speed_policy_steps import *  # noqa: F403  (the steps become this module's fixtures)

scenarios("speed_policy.feature")


@pytest.fixture
def world() -> dict:
    return {"stack": PaymentsStack(networks=("ethereum",)), "tiers": []}
