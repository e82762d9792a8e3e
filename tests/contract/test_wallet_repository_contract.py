"""Wallet repositories and the wallet use cases: the same behaviour on the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.errors import Conflict, InsufficientFunds
from cryptopay.core.identity import Role, User
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.wallets import PhoneVerification, Transfer, TransferState, Usage, Wallet

from tests.support.sql_backends import Backend
from tests.support.threads import joined
from tests.support.wallet_stack import memory_wallet_backend, wallet_stack

AT = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py)."""
    return memory_wallet_backend()


def _user(uid: str, phone: str | None, email: str | None = None) -> User:
    return User(uid, email, "hash", Role.PERSONAL, AT, phone=phone)


def _transfer(tid: str, sender: str, *, state=TransferState.AWAITING_CLAIM, phone="254733000003", expires=None):
    return Transfer(
        id=tid,
        sender_id=sender,
        recipient_phone=phone,
        amount=Money.of("200", KES),
        fee=Money.zero(KES),
        state=state,
        created_at=AT,
        note="rent",
        claim_expires_at=expires or AT + timedelta(days=7),
    )


def test_users_without_email_are_found_by_phone_and_phones_are_unique(backend: Backend):
    """A phone-only user round-trips, is found by phone, and a second user with that phone is a conflict."""
    with backend.uow() as uow:
        uow.users.add(_user("usr_1", "254712000001"))
        uow.users.add(_user("usr_2", None, "ann@example.com"))
    with backend.uow() as uow:
        assert uow.users.by_phone("254712000001").email is None
        assert uow.users.get("usr_2").phone is None
    with pytest.raises(Conflict), backend.uow() as uow:
        uow.users.add(_user("usr_3", "254712000001"))


def test_wallets_round_trip_and_phone_and_username_are_unique(backend: Backend):
    """A wallet is found by user, phone and username; another wallet with the same phone or username conflicts."""
    wallet = Wallet(user_id="usr_1", phone="254712000001", created_at=AT, username="amina")
    with backend.uow() as uow:
        uow.wallets.add(wallet)
    with backend.uow() as uow:
        assert uow.wallets.get("usr_1", lock=True) == wallet
        assert uow.wallets.by_phone("254712000001") == wallet == uow.wallets.by_username("amina")
        wallet.frozen_at, wallet.frozen_reason = AT, "fraud report"
        uow.wallets.update(wallet)
    with backend.uow() as uow:
        assert uow.wallets.get("usr_1").frozen
        assert [w.user_id for w in uow.wallets.list(after=None, limit=10)] == ["usr_1"]
    for clash in (
        Wallet(user_id="usr_2", phone="254712000001", created_at=AT),
        Wallet(user_id="usr_3", phone="254712000009", created_at=AT, username="amina"),
    ):
        with pytest.raises(Conflict), backend.uow() as uow:
            uow.wallets.add(clash)


def test_phone_verifications_keep_tries_and_sends(backend: Backend):
    """A verification's tries, sends and times come back exactly as stored."""
    v = PhoneVerification(
        id="ver_1",
        phone="254712000001",
        code_hash="h",
        created_at=AT,
        expires_at=AT + timedelta(minutes=10),
        last_sent_at=AT,
    )
    with backend.uow() as uow:
        uow.phone_verifications.add(v)
    v.attempts, v.sends, v.verified_at = 2, 3, AT
    with backend.uow() as uow:
        uow.phone_verifications.update(v)
    with backend.uow() as uow:
        assert uow.phone_verifications.get("ver_1", lock=True) == v


def test_transfers_claims_and_listing(backend: Backend):
    """Waiting transfers are found by phone and by expiry; a user's transfers list newest first, paged."""
    with backend.uow() as uow:
        uow.wallet_transfers.add(_transfer("trf_1", "usr_1"))
        uow.wallet_transfers.add(_transfer("trf_2", "usr_1", expires=AT + timedelta(days=1)))
        uow.wallet_transfers.add(_transfer("trf_3", "usr_2", state=TransferState.DELIVERED, phone="254712000001"))
    with backend.uow() as uow:
        assert [t.id for t in uow.wallet_transfers.awaiting_claim("254733000003")] == ["trf_1", "trf_2"]
        expiring = uow.wallet_transfers.claims_expiring(AT + timedelta(days=2), limit=10)
        assert [t.id for t in expiring] == ["trf_2"]
        assert [t.id for t in uow.wallet_transfers.for_user("usr_1", after=None, limit=1)] == ["trf_2"]
        assert [t.id for t in uow.wallet_transfers.for_user("usr_1", after="trf_2", limit=5)] == ["trf_1"]
        assert uow.wallet_transfers.get("trf_1") == _transfer("trf_1", "usr_1")


def test_usage_totals_split_today_and_the_month_exactly(backend: Backend):
    """Usage sums per product, today's part and the month's, to the cent (never through a float)."""
    day, month = AT.replace(hour=0), AT.replace(day=1, hour=0)
    rows = [
        ("p2p", "0.10", AT),
        ("p2p", "0.20", AT),
        ("p2p", "100.00", AT - timedelta(days=1)),
        ("buy", "5", AT),
        ("p2p", "999", month - timedelta(days=1)),
    ]
    with backend.uow() as uow:
        for i, (product, value, at) in enumerate(rows):
            uow.wallet_usage.add(Usage(f"use_{i}", "usr_1", product, Money.of(value, KES), at, f"trf_{i}"))
        uow.wallet_usage.add(Usage("use_x", "usr_2", "p2p", Money.of("7", KES), AT, "trf_x"))
    with backend.uow() as uow:
        totals = uow.wallet_usage.totals("usr_1", day_start=day, month_start=month)
    assert totals == {
        "p2p": (Money.of("0.30", KES), Money.of("100.30", KES)),
        "buy": (Money.of("5", KES), Money.of("5", KES)),
    }


