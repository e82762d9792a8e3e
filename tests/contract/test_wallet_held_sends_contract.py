"""A send to a frozen recipient is accepted and held (review4 R6, the second path): in memory, SQLite and PostgreSQL.

The sender is told nothing (no ``recipient_limit``, no ``wallet_frozen``: the send reads as delivered), the amount
waits in ``p2p_held``, the officers have the record (``wallet.frozen_recipient``) and the queue, and an officer's
release to the recipient or return to the sender, once a second officer approves it (four-eyes), moves it; the trial
balance is zero throughout."""

from __future__ import annotations

import json
from datetime import timedelta

import attrs
import pytest
from cryptopay.core import flows
from cryptopay.core.compliance.own_party import OwnParty
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, LimitExceeded, NotFound, Refused
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.privacy.export import subject_export
from cryptopay.core.wallets import TransferState
from cryptopay.core.wallets.held_sends import HeldSends
from cryptopay.core.wallets.model import HeldSendDecision
from cryptopay.core.wallets.service import RecipientLimit

from tests.support.privacy_stack import privacy_storage
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import WalletStack, memory_wallet_backend, wallet_stack

OFFICER = "usr_officer"
SECOND = "usr_second"  # four-eyes: the officer approving what OFFICER proposed


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


def _approved(held: HeldSends, transfer_id: str, decision: HeldSendDecision, note: str):
    """``decision`` proposed by OFFICER with ``note``, approved by SECOND."""
    propose = held.release if decision is HeldSendDecision.RELEASE else held.return_to_sender
    propose(transfer_id, officer=OFFICER, note=note)
    return held.approve(transfer_id, officer=SECOND)


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
    released = _approved(held, sent.id, HeldSendDecision.RELEASE, "the court order allows family support")
    assert released.state is TransferState.DELIVERED and held.waiting() == []
    assert stack.balance(baraka, "KES").amount == 300 and _held_balance(stack) == Money.zero(KES)
    assert [t.id for t in stack.wallets.transfers(baraka.id)] == [sent.id]
    [decided] = _records(stack, "wallet.held_send_released")
    assert decided.actor == f"user:{SECOND}" and dict(decided.details)["to"] == baraka.id
    assert dict(decided.details)["proposed_by"] == OFFICER and "family support" in dict(decided.details)["note"]
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
    returned = _approved(stack.wallets.held_sends(), sent.id, HeldSendDecision.RETURN, "the phone was stolen")
    assert returned.state is TransferState.RETURNED
    assert stack.wallets.transfer(amina.id, sent.id).shown_state is TransferState.RETURNED
    assert stack.balance(amina, "KES").amount == 1000 and stack.balance(baraka, "KES").amount == 0
    assert _held_balance(stack) == Money.zero(KES) and len(_records(stack, "wallet.held_send_returned")) == 1
    with pytest.raises(NotFound):
        stack.wallets.held_sends().release("trf_nope", officer=OFFICER, note="no such send")
    assert set(stack.ledger.trial_balance().values()) == {0}


def _held_send(stack: WalletStack):
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "1000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    return stack.wallets.send(amina.id, "0712000002", Money.of("300", KES), note="school fees"), amina, baraka


