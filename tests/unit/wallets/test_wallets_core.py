"""Personal wallets over the in-memory fakes: phone sign-up, limits, transfers between people and claims."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from cryptopay.core.errors import InsufficientFunds, InvalidInput, LimitExceeded, NotFound
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.flows import wallet_claims
from cryptopay.core.identity.model import RateLimited
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.wallets import TransferState
from cryptopay.core.wallets.claims import return_expired_claims
from cryptopay.core.wallets.model import FeeChanged
from cryptopay.core.wallets.service import SendBelowMinimum, WalletFrozen
from cryptopay.core.wallets.signup import WrongCode

from tests.support.wallet_stack import PASSWORD, wallet_stack


@pytest.fixture
def stack():
    return wallet_stack()


def test_sign_up_verifies_the_phone_and_opens_three_balances(stack):
    """A sign-up by phone alone gives a personal user with KES, USDT and BTC balances at zero and a tier-0 profile."""
    user = stack.sign_up("0712 000 001", username="Amina")
    assert (user.phone, user.email, user.role.value) == ("254712000001", None, "personal")
    assert {k: v.amount for k, v in stack.wallets.balances(user.id).items()} == {
        "KES": Money.zero(KES).amount,
        "USDT": Money.zero(USDT).amount,
        "BTC": Money.of(0, "BTC").amount,
    }
    assert stack.wallets.wallet(user.id).username == "amina"
    assert "wallet.signup" in [r.action for r in stack.backend.storage.audit_records()]


def test_the_code_is_stored_hashed_and_never_audited(stack):
    """The stored verification holds no code, and no audit record carries it."""
    verification = stack.signup.start("0712000001")
    code = stack.last_code("0712000001")
    assert code not in repr(verification) and code not in verification.code_hash
    assert all(code not in str(r.event.details) for r in stack.audit.records())


def test_the_code_s_sms_is_in_english_then_swahili(stack):
    """The number's language is not known yet: the code's text says it in English, then in Swahili."""
    stack.signup.start("0712000001")
    code, text = stack.last_code("0712000001"), stack.sms.sent_to("254712000001")[-1].text
    assert text.startswith(f"Your cryptopay code is {code}. It expires in 10 minutes.")
    assert f"/ Nambari yako ya cryptopay ni {code}. Itaisha baada ya dakika 10. Usimpe mtu yeyote." in text


def test_a_wrong_code_uses_up_a_try_and_five_end_the_verification(stack):
    """Each wrong code costs a try (even though the sign-up fails); after five even the right code is refused."""
    verification = stack.signup.start("0712000001")
    code = stack.last_code("0712000001")
    for _ in range(5):
        with pytest.raises(WrongCode, match="wrong"):
            stack.signup.complete(verification.id, "000000" if code != "000000" else "111111", password=PASSWORD)
    with pytest.raises(WrongCode, match="too many"):
        stack.signup.complete(verification.id, code, password=PASSWORD)


def test_an_expired_code_is_refused_and_a_resend_waits_a_minute(stack):
    """A code is valid ten minutes; a new one cannot be sent within a minute of the last."""
    verification = stack.signup.start("0712000001")
    with pytest.raises(RateLimited):
        stack.signup.resend(verification.id)
    stack.clock.advance(minutes=11)
    with pytest.raises(WrongCode, match="expired"):
        stack.signup.complete(verification.id, stack.last_code("0712000001"), password=PASSWORD)
    stack.signup.resend(verification.id)
    done = stack.signup.complete(verification.id, stack.last_code("0712000001"), password=PASSWORD)
    assert done.user.phone == "254712000001"


def test_a_number_gets_at_most_five_new_verifications_an_hour(stack):
    """Starting over and over is throttled per number, so nobody can flood a phone with codes."""
    for _ in range(5):
        stack.signup.start("0712000001")
    with pytest.raises(RateLimited):
        stack.signup.start("0712000001")


def test_a_number_with_an_account_gets_the_same_answer_and_its_owner_a_text(stack):
    """Review F4: starting a sign-up for a customer's number answers like any other (no oracle of who is a
    customer) but sends no code: the owner is texted that someone tried, it is audited, and it cannot complete."""
    stack.sign_up("0712000001")
    before = len(stack.sms.sent_to("254712000001"))
    verification = stack.signup.start("+254712000001")
    fresh = stack.signup.start("0712000009")
    assert (type(verification), verification.phone) == (type(fresh), "254712000001")
    (told,) = stack.sms.sent_to("254712000001")[before:]
    assert "already has one" in told.text and not re.search(r"[0-9]{6}", told.text)
    assert "/ Mtu ameomba kufungua pochi ya cryptopay kwa nambari hii" in told.text  # then in Swahili
    assert stack.audit.records()[-2].action == "wallet.signup_of_a_customer"
    stack.clock.advance(minutes=2)
    stack.signup.resend(verification.id)
    assert len(stack.sms.sent_to("254712000001")) == before + 1  # told once; resends only audited
    with pytest.raises(WrongCode):
        stack.signup.complete(verification.id, "123456", password=PASSWORD)


def test_tier_0_cannot_send_and_is_told_which_limit(stack):
    """A tier-0 wallet may hold money but not send it: refused by the p2p limit, with nothing remaining."""
    amina, baraka = stack.sign_up("0712000001"), stack.sign_up("0712000002")
    stack.fund(amina, "1000", "KES")
    with pytest.raises(LimitExceeded) as refused:
        stack.wallets.send(amina.id, "0712000002", Money.of("100", KES))
    assert refused.value.details["limit"] == "p2p.single"
    assert refused.value.details["remaining"] == "0.00"
    assert stack.balance(amina, "KES").amount == 1000 and stack.balance(baraka, "KES").amount == 0


def test_send_by_phone_or_username_moves_money_at_once(stack):
    """KES by phone and USDT by username arrive at once; free by default."""
    amina = stack.sign_up("0712000001", tier=1)
    baraka = stack.sign_up("0712000002", username="baraka")
    stack.fund(amina, "1000", "KES")
    stack.fund(amina, "10", "USDT")
    stack.wallets.quoter = lambda: None
    first = stack.wallets.send(amina.id, "0712000002", Money.of("250", KES), note="lunch")
    assert (first.state, first.fee.amount, first.note) == (TransferState.DELIVERED, 0, "lunch")
    assert stack.balance(baraka, "KES").amount == 250 and stack.balance(amina, "KES").amount == 750
    assert stack.ledger.trial_balance()["KES"] == 0


def test_a_usdt_send_worth_less_than_a_cent_is_refused_in_usdt_with_its_minimum(stack):
    """Review F4: 0.000001 USDT (KES 0.00013 at 130) is refused naming the USDT amount and the least one can send,
    not a KES 0.00 movement. Since review H19 that least is the P2P minimum (KES 10 / 130, rounded up): a cent's
    worth is refused too, naming it, and the minimum goes through; since review3 I7 both name the same least."""
    amina = stack.sign_up("0712000001", tier=1)
    baraka = stack.sign_up("0712000002", username="baraka")
    stack.fund(amina, "1", "USDT")
    with pytest.raises(SendBelowMinimum) as refused:  # review3 I7: the minimum first, one refusal to follow
        stack.wallets.send(amina.id, "@baraka", Money.of("0.000001", USDT))
    assert str(refused.value) == (
        "a send is worth at least KES 10.00 (this is KES 0.00): at today's price send at least 0.076924 USDT"
    )
    assert stack.wallets.transfers(amina.id) == []
    with pytest.raises(SendBelowMinimum) as refused:
        stack.wallets.send(amina.id, "@baraka", Money.of("0.000077", USDT))
    assert str(refused.value) == (
        "a send is worth at least KES 10.00 (this is KES 0.01): at today's price send at least 0.076924 USDT"
    )
    stack.wallets.send(amina.id, "@baraka", Money.of("0.076924", USDT))
    assert stack.balance(baraka, "USDT") == Money.of("0.076924", USDT)


def test_the_daily_p2p_limit_names_itself_and_what_remains(stack):
    """Tier 1 sends KES 100,000 a day: the transfer that would pass it is refused, saying how much remains."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002", tier=1)  # tier 1 receives any amount (tier 0 receives small amounts only)
    stack.fund(amina, "200000", "KES")
    for _ in range(2):
        stack.wallets.send(amina.id, "0712000002", Money.of("45000", KES))
    with pytest.raises(LimitExceeded) as refused:
        stack.wallets.send(amina.id, "0712000002", Money.of("20000", KES))
    assert refused.value.details == {"limit": "p2p.daily", "remaining": "10000.00"}
    assert "10,000.00 remains" in str(refused.value)


