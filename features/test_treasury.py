"""The treasury (treasury.feature) on the in-memory stack: fake chains, M-Pesa and storage."""

from collections.abc import Callable
from typing import Any

import pytest
from cryptopay.core.testing.treasury import TreasuryStack
from pytest_bdd import scenarios

from features.treasury_steps import *  # noqa: F403  (the steps become this module's fixtures)

scenarios("treasury.feature")


@pytest.fixture
def make_treasury() -> Callable[..., TreasuryStack]:
    """A treasury around a fresh in-memory payments stack."""

    def make(**options: Any) -> TreasuryStack:
        return TreasuryStack(**options)

    return make
