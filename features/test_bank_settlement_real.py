"""Bank settlement (bank_settlement.feature) on real parts: PostgreSQL and Daraja over HTTP to its sandbox.

The same scenarios and steps as test_bank_settlement.py; only the ``stack`` differs (``features.real_parts``). Each scenario
starts from empty tables and must leave the books balanced.
"""

from pytest_bdd import scenarios

from features.real_parts import *  # noqa: F403  (the real deployment's fixtures, ``stack`` among them)
from features.test_bank_settlement import *  # noqa: F403  (the steps; their in-memory ``stack`` is replaced below)

scenarios("bank_settlement.feature")