def test_the_whole_p2p_journey_on_this_backend(backend: Backend):
    """Sign up, send, invite, claim and return run the same on this storage, and the books balance."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    baraka = stack.sign_up("0712000002")
    stack.fund(amina, "1000", "KES")
    stack.fund(amina, "20", "USDT")
    stack.wallets.send(amina.id, "0712000002", Money.of("100", KES), note="chai")
    invited = stack.wallets.send(amina.id, "0733000003", Money.of("50", KES))
    unclaimed = stack.wallets.send(amina.id, "0733000004", Money.of("75", KES))
    chebet = stack.sign_up("0733000003")
    stack.clock.advance(days=8)
    from cryptopay.core.wallets.claims import return_expired_claims

    assert return_expired_claims(backend.uow, stack.ledger, now=stack.clock.now()) == 1
    assert stack.balance(baraka, "KES").amount == 100 and stack.balance(chebet, "KES").amount == 50
    assert stack.balance(amina, "KES").amount == 850
    assert stack.wallets.transfer(amina.id, invited.id).state is TransferState.CLAIMED
    assert stack.wallets.transfer(amina.id, unclaimed.id).state is TransferState.RETURNED
    assert set(stack.ledger.trial_balance().values()) == {0}
    assert stack.balance(amina, "USDT") == Money.of("20", USDT)


def test_a_frozen_wallet_neither_sends_nor_receives_on_this_backend(backend: Backend):
    """The send reads whether its sender is frozen (on SQL from the stored document, the sealed phone unopened)
    and whether its recipient is: a frozen sender is refused, a send to a frozen recipient is held, never credited
    (review4 R6: ``test_wallet_held_sends_contract``), and unfreezing lets the money go."""
    from cryptopay.core.wallets.service import WalletFrozen

    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "100", "KES")
    stack.fund(baraka, "100", "KES")
    stack.wallets.freeze(amina.id, reason="reported stolen phone", actor="admin:ops")
    with pytest.raises(WalletFrozen, match="this wallet is frozen"):
        stack.wallets.send(amina.id, "0712000002", Money.of("50", KES))
    held = stack.wallets.send(baraka.id, "0712000001", Money.of("50", KES))
    assert held.state is TransferState.HELD
    assert stack.balance(amina, "KES").amount == 100 and stack.balance(baraka, "KES").amount == 50
    stack.wallets.unfreeze(amina.id, actor="admin:ops")
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("50", KES))
    assert sent.state is TransferState.DELIVERED and sent.recipient_phone == "254712000002"
    assert stack.balance(baraka, "KES").amount == 100


def _buy(bid: str, user: str, *, at=AT, state=None, digest=None):
    from decimal import Decimal

    from cryptopay.core.wallets.buys import Buy, BuyState

    return Buy(
        id=bid,
        user_id=user,
        phone="254712000001",
        kes=Money.of(1000, KES),
        usdt=Money.of("7.654037", USDT),
        quote_id="qt_1",
        ask=Decimal("130.65"),
        mid=Decimal("130"),
        state=state or BuyState.PROMPTED,
        token_digest=digest or f"digest-{bid}",
        created_at=at,
        next_query_at=at + timedelta(minutes=2),
        checkout_request_id=f"ws_CO_{bid}",
        answers=("callback 1037",),
    )


def test_buys_round_trip_are_found_by_token_and_come_due_for_queries(backend: Backend):
    """A buy comes back exactly, by id and by its token's digest; open ones come due by time; tokens are unique."""
    from cryptopay.core.wallets.buys import BuyState

    with backend.uow() as uow:
        uow.wallet_buys.add(_buy("buy_1", "usr_1"))
        uow.wallet_buys.add(_buy("buy_2", "usr_1", at=AT + timedelta(minutes=1)))
        uow.wallet_buys.add(_buy("buy_3", "usr_1", state=BuyState.CREDITED))
    with backend.uow() as uow:
        assert uow.wallet_buys.by_token("digest-buy_1", lock=True) == _buy("buy_1", "usr_1")
        due = uow.wallet_buys.due_for_query(AT + timedelta(minutes=2, seconds=30), limit=10)
        assert [b.id for b in due] == ["buy_1"]
        assert [b.id for b in uow.wallet_buys.for_user("usr_1", after=None, limit=2)] == ["buy_3", "buy_2"]
        assert [b.id for b in uow.wallet_buys.open_for_user("usr_1")] == ["buy_1", "buy_2"]  # not the credited one
        assert uow.wallet_buys.open_for_user("usr_2") == []
    with pytest.raises(Conflict), backend.uow() as uow:
        uow.wallet_buys.add(_buy("buy_4", "usr_2", digest="digest-buy_1"))


def test_one_open_prompt_per_wallet_on_this_backend(backend: Backend):
    """A second buy while the first prompt awaits its answer is refused (409 ``stk_prompt_open`` naming it) and
    records nothing; once the first is answered, the next is prompted (review4 R19)."""
    from cryptopay.core.wallets.buys import PromptOpen

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001")
    first = stack.buys.start(amina.id, Money.of(1300, KES))
    with pytest.raises(PromptOpen) as refused:
        stack.buys.start(amina.id, Money.of(500, KES))
    assert refused.value.code == "stk_prompt_open" and refused.value.details["buy_id"] == first.id
    assert [b.id for b in stack.buys.for_user(amina.id)] == [first.id]
    stack.deliver_callbacks()
    second = stack.buys.start(amina.id, Money.of(500, KES))
    assert [b.id for b in stack.buys.for_user(amina.id)] == [second.id, first.id]


