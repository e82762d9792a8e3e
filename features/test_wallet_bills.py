"""wallet_bills.feature on the in-memory parts: the wallet stack and the fake M-Pesa with its simulated billers."""

import pytest
from cryptopay.core.wallets.bills import Bills
from pytest_bdd import scenarios

from features.wallet_bills_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.wallet_bills_steps import BillsWorld
from tests.support.wallet_stack import wallet_stack

scenarios("wallet_bills.feature")


@pytest.fixture
def bills_world() -> BillsWorld:
    stack = wallet_stack()
    sells = stack.sells
    bills = Bills(stack.backend.uow, stack.ledger, sells.quoter, sells.quotes, stack.clock, sells.ids)
    return BillsWorld(stack, bills, stack.payouts, stack.deliver_callbacks)
