"""The stateful ledger test against the in-memory store (tests/contract/ runs it against SQL stores too)."""

from hypothesis import HealthCheck, settings

from tests.support.ledger_machine import LedgerMachine

TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
