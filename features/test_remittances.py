"""remittances.feature on the in-memory parts: the remittance stack (fake chains, fake M-Pesa, fake hot wallet)."""

import pytest
from pytest_bdd import scenarios

from features.remittances_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.support.remittance_stack import RemittanceStack
from tests.support.remittance_stack import remittance_stack as build

scenarios("remittances.feature")


@pytest.fixture
def remittance_stack() -> RemittanceStack:
    return build()
