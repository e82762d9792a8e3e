"""wallet_cash_out.feature on the in-memory parts: the wallet stack and the fake M-Pesa."""

import pytest
from pytest_bdd import scenarios

from features.wallet_cash_out_steps import *  # noqa: F403  (the steps become this module's fixtures)
from tests.support.wallet_stack import WalletStack, wallet_stack

scenarios("wallet_cash_out.feature")


@pytest.fixture
def cash_out_stack() -> WalletStack:
    return wallet_stack()
