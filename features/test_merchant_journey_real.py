"""The merchant journey (merchant_journey.feature) on real parts: PostgreSQL and Daraja over HTTP to its sandbox.

The same scenarios and steps as test_merchant_journey.py; only the ``stack`` differs (``features.real_parts``,
over ``tests.support.real_payments_stack``). Each scenario starts from empty tables and must leave the books
balanced. PostgreSQL is required: without it ``database_url`` fails the run, it never skips.
"""

from pytest_bdd import scenarios

from features.merchant_journey_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.real_parts import *  # noqa: F403  (the real deployment's fixtures)

scenarios("merchant_journey.feature")
