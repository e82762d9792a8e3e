"""Refunds, cancelled invoices and payment links (merchant_actions.feature, payment_links.feature) on real parts.

The same scenarios and steps as test_merchant_actions.py; only the ``stack`` differs (``features.real_parts``:
PostgreSQL and Daraja over HTTP to its sandbox). Each scenario starts from empty tables and must leave the books
balanced.
"""

from pytest_bdd import scenarios

from features.merchant_actions_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.merchant_journey_steps import *  # noqa: F403
from features.real_parts import *  # noqa: F403  (the real deployment's fixtures)

scenarios("merchant_actions.feature", "payment_links.feature")
