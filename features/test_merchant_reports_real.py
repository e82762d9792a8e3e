"""Merchant reports (merchant_reports.feature) on real parts: PostgreSQL and Daraja over HTTP to its sandbox.

The same scenarios and steps as test_merchant_reports.py; only the ``stack`` differs (``features.real_parts``). Each scenario
starts from empty tables and must leave the books balanced.
"""

from pytest_bdd import scenarios

from features.real_parts import *  # noqa: F403  (the real deployment's fixtures, ``stack`` among them)
from features.test_merchant_reports import *  # noqa: F403  (the steps; their in-memory ``stack`` is replaced below)

scenarios("merchant_reports.feature")