def test_buying_with_mpesa_on_this_backend(backend: Backend):
    """A paid prompt credits USDT, a cancelled one nothing, a lost callback is settled by the query; books balance."""
    from cryptopay.core.wallets.buys import BuyState

    stack = wallet_stack(backend)
    paid, cancelled, lost = (stack.sign_up(p) for p in ("0712000001", "0711000001", "0711000008"))
    buys = [stack.buys.start(u.id, Money.of(1300, KES)) for u in (paid, cancelled, lost)]
    stack.deliver_callbacks()
    stack.clock.advance(minutes=3)
    assert stack.buys.follow_up() == 1
    states = [stack.buys.get(b.id).state for b in buys]
    assert states == [BuyState.CREDITED, BuyState.FAILED, BuyState.CREDITED]
    assert stack.balance(paid, "USDT") == buys[0].usdt and stack.balance(cancelled, "USDT").is_zero()
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_selling_to_mpesa_on_this_backend(backend: Backend):
    """A sale's payout is planned with the wallet's repositories, sent and completed by the payout machinery."""
    from cryptopay.core.payouts import PayoutState

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "20", "USDT")
    sale = stack.sells.start(amina.id, Money.of(20, USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    done = stack.sells.get(amina.id, sale.id)
    assert done.payout.state is PayoutState.COMPLETED and done.usdt == Money.of(20, USDT)
    assert stack.balance(amina, "USDT").is_zero()
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_every_role_can_be_stored(backend: Backend):
    """Each role of the core, compliance officers included, is a value the database accepts (migration 0021)."""
    with backend.uow() as uow:
        for n, role in enumerate(Role):
            uow.users.add(User(f"usr_{n}", f"u{n}@example.co.ke", "hash", role, AT))
    with backend.uow() as uow:
        assert [uow.users.get(f"usr_{n}").role for n in range(len(Role))] == list(Role)


def test_wallet_reconciliation_on_this_backend(backend: Backend):
    """The wallet checks read the same snapshot from this storage: a buy, a sale in flight and a waiting claim
    reconcile clean; a claim left past its window and shillings moved out of collections are reported."""
    from cryptopay.core.flows import FLOAT, MPESA_COLLECTIONS
    from cryptopay.core.reconciliation import Reconciliation

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.buys.start(amina.id, Money.of(1000, KES))
    stack.deliver_callbacks()
    stack.fund(amina, "300", "KES")
    waiting = stack.wallets.send(amina.id, "0733000003", Money.of(120, KES))
    stack.sells.start(amina.id, Money.of(5, USDT))
    reconciliation = Reconciliation(uow=backend.uow, ledger=stack.ledger, clock=stack.clock, wallets=backend.uow)
    report = reconciliation.reconcile()
    assert report.clean, [(r.check.name, r.differences) for r in report.results if r.differences]
    assert {r.check.name for r in report.results if r.check.area == "wallets" and not r.skipped} == {
        "wallet-balances",
        "wallet-buys",
        "wallet-claims",
        "claims-returned",
    }
    stack.clock.advance(days=7, hours=2)
    stack.ledger.transfer("move-takings", debit=FLOAT, credit=MPESA_COLLECTIONS, amount=Money.of(50, KES))
    found = reconciliation.reconcile().by_check()
    assert {name for name, n in found.items() if n} == {"claims-returned", "wallet-buys"}
    assert found["claims-returned"] == 1 and waiting.state is TransferState.AWAITING_CLAIM


def test_sends_feed_monitoring_on_this_backend(backend: Backend):
    """The same P2P feed on each storage: a structuring pattern raises one alert, a blocking rule refuses a send and
    nothing moves (the journal and the alerts in the backend's own tables on SQL). The monitor journals to the
    wallet's own storage, so each send journals its two movements in its own transaction: a send the limits refuse
    journals nothing (its rows are written at commit, and the ledger refused the entry)."""
    from cryptopay.core.compliance.feed import MonitoringFeed
    from cryptopay.core.compliance.monitoring import Blocked, Monitoring
    from cryptopay.core.compliance.rules import load_rules
    from cryptopay.core.system import RandomIds

    from tests.unit.wallets.test_wallet_monitoring import RULES

    stack = wallet_stack(backend)
    storage = backend.storage
    monitoring = Monitoring(uow=storage.unit_of_work, rules=load_rules(RULES), clock=stack.clock, ids=RandomIds())
    stack.wallets.monitor = MonitoringFeed(monitoring)
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "90000", "KES")
    start = stack.clock.now()
    with pytest.raises(Blocked, match="p2p-over-50k"):
        stack.wallets.send(amina.id, "0712000002", Money.of("60000", KES))
    assert stack.balance(amina, "KES").amount == 90000
    for kes in ("18500", "19000", "19900"):
        stack.wallets.send(amina.id, "0712000002", Money.of(kes, KES))
        stack.clock.advance(hours=2)
    [alert] = monitoring.run_batch(start, stack.clock.now())
    assert alert.rule_id == "p2p-structuring" and alert.evidence["count"] == "3"
    with pytest.raises(InsufficientFunds):
        stack.wallets.send(amina.id, "0712000002", Money.of("35000", KES))  # 32,600 left
    with backend.uow() as uow:
        journal = uow.movements.between(start, stack.clock.now() + timedelta(days=1))
    assert sorted((m.party_id, m.direction.value) for m in journal).count((amina.id, "out")) == 3
    assert len(journal) == 6 and {m.id.rsplit(":", 1)[1] for m in journal} == {"in", "out"}
    assert sorted(a.rule_id for a in monitoring.alerts()) == ["p2p-over-50k", "p2p-structuring"]


def _invite_refusals(backend: Backend) -> list[dict[str, str]]:
    with backend.uow() as uow:
        return [dict(r.details) for r in uow.audit.records() if r.action == "wallet.invite_refused"]


def test_invitations_have_a_minimum_and_limits_per_sender_on_this_backend(backend: Backend):
    """F15: a send to a number with no wallet is worth at least KES 50 (USDT dust is refused); at most 5 wait at
    once; each refusal is a 422 ``invite_limit`` saying what remains, audited ``wallet.invite_refused``, and moves
    nothing. Sends to people with wallets are not limited; a claimed invitation frees its place. Since review H19
    the minimum is every send's to a phone number, checked before anyone is looked up (422 ``send_below_minimum``,
    the same for a number with a wallet): a small send no longer tells who is a customer."""
    from cryptopay.core.wallets.service import InviteLimit, SendBelowMinimum

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    stack.sign_up("0712000002")
    stack.fund(amina, "5000", "KES")
    stack.fund(amina, "20", "USDT")
    for amount in (Money.of("49", KES), Money.of("0.01", USDT)):
        for to in ("0733000000", "0712000002"):  # no wallet, and a wallet: one answer
            with pytest.raises(SendBelowMinimum) as below:
                stack.wallets.send(amina.id, to, amount)
            assert below.value.code == "send_below_minimum" and "to a phone number" in below.value.message
    for n in range(5):
        stack.wallets.send(amina.id, f"073300000{n + 1}", Money.of("50", KES))
    with pytest.raises(InviteLimit) as refused:
        stack.wallets.send(amina.id, "0733000009", Money.of("50", KES))
    assert refused.value.details["limit"] == "invite.open" and refused.value.details["open_remaining"] == "0"
    stack.wallets.send(amina.id, "0712000002", Money.of("50", KES))  # a wallet: no invitation, no limit
    assert stack.balance(amina, "KES").amount == 5000 - 250 - 50
    refusals = _invite_refusals(backend)
    assert [r["limit"] for r in refusals] == ["invite.open"]
    stack.sign_up("0733000001")  # claims one invitation: a place is free again
    assert stack.wallets.send(amina.id, "0733000009", Money.of("50", KES)).state is TransferState.AWAITING_CLAIM


def test_a_sender_invites_at_most_ten_new_numbers_a_day_on_this_backend(backend: Backend):
    """F15: the eleventh new number in one Nairobi day is refused (``invite.per_day``); a number already invited
    today may be sent to again; the next day there is room again."""
    from cryptopay.core.wallets.claims import return_expired_claims
    from cryptopay.core.wallets.service import InviteLimit

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    stack.fund(amina, "5000", "KES")
    for n in range(10):
        stack.wallets.send(amina.id, f"07330000{n:02d}", Money.of("50", KES))
        if n % 2 == 0:  # claimed at once: the open invitations stay below their limit
            stack.sign_up(f"07330000{n:02d}")
        else:
            stack.clock.advance(minutes=1)
    # five still open: return them (as if their window ended) without leaving the day
    with backend.uow() as uow:
        for transfer in uow.wallet_transfers.for_user(amina.id, after=None, limit=50):
            if transfer.state is TransferState.AWAITING_CLAIM:
                transfer.claim_expires_at = stack.clock.now() - timedelta(seconds=1)
                uow.wallet_transfers.update(transfer)
    assert return_expired_claims(backend.uow, stack.ledger, now=stack.clock.now()) == 5
    with pytest.raises(InviteLimit) as refused:
        stack.wallets.send(amina.id, "0733000099", Money.of("50", KES))
    assert refused.value.details["limit"] == "invite.per_day"
    assert refused.value.details["new_numbers_remaining_today"] == "0"
    stack.wallets.send(amina.id, "0733000000", Money.of("50", KES))  # invited today already: not a new number
    stack.clock.advance(days=1)
    assert stack.wallets.send(amina.id, "0733000099", Money.of("50", KES)).state is TransferState.AWAITING_CLAIM


def test_the_send_read_gives_the_recipients_profile_and_what_it_received_on_this_backend(backend: Backend):
    """``SendRepository.parties`` (the one read of a send: on PostgreSQL its statement, on SQLite and in memory the
    repositories apart) gives the recipient's KYC standing, found by phone or username, and nothing for a number
    with no wallet; ``received`` (under the receive lock) gives its ``receive`` usage, which ``record`` counts."""
    from cryptopay.core.flows import p2p_send_key, wallet_account
    from cryptopay.core.kyc import day_bounds, month_bounds

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    baraka = stack.sign_up("0712000002", username="baraka")
    stack.fund(amina, "20000", "KES")
    stack.wallets.send(amina.id, "0712000002", Money.of("3000", KES))
    stack.clock.advance(days=1)
    stack.wallets.send(amina.id, "@baraka", Money.of("1500.50", KES))
    now = stack.clock.now()

    def read(phone: str | None, username: str | None = None):
        with backend.uow() as uow:
            parties = uow.wallet_sends.parties(
                amina.id,
                phone=phone,
                username=username,
                day_start=day_bounds(now)[0],
                month_start=month_bounds(now)[0],
                asset=KES,
                ledger_keys=[p2p_send_key("trf_never")],
                ledger_codes=[wallet_account(amina.id, KES)],
            )
            found = parties.recipient
            received = None if found is None else dict(uow.wallet_sends.received(found.user_id, **bounds))
            return parties, received

    bounds = {"day_start": day_bounds(now)[0], "month_start": month_bounds(now)[0]}
    for found, received in (read("254712000002"), read(None, "baraka")):
        assert found.recipient is not None and found.recipient.user_id == baraka.id
        assert found.recipient_profile is not None and found.recipient_profile.party_id == baraka.id
        assert found.recipient_profile.tier_at(now).level == 0
        assert received == {"receive": (Money.of("1500.50", KES), Money.of("4500.50", KES))}
        assert found.usage == {"p2p": (Money.of("1500.50", KES), Money.of("4500.50", KES))}  # the sender's own
        assert found.profile is not None and found.profile.party_id == amina.id
    nobody, nothing = read("254733000009")
    assert (nobody.recipient, nobody.recipient_profile, nothing) == (None, None, None)


def test_the_send_read_gives_each_partys_kyc_standing_as_its_profile_gives_it_on_this_backend(backend: Backend):
    """``SendRepository.parties`` gives each party's ``KycStanding`` (on PostgreSQL from the profile's columns and
    two fields of its document, the sealed ones unopened): what ``KycProfile.standing`` of the stored profile gives,
    for a lapsed approval (the tier falls back to what the evidence holds) and a party frozen by compliance too."""
    from cryptopay.core.flows import p2p_send_key, wallet_account
    from cryptopay.core.kyc import day_bounds, month_bounds

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    baraka = stack.sign_up("0712000002", username="baraka")
    now = stack.clock.now()

    def read():
        with backend.uow() as uow:
            parties = uow.wallet_sends.parties(
                amina.id,
                phone="254712000002",
                username=None,
                day_start=day_bounds(now)[0],
                month_start=month_bounds(now)[0],
                asset=KES,
                ledger_keys=[p2p_send_key("trf_never")],
                ledger_codes=[wallet_account(amina.id, KES)],
            )
        with backend.uow() as uow:
            profiles = uow.kyc.get(amina.id), uow.kyc.get(baraka.id)
        assert (parties.profile, parties.recipient_profile) == tuple(p.standing() for p in profiles)
        return parties

    found = read()
    assert found.profile.tier_at(now).level == 1 and not found.profile.frozen
    assert found.recipient_profile.tier_at(now).level == 0
    with backend.uow() as uow:
        lapsed, frozen = uow.kyc.get(amina.id), uow.kyc.get(baraka.id)
        lapsed.expires_at = now - timedelta(days=1)
        frozen.freeze("usr_officer", "a court order about this person", at=now)
        uow.kyc.update(lapsed)
        uow.kyc.update(frozen)
    found = read()
    assert found.profile.tier_at(now).level == 0 and found.recipient_profile.frozen


def test_a_send_the_recipients_tier_cannot_take_is_refused_and_moves_nothing_on_this_backend(backend: Backend):
    """Tier 0 receives KES 10,000 a day: the send past it is refused with ``recipient_limit`` (the sender learns
    nothing of the recipient's tier or receipts), no transfer, no usage, no money moved; audited for officers.
    Verified, the same recipient takes it."""
    from cryptopay.core.wallets.service import RecipientLimit

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    baraka = stack.sign_up("0712000002")
    stack.fund(amina, "20000", "KES")
    stack.wallets.send(amina.id, "0712000002", Money.of("5000", KES))
    stack.wallets.send(amina.id, "0712000002", Money.of("4000", KES))
    with pytest.raises(RecipientLimit) as refused:
        stack.wallets.send(amina.id, "0712000002", Money.of("1000.01", KES))
    assert refused.value.code == "recipient_limit" and refused.value.details == {
        "field": "amount",
        "limit": "recipient",
    }
    assert "tier" not in refused.value.message and "9,000" not in refused.value.message
    assert stack.balance(amina, "KES").amount == 11000 and stack.balance(baraka, "KES").amount == 9000
    assert len(stack.wallets.transfers(amina.id)) == 2
    with backend.uow() as uow:
        record = [r for r in uow.audit.records() if r.action == "wallet.send_refused_recipient"][-1]
        used = uow.wallet_usage.totals(amina.id, day_start=AT.replace(year=2000), month_start=AT.replace(year=2000))
    assert dict(record.details) == {"recipient": baraka.id, "limit": "receive.daily"}
    assert used["p2p"][1].amount == 9000
    stack.wallets.send(amina.id, "0712000002", Money.of("1000", KES))  # exactly the day's limit
    with pytest.raises(RecipientLimit):
        stack.wallets.send(amina.id, "0712000002", Money.of("6000", KES))  # above tier 0's single limit too
    stack.grant_tier(baraka.id)
    stack.wallets.send(amina.id, "0712000002", Money.of("6000", KES))
    assert stack.balance(baraka, "KES").amount == 16000
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_an_invitation_must_fit_a_new_wallet_and_claims_past_its_limits_go_back_on_this_backend(backend: Backend):
    """A number with no wallet gets a tier-0 wallet when it signs up: a send above what that may receive is refused
    at once; invitations that fit one by one but not together are claimed oldest first until the limit, and the
    rest stay waiting and go back to their senders when the window ends."""
    from cryptopay.core.wallets.claims import return_expired_claims
    from cryptopay.core.wallets.service import RecipientLimit

    stack = wallet_stack(backend)
    amina, juma = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000004", tier=1)
    stack.fund(amina, "20000", "KES")
    stack.fund(juma, "20000", "KES")
    with pytest.raises(RecipientLimit):
        stack.wallets.send(amina.id, "0733000003", Money.of("5000.01", KES))
    first = stack.wallets.send(amina.id, "0733000003", Money.of("5000", KES))
    second = stack.wallets.send(juma.id, "0733000003", Money.of("4000", KES))
    third = stack.wallets.send(juma.id, "0733000003", Money.of("2000", KES))
    chebet = stack.sign_up("0733000003")
    assert stack.balance(chebet, "KES").amount == 9000  # 5,000 + 4,000; 2,000 more would pass the day's 10,000
    assert [stack.wallets.transfer(amina.id, first.id).state, stack.wallets.transfer(juma.id, second.id).state] == [
        TransferState.CLAIMED,
        TransferState.CLAIMED,
    ]
    assert stack.wallets.transfer(juma.id, third.id).state is TransferState.AWAITING_CLAIM
    stack.clock.advance(days=8)
    assert return_expired_claims(backend.uow, stack.ledger, now=stack.clock.now()) == 1
    assert stack.balance(juma, "KES").amount == 16000 and stack.balance(chebet, "KES").amount == 9000
    with backend.uow() as uow:
        received = uow.wallet_usage.totals(
            chebet.id, day_start=AT.replace(year=2000), month_start=AT.replace(year=2000)
        )
    assert received == {"receive": (Money.of("9000", KES), Money.of("9000", KES))}


def test_the_history_names_a_bill_paid_from_the_wallet_on_this_backend(backend: Backend):
    """Outside review H12 on each backend: the wallet's payouts are read (by the user id) to name a bill's payment
    line ``bill`` with the bill's id, paybill and account, and ``?kind=bill`` finds it."""
    from cryptopay.core.wallets.bills import Bills

    stack = wallet_stack(backend)
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "1500", "KES")
    bill = bills.pay(amina.id, "KPLC_PREPAID", "01234567890", Money.of(1000, KES))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    [line] = stack.wallets.history(amina.id, kind="bill")
    assert line.amount == Money.of(-1000, KES)
    assert line.description == f"bill {bill.id} paid to paybill 888880, account 01234567890"