def test_more_than_the_balance_is_refused_and_changes_nothing(stack):
    """Sending more than the wallet holds is insufficient funds; no transfer, no usage counted."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002")
    stack.fund(amina, "100", "KES")
    with pytest.raises(InsufficientFunds):
        stack.wallets.send(amina.id, "0712000002", Money.of("100.01", KES))
    assert stack.wallets.transfers(amina.id) == []


def test_a_frozen_wallet_neither_sends_nor_receives(stack):
    """Frozen by an operator (audited with the reason): its sends are refused; transfers to it are accepted and held,
    never credited (review4 R6: a refusal told the sender about the freeze)."""
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "100", "KES")
    stack.fund(baraka, "100", "KES")
    stack.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    held = stack.wallets.send(amina.id, "0712000002", Money.of("50", KES))
    assert held.state is TransferState.HELD and stack.balance(baraka, "KES").amount == 100
    with pytest.raises(WalletFrozen):
        stack.wallets.send(baraka.id, "0712000001", Money.of("50", KES))
    stack.wallets.unfreeze(baraka.id, actor="admin:ops")
    stack.wallets.send(amina.id, "0712000002", Money.of("50", KES))
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert "wallet.frozen" in actions and "wallet.unfrozen" in actions


def test_a_number_without_a_wallet_is_invited_and_receives_on_sign_up(stack):
    """Money to a number with no wallet waits as a claim, the number gets an SMS, and signing up delivers it."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "500", "KES")
    sent = stack.wallets.send(amina.id, "0733000003", Money.of("200", KES))
    assert sent.state is TransferState.AWAITING_CLAIM
    invitation = stack.sms.sent_to("0733000003")[-1].text
    assert "You have been sent KES 200.00 on cryptopay. Sign up with this number within 7 days" in invitation
    assert "/ Umetumiwa KES 200.00 kwenye cryptopay. Jisajili kwa nambari hii ndani ya siku 7" in invitation
    assert stack.ledger.balance(wallet_claims(KES)).posted.amount == 200
    chebet = stack.sign_up("0733000003")
    assert stack.balance(chebet, "KES").amount == 200
    assert stack.wallets.transfer(chebet.id, sent.id).state is TransferState.CLAIMED


