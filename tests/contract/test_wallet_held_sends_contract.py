"""A send to a frozen recipient is accepted and held (review4 R6, the second path): in memory, SQLite and PostgreSQL.

The sender is told nothing (no ``recipient_limit``, no ``wallet_frozen``: the send reads as delivered), the amount
waits in ``p2p_held``, the officers have the record (``wallet.frozen_recipient``) and the queue, and an officer
releases it to the recipient or returns it to the sender; the trial balance is zero throughout."""

from __future__ import annotations

import json

import pytest
from cryptopay.core import flows
from cryptopay.core.compliance.own_party import OwnParty
from cryptopay.core.errors import InvalidInput, InvalidState, LimitExceeded, NotFound
from cryptopay.core.money import KES, Money
from cryptopay.core.privacy.export import subject_export
from cryptopay.core.wallets import TransferState
from cryptopay.core.wallets.service import RecipientLimit

from tests.support.privacy_stack import privacy_storage
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import WalletStack, memory_wallet_backend, wallet_stack

OFFICER = "usr_officer"


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py), with the repositories a data
    subject's export reads too."""
    extra = privacy_storage().repositories
    names = ("refresh_tokens", "merchants", "teams", "wallet_deposits", "withdrawals")
    return memory_wallet_backend(**{name: extra[name] for name in names})


def _freeze_by_compliance(stack: WalletStack, user_id: str) -> None:
    with stack.backend.uow() as uow:
        profile = uow.kyc.get(user_id)
        profile.freeze(OFFICER, "a court order about this person", at=stack.clock.now())
        uow.kyc.update(profile)


def _held_balance(stack: WalletStack) -> Money:
    return stack.ledger.balance(flows.p2p_held(KES)).posted


def _records(stack: WalletStack, action: str) -> list:
    with stack.backend.uow() as uow:
        return [r for r in uow.audit.records() if r.action == action]


def test_a_send_to_a_recipient_compliance_froze_is_held_unseen_and_released_by_an_officer(backend: Backend):
    """Frozen by compliance: the check and the send pass as for anyone; the sender sees it delivered, the recipient
    sees nothing, the officers see it waiting; released, it reaches the recipient once."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "1000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    assert stack.wallets.check_send(amina.id, "0712000002", Money.of("300", KES)).total == Money.of("300", KES)
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("300", KES))
    assert sent.state is TransferState.HELD and sent.shown_state is TransferState.DELIVERED
    assert stack.wallets.transfer(amina.id, sent.id).shown_state is TransferState.DELIVERED
    assert stack.balance(amina, "KES").amount == 700 and stack.balance(baraka, "KES").amount == 0
    assert _held_balance(stack) == Money.of("300", KES)
    assert [t.id for t in stack.wallets.transfers(baraka.id)] == []
    with pytest.raises(NotFound):
        stack.wallets.transfer(baraka.id, sent.id)
    [told] = _records(stack, "wallet.frozen_recipient")
    assert told.subject == f"transfer:{sent.id}" and dict(told.details)["recipient"] == baraka.id
    assert _records(stack, "wallet.send_refused_recipient") == []
    held = stack.wallets.held_sends()
    assert [t.id for t in held.waiting()] == [sent.id]

    with pytest.raises(InvalidInput):
        held.release(sent.id, officer=OFFICER, note="  ")
    released = held.release(sent.id, officer=OFFICER, note="the court order allows family support")
    assert released.state is TransferState.DELIVERED and held.waiting() == []
    assert stack.balance(baraka, "KES").amount == 300 and _held_balance(stack) == Money.zero(KES)
    assert [t.id for t in stack.wallets.transfers(baraka.id)] == [sent.id]
    [decided] = _records(stack, "wallet.held_send_released")
    assert decided.actor == f"user:{OFFICER}" and dict(decided.details)["to"] == baraka.id
    with pytest.raises(InvalidState):
        held.return_to_sender(sent.id, officer=OFFICER, note="too late")
    assert stack.balance(amina, "KES").amount == 700 and stack.balance(baraka, "KES").amount == 300
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_send_to_a_wallet_an_operator_froze_is_held_and_returned_to_its_sender(backend: Backend):
    """Frozen by an operator: accepted and held as well (it was a ``wallet_frozen`` refusal naming the recipient);
    returned by an officer, the sender has the amount back and sees the send returned."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "1000", "KES")
    stack.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("250", KES))
    assert sent.state is TransferState.HELD and stack.balance(amina, "KES").amount == 750
    with pytest.raises(OwnParty):  # the sender, were they an officer, decides nothing on their own send
        stack.wallets.held_sends().return_to_sender(sent.id, officer=amina.id, note="mine")
    [refused] = _records(stack, "compliance.own_party_refused")
    assert refused.subject == f"transfer:{sent.id}" and stack.balance(amina, "KES").amount == 750
    returned = stack.wallets.held_sends().return_to_sender(sent.id, officer=OFFICER, note="the phone was stolen")
    assert returned.state is TransferState.RETURNED
    assert stack.wallets.transfer(amina.id, sent.id).shown_state is TransferState.RETURNED
    assert stack.balance(amina, "KES").amount == 1000 and stack.balance(baraka, "KES").amount == 0
    assert _held_balance(stack) == Money.zero(KES) and len(_records(stack, "wallet.held_send_returned")) == 1
    with pytest.raises(NotFound):
        stack.wallets.held_sends().release("trf_nope", officer=OFFICER, note="no such send")
    assert set(stack.ledger.trial_balance().values()) == {0}