def test_history_pages_never_split_a_sale_on_this_backend(backend: Backend):
    """Review R14-13 on each backend: a sale is one entry with a USDT and a KES line; paging the history by its
    cursor with 1 to 4 lines a page gives exactly the one-page listing (no line of a sale lost at a page's end)."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "20", "USDT")
    for usdt in ("2", "3"):
        stack.sells.start(amina.id, Money.of(usdt, USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    everything = stack.wallets.history(amina.id, limit=None)
    assert [h.amount.asset.code for h in everything if h.kind == "sell" and h.amount.amount < 0].count("USDT") == 2
    for limit in (1, 2, 3, 4):
        got, cursor = [], None
        while True:
            page = stack.wallets.history_page(amina.id, limit=limit, after=cursor)
            got += page.lines
            if (cursor := page.next_cursor) is None:
                break
        assert got == everything, limit


def _attempt(call):
    """The call's result, or the CryptopayError it raised (the business refusal a race may end in)."""
    from cryptopay.core.errors import CryptopayError

    try:
        return call()
    except CryptopayError as error:
        return error


def _received_today(backend: Backend, user_id: str, now: datetime) -> Money:
    from cryptopay.core.kyc import day_bounds, month_bounds

    with backend.uow() as uow:
        totals = uow.wallet_usage.totals(user_id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0])
    return totals.get("receive", (Money.zero(KES), Money.zero(KES)))[0]