def test_an_unclaimed_transfer_returns_to_its_sender_after_seven_days(stack):
    """Nobody signs up in seven days: the worker's job gives the money back, once."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "500", "KES")
    sent = stack.wallets.send(amina.id, "0733000003", Money.of("200", KES))
    stack.clock.advance(days=6)
    assert return_expired_claims(stack.backend.uow, stack.ledger, now=stack.clock.now()) == 0
    stack.clock.advance(days=2)
    assert return_expired_claims(stack.backend.uow, stack.ledger, now=stack.clock.now()) == 1
    assert return_expired_claims(stack.backend.uow, stack.ledger, now=stack.clock.now()) == 0
    assert stack.balance(amina, "KES").amount == 500
    assert stack.wallets.transfer(amina.id, sent.id).state is TransferState.RETURNED


def test_history_shows_running_balances_and_filters(stack):
    """Each movement shows its signed amount and the balance after it; filters by asset and kind; a CSV statement."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002")
    stack.fund(amina, "1000", "KES")
    stack.clock.advance(minutes=1)
    stack.wallets.send(amina.id, "0712000002", Money.of("250", KES), note="lunch")
    stack.clock.advance(minutes=1)
    stack.wallets.send(amina.id, "0712000002", Money.of("100", KES))
    lines = stack.wallets.history(amina.id, asset=KES)
    assert [(str(h.amount.amount), str(h.balance_after.amount)) for h in lines] == [
        ("-100.00", "650.00"),
        ("-250.00", "750.00"),
        ("1000.00", "1000.00"),
    ]
    assert len(stack.wallets.history(amina.id, kind="p2p")) == 2
    csv_text = stack.wallets.statement(amina.id, stack.clock.now().strftime("%Y-%m"))
    assert csv_text.splitlines()[0].startswith("date,asset,amount,balance_after")
    assert csv_text.splitlines()[-2].split(",")[2:4] == ["-100.00", "650.00"]  # then the closing balance line


