"""Fixtures for the payment use cases: an in-memory deployment with one merchant paid out daily by M-Pesa."""

import pytest
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

PHONE = "254712345678"


@pytest.fixture
def stack() -> PaymentsStack:
    """A deployment at Monday 12:00 in Nairobi; merchant m1 takes USDT on Tron (3 confirmations, 1% fee)."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, PHONE)
    stack.add_merchant("m1", settlement=profile, tolerance_percent="1")
    return stack