def test_concurrent_sends_to_one_tier_0_wallet_never_pass_its_daily_limit_on_this_backend(backend: Backend):
    """Eight verified senders send KES 3,000 each at once (threads released together) to one tier-0 wallet, which
    receives KES 10,000 a day: three arrive and five are refused ``recipient_limit`` (never a database error nor a
    retry exhausted); the wallet's balance and its receive usage are KES 9,000. Without the receive lock, every
    send read KES 0 received before any committed, and all eight arrived on PostgreSQL."""
    from tests.support.sql_engines import race

    stack = wallet_stack(backend)
    senders = [stack.sign_up(f"07120000{n:02d}", tier=1) for n in range(1, 9)]
    baraka = stack.sign_up("0712000099")
    for sender in senders:
        stack.fund(sender, "3000", "KES")
    outcomes = race(
        8, lambda i: _attempt(lambda: stack.wallets.send(senders[i].id, "0712000099", Money.of("3000", KES)))
    )
    refused = [o for o in outcomes if not isinstance(o, Transfer)]
    assert len(outcomes) - len(refused) == 3, outcomes
    assert {o.code for o in refused} == {"recipient_limit"}, refused
    assert stack.balance(baraka, "KES").amount == 9000
    assert _received_today(backend, baraka.id, stack.clock.now()).amount == 9000