def test_a_held_send_moves_only_when_a_second_officer_approves_what_was_proposed(backend: Backend):
    """Four-eyes: a proposed release moves nothing (audited, the proposal stored with the send); its proposer cannot
    approve it (409 ``same_officer``, audited), nor can a second proposal be made, nor can a shell propose or approve; an
    approval expecting a return is a 409; a second officer carries out the release with the proposal's note."""
    stack = wallet_stack(backend)
    sent, _amina, baraka = _held_send(stack)
    held = stack.wallets.held_sends()
    with pytest.raises(InvalidState):  # nothing proposed yet
        held.approve(sent.id, officer=SECOND)
    with pytest.raises(Refused):  # revpass7 P4: never proposed from a shell (one person as two officers)
        held.release(sent.id, officer=OFFICER, note="a namesake", operator="ops:ann")
    [shell] = _records(stack, "wallet.held_send_shell_proposal_refused")
    assert shell.actor == "ops:ann" and held.get(sent.id).proposal is None
    proposed = held.release(sent.id, officer=OFFICER, note="a namesake")
    assert proposed.state is TransferState.HELD and proposed.proposal is not None
    assert (proposed.proposal.decision, proposed.proposal.by) == (HeldSendDecision.RELEASE, OFFICER)
    assert held.get(sent.id).proposal == proposed.proposal and held.get(sent.id).note == "school fees"
    assert [t.proposal for t in held.waiting()] == [proposed.proposal]
    assert _held_balance(stack) == Money.of("300", KES) and stack.balance(baraka, "KES").is_zero()
    [record] = _records(stack, "wallet.held_send_release_proposed")
    assert record.actor == f"user:{OFFICER}" and dict(record.details)["note"] == "a namesake"
    with pytest.raises(SameOfficer) as same:
        held.approve(sent.id, officer=OFFICER)
    assert (same.value.http_status, same.value.code) == (409, "same_officer")
    assert len(_records(stack, "wallet.held_send_same_officer_refused")) == 1
    with pytest.raises(Conflict):
        held.return_to_sender(sent.id, officer=SECOND, note="a second proposal")
    with pytest.raises(Refused):
        held.approve(sent.id, officer=SECOND, operator="ops:ben")
    with pytest.raises(Conflict, match="read it again"):
        held.approve(sent.id, officer=SECOND, expected=HeldSendDecision.RETURN)
    assert stack.balance(baraka, "KES").is_zero() and _records(stack, "wallet.held_send_released") == []
    released = held.approve(sent.id, officer=SECOND, expected=HeldSendDecision.RELEASE)
    assert (released.state, released.proposal) == (TransferState.DELIVERED, None)
    assert stack.balance(baraka, "KES").amount == 300 and _held_balance(stack) == Money.zero(KES)
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_declined_proposal_moves_nothing_and_a_changed_one_is_not_approved(backend: Backend):
    """A second officer declines a proposal (audited, nothing moves, another may be proposed); an approval of a
    proposal withdrawn and proposed again since the approver read it is a 409 (compared under the send's lock) and
    nothing moves."""
    stack = wallet_stack(backend)
    sent, amina, _baraka = _held_send(stack)
    held = stack.wallets.held_sends()
    held.return_to_sender(sent.id, officer=OFFICER, note="the phone was stolen")
    with pytest.raises(InvalidInput):
        held.decline(sent.id, officer=SECOND, note=" ")
    declined = held.decline(sent.id, officer=SECOND, note="the police say otherwise")
    assert declined.proposal is None and declined.state is TransferState.HELD
    [record] = _records(stack, "wallet.held_send_proposal_declined")
    assert (record.actor, dict(record.details)["proposed_by"]) == (f"user:{SECOND}", OFFICER)
    with pytest.raises(InvalidState):
        held.decline(sent.id, officer=SECOND, note="nothing to decline")
    held.release(sent.id, officer=OFFICER, note="released: a namesake")

    def proposed_again_meanwhile(amount: Money) -> Money:  # another officer's requests land mid-approval
        held.decline(sent.id, officer=OFFICER, note="withdrawn")
        held.return_to_sender(sent.id, officer="usr_third", note="returned on the court's word")
        return held.value_of(amount)

    racing = attrs.evolve(held, value_of=proposed_again_meanwhile)  # valued before the approval's transaction
    with pytest.raises(Conflict, match="changed meanwhile"):
        racing.approve(sent.id, officer=SECOND, expected=HeldSendDecision.RELEASE)
    assert stack.balance(amina, "KES").amount == 700 and _held_balance(stack) == Money.of("300", KES)
    returned = held.approve(sent.id, officer=SECOND, expected=HeldSendDecision.RETURN)
    assert returned.state is TransferState.RETURNED and stack.balance(amina, "KES").amount == 1000
    [done] = _records(stack, "wallet.held_send_returned")
    assert dict(done.details)["proposed_by"] == "usr_third" and "court" in dict(done.details)["note"]


