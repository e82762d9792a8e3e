"""``UsageRepository.references`` (how a user's bills are listed): the same on the fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.money import KES, Money
from cryptopay.core.wallets import Usage

from tests.support.sql_backends import Backend
from tests.support.wallet_stack import memory_wallet_backend

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py)."""
    return memory_wallet_backend()


def test_references_are_the_users_uses_of_one_product_newest_first_after_a_cursor(backend: Backend):
    """Only the user's, only the product's, each reference once, greatest (newest id) first, below ``after``."""
    rows = [
        ("use_1", "usr_1", "bill", "bil_01"),
        ("use_2", "usr_1", "bill", "bil_03"),
        ("use_3", "usr_1", "bill", "bil_02"),
        ("use_4", "usr_1", "p2p", "trf_09"),
        ("use_5", "usr_2", "bill", "bil_04"),
        ("use_6", "usr_1", "bill", "bil_03"),  # a second use under the same reference is listed once
    ]
    with backend.uow() as uow:
        for i, (use_id, user, product, reference) in enumerate(rows):
            at = AT + timedelta(minutes=i)
            uow.wallet_usage.add(Usage(use_id, user, product, Money.of(10, KES), at, reference))
    with backend.uow() as uow:
        assert uow.wallet_usage.references("usr_1", "bill", after=None, limit=10) == ["bil_03", "bil_02", "bil_01"]
        assert uow.wallet_usage.references("usr_1", "bill", after="bil_03", limit=1) == ["bil_02"]
        assert uow.wallet_usage.references("usr_1", "buy", after=None, limit=10) == []
        assert uow.wallet_usage.references("usr_2", "bill", after=None, limit=10) == ["bil_04"]