def test_a_retried_claim_racing_sends_never_passes_the_daily_limit_on_this_backend(backend: Backend):
    """Three KES 5,000 invitations wait for one number; its tier-0 wallet claims two at sign-up (KES 10,000 a day)
    and the third waits. The next day the worker's retry of the claim races four sends of KES 3,000 to the wallet:
    what arrives that day stays within KES 10,000, and the balance is what the usage counts."""
    from tests.support.sql_engines import race

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    senders = [stack.sign_up(f"07120000{n:02d}", tier=1) for n in range(2, 6)]
    stack.fund(amina, "15000", "KES")
    for _ in range(3):
        stack.wallets.send(amina.id, "0733000003", Money.of("5000", KES))
    chebet = stack.sign_up("0733000003")
    assert stack.balance(chebet, "KES").amount == 10000
    stack.clock.advance(days=1)
    for sender in senders:
        stack.fund(sender, "3000", "KES")

    def work(i: int):
        if i == 0:
            return stack.waiting_claims.claim(chebet.id)
        return _attempt(lambda: stack.wallets.send(senders[i - 1].id, "0733000003", Money.of("3000", KES)))

    outcomes = race(5, work)
    assert {o.code for o in outcomes[1:] if not isinstance(o, Transfer)} <= {"recipient_limit"}, outcomes
    today = _received_today(backend, chebet.id, stack.clock.now()).amount
    assert 8000 <= today <= 10000
    assert stack.balance(chebet, "KES").amount == 10000 + today


def test_a_send_does_not_wait_for_a_receive_lock_another_transaction_holds_on_this_backend(backend: Backend):
    """``SendRepository.received`` tries the recipient's receive lock: while another transaction holds it
    (``UsageRepository.lock_receiving``), it raises ``TransientConflict`` at once instead of waiting (PostgreSQL;
    SQLite and the fakes run one writer at a time); once that transaction ends, it reads what it committed."""
    import threading

    from cryptopay.core.errors import TransientConflict
    from cryptopay.core.kyc import day_bounds, month_bounds

    if backend.name != "postgres":
        pytest.skip("one writer at a time: a second transaction cannot be open while the first holds the lock")
    stack = wallet_stack(backend)
    baraka = stack.sign_up("0712000002")
    now = stack.clock.now()
    bounds = {"day_start": day_bounds(now)[0], "month_start": month_bounds(now)[0]}
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with backend.uow() as uow:
            uow.wallet_usage.lock_receiving(baraka.id)
            uow.wallet_usage.add(Usage("use_held", baraka.id, "receive", Money.of("700", KES), now, "trf_held"))
            held.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        held.wait(timeout=60)
        with pytest.raises(TransientConflict), backend.uow() as uow:
            uow.wallet_sends.received(baraka.id, **bounds)
    finally:
        release.set()
        joined(thread)
    with backend.uow() as uow:
        assert uow.wallet_sends.received(baraka.id, **bounds)["receive"][0].amount == 700


def test_awaiting_registered_names_the_wallets_whose_phone_has_transfers_waiting_on_this_backend(backend: Backend):
    """``awaiting_registered`` gives the user ids of wallets whose phone has transfers still awaiting a claim, once
    each, ascending and paged by id; a claimed transfer and a number with no wallet do not count. ``awaiting_claim``
    locks them when asked, and ``lock_receiving`` is taken in the same transaction."""
    with backend.uow() as uow:
        for user_id, phone in (("usr_b", "254733000003"), ("usr_a", "254733000004"), ("usr_c", "254733000005")):
            uow.wallets.add(Wallet(user_id=user_id, phone=phone, created_at=AT))
        uow.wallet_transfers.add(_transfer("trf_1", "usr_x"))
        uow.wallet_transfers.add(_transfer("trf_2", "usr_x", phone="254733000004"))
        uow.wallet_transfers.add(_transfer("trf_3", "usr_x", phone="254733000004"))
        uow.wallet_transfers.add(_transfer("trf_4", "usr_x", phone="254733000005", state=TransferState.CLAIMED))
        uow.wallet_transfers.add(_transfer("trf_5", "usr_x", phone="254733000009"))
    with backend.uow() as uow:
        assert uow.wallet_transfers.awaiting_registered(after=None, limit=10) == ["usr_a", "usr_b"]
        assert uow.wallet_transfers.awaiting_registered(after="usr_a", limit=10) == ["usr_b"]
        assert uow.wallet_transfers.awaiting_registered(after=None, limit=1) == ["usr_a"]
        uow.wallet_usage.lock_receiving("usr_a")
        assert [t.id for t in uow.wallet_transfers.awaiting_claim("254733000004", lock=True)] == ["trf_2", "trf_3"]