def test_a_page_of_transfers_is_never_short_for_the_sends_held_for_its_reader(backend: Backend):
    """``Wallets.transfers`` reads past the sends held for the reader (unseen while held): with three held sends
    newer than their two others, a page of two is those two, and the page after them is empty."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    carol = stack.sign_up("0712000003", tier=1)
    stack.fund(amina, "1000", "KES")
    stack.fund(carol, "1000", "KES")
    received = stack.wallets.send(carol.id, "0712000002", Money.of("80", KES))
    sent = stack.wallets.send(baraka.id, "0712000003", Money.of("50", KES))
    _freeze_by_compliance(stack, baraka.id)
    for _ in range(3):
        assert stack.wallets.send(amina.id, "0712000002", Money.of("60", KES)).state is TransferState.HELD
    page = stack.wallets.transfers(baraka.id, limit=2)
    assert [t.id for t in page] == [sent.id, received.id]
    assert stack.wallets.transfers(baraka.id, after=page[-1].id, limit=2) == []
    assert len(stack.wallets.transfers(amina.id, limit=2)) == 2  # the sender sees them (as delivered)


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
    _approved(held, kept.id, HeldSendDecision.RELEASE, "the court order allows family support")
    held.return_to_sender(returned.id, officer=OFFICER, note="structuring suspected")
    held.decline(returned.id, officer=SECOND, note="not yet: a court order about it is due")
    _approved(held, returned.id, HeldSendDecision.RETURN, "structuring suspected")
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
    release proposed before the lapse is a ``LimitExceeded`` at its approval and moves nothing, and one proposed after
    it is refused at once; the officer returns it. A send within the limits is released."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "9000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    big = stack.wallets.send(amina.id, "0712000002", Money.of("8000", KES))
    small = stack.wallets.send(amina.id, "0712000002", Money.of("900", KES))
    assert big.state is TransferState.HELD and small.state is TransferState.HELD
    held = stack.wallets.held_sends()
    held.release(big.id, officer=OFFICER, note="the order allows it")
    stack.clock.advance(days=731)  # tier 1 is valid 730 days: back to what his phone holds
    with pytest.raises(LimitExceeded) as refused:
        held.approve(big.id, officer=SECOND)
    assert refused.value.details["limit"] == "receive.single" and not isinstance(refused.value, RecipientLimit)
    held.decline(big.id, officer=SECOND, note="over his tier now")
    with pytest.raises(LimitExceeded):
        held.release(big.id, officer=OFFICER, note="the order allows it")
    assert stack.balance(baraka, "KES").amount == 0 and _held_balance(stack) == Money.of("8900", KES)
    assert sorted(t.id for t in held.waiting()) == sorted([big.id, small.id])
    assert _records(stack, "wallet.held_send_released") == []
    released = _approved(held, small.id, HeldSendDecision.RELEASE, "family support")
    returned = _approved(held, big.id, HeldSendDecision.RETURN, "over his tier")
    assert (released.state, returned.state) == (TransferState.DELIVERED, TransferState.RETURNED)
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
    _approved(stack.wallets.held_sends(), kept.id, HeldSendDecision.RELEASE, "the order allows it")
    _approved(stack.wallets.held_sends(), back.id, HeldSendDecision.RETURN, "not this one")
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


def test_a_returned_held_send_no_longer_counts_in_what_its_recipient_received(backend: Backend):
    """The last read of review7's fixes: a send held for a frozen recipient counts as received from when it is held
    (F1: the next send sees the same room as an unfrozen wallet's), so one an officer returns must stop counting, or
    the recipient, unfrozen, is refused its day's room for money that never reached it."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "20000", "KES")
    dedan = stack.sign_up("0712000004")  # tier 0: KES 5,000 at once, 10,000 a day
    _freeze_by_compliance(stack, dedan.id)
    sent = [stack.wallets.send(amina.id, "0712000004", Money.of("5000", KES)) for _ in range(2)]
    assert _outcome(stack, amina.id, "0712000004", "1000")[0] == "RecipientLimit"  # the day's room is used
    for transfer in sent:
        _approved(stack.wallets.held_sends(), transfer.id, HeldSendDecision.RETURN, "not for this person")
    with stack.backend.uow() as uow:
        profile = uow.kyc.get(dedan.id)
        profile.unfreeze(OFFICER, at=stack.clock.now())
        uow.kyc.update(profile)
    delivered = stack.wallets.send(amina.id, "0712000004", Money.of("5000", KES))
    assert delivered.state is TransferState.DELIVERED and stack.balance(dedan, "KES").amount == 5000
    assert set(stack.ledger.trial_balance().values()) == {0}


def _export_of(stack: WalletStack, user_id: str) -> dict:
    return json.loads(_export_text(stack, user_id))


def test_a_held_send_s_times_read_as_an_ordinary_send_s_for_each_party(backend: Backend):
    """tipoff3: a send held for hours and then released read, to its recipient, ``created_at`` and ``finished_at``
    hours before its line in their history (an ordinary send's three times are one), so the delay told them it had
    waited; a returned one read returned at the moment it was sent. Now each party reads an ordinary send's times:
    the recipient a send made and delivered when it reached them, the sender one delivered when sent, or returned
    when the money came back; their data exports say the same. The stored times, the officers', are unchanged."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "1000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    kept = stack.wallets.send(amina.id, "0712000002", Money.of("300", KES))
    back = stack.wallets.send(amina.id, "0712000002", Money.of("200", KES))
    sent_at = kept.created_at
    stack.clock.advance(hours=5)
    _approved(stack.wallets.held_sends(), kept.id, HeldSendDecision.RELEASE, "the order allows it")
    _approved(stack.wallets.held_sends(), back.id, HeldSendDecision.RETURN, "not this one")
    [received] = stack.wallets.history(baraka.id)
    [came_back] = [h for h in stack.wallets.history(amina.id) if h.amount.is_positive() and h.transfer_id == back.id]
    assert received.at > sent_at + timedelta(hours=4)
    assert stack.wallets.transfer(baraka.id, kept.id).shown_times(baraka.id) == (received.at, received.at)
    assert stack.wallets.transfer(amina.id, kept.id).shown_times(amina.id) == (kept.created_at, kept.finished_at)
    assert stack.wallets.transfer(amina.id, back.id).shown_times(amina.id) == (back.created_at, came_back.at)
    exported = {t["id"]: t for t in _export_of(stack, baraka.id)["transfers"]}
    assert (exported[kept.id]["created_at"], exported[kept.id]["finished_at"]) == (received.at.isoformat(),) * 2
    mine = {t["id"]: t for t in _export_of(stack, amina.id)["transfers"]}
    assert (mine[kept.id]["created_at"], mine[kept.id]["finished_at"]) == (sent_at.isoformat(),) * 2
    assert mine[back.id]["finished_at"] == came_back.at.isoformat()
    stored = stack.wallets.transfer(baraka.id, kept.id)
    assert (stored.created_at, stored.finished_at) == (sent_at, sent_at)  # the officers read the truth


def test_an_officer_keeps_a_held_send_held_with_a_note_and_nothing_moves(backend: Backend):
    """tipoff3, as held merchant payments: ``keep`` records one officer's decision to keep a held send held (a note,
    nothing moves, no second officer); it is audited ``wallet.held_send_kept``, the send stays ``held`` with who, when
    and why, and may still be released later; a keep while a release is proposed is a ``Conflict``, one without a
    note ``InvalidInput``, an unknown send ``NotFound``. Neither party's data export tells of it."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "1000", "KES")
    _freeze_by_compliance(stack, baraka.id)
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("300", KES))
    held = stack.wallets.held_sends()
    with pytest.raises(InvalidInput):
        held.keep(sent.id, officer=OFFICER, note="  ")
    with pytest.raises(NotFound):
        held.keep("trf_nothing", officer=OFFICER, note="the police asked")
    kept = held.keep(sent.id, officer=OFFICER, note="the police asked us to keep it")
    assert kept.state is TransferState.HELD and kept.kept is not None
    assert (kept.kept.by, kept.kept.note) == (OFFICER, "the police asked us to keep it")
    assert held.get(sent.id).kept == kept.kept and [t.id for t in held.waiting()] == [sent.id]
    assert _held_balance(stack) == Money.of("300", KES) and stack.wallets.balances(baraka.id)["KES"].is_zero()
    [record] = _records(stack, "wallet.held_send_kept")
    assert (record.actor, dict(record.details)) == (f"user:{OFFICER}", {"note": "the police asked us to keep it"})
    held.release(sent.id, officer=OFFICER, note="the court order allows it")
    with pytest.raises(Conflict):
        held.keep(sent.id, officer=SECOND, note="keep it after all")
    for user in (amina, baraka):
        text = _export_text(stack, user.id)
        assert "police" not in text and "held_send" not in text and '"kept"' not in text, user.phone
    held.approve(sent.id, officer=SECOND)
    assert stack.wallets.balances(baraka.id)["KES"] == Money.of("300", KES) and _held_balance(stack).is_zero()
    with pytest.raises(InvalidState):
        held.keep(sent.id, officer=OFFICER, note="too late")


def test_a_kept_send_an_officer_returns_reads_returned_not_kept(backend: Backend):
    """A held send kept (with why) and then returned by two officers reads returned, its keep cleared (the console,
    the CLI and the API read ``kept`` from it); the keep stays in the audit log. Migration 0271 clears it from sends
    decided before."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "1000", "KES")
    stack.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("250", KES))
    held = stack.wallets.held_sends()
    assert held.keep(sent.id, officer=OFFICER, note="the police asked us to keep it").kept is not None
    returned = _approved(held, sent.id, HeldSendDecision.RETURN, "the phone was stolen")
    assert (returned.state, returned.kept) == (TransferState.RETURNED, None)
    assert (held.get(sent.id).state, held.get(sent.id).kept) == (TransferState.RETURNED, None)
    assert len(_records(stack, "wallet.held_send_kept")) == 1