def test_a_send_confirmed_at_a_fee_the_schedule_no_longer_asks_is_refused_and_moves_nothing(stack):
    """The page's confirmation carries the fee it showed (``max_fee``): a schedule raised in between is a 409
    ``fee_changed`` and nothing moves; the fee shown, or a lower one, goes through."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002")
    stack.fund(amina, "1000", "KES")
    since = datetime(2020, 1, 1, tzinfo=UTC)
    shown = stack.wallets.check_send(amina.id, "0712000002", Money.of("100", KES)).fee
    assert shown == Money.zero(KES)
    raised = FeeSchedule(product=FeeProduct.P2P, asset=KES, version=1, effective_from=since, fixed=Money.of("5", KES))
    stack.wallets.fees = FeeBook((raised,))
    with pytest.raises(FeeChanged) as refused:
        stack.wallets.send(amina.id, "0712000002", Money.of("100", KES), max_fee=shown)
    assert (
        refused.value.code == "fee_changed"
        and refused.value.http_status == 409
        and "5.00 KES now" in refused.value.message
    )
    assert stack.balance(amina, "KES").amount == 1000 and stack.wallets.transfers(amina.id) == []
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("100", KES), max_fee=Money.of("5", KES))
    assert sent.fee == Money.of("5", KES) and stack.balance(amina, "KES").amount == 895


def test_a_send_check_shows_the_fee_the_send_charges_and_moves_nothing(stack):
    """``check_send``: the number masked (or the @username typed), the amount, the P2P fee and the total; nothing
    moves and nothing is recorded; the send that follows charges that fee. A username nobody has and oneself are
    refused as ``send`` refuses them."""
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    stack.sign_up("0712000002", username="baraka")
    stack.fund(amina, "1000", "KES")
    since = datetime(2020, 1, 1, tzinfo=UTC)
    fixed = Money.of("5", KES)
    schedule = FeeSchedule(product=FeeProduct.P2P, asset=KES, version=1, effective_from=since, fixed=fixed)
    stack.wallets.fees = FeeBook((schedule,))
    checked = stack.wallets.check_send(amina.id, "0712 000 002", Money.of("100", KES), note="tea")
    assert (checked.to, checked.amount, checked.fee, checked.total) == (
        "2547******02",
        Money.of("100", KES),
        fixed,
        Money.of("105", KES),
    )
    assert stack.wallets.check_send(amina.id, "baraka", Money.of("10", KES)).to == "@baraka"
    assert stack.balance(amina, "KES").amount == 1000 and stack.wallets.transfers(amina.id) == []
    with pytest.raises(NotFound):
        stack.wallets.check_send(amina.id, "@nobody_here", Money.of("10", KES))
    for me in ("0712000001", "@amina"):
        with pytest.raises(InvalidInput, match="yourself"):
            stack.wallets.check_send(amina.id, me, Money.of("50", KES))
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("100", KES))
    assert sent.fee == checked.fee and stack.balance(amina, "KES").amount == 895


def _three_invitations_and_a_sign_up(stack):
    """Amina sends three KES 5,000 invitations to Chebet's number; Chebet signs up (tier 0: KES 10,000 a day) and
    claims the first two; the third waits. Amina, Chebet and the waiting transfer."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "15000", "KES")
    sent = [stack.wallets.send(amina.id, "0733000003", Money.of("5000", KES)) for _ in range(3)]
    chebet = stack.sign_up("0733000003")
    assert stack.balance(chebet, "KES").amount == 10000
    assert stack.wallets.transfer(amina.id, sent[2].id).state is TransferState.AWAITING_CLAIM
    return amina, chebet, sent[2]


