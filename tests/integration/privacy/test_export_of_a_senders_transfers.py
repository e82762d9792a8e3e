"""A sender's export tells them no more about the people they sent to than the API does (review readrev): a send to
a username never gives its phone, and a send the recipient's limits refused never says whose limit or which."""

from __future__ import annotations

import json

import pytest
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Money
from cryptopay.core.privacy.export import subject_export
from cryptopay.core.wallets.service import RecipientLimit

from tests.support.privacy_stack import privacy_storage
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import wallet_stack


def _export(stack, ledger: Ledger, user_id: str) -> dict:
    with stack.backend.uow() as uow:
        user = uow.users.get(user_id)
        assert user is not None
        return subject_export(uow, ledger, user, at=stack.clock.now())


@pytest.fixture
def stack():
    return wallet_stack(Backend("memory", privacy_storage()))


def test_a_send_to_a_username_does_not_give_the_sender_the_recipients_phone(stack) -> None:
    """Amina sent KES 100 to @baraka: her export shows the number masked, as the API does, never Baraka's phone."""
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    baraka = stack.sign_up("0712000002", username="baraka")
    stack.fund(amina, "1000", "KES")
    stack.wallets.send(amina.id, "@baraka", Money.of(100, KES))
    exported = _export(stack, stack.ledger, amina.id)
    [transfer] = exported["transfers"]
    assert transfer["recipient_phone"] == "2547******02"
    assert "254712000002" not in json.dumps(exported)
    [received] = _export(stack, stack.ledger, baraka.id)["transfers"]  # the recipient's own number stays whole
    assert received["recipient_phone"] == "254712000002"


def test_a_send_refused_by_the_recipients_limits_does_not_say_whose_limit_in_the_export(stack) -> None:
    """The refusal is in Amina's export (what she did, when), without the recipient and which of their limits
    refused it: the officers' details, an oracle on another person's KYC state (a ``frozen`` limit is a compliance
    freeze of someone else)."""
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    baraka = stack.sign_up("0712000002", username="baraka")  # tier 0: receives at most KES 5,000 at a time
    stack.fund(amina, "10000", "KES")
    with pytest.raises(RecipientLimit):
        stack.wallets.send(amina.id, "@baraka", Money.of(6000, KES))
    exported = _export(stack, stack.ledger, amina.id)
    [refused] = [r for r in exported["audit"] if r["action"] == "wallet.send_refused_recipient"]
    assert dict(refused["details"]) == {}
    assert baraka.id not in json.dumps(exported)
