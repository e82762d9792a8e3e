"""paybill_operations.feature on the in-memory parts: the wallet stack and the fake M-Pesa."""

import pytest
from pytest_bdd import scenarios

from features.paybill_operations_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.support.wallet_stack import WalletStack, wallet_stack

scenarios("paybill_operations.feature")


@pytest.fixture
def paybill_stack() -> WalletStack:
    return wallet_stack()