def _together(count: int, work):
    """``work(i)`` on ``count`` threads released together by a barrier (every wait bounded); results in order."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(count, timeout=30)

    def run(i: int):
        start.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(run, i) for i in range(count)]
        return [future.result(timeout=120) for future in futures]


@pytest.mark.parametrize("bound", ["balance", "daily_limit"])
def test_two_bills_paid_at_once_from_one_wallet_never_pass_its_balance_or_daily_limit(backend: Backend, bound: str):
    """Two KES 20,000 bills from one tier-1 wallet at the same instant, where only one fits: its KES 30,000 balance
    (``balance``), or its KES 150,000 daily limit with KES 120,000 paid in bills earlier today (``daily_limit``).
    Exactly one is planned and the other refused by a business rule (never a database error); the wallet is debited
    once, one payout and one usage row are recorded, and the books balance: nothing is spent twice."""
    from cryptopay.core.errors import CryptopayError
    from cryptopay.core.payouts import PayoutKind
    from cryptopay.core.wallets.bills import Bill, Bills

    stack = wallet_stack(backend)
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "30000" if bound == "balance" else "200000", "KES")
    if bound == "daily_limit":
        for n in range(4):
            bills.pay(amina.id, "KPLC_PREPAID", f"0123456789{n}", Money.of(30000, KES))
    before = stack.balance(amina, "KES")
    outcomes = _together(
        2, lambda i: _attempt(lambda: bills.pay(amina.id, "KPLC_PREPAID", "01234567899", Money.of(20000, KES)))
    )
    paid = [o for o in outcomes if isinstance(o, Bill)]
    refused = [o for o in outcomes if not isinstance(o, Bill)]
    assert len(paid) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], CryptopayError) and refused[0].code in {"limit_exceeded", "insufficient_funds"}, (
        refused
    )
    assert stack.balance(amina, "KES") == before - Money.of(20000, KES)
    from cryptopay.core.kyc import day_bounds, month_bounds

    now = stack.clock.now()
    with backend.uow() as uow:
        bill_payouts = [
            p for p in uow.payouts.list_for_merchant(amina.id, before=None, limit=50) if p.kind is PayoutKind.BILL
        ]
        usage = uow.wallet_usage.totals(amina.id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0])
    spent = Money.of(20000 if bound == "balance" else 140000, KES)
    assert usage["bill"][0] == spent
    assert sum((p.amount for p in bill_payouts), Money.zero(KES)) == spent
    assert set(stack.ledger.trial_balance().values()) <= {0}


def _step_up(fresh: bool = False):
    from cryptopay.core.wallets.allowance import StepUp

    return StepUp(Money.of(1000, KES), fresh=fresh)


def test_concurrent_sends_each_under_the_step_up_allowance_pass_only_within_it_on_this_backend(backend: Backend):
    """Review5 S4: six sends of KES 300 at once (threads released together) from one wallet, none stepped up, with a
    KES 1,000 allowance: each alone is under it, so the shells' early read (before the transaction) lets all six
    through. The use case's own check, with the day's usage read under the sender's wallet lock, lets three pass
    (KES 900) and refuses three ``step_up_required``, never a database error; nothing moves for those."""
    from tests.support.sql_engines import race

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    baraka = stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "5000", "KES")
    outcomes = race(
        6,
        lambda i: _attempt(
            lambda: stack.wallets.send(amina.id, "0712000002", Money.of("300", KES), step_up=_step_up())
        ),
    )
    refused = [o for o in outcomes if not isinstance(o, Transfer)]
    assert len(outcomes) - len(refused) == 3, outcomes
    assert {o.code for o in refused} == {"step_up_required"}, refused
    assert {o.http_status for o in refused} == {403}
    assert stack.balance(amina, "KES").amount == 4100
    assert stack.balance(baraka, "KES").amount == 900
    assert set(stack.ledger.trial_balance().values()) <= {0}


def test_sends_and_bills_share_the_step_up_allowance_checked_in_the_movement_on_this_backend(backend: Backend):
    """The allowance counts today's sends and bills together, this one included; past it only a fresh step-up
    passes; no ``step_up`` (operators, other use cases) checks none. A bill and a send racing each other past it:
    one passes, the other is refused ``step_up_required``."""
    from cryptopay.core.identity.model import StepUpRequired
    from cryptopay.core.wallets.bills import Bill, Bills

    from tests.support.sql_engines import race

    stack = wallet_stack(backend)
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "10000", "KES")
    stack.wallets.send(amina.id, "0712000002", Money.of("400", KES), step_up=_step_up())
    bills.pay(amina.id, "KPLC_PREPAID", "01234567890", Money.of(500, KES), step_up=_step_up())  # KES 900 today
    with pytest.raises(StepUpRequired):
        stack.wallets.send(amina.id, "0712000002", Money.of("100.01", KES), step_up=_step_up())
    with pytest.raises(StepUpRequired):
        bills.pay(amina.id, "KPLC_PREPAID", "01234567890", Money.of(101, KES), step_up=_step_up())
    assert stack.balance(amina, "KES").amount == 9100  # the refusals moved nothing
    stack.wallets.send(amina.id, "0712000002", Money.of("100", KES), step_up=_step_up())  # exactly the allowance
    stack.wallets.send(amina.id, "0712000002", Money.of("50", KES), step_up=_step_up(fresh=True))
    stack.wallets.send(amina.id, "0712000002", Money.of("50", KES))  # no allowance asked
    outcomes = race(
        2,
        lambda i: _attempt(
            (lambda: stack.wallets.send(amina.id, "0712000002", Money.of("100", KES), step_up=_step_up(fresh=True)))
            if i == 0
            else (lambda: bills.pay(amina.id, "KPLC_PREPAID", "01234567890", Money.of(100, KES), step_up=_step_up()))
        ),
    )
    assert isinstance(outcomes[0], Transfer), outcomes
    assert isinstance(outcomes[1], StepUpRequired) and not isinstance(outcomes[1], Bill), outcomes


def test_concurrent_sends_never_pass_the_senders_daily_p2p_limit_on_this_backend(backend: Backend):
    """Four sends of KES 40,000 at once from one tier-1 wallet (KES 100,000 of P2P a day): two pass, two are refused
    ``limit_exceeded``. On PostgreSQL the send's one read used to wait for the sender's wallet lock inside the
    statement that also read the day's usage, with the snapshot taken before the wait: all four passed."""
    from tests.support.sql_engines import race

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "200000", "KES")
    outcomes = race(4, lambda i: _attempt(lambda: stack.wallets.send(amina.id, "0712000002", Money.of(40000, KES))))
    refused = [o for o in outcomes if not isinstance(o, Transfer)]
    assert len(outcomes) - len(refused) == 2, outcomes
    assert {o.code for o in refused} == {"limit_exceeded"}, refused
    assert stack.balance(amina, "KES").amount == 120000