def test_a_transfer_refused_at_sign_up_is_claimed_when_a_kyc_approval_grants_a_tier():
    """The officer's approval of Chebet's ID (``KycReview``, whose ``on_granted`` the wiring points at
    ``WaitingClaims.after_verification``) claims the transfer her tier-0 wallet could not take, at once, audited
    ``wallet.transfer_claimed``; nothing is left for the job to return."""
    from cryptopay.core.testing.kyc import InMemoryKycApplications
    from cryptopay.core.testing.remittances import InMemoryRemittances
    from cryptopay.core.testing.travel_rule import InMemoryTravelRule

    from tests.support.kyc_rig import KycRig
    from tests.support.sql_backends import Backend
    from tests.support.wallet_stack import memory_wallet_storage

    storage = memory_wallet_storage(
        kyc_applications=InMemoryKycApplications(), remittances=InMemoryRemittances(), travel_rule=InMemoryTravelRule()
    )
    stack = wallet_stack(Backend("memory", storage))
    _amina, chebet, waiting = _three_invitations_and_a_sign_up(stack)
    rig = KycRig(storage)
    rig.review.clock, rig.review.on_granted = stack.clock, stack.waiting_claims.after_verification
    rig.decide("usr_officer", rig.personal(chebet.id, level=1))
    assert stack.balance(chebet, "KES").amount == 15000
    assert stack.wallets.transfer(chebet.id, waiting.id).state is TransferState.CLAIMED
    claimed = [r for r in storage.audit_records() if r.action == "wallet.transfer_claimed"]
    assert [r.subject for r in claimed][-1] == f"transfer:{waiting.id}"
    stack.clock.advance(days=8)
    assert stack.waiting_claims.settle() == (0, 0)


def test_the_job_claims_what_a_new_day_has_room_for_before_returning_the_expired(stack):
    """The worker's job (``WaitingClaims.settle``) tries the waiting transfers of registered recipients first: the
    same day there is no room (nothing claimed, nothing audited again); the next day the third transfer is claimed,
    even with its claim window ended, instead of going back to Amina."""
    amina, chebet, waiting = _three_invitations_and_a_sign_up(stack)
    refusals = [r for r in stack.backend.storage.audit_records() if r.action == "wallet.claim_refused"]
    assert [r.subject for r in refusals] == [f"transfer:{waiting.id}"]
    assert stack.waiting_claims.settle() == (0, 0)
    assert stack.wallets.transfer(amina.id, waiting.id).state is TransferState.AWAITING_CLAIM
    assert len([r for r in stack.backend.storage.audit_records() if r.action == "wallet.claim_refused"]) == 1
    stack.clock.advance(days=8)  # a new day, and the claim window has ended
    assert stack.waiting_claims.settle() == (1, 0)
    assert stack.balance(chebet, "KES").amount == 15000 and stack.balance(amina, "KES").amount == 0
    assert stack.wallets.transfer(chebet.id, waiting.id).state is TransferState.CLAIMED


def test_the_job_leaves_a_frozen_wallets_transfers_to_go_back(stack):
    """A frozen wallet claims nothing when the job runs: its waiting transfer goes back to the sender once expired."""
    amina, chebet, waiting = _three_invitations_and_a_sign_up(stack)
    stack.wallets.freeze(chebet.id, reason="fraud report", actor="usr_officer")
    stack.clock.advance(days=8)
    assert stack.waiting_claims.settle() == (0, 1)
    assert stack.wallets.transfer(amina.id, waiting.id).state is TransferState.RETURNED
    assert stack.balance(amina, "KES").amount == 5000


def test_a_note_that_speaks_as_m_pesa_is_refused_and_moves_nothing(stack):
    """The recipient reads a transfer's note beside the money (review6 F2 class): "M-PESA reversal" or a brand in
    look-alike letters is a 422 ``impersonating_text``, nothing sent; an ordinary note goes with the money."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002")
    stack.fund(amina, "1000", "KES")
    for note in (
        "M-PESA reversal: send it back to 0712000001",
        "Safaricom official refund",
        "\uff2d\uff30\uff25\uff33\uff21",
    ):
        with pytest.raises(InvalidInput) as refused:
            stack.wallets.send(amina.id, "0712000002", Money.of("100", KES), note=note)
        assert refused.value.code == "impersonating_text" and refused.value.details["field"] == "note"
    assert stack.balance(amina, "KES").amount == 1000 and stack.wallets.transfers(amina.id) == []
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("100", KES), note="M-Pesa ilikataa, hii ni ya chai")
    assert sent.note == "M-Pesa ilikataa, hii ni ya chai"