def _export_text(stack: WalletStack, user_id: str) -> str:
    with stack.backend.uow() as uow:
        user = uow.users.get(user_id)
        assert user is not None
        return json.dumps(subject_export(uow, stack.ledger, user, at=stack.clock.now()))


def test_neither_partys_data_export_tells_of_the_freeze_or_the_officers_decisions(backend: Backend):
    """review7 F8, F9: the held send's records are audited on the transfer, which is its sender's too; exported whole
    they named the recipient as frozen and carried the officers' notes. Neither party's export says held or frozen,
    names an officer's note, or (the recipient's, while it is held) shows the send at all."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    chebet = stack.sign_up("0712000003", tier=1)
    stack.fund(amina, "1000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    _freeze_by_compliance(stack, chebet.id)
    kept = stack.wallets.send(amina.id, "0712000002", Money.of("300", KES), note="rent")
    returned = stack.wallets.send(amina.id, "0712000003", Money.of("200", KES))
    assert kept.id not in _export_text(stack, baraka.id)  # held for him: nothing reached him yet
    held = stack.wallets.held_sends()
    held.release(kept.id, officer=OFFICER, note="the court order allows family support")
    held.return_to_sender(returned.id, officer=OFFICER, note="structuring suspected")
    for user in (amina, baraka, chebet):
        text = _export_text(stack, user.id).replace('"frozen_at": null', "")  # the wallet's own (operator) flag
        for told in ("frozen", "held_send", "court order", "structuring", "a court order about"):
            assert told not in text, (user.phone, told, text[max(0, text.find(told) - 200) : text.find(told) + 80])
    assert kept.id in _export_text(stack, baraka.id)  # released: his, as any send received
    assert returned.id not in _export_text(stack, chebet.id)
    with stack.backend.uow() as uow:  # the officers still have every record
        actions = {r.action for r in uow.audit.records()}
    assert {"wallet.frozen_recipient", "wallet.held_send_released", "wallet.held_send_returned"} <= actions


def _outcome(stack: WalletStack, sender_id: str, to: str, amount: str) -> tuple[str, str]:
    """What the sender is told of a send (its check, then the send): the refusal's class and text, or the state
    the sender sees and the total checked."""
    money = Money.of(amount, KES)
    try:
        total = stack.wallets.check_send(sender_id, to, money).total
        sent = stack.wallets.send(sender_id, to, money)
    except RecipientLimit as refused:
        return type(refused).__name__, f"{refused} {sorted(refused.details.items())}"
    return sent.shown_state.value, str(total)


def test_a_frozen_tier_0_recipient_answers_every_send_as_it_would_unfrozen(backend: Backend):
    """Review7 F1: a frozen tier-0 wallet's receiving limits were skipped (the send held), so a KES 6,000 check told
    the sender whether it was frozen. Now the same sends to Dedan (frozen by compliance), Chebet (frozen by an
    operator) and Eve (not frozen), all tier 0, are told the same: over KES 5,000 at once or KES 10,000 a day a
    ``recipient_limit`` refusal, within them delivered (held, for the frozen two, counted as received)."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "40000", "KES")
    dedan, chebet, _eve = (stack.sign_up(f"071200000{n}") for n in (4, 3, 5))
    _freeze_by_compliance(stack, dedan.id)
    stack.wallets.freeze(chebet.id, reason="reported stolen phone", actor="admin:ops")
    told = {
        phone: [_outcome(stack, amina.id, phone, amount) for amount in ("6000", "4000", "5000", "4000", "1000")]
        for phone in ("0712000004", "0712000003", "0712000005")
    }
    eve = told["0712000005"]
    assert eve[0][0] == "RecipientLimit" and eve[1:3] == [("delivered", "4000.00 KES"), ("delivered", "5000.00 KES")]
    assert eve[3][0] == "RecipientLimit" and eve[4] == ("delivered", "1000.00 KES"), eve
    assert told["0712000004"] == eve and told["0712000003"] == eve
    held = stack.wallets.held_sends().waiting()
    assert sorted(t.recipient_id for t in held) == sorted([dedan.id] * 3 + [chebet.id] * 3)
    assert stack.balance(dedan, "KES").amount == 0 and _held_balance(stack) == Money.of("20000", KES)
    assert stack.balance(amina, "KES").amount == 40000 - 3 * 10000
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_releasing_a_held_send_checks_the_recipients_receiving_limits_again(backend: Backend):
    """Review7 F2: a release credited any amount whatever the recipient's tier. Baraka (tier 1, frozen) is sent
    KES 8,000 (held); his approval lapses before an officer decides, so he is tier 0 again (KES 5,000 at once): the
    release is a ``LimitExceeded`` and moves nothing; the officer returns it. A send within the limits is released."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "9000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    big = stack.wallets.send(amina.id, "0712000002", Money.of("8000", KES))
    small = stack.wallets.send(amina.id, "0712000002", Money.of("900", KES))
    assert big.state is TransferState.HELD and small.state is TransferState.HELD
    stack.clock.advance(days=731)  # tier 1 is valid 730 days: back to what his phone holds
    held = stack.wallets.held_sends()
    with pytest.raises(LimitExceeded) as refused:
        held.release(big.id, officer=OFFICER, note="the order allows it")
    assert refused.value.details["limit"] == "receive.single" and not isinstance(refused.value, RecipientLimit)
    assert stack.balance(baraka, "KES").amount == 0 and _held_balance(stack) == Money.of("8900", KES)
    assert sorted(t.id for t in held.waiting()) == sorted([big.id, small.id])
    assert _records(stack, "wallet.held_send_released") == []
    assert held.release(small.id, officer=OFFICER, note="family support").state is TransferState.DELIVERED
    assert held.return_to_sender(big.id, officer=OFFICER, note="over his tier").state is TransferState.RETURNED
    assert stack.balance(baraka, "KES").amount == 900 and stack.balance(amina, "KES").amount == 8100
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_held_send_s_release_and_return_read_as_any_send_s_in_both_parties_history(backend: Backend):
    """Review7 F6: the release read "held transfer … released to its recipient" (kind ``p2p_held_release``) in the
    frozen recipient's history and statement, the return "held transfer … returned" in the sender's. Now the release
    is an ordinary receipt (``p2p``, "transfer trf_…") and the return reads as an unclaimed send's (``p2p_return``);
    no line of either party's history or statement says held."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "1000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    kept = stack.wallets.send(amina.id, "0712000002", Money.of("300", KES))
    back = stack.wallets.send(amina.id, "0712000002", Money.of("200", KES))
    stack.wallets.held_sends().release(kept.id, officer=OFFICER, note="the order allows it")
    stack.wallets.held_sends().return_to_sender(back.id, officer=OFFICER, note="not this one")
    [received] = stack.wallets.history(baraka.id)
    assert (received.kind, received.description, received.amount) == (
        "p2p",
        f"transfer {kept.id}",
        Money.of("300", KES),
    )
    returned = [h for h in stack.wallets.history(amina.id) if h.amount.is_positive() and h.transfer_id == back.id]
    assert [(h.kind, h.description) for h in returned] == [("p2p_return", f"transfer {back.id} returned to its sender")]
    month = stack.clock.now().strftime("%Y-%m")
    for user in (amina, baraka):
        shown = stack.wallets.statement(user.id, month) + repr(stack.wallets.history(user.id))
        assert "held" not in shown and "frozen" not in shown, shown