def _stack_with_quotes_as_wired(backend: Backend):
    """A wallet stack whose pricer stores its quotes as wired: the database's own table, each quote in a transaction
    of its own (in memory: the fakes)."""
    from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
    from cryptopay.core.testing.fx import InMemoryQuoteRepository

    quotes = InMemoryQuoteRepository() if backend.engine is None else SqlQuoteRepository(backend.engine)
    return wallet_stack(backend, quotes=quotes)


def _freeze(stack, user_id: str) -> None:
    """A compliance officer's freeze of the user's profile (``KycReview.freeze``'s change)."""
    with stack.backend.uow() as uow:
        profile = uow.kyc.get(user_id)
        profile.freeze("usr_officer", "STR filed: structuring", at=stack.clock.now())
        uow.kyc.update(profile)


def _unfreeze(stack, user_id: str) -> None:
    with stack.backend.uow() as uow:
        profile = uow.kyc.get(user_id)
        profile.unfreeze("usr_officer2", at=stack.clock.now())
        uow.kyc.update(profile)


def test_a_sign_up_claims_a_usdt_invitation_valued_before_its_transaction(backend: Backend):
    """review6 F5: the invitee of a USDT send signs up and claims it. Valued inside the sign-up's transaction, the
    quote's own transaction was a nested write on SQLite (every such sign-up a 500) and, on PostgreSQL, the rate
    sources were asked while the transfers' rows were locked. The worker's retry values likewise."""
    stack = _stack_with_quotes_as_wired(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "30", "USDT")
    sent = stack.wallets.send(amina.id, "0733000003", Money.of("0.45", USDT))
    other = stack.wallets.send(amina.id, "0733000004", Money.of("0.45", USDT))
    assert sent.state is TransferState.AWAITING_CLAIM
    chebet = stack.sign_up("0733000003")
    assert stack.balance(chebet, "USDT") == Money.of("0.45", USDT)
    assert stack.wallets.transfer(chebet.id, sent.id).state is TransferState.CLAIMED
    daudi = stack.sign_up("0733000004")
    stack.wallets.freeze(daudi.id, reason="lost phone", actor="usr_officer")  # the worker's retry, below
    assert stack.waiting_claims.claim(daudi.id) == []
    stack.wallets.unfreeze(daudi.id, actor="usr_officer")
    assert stack.wallets.transfer(daudi.id, other.id).state is TransferState.CLAIMED


def test_a_frozen_senders_invitation_waits_until_the_freeze_is_lifted(backend: Backend):
    """review6 F8: Amina sends to a number with no wallet, then compliance freezes her; the number signs up and
    claims nothing (audited ``wallet.claim_held``), nor does the worker's retry; once unfrozen the worker delivers
    it. Another sender's invitation to the same number is claimed at the sign-up."""
    stack = wallet_stack(backend)
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "500", "KES")
    stack.fund(baraka, "500", "KES")
    held = stack.wallets.send(amina.id, "0733000003", Money.of("100", KES))
    free = stack.wallets.send(baraka.id, "0733000003", Money.of("100", KES))
    _freeze(stack, amina.id)
    chebet = stack.sign_up("0733000003")
    assert stack.balance(chebet, "KES") == Money.of("100", KES)
    assert stack.wallets.transfer(chebet.id, free.id).state is TransferState.CLAIMED
    assert stack.wallets.transfer(amina.id, held.id).state is TransferState.AWAITING_CLAIM
    with backend.uow() as uow:
        assert [r.subject for r in uow.audit.records() if r.action == "wallet.claim_held"] == [f"transfer:{held.id}"]
    assert stack.waiting_claims.settle() == (0, 0)
    assert stack.waiting_claims.claim(chebet.id) == []
    _unfreeze(stack, amina.id)
    assert stack.waiting_claims.settle() == (1, 0)
    assert stack.balance(chebet, "KES") == Money.of("200", KES)


def test_an_empty_wallet_learns_nothing_about_a_number_from_a_send_or_its_check(backend: Backend):
    """review6 F6: the sender's own balance (amount and fee) is checked before any rule that depends on the
    recipient, so a wallet that cannot pay gets the same refusal (``insufficient_funds``) for a verified customer's
    number, a tier-0 customer's, a frozen wallet's and a number with no wallet; a check's recipient refusal is
    audited as a send's is (``wallet.send_refused_recipient``, ``check`` true)."""
    from cryptopay.core.wallets.service import RecipientLimit

    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "0.37", "KES")
    stack.sign_up("0712000604", tier=1)
    stack.sign_up("0712000603")
    frozen = stack.sign_up("0712000605")
    stack.wallets.freeze(frozen.id, reason="fraud report", actor="usr_officer")
    for number in ("0712000604", "0712000603", "0712000605", "0712000798"):
        for attempt in (stack.wallets.check_send, stack.wallets.send):
            with pytest.raises(InsufficientFunds):
                attempt(amina.id, number, Money.of("6000", KES))
    stack.fund(amina, "6000", "KES")
    with pytest.raises(RecipientLimit):
        stack.wallets.check_send(amina.id, "0712000603", Money.of("6000", KES))
    with backend.uow() as uow:
        records = [r for r in uow.audit.records() if r.action == "wallet.send_refused_recipient"]
    assert [dict(r.details).get("check") for r in records] == ["true"]
