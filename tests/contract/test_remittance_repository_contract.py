"""Remittance orders and the remittance use case: the same behaviour on the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.compliance.cases import CaseStatus
from cryptopay.core.compliance.monitoring import Blocked, UnderReview
from cryptopay.core.compliance.screening_waits import ScreeningWaits
from cryptopay.core.compliance.travel_rule import Assessment
from cryptopay.core.errors import Conflict, Refused
from cryptopay.core.flows import merchant_liability, remittance_dust
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.money import KES, USD, USDC, USDT, Money
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.payouts import AwaitingStatus, PayoutState
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.remittances import DESK, RemittanceOrder, RemittanceRoute, RemittanceState, Sender
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay.core.remittances.watch import watch_remittances
from cryptopay.core.testing import daraja_payloads
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.withdrawals import FakeFeeEstimator

from tests.support.remittance_stack import EVM_REFUND, TRON_REFUND, RemittanceStack, remittance_stack
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import PAYOUT_URLS, memory_wallet_backend

AT = datetime(2026, 12, 6, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py)."""
    return memory_wallet_backend()


def _order(n: int, **changes: object) -> RemittanceOrder:
    order = RemittanceOrder(
        id=f"rmt_{n}",
        public_id=f"pub{n}",
        created_at=AT,
        recipient_phone="254712345678",
        recipient_name="Achieng Otieno",
        sender=Sender(name="Grace Otieno", country="GB", address="12 Acacia Road, London"),
        refund_address=TRON_REFUND,
        requested=Money.of(1000, KES),
        usdt=Money.of("7.82", USDT),
        kes=Money.of(1000, KES),
        charge=Money.of(11, KES),
        quote_id="q_1",
        bid=Decimal("129.35"),
        mid=Decimal("130"),
        invoice_id=f"inv_{n}",
        assessment=Assessment(Money.of("7.82", USDT), Money.of("7.82", USD), "q_2", False),
    )
    return attrs.evolve(order, **changes)


def test_orders_round_trip_and_are_found_by_public_id_only_once(backend: Backend):
    """An order comes back equal, by id and by public id; a second order with its public id or invoice conflicts."""
    with backend.uow() as uow:
        uow.remittances.add(_order(1))
    with backend.uow() as uow:
        assert uow.remittances.get("rmt_1") == _order(1)
        assert uow.remittances.by_public_id("pub1").id == "rmt_1"
        assert uow.remittances.by_public_id("rmt_1") is None
    for clash in (_order(2, public_id="pub1"), _order(3, invoice_id="inv_1")):
        with pytest.raises(Conflict), backend.uow() as uow:
            uow.remittances.add(clash)


def test_the_worker_walks_active_orders_and_operators_list_by_state(backend: Backend):
    """Active: not final nor held, or paid out and not yet told; oldest first. Listings newest first by state."""
    with backend.uow() as uow:
        uow.remittances.add(_order(1))
        uow.remittances.add(_order(2, state=RemittanceState.PAID_OUT))
        uow.remittances.add(_order(3, state=RemittanceState.PAID_OUT, notified_at=AT))
        uow.remittances.add(_order(4, state=RemittanceState.HELD, note="frozen"))
        uow.remittances.add(_order(5, state=RemittanceState.EXPIRED))
    with backend.uow() as uow:
        assert [o.id for o in uow.remittances.active(limit=9)] == ["rmt_1", "rmt_2"]
        told = uow.remittances.get("rmt_2")
        told.notified_at = AT
        uow.remittances.update(told)
    with backend.uow() as uow:
        assert [o.id for o in uow.remittances.active(limit=9)] == ["rmt_1"]
        paid = uow.remittances.list(state=RemittanceState.PAID_OUT, before=None, limit=9)
        assert [o.id for o in paid] == ["rmt_3", "rmt_2"]
        assert [o.id for o in uow.remittances.list(state=None, before="rmt_3", limit=1)] == ["rmt_2"]


def test_an_originators_orders_are_found_by_refund_address_or_sender_name_since_a_time(backend: Backend):
    """``by_originator``: the orders opened since a time whose refund address (an EVM one in any case) or sender name
    (as name matching compares it) is the originator's; newest first; others and older ones are not."""
    from datetime import timedelta

    evm = EVM_REFUND.upper().replace("0X", "0x")
    with backend.uow() as uow:
        uow.remittances.add(_order(1, created_at=AT - timedelta(hours=25)))  # too old
        uow.remittances.add(_order(2, created_at=AT, refund_address=evm, sender=Sender(name="Ann Lee", country="GB")))
        uow.remittances.add(_order(3, created_at=AT + timedelta(hours=1)))  # Grace's name, a Tron address
        uow.remittances.add(_order(4, created_at=AT + timedelta(hours=2), sender=Sender(name="Ann Lee", country="GB")))
    since = AT - timedelta(hours=1)
    with backend.uow() as uow:
        by_address = uow.remittances.by_originator(EVM_REFUND.lower(), "nobody", since=since)
        by_name = uow.remittances.by_originator("Tnone", "grace otieno", since=since)
        both = uow.remittances.by_originator(TRON_REFUND, "ann lee", since=since)
    assert [o.id for o in by_address] == ["rmt_2"]
    assert [o.id for o in by_name] == ["rmt_3"]
    assert [o.id for o in both] == ["rmt_4", "rmt_3", "rmt_2"]


def test_orders_of_one_originator_that_sum_to_the_travel_rule_threshold_need_the_full_data(backend: Backend):
    """Split under the threshold: a second order whose 24-hour sum with the same refund address's (or the same
    sender name's) paid first reaches USD 1,000 is refused (travel_rule_incomplete) before anything is stored; with
    the full originator data it opens, its Travel Rule record kept once paid; another originator's does not add up,
    and after 24 hours nothing does. Review4 R5: until the first is paid it counts for nothing, so a stranger's
    order to the same refund address neither reads nor spends its owner's threshold."""

    from cryptopay.core.compliance.travel_rule import IncompleteTravelRuleData

    stack = remittance_stack(backend)
    bare = Sender(name="John Smith", country="GB")
    first = stack.order(amount="70000", sender=bare)  # about USD 540: alone below the threshold
    assert not first.assessment.applies
    probe = stack.order(amount="70000", sender=Sender(name="Mallory Attacker", country="US"))  # first is unpaid
    assert not probe.assessment.applies
    stack.pay(first)
    stack.confirm()
    stack.run()
    assert stack.get(first).state is RemittanceState.PAID_OUT
    with pytest.raises(IncompleteTravelRuleData, match="last 24 hours"):
        stack.order(amount="70000", sender=bare, phone="254712300011")
    with pytest.raises(IncompleteTravelRuleData, match="last 24 hours"):  # same name, another refund address
        stack.order(amount="70000", sender=Sender(name="JOHN SMITH", country="GB"), refund_address=EVM_REFUND)
    stored = in_transaction(backend.uow, lambda uow: uow.remittances.list(state=None, before=None, limit=9))
    assert {o.id for o in stored} == {first.id, probe.id}
    linked = stack.order(amount="70000")  # the full originator data: opens, and the record is kept once paid
    assert linked.assessment.applies and linked.assessment.amount == linked.usdt
    stack.pay(linked)
    stack.confirm()
    stack.run()
    assert stack.get(linked).travel_rule_id is not None
    other = stack.order(amount="70000", sender=Sender(name="Ann Lee", country="GB"), refund_address=EVM_REFUND)
    assert not other.assessment.applies  # another originator
    stack.clock.advance(hours=24, minutes=1)
    assert not stack.order(amount="70000", sender=bare).assessment.applies


def test_two_orders_of_one_originator_opened_together_and_paid_together_never_both_pass_the_travel_rule(
    backend: Backend,
):
    """Split under the threshold at the same instant: two orders of about USD 540 each by one originator (no full
    data), released together by a barrier, to two recipients. Both open (review4 R5: an unpaid order is summed for
    nothing, anyone can open one), each under the originator's lock in its insert; paid together, each is summed
    again when its USDT arrives, under the originator's lock, so the second funded sees the first: one is paid out,
    the other held (``travel_rule_incomplete``), nothing paid to its recipient, ``retry`` refused, refunded."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    stack = remittance_stack(backend)
    bare = Sender(name="John Smith", country="GB")
    start = threading.Barrier(2, timeout=30)

    def open_order(phone: str) -> RemittanceOrder:
        start.wait()
        return stack.order(amount="70000", sender=bare, phone=phone)

    with ThreadPoolExecutor(2) as pool:
        opened = [f.result(timeout=120) for f in [pool.submit(open_order, p) for p in ("254712300011", "254712300012")]]
    assert not any(o.assessment.applies for o in opened)
    for order in opened:
        stack.pay(order)
    stack.confirm()
    stack.run()
    done = {o.id: stack.get(o) for o in opened}
    states = sorted(o.state.value for o in done.values())
    assert states == ["held", "paid_out"], states
    held = next(o for o in done.values() if o.state is RemittanceState.HELD)
    assert "Travel Rule threshold" in (held.note or "") and held.travel_rule_id is None
    paid = next(o for o in done.values() if o.state is RemittanceState.PAID_OUT)
    assert [tx.remarks for tx in stack.wallet.mpesa.transactions()] == [f"Remittance {paid.id}"]
    with pytest.raises(Refused, match="Travel Rule"):
        stack.remittances.retry(held.id, actor="ops:a")
    stack.remittances.refund(held.id, actor="ops:a")
    stack.run()
    stack.confirm_refunds()
    stack.run()
    assert stack.get(held).state is RemittanceState.REFUNDED
    assert stack.books_balanced()


def test_a_split_order_is_summed_in_its_insert_without_locking_a_quote_there(backend: Backend):
    """The Travel Rule's quotes stored as wired (on the database, each in its own transaction): the second split
    order of one originator is refused ``travel_rule_incomplete`` by the sum read in its insert, at the quote locked
    when it opened; no quote is locked inside that transaction (on SQLite a second writer there is refused as a
    nested write transaction, on PostgreSQL it would wait on rates while holding the originator's lock)."""
    from cryptopay.core.compliance.travel_rule import IncompleteTravelRuleData, TravelRule
    from cryptopay.core.pricing import Pricer

    stack = remittance_stack(backend)
    if backend.engine is not None:
        from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository

        pricer = Pricer(
            [stack.wallet.rates],
            clock=stack.clock,
            ids=stack.remittances.ids,
            quotes=SqlQuoteRepository(backend.engine),
        )
        stack.remittances.travel_rule = TravelRule(quoter=pricer, clock=stack.clock, ids=stack.remittances.ids)
    bare = Sender(name="John Smith", country="GB")
    first = stack.order(amount="70000", sender=bare)
    assert not first.assessment.applies
    stack.pay(first)
    stack.confirm()
    stack.run()  # funded: the sum at its funding locks its quote outside the step's transaction too
    with pytest.raises(IncompleteTravelRuleData, match="last 24 hours"):
        stack.order(amount="70000", sender=bare, phone="254712300011")
    stored = in_transaction(backend.uow, lambda uow: uow.remittances.list(state=None, before=None, limit=9))
    assert [o.id for o in stored] == [first.id]


def _verified(stack: RemittanceStack, phone: str, legal_name: str) -> str:
    """A tier-1 wallet at ``phone`` whose approved KYC application names ``legal_name``; its user id."""
    from datetime import date

    from cryptopay.core.kyc.applications import ApplicationState, IdType, KycApplication, PersonDetails
    from cryptopay.core.kyc.tiers import PartyKind

    user = stack.wallet.sign_up(phone, tier=1)
    person = PersonDetails(
        legal_name=legal_name,
        date_of_birth=date(1990, 4, 1),
        id_type=IdType.NATIONAL_ID,
        id_number="12345678",
        phone=user.phone or "254712300001",
        address="Moi Avenue 12, Nairobi",
    )
    application = KycApplication(
        id=f"kya_{user.id}",
        party_id=user.id,
        kind=PartyKind.PERSONAL,
        level=1,
        created_at=stack.clock.now(),
        submitted_by=user.id,
        person=person,
        state=ApplicationState.APPROVED,
        decided_at=stack.clock.now(),
    )
    with stack.wallet.backend.uow() as uow:
        uow.kyc_applications.add(application)
    return user.id


def test_a_wallet_is_credited_only_when_the_recipient_name_is_its_holders_verified_name(backend: Backend):
    """The number's wallet belongs to Amina Wanjiru (verified): an order naming her (any word order or case) is
    credited to the wallet; one naming someone else is paid by M-Pesa B2C to the phone instead (Safaricom's
    registered holder), audited ``remittance.name_mismatch`` with the score and no name; the wallet gets nothing."""
    stack = remittance_stack(backend)
    amina = _verified(stack, "0712300001", "Amina Wanjiru")
    hers = stack.order(phone="0712300001", amount="3000", name="WANJIRU Amina")
    other = stack.order(phone="0712300001", amount="3000", name="Kamau Wekesa Otieno Kiprotich")
    for order in (hers, other):
        stack.pay(order)
    stack.confirm()
    stack.run()
    credited, paid = stack.get(hers), stack.get(other)
    assert (credited.state, credited.route, credited.recipient_id) == (
        RemittanceState.PAID_OUT,
        RemittanceRoute.WALLET,
        amina,
    )
    assert (paid.state, paid.route, paid.recipient_id) == (RemittanceState.PAID_OUT, RemittanceRoute.MPESA, None)
    assert stack.remittances.payout_of(paid).destination == "254712300001"
    assert stack.wallet.wallets.balances(amina)["KES"] == Money.of(3000, KES)
    with backend.uow() as uow:
        [audited] = [r for r in uow.audit.records() if r.action == "remittance.name_mismatch"]
    details = dict(audited.details)
    assert audited.subject.endswith(other.id) and details["user"] == amina and details["route"] == "mpesa"
    assert "Kamau" not in str(details) and float(details["score"]) < 70
    assert stack.books_balanced()


def test_a_remittance_is_paid_out_end_to_end(backend: Backend):
    """Order, payment, confirmations, B2C, SMS: paid out and the books balance, on every backend."""
    stack = remittance_stack(backend)
    order = stack.order(amount="2500")
    stack.pay(order)
    stack.confirm()
    stack.run()
    done = stack.get(order)
    assert (done.state, done.route, done.network) == (RemittanceState.PAID_OUT, RemittanceRoute.MPESA, "tron")
    assert done.notified_at is not None and stack.books_balanced()


def test_a_remittance_whose_payouts_fail_is_refunded_end_to_end(backend: Backend):
    """One attempt allowed, M-Pesa refuses: the USDT goes back to the sender's address, and the books balance."""
    stack = remittance_stack(backend, policy=RetryPolicy(attempts=1))
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="2500")
    stack.pay(order)
    stack.confirm()
    stack.run()
    stack.confirm_refunds()
    stack.run()
    assert stack.get(order).state is RemittanceState.REFUNDED and stack.books_balanced()


def test_a_sender_in_a_call_for_action_jurisdiction_is_refused_with_a_stored_audited_alert(backend: Backend):
    """The sender's country screened when the order opens (the default rule set's FATF countermeasures list): an
    Iranian sender is refused before paying; the blocking alert (rule, country) and its audit record are stored;
    no order, no invoice."""
    stack = remittance_stack(backend)
    with pytest.raises(Blocked):
        stack.order(sender=Sender(name="Reza Ahmadi", country="IR", address="1 Vali Asr, Tehran"))
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.blocking, alert.evidence["country"]) == ("call-for-action-remittance", True, "IR")
    with backend.uow() as uow:
        raised = [r for r in uow.audit.records() if r.action == "compliance.alert_raised"]
        assert [(r.subject, dict(r.details)["rule"]) for r in raised] == [
            (f"alert:{alert.id}", "call-for-action-remittance")
        ]
        assert uow.remittances.list(state=None, before=None, limit=10) == []
        assert uow.invoices.list_for_merchant(DESK, before=None, limit=10) == []
    assert stack.order(sender=Sender(name="Grace Otieno", country="GB")).state is RemittanceState.AWAITING_PAYMENT


def test_a_sanctioned_sender_and_a_possible_match_open_orders_held_with_stored_audited_alerts(backend: Backend):
    """Names screened when the order opens, over the backend's lists: a listed sender's order opens as any other
    (tipoff3: it was refused, telling anyone a name is listed), its blocking alert (entry, score) and audit record
    stored and its id kept on the order (``remittance.create`` names it for officers); a possible match opens an
    order that keeps its alert id; once paid, each is held (no payout) until an operator pays it out."""
    stack = remittance_stack(backend)
    stack.list_sanctioned("Dmitri Ivanovich Petrov")
    listed = stack.order(sender=Sender(name="Dmitri Ivanovich Petrov", country="GB", address="1 Strand, London"))
    [blocking] = stack.monitoring.alerts()
    assert stack.get(listed).review_alerts == (blocking.id,)
    assert stack.get(listed).state is RemittanceState.AWAITING_PAYMENT
    assert (blocking.rule_id, blocking.blocking, blocking.evidence["ref"]) == (
        "sanctioned-remittance-party",
        True,
        "ofac:9001",
    )
    assert blocking.evidence["counterparty"] == "Dmitri Ivanovich Petrov" and blocking.evidence["score"] == "100"
    with backend.uow() as uow:
        raised = [r for r in uow.audit.records() if r.action == "compliance.alert_raised"]
        assert [(r.subject, dict(r.details)["blocking"]) for r in raised] == [(f"alert:{blocking.id}", "True")]
        [created] = [dict(r.details) for r in uow.audit.records() if r.action == "remittance.create"]
        assert created["review_alerts"] == blocking.id
    stack.pay(listed)
    stack.confirm()
    stack.run()
    assert (stack.get(listed).state, stack.get(listed).payout_id) == (RemittanceState.HELD, None)
    order = stack.order(sender=Sender(name="Dmitri Ivanovich", country="GB", address="1 Strand, London"))
    possible = next(a for a in stack.monitoring.alerts() if a.id != blocking.id)
    assert not possible.blocking and stack.get(order).review_alerts == (possible.id,)
    stack.pay(order)
    stack.confirm()
    stack.run()
    held = stack.get(order)
    assert (held.state, held.payout_id) == (RemittanceState.HELD, None)
    with pytest.raises(UnderReview) as waiting:  # the alert is in no case yet: nobody cleared it
        stack.remittances.retry(order.id, actor="ops:payments")
    assert waiting.value.details["alerts"] == [possible.id] and "in no case yet" in waiting.value.message
    case = stack.monitoring.open_case("officer@example.com", [possible.id])
    with pytest.raises(UnderReview):  # under investigation is not cleared either
        stack.remittances.retry(order.id, actor="ops:payments")
    stack.monitoring.move("officer@example.com", case.id, CaseStatus.CLOSED_NO_ACTION, "a namesake, not the listed man")
    with pytest.raises(UnderReview) as one:  # reviewer10 R10-1: one officer's closed case releases nothing
        stack.remittances.retry(order.id, actor="ops:payments")
    assert "closed by one officer" in one.value.message and stack.get(order).state is RemittanceState.HELD
    proposed = stack.remittances.propose_release(order.id, officer="usr_ann", note="a namesake, not the listed man")
    assert stack.get(order).release_proposal == proposed.release_proposal  # stored as proposed
    assert (stack.get(order).state, stack.get(order).payout_id) == (RemittanceState.HELD, None)
    with pytest.raises(Conflict):
        stack.remittances.propose_release(order.id, officer="usr_bob", note="again")
    with pytest.raises(SameOfficer):
        stack.remittances.approve_release(order.id, officer="usr_ann")
    approved = stack.remittances.approve_release(order.id, officer="usr_bob")
    assert approved.state is RemittanceState.PAYING_OUT and approved.payout_id is not None
    stored = stack.get(order)
    assert (stored.release_proposal, stored.cleared_alerts) == (None, (possible.id,))
    stack.run()
    assert stack.get(order).state is RemittanceState.PAID_OUT and stack.books_balanced()
    with backend.uow() as uow:
        records = [(r.actor, r.action, dict(r.details)) for r in uow.audit.about([f"remittance:{order.id}"])]
    assert [(a, d["alerts"]) for a, action, d in records if action == "remittance.release_refused"] == [
        ("ops:payments", possible.id)
    ] * 3
    [(actor, details)] = [(a, d) for a, action, d in records if action == "remittance.release_approved"]
    assert (actor, details["proposed_by"], details["alerts"], details["cases"]) == (
        "user:usr_bob",
        "usr_ann",
        possible.id,
        case.id,
    )
    assert [a for a, action, _ in records if action == "remittance.release_same_officer_refused"] == ["user:usr_ann"]
    assert [a for a, action, _ in records if action == "remittance.payout"] == ["user:usr_bob"]
    assert not [r for r in records if r[1] == "remittance.released"]


def test_a_new_sanctions_list_marks_unpaid_orders_and_holds_paid_ones_once_per_version(backend: Backend):
    """A list imported after the orders opened: ``rescreen`` keeps the alert on an unpaid order whose sender it now
    names, which goes on as any other (tipoff3: it was refused and its invoice cancelled, so its sender saw it expire
    early), holds a paid order whose payout failed and waits for a retry (no payout in flight) for an operator,
    leaves a clean order alone; running it again changes nothing."""
    stack = remittance_stack(backend, policy=RetryPolicy(attempts=3))
    stack.list_sanctioned("Mujahidin Youth Movement")
    unpaid = stack.order(sender=Sender(name="Dmitri Ivanovich Petrov", country="GB", address="1 Strand, London"))
    stack.refuse("254711000009")
    paid = stack.order(amount="2500", phone="254711000009", name="Viktor Anatolyevich Bout")
    clean = stack.order(amount="3000")
    stack.pay(paid)
    stack.confirm()
    stack.run(rounds=2)  # paid out, failed, and waiting to be tried again
    assert stack.get(paid).state is RemittanceState.PAYING_OUT and stack.get(paid).next_attempt_at is not None
    assert stack.remittances.rescreen() == []  # the same list: nothing new
    stack.list_sanctioned("Dmitri Ivanovich Petrov", "Viktor Anatolyevich Bout")
    changed = {o.id: o for o in stack.remittances.rescreen()}
    assert set(changed) == {unpaid.id, paid.id}
    marked, held = stack.get(unpaid), stack.get(paid)
    assert (marked.state, marked.finished_at, len(marked.review_alerts)) == (RemittanceState.AWAITING_PAYMENT, None, 1)
    assert stack.remittances.invoice(marked).state is InvoiceState.NEW
    assert "strong match" in (marked.note or "") and "ofac" not in (marked.note or "")
    assert held.state is RemittanceState.HELD and len(held.review_alerts) == 1
    assert stack.get(clean).state is RemittanceState.AWAITING_PAYMENT and stack.get(clean).review_alerts == ()
    alerts = stack.monitoring.alerts()
    assert {a.evidence["role"] for a in alerts if a.movement_id.startswith("remittance:")} == {"sender", "recipient"}
    assert stack.remittances.rescreen() == [] and len(stack.monitoring.alerts()) == len(alerts)  # once per version
    with backend.uow() as uow:
        records = [(r.action, r.subject, dict(r.details)) for r in uow.audit.records() if r.actor == "system:screening"]
    actions = {(action, subject) for action, subject, _ in records}
    assert ("remittance.rescreened", f"remittance:{unpaid.id}") in actions
    assert not any(action in ("remittance.refused", "invoice.cancel") for action, _ in actions)
    [hold] = [d for a, subject, d in records if a == "remittance.held"]
    assert (hold["reason"], hold["match"], hold["alerts"]) == ("sanctions_rescreen", "strong", held.review_alerts[0])
    stack.clock.advance(hours=2)
    stack.run()
    assert stack.get(paid).state is RemittanceState.HELD  # no automatic retry of a held order
    with pytest.raises(UnderReview):
        stack.remittances.retry(paid.id, actor="ops:payments")
    assert stack.books_balanced()


def test_usdc_sent_to_a_remittances_usdt_address_is_recorded_as_a_wrong_asset_payment_and_refunded(backend: Backend):
    """The sender sends USDC on Ethereum to the order's Ethereum address (it asks for USDT there): stored as a
    pending wrong-asset payment of the order's invoice, the order still awaiting payment; once as deep as the rail
    asks the worker refunds it whole to the order's refund address (review3 I13), from custody, never from the
    desk's balance; the order shows the refund, in USDC, and it is audited ``remittance.stray_refund``."""
    stack = remittance_stack(backend)
    order = stack.order(refund_address=EVM_REFUND)
    invoice = stack.remittances.invoice(order)
    address = next(o.address for o in invoice.options if o.rail.network.name == "ethereum")
    stack.chains["ethereum"].pay(address, Money.of(order.usdt.amount, USDC))
    stack.confirm(12)  # as deep as an Ethereum rail asks
    [record] = stack.detection.wrong_network_payments(invoice_id=order.invoice_id)
    assert (record.wrong, record.rail_key, record.state.value) == ("asset", "usdc-ethereum", "pending")
    assert stack.detection.wrong_network_payment(record.id) == record
    assert (
        stack.remittances.invoice(order).payments == [] and stack.get(order).state is RemittanceState.AWAITING_PAYMENT
    )
    stack.run(rounds=1)
    [refund] = stack.remittances.excess_refunds(stack.get(order))
    assert (refund.amount, refund.address) == (Money.of(order.usdt.amount, USDC), EVM_REFUND)
    assert stack.detection.wrong_network_payment(record.id).state.value == "refunded"
    with backend.uow() as uow:
        assert [r.action for r in uow.audit.records() if r.action == "remittance.stray_refund"] == [
            "remittance.stray_refund"
        ]
    stack.run(rounds=1)  # nothing more: refunded once
    assert len(stack.remittances.excess_refunds(stack.get(order))) == 1
    stack.confirm_refunds("ethereum")
    stack.refunds.check_refunds()
    assert stack.refunds.get_refund(refund.id).state.value == "confirmed"
    assert stack.ledger.balance(merchant_liability(DESK, USDT)).posted == Money.zero(USDT) and stack.books_balanced()


def _last_attempt_failed(backend: Backend, scenario: Scenario) -> tuple[RemittanceStack, RemittanceOrder]:
    """One attempt allowed to ``254711000008``; M-Pesa's answers held back: the order's payout is sent and waits."""
    stack = remittance_stack(backend, policy=RetryPolicy(attempts=1))
    stack.wallet.mpesa.set_scenario("254711000008", scenario)
    order = stack.order(amount="2500", phone="254711000008")
    stack.pay(order)
    stack.confirm()
    stack.answers = lambda: None
    stack.run(rounds=1)
    return stack, order


def _forge_failure(stack: RemittanceStack, order: RemittanceOrder) -> None:
    """A failure result naming the payout's ids, on its real result URL (M-Pesa's own lost): the payout fails."""
    payout = stack.remittances.payout_of(stack.get(order))
    assert payout is not None
    sim = stack.wallet.mpesa.transaction(payout.originator_id or "")
    forged = daraja_payloads.failed_result("2001", "x", sim.reference, sim.conversation_id, "OAK0000000")
    url = sim.result_url or ""
    purpose = PAYOUT_URLS.purpose_of(url)
    assert purpose is not None
    done = stack.wallet.payouts.handle_payout_result(
        parse_payload(forged), token=url.rsplit("/", 1)[-1], purpose=purpose
    )
    assert done is not None and done.state is PayoutState.FAILED


def test_a_last_failed_attempt_is_refunded_once_transaction_status_confirms_it(backend: Backend):
    """(a) M-Pesa refuses the only attempt: before refunding, Transaction Status is asked (recorded on the payout);
    its answer says failed, and the USDT is refunded once."""
    stack, order = _last_attempt_failed(backend, Scenario.INSUFFICIENT_FUNDS)
    stack.answers = None
    stack.run(rounds=1)  # the failure result arrives
    stack.run(rounds=1)  # the worker asks Transaction Status, whose answer comes back
    payout = stack.remittances.payout_of(stack.get(order))
    assert payout is not None and [q.outcome for q in payout.queries] == ["failed"]
    assert stack.get(order).state is RemittanceState.PAYING_OUT
    stack.run()
    stack.confirm_refunds()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.REFUNDED and len(stack.refunds.list_refunds(done.invoice_id)) == 1
    assert stack.books_balanced()


def test_a_last_attempt_failed_by_a_callback_that_mpesa_paid_is_paid_out_never_refunded(backend: Backend):
    """(b) M-Pesa paid the only attempt but a failure result came: Transaction Status finds it paid, so the order is
    paid out (the recipient told) and nothing is refunded; the desk's shillings paid it, the books balance."""
    stack, order = _last_attempt_failed(backend, Scenario.LOST_CALLBACK)
    _forge_failure(stack, order)
    stack.answers = None
    stack.run()
    done = stack.get(order)
    assert (done.state, done.notified_at is not None) == (RemittanceState.PAID_OUT, True)
    assert stack.refunds.list_refunds(done.invoice_id) == []
    payout = stack.remittances.payout_of(done)
    assert payout is not None and payout.state is PayoutState.COMPLETED and payout.receipt
    assert [q.outcome for q in payout.queries] == ["succeeded"]
    assert stack.ledger.balance(merchant_liability(DESK, KES)).posted.is_zero() and stack.books_balanced()


def test_a_last_failed_attempt_without_a_status_answer_yet_is_neither_paid_nor_refunded(backend: Backend):
    """(c) The status answer has not come: the order waits (no refund, not paid out) and the query is not repeated
    within the result deadline; once the answer arrives the next run refunds it."""
    stack, order = _last_attempt_failed(backend, Scenario.INSUFFICIENT_FUNDS)
    stack.wallet.deliver_callbacks()  # the failure result only
    stack.run(rounds=3)  # asks Transaction Status once; its answer held back
    waiting = stack.get(order)
    assert waiting.state is RemittanceState.PAYING_OUT and "Transaction Status" in (waiting.note or "")
    assert stack.refunds.list_refunds(waiting.invoice_id) == []
    payout = stack.remittances.payout_of(waiting)
    assert payout is not None and [q.outcome for q in payout.queries] == [None]
    stack.answers = None
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.REFUNDING and len(stack.refunds.list_refunds(done.invoice_id)) == 1


def test_an_order_waiting_on_transaction_status_is_watched_with_its_age_until_the_answer(backend: Backend):
    """The gauges' read: a last attempt failed by a callback, its status answer held back, is one order awaiting
    Transaction Status, aged from the failure; once the answer confirms the failure it is refunding, awaiting none."""
    stack, order = _last_attempt_failed(backend, Scenario.INSUFFICIENT_FUNDS)
    stack.wallet.deliver_callbacks()  # the failure result only
    stack.run(rounds=1)  # asks Transaction Status; its answer held back
    payout = stack.remittances.payout_of(stack.get(order))
    assert payout is not None and payout.finished_at is not None
    stack.clock.advance(minutes=40)
    now = stack.clock.now()
    watch = in_transaction(backend.uow, lambda uow: watch_remittances(uow, now))
    assert (watch.awaiting_status, watch.awaiting_status_oldest_seconds) == (
        1,
        (now - payout.finished_at).total_seconds(),
    )
    assert watch.orders == {"awaiting_payment": 0, "paying_out": 1, "refunding": 0, "held": 0}
    assert watch.oldest_seconds["paying_out"] == (now - order.created_at).total_seconds()
    stack.answers = None
    stack.run()
    after = in_transaction(backend.uow, lambda uow: watch_remittances(uow, stack.clock.now()))
    assert (after.awaiting_status, after.awaiting_status_oldest_seconds) == (0, 0.0)
    assert after.orders["paying_out"] == 0 and after.orders["refunding"] == 1


def test_an_operators_refund_of_a_failed_order_waits_for_transaction_status_too(backend: Backend):
    """An operator's refund after a failure result is refused while Transaction Status is asked; M-Pesa paid it
    after all, so the payout is completed, the refund refused and the order paid out: never both."""
    stack, order = _last_attempt_failed(backend, Scenario.LOST_CALLBACK)
    _forge_failure(stack, order)
    with pytest.raises(AwaitingStatus):
        stack.remittances.refund(order.id, actor="ops@example.com")
    with pytest.raises(AwaitingStatus):  # asked moments ago: not asked again
        stack.remittances.refund(order.id, actor="ops@example.com")
    payout = stack.remittances.payout_of(stack.get(order))
    assert payout is not None and len(payout.queries) == 1
    stack.wallet.deliver_callbacks()  # the status answer: paid
    with pytest.raises(Refused, match="completed"):
        stack.remittances.refund(order.id, actor="ops@example.com")
    stack.answers = None
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and stack.refunds.list_refunds(done.invoice_id) == []
    assert stack.books_balanced()


def test_an_operators_refund_proceeds_once_transaction_status_confirms_the_failure(backend: Backend):
    stack, order = _last_attempt_failed(backend, Scenario.INSUFFICIENT_FUNDS)
    stack.wallet.deliver_callbacks()  # the failure result
    with pytest.raises(AwaitingStatus):
        stack.remittances.refund(order.id, actor="ops@example.com")
    stack.wallet.deliver_callbacks()  # the status answer: failed
    assert stack.remittances.refund(order.id, actor="ops@example.com").state is RemittanceState.REFUNDING
    stack.answers = None
    stack.run()
    assert len(stack.refunds.list_refunds(order.invoice_id)) == 1


def test_a_stored_order_holds_no_name_or_phone_in_the_clear(backend: Backend):
    """On SQL the recipient's name and phone and the sender's name and address are sealed (read the raw row)."""
    with backend.uow() as uow:
        uow.remittances.add(_order(1))
    if backend.engine is None:
        return  # the in-memory fake keeps objects, not bytes
    import sqlalchemy as sa

    with backend.engine.connect() as conn:
        raw = str(conn.execute(sa.text("SELECT doc FROM remittance_orders")).scalar_one())
    assert [s for s in ("Achieng", "254712345678", "Grace", "Acacia") if s in raw] == []
    with backend.uow() as uow:
        assert uow.remittances.get("rmt_1") == _order(1)


def _waiting_for_midnight(backend: Backend, count: int, amount: str) -> tuple[RemittanceStack, list[RemittanceOrder]]:
    """A stack whose recipient receives at most KES 5,000 a day, used up by a first order today, and ``count`` orders
    of ``amount`` to the same number, paid for and waiting for the next day (no payout yet)."""
    from cryptopay.core.mobile_money.limits import B2C_LIMITS
    from cryptopay.core.settlement.policy import PayoutLimits

    stack = remittance_stack(backend)
    limits = PayoutLimits(part=B2C_LIMITS, per_day=Money.of(5_000, KES))
    stack.remittances = attrs.evolve(stack.remittances, limits=limits)
    first = stack.order(amount="5000")
    stack.pay(first)
    stack.confirm()
    stack.run()
    orders = [stack.order(amount=amount) for _ in range(count)]
    for order in orders:
        stack.pay(order)
    stack.confirm()
    stack.run(rounds=2)
    assert [stack.get(o).payout_id for o in orders] == [None] * count
    return stack, orders


def test_workers_paying_one_recipient_at_once_never_pass_the_daily_limit(backend: Backend):
    """A KES 5,000 daily limit used up by a first order; eight orders of KES 2,000 to the same number wait for the
    next day (each recipient told once). At midnight eight workers advance them at the same instant: two payouts are
    planned and six orders wait again, whatever the interleaving. On PostgreSQL the recipient's advisory lock is
    what makes it so: without it each worker sees the new day's room unused and plans its payout."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from cryptopay.core.kyc.limits import day_bounds
    from cryptopay.core.payouts import PayoutState

    phone = "254712345678"
    stack, orders = _waiting_for_midnight(backend, 8, "2000")
    waiting = [m for m in stack.wallet.sms.sent_to(phone) if "daily limit" in m.text]
    assert len(waiting) == 8  # one per order, however many ticks

    tomorrow = day_bounds(stack.clock.now())[1]
    stack.clock.set(tomorrow)
    start = Barrier(len(orders))

    def worker(order_id: str) -> RemittanceOrder:
        start.wait()
        return stack.remittances._advance(order_id)  # one worker's step on one order, as ``advance`` takes it

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        list(pool.map(worker, [o.id for o in orders]))
    with backend.uow() as uow:
        today = [p for p in uow.payouts.to_destination(phone, since=tomorrow) if p.state is not PayoutState.FAILED]
    assert sum(p.amount.amount for p in today) <= 5_000
    assert len(today) == 2
    assert sorted(stack.get(o).payout_id is None for o in orders) == [False] * 2 + [True] * 6
    assert stack.books_balanced()


def test_sales_and_remittances_paying_one_number_at_once_never_pass_its_daily_limit(backend: Backend):
    """The number's daily limit is M-Pesa's, whoever pays it: four remittances of KES 2,000 wait for the next day (a
    first one used the KES 5,000 limit up); the recipient then opens a wallet, and at midnight four workers plan the
    remittances while the recipient sells USDT for about KES 1,900 four times, all at the same instant. Whatever the
    interleaving, no more than KES 5,000 is planned to the number. On PostgreSQL a sale waits for the number's advisory
    lock a remittance holds: without it in ``Sells`` each sale reads the day's payouts before the remittances commit
    and plans its own on top."""
    from cryptopay.core.errors import LimitExceeded
    from cryptopay.core.kyc.limits import day_bounds
    from cryptopay.core.payouts import PayoutKind, PayoutState

    from tests.support.sql_engines import race

    phone, limit = "254712345678", Money.of(5_000, KES)
    stack, orders = _waiting_for_midnight(backend, 4, "2000")
    stack.wallet.sells.per_day = limit
    achieng = stack.wallet.sign_up("0712345678", tier=1)
    stack.wallet.fund(achieng, "100", "USDT")
    tomorrow = day_bounds(stack.clock.now())[1]
    stack.clock.set(tomorrow)

    def work(n: int) -> object:
        if n % 2:
            return stack.remittances._advance(orders[n // 2].id)  # one worker's step on one order
        try:
            return stack.wallet.sells.start(achieng.id, Money.of(15, USDT))
        except LimitExceeded as refused:
            return refused

    results = race(2 * len(orders), work)
    with backend.uow() as uow:
        today = [p for p in uow.payouts.to_destination(phone, since=tomorrow) if p.state is not PayoutState.FAILED]
    planned = sum((p.amount for p in today), Money.zero(KES))
    assert planned <= limit, [(p.kind.value, str(p.amount.amount)) for p in today]
    assert {p.kind for p in today} <= {PayoutKind.SALE, PayoutKind.REMITTANCE} and len(today) >= 2
    assert sum(isinstance(r, LimitExceeded) for r in results) == 4 - sum(p.kind is PayoutKind.SALE for p in today)
    assert stack.books_balanced()


def test_orders_funded_while_waiting_ones_are_paid_at_midnight_never_deadlock(backend: Backend):
    """Four orders to one number wait for the next day; four more to the same number are paid for and advanced by
    four more workers just as the waiting ones are, at midnight. Every unit of work takes the number's lock before
    the ledger's balances (docs/architecture.md, lock order): an order being funded converts at the desk's accounts
    only once it holds the number's lock, so it never holds the accounts a waiting order's payout needs while waiting
    for the lock that order holds. On PostgreSQL the server counts no deadlock (with the number's lock taken after
    the conversion it does: the deadlock detector aborts one, and the retried unit of work hides it); the day's
    payouts stay within the limit either way."""
    import time

    import sqlalchemy as sa
    from cryptopay.core.kyc.limits import day_bounds
    from cryptopay.core.payouts import PayoutState

    from tests.support.sql_engines import race

    def deadlocks() -> int:
        if backend.engine is None or backend.engine.dialect.name != "postgresql":
            return 0
        backend.engine.dispose()  # a backend's counters reach the server's statistics when it ends
        time.sleep(1.2)
        with backend.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            query = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
            return int(conn.execute(sa.text(query)).scalar_one())

    phone = "254712345678"
    stack, waiting = _waiting_for_midnight(backend, 4, "1000")
    tomorrow = day_bounds(stack.clock.now())[1]
    stack.clock.set(tomorrow)
    funded = [stack.order(amount="1000") for _ in range(4)]
    for order in funded:
        stack.pay(order)
    stack.confirm()
    before = deadlocks()

    race(8, lambda n: stack.remittances._advance((waiting, funded)[n % 2][n // 2].id))
    assert deadlocks() == before
    with backend.uow() as uow:
        today = [p for p in uow.payouts.to_destination(phone, since=tomorrow) if p.state is not PayoutState.FAILED]
    assert sum(p.amount.amount for p in today) == 5_000 and len(today) == 5
    assert stack.books_balanced()


def test_a_sender_name_that_is_not_a_persons_name_is_refused_before_anything_is_stored(backend: Backend):
    """F13: a "name" carrying a phone number or a link (the M-Pesa reversal scam) is 422 ``invalid_name`` on
    ``sender.name``; nothing is stored. Names in other scripts, with accents, apostrophes, hyphens pass."""
    from cryptopay.core.errors import InvalidName

    stack = remittance_stack(backend)
    scam = "M-PESA Reversal: call 0700111222 or visit https://evil.example/claim"
    for bad in (scam, "Grace 0700111222", "grace@evil.example", "Grace/Otieno", "x" * 71):
        with pytest.raises(InvalidName) as refused:
            stack.order(amount="2500", sender=Sender(name=bad, country="GB", address="12 Acacia Road, London"))
        assert refused.value.details["field"] == "sender.name" and refused.value.code == "invalid_name"
    assert stack.remittances.orders() == []
    for good in ("Zoë O'Brien-Ng", "Wanjikũ Mũthoni", "张伟", "Dr. Amara N. Okafor"):
        stack.order(amount="2500", sender=Sender(name=good, country="GB", address="12 Acacia Road, London"))
    assert len(stack.remittances.orders()) == 4


def test_a_recipient_name_that_is_not_a_persons_name_is_refused_before_anything_is_stored(backend: Backend):
    """Outside review H6: the recipient's name (the Travel Rule beneficiary, the STR export, sanctions screening)
    follows the sender's rule: a link, a phone number or an instruction is 422 ``invalid_name`` on
    ``recipient_name`` and nothing is stored; names in any script, up to 100 characters, pass."""
    from cryptopay.core.errors import InvalidName

    stack = remittance_stack(backend)
    for bad in ("http://evil.co", "Call 0700000000 now", "achieng@evil.example", "Achieng: claim", "", "x" * 101):
        with pytest.raises(InvalidName) as refused:
            stack.order(amount="2500", name=bad)
        assert refused.value.details["field"] == "recipient_name" and refused.value.code == "invalid_name"
    assert stack.remittances.orders() == []
    for good in ("Achieng Otieno", "Wanjikũ Mũthoni", "张伟", "Mary-Jane O'Neil", "A" * 100):
        assert stack.order(amount="2500", name=good).recipient_name == good
    assert len(stack.remittances.orders()) == 5


def test_a_remittance_below_the_minimum_is_refused(backend: Backend):
    """F13: KES 10 (or the USDT worth it) is refused on ``amount``: the minimum (KES 100, data) pays for the B2C."""
    from cryptopay.core.errors import InvalidInput

    stack = remittance_stack(backend)
    for amount, asset in (("10", "KES"), ("99", "KES"), ("0.077708", "USDT")):
        with pytest.raises(InvalidInput, match="at least KES 100") as refused:
            stack.order(amount=amount, asset=asset)
        assert refused.value.details["field"] == "amount"
    assert stack.order(amount="100").kes == Money.of(100, KES)


def test_a_stored_name_from_before_the_rule_is_never_texted_verbatim(backend: Backend):
    """F13: the SMS quotes only a valid person's name (an order stored before the rule says "a sender abroad")."""
    stack = remittance_stack(backend)
    order = stack.order(amount="2500")
    scam = Sender(name="M-PESA Reversal: call 0700111222", country="GB", address="12 Acacia Road, London")
    with backend.uow() as uow:
        stored = uow.remittances.get(order.id, lock=True)
        stored.sender = scam
        uow.remittances.update(stored)
    stack.pay(order)
    stack.confirm()
    stack.run()
    [text] = [m.text for m in stack.wallet.sms.sent_to("254712345678")]
    assert text.startswith("You have received KES 2,500.00 from a sender abroad (GB), sent to your M-Pesa")
    assert "0700" not in text and "PESA" not in text


def test_a_number_gets_at_most_three_remittance_sms_a_day_and_the_cap_is_audited(backend: Backend):
    """F13: a fourth remittance paid to one number on one day arrives, untold; ``remittance.sms_capped`` says so.
    The next day the number is told again."""
    stack = remittance_stack(backend)
    orders = [stack.order(amount="100") for _ in range(4)]
    for order in orders:
        stack.pay(order)
    stack.confirm()
    stack.run(rounds=4)
    assert all(stack.get(o).state is RemittanceState.PAID_OUT for o in orders)
    assert len(stack.wallet.sms.sent_to("254712345678")) == 3
    with backend.uow() as uow:
        capped = [r for r in uow.audit.records() if r.action == "remittance.sms_capped"]
    assert len(capped) == 1 and dict(capped[0].details)["texted_today"] == "3"
    stack.clock.advance(days=1)
    late = stack.order(amount="100")
    stack.pay(late)
    stack.confirm()
    stack.run()
    assert len(stack.wallet.sms.sent_to("254712345678")) == 4 and stack.books_balanced()


def test_two_workers_telling_one_number_at_once_never_both_send_its_last_sms_of_the_day(backend: Backend):
    """The count and the reservation of a number's SMS are one unit of work under the number's lock: with one SMS a
    day left, two workers telling two orders to the number at the same moment send one SMS and audit one
    ``remittance.sms_capped``. Each worker is held, between its count and the commit of its reservation, and again
    at the SMS gateway, until the other arrives there too (or 1 s passes): counted outside the lock, or reserved
    after sending, both would count none sent and both text."""
    import contextlib
    import threading
    from collections.abc import Iterator
    from typing import Any

    from cryptopay.core.ports.sms import SmsMessage
    from cryptopay.core.remittances.service import RemittanceRules

    from tests.support.sql_engines import race

    phone = "254712345678"
    stack = remittance_stack(backend)
    orders = [stack.order(amount="100") for _ in range(2)]
    for order in orders:
        stack.pay(order)
    stack.confirm()
    stack.run(rounds=4)
    with backend.uow() as uow:  # both paid out today, neither told yet
        for order in orders:
            stored = uow.remittances.get(order.id, lock=True)
            assert stored.state is RemittanceState.PAID_OUT
            stored.notified_at = None
            uow.remittances.update(stored)
    stack.remittances.rules = RemittanceRules(sms_per_day=1)
    sms, both_counted, both_sending = stack.wallet.sms, threading.Barrier(2, timeout=1), threading.Barrier(2, timeout=1)
    texted = len(sms.sent_to(phone))

    def meet(barrier: threading.Barrier) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other worker waits on the number's lock
            barrier.wait()

    class Gateway:
        def send(self, message: SmsMessage) -> str:
            meet(both_sending)
            return sms.send(message)

    class Orders:  # the order's update is the reservation, after the count
        def __init__(self, orders: Any) -> None:
            self._orders = orders

        def __getattr__(self, name: str) -> Any:
            return getattr(self._orders, name)

        def update(self, order: RemittanceOrder) -> None:
            meet(both_counted)
            self._orders.update(order)

    class Unit:
        def __init__(self, uow: Any) -> None:
            self._uow, self.remittances = uow, Orders(uow.remittances)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._uow, name)

    @contextlib.contextmanager
    def pausing() -> Iterator[Any]:
        with real_uow() as uow:
            yield Unit(uow)

    gateway, real_uow = Gateway(), stack.remittances.uow
    stack.remittances.sms, stack.remittances.uow = (lambda: gateway), pausing
    race(2, lambda n: stack.remittances._advance(orders[n].id))
    stack.remittances.uow = real_uow
    assert len(sms.sent_to(phone)) == texted + 1
    with backend.uow() as uow:
        capped = [r for r in uow.audit.records() if r.action == "remittance.sms_capped"]
        assert len(capped) == 1 and dict(capped[0].details)["texted_today"] == "1"
        assert all(uow.remittances.get(o.id).notified_at is not None for o in orders)
    stack.run()  # told once each: nothing more to send
    assert len(sms.sent_to(phone)) == texted + 1


def _desk_usdt(stack: RemittanceStack) -> Money:
    return stack.ledger.balance(merchant_liability(DESK, USDT)).posted


def test_a_second_payment_to_a_paid_order_goes_back_to_the_sender(backend: Backend):
    """F6: an order paid twice is paid out once and the second payment refunded to its refund address at once
    (``remittance.excess_refund``); nothing stays in the desk's USDT liability."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500")
    stack.pay(order)
    stack.pay(order)
    stack.confirm()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and len(done.excess_refund_ids) == 1
    [refund] = stack.remittances.excess_refunds(done)
    assert (refund.amount, refund.address) == (order.usdt, TRON_REFUND)
    stack.confirm_refunds()
    stack.run()
    [refund] = stack.remittances.excess_refunds(stack.get(order))
    assert refund.state.value == "confirmed" and _desk_usdt(stack).is_zero() and stack.books_balanced()
    with backend.uow() as uow:
        asked = [r for r in uow.audit.records() if r.action == "remittance.excess_refund"]
    assert len(asked) == 1 and dict(asked[0].details)["amount"] == str(order.usdt)
    stack.run()  # nothing more is owed: no second refund
    assert len(stack.get(order).excess_refund_ids) == 1


def test_an_underpaid_order_that_expires_gives_back_what_arrived(backend: Backend):
    """F6: half paid, then the window ends: the order is expired and the half refunded to the sender."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500")
    half = Money((order.usdt.amount / 2).quantize(Decimal("0.000001")), USDT)
    stack.pay(order, half)
    stack.confirm()
    stack.clock.advance(minutes=31)
    stack.confirm()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.EXPIRED
    [refund] = stack.remittances.excess_refunds(done)
    assert refund.amount == half
    stack.confirm_refunds()
    stack.run()
    assert _desk_usdt(stack).is_zero() and stack.books_balanced()


def test_an_excess_that_cannot_be_refunded_is_kept_for_an_operator(backend: Backend):
    """F6: no hot wallet on the order's network: the excess waits on the order (``excess_note``), audited once
    ``remittance.excess_held``."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500")
    stack.pay(order)
    stack.pay(order)
    stack.confirm()
    stack.refunds._senders.pop("tron")
    stack.run()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and done.excess_refund_ids == ()
    assert done.excess_note and "not configured" in done.excess_note
    with backend.uow() as uow:
        held = [r for r in uow.audit.records() if r.action == "remittance.excess_held"]
    assert len(held) == 1 and _desk_usdt(stack) == order.usdt


def _owed_check(stack: RemittanceStack, backend: Backend) -> list[tuple[str, str, str]]:
    from cryptopay.core.reconciliation import Reconciliation

    checks = Reconciliation(uow=backend.uow, ledger=stack.ledger, clock=stack.clock, remittances=backend.uow)
    [result] = [r for r in checks.reconcile().results if r.check.name == "remittances-owed"]
    assert not result.skipped
    return [(d.subject, d.expected, d.actual) for d in result.differences]


def test_reconciliation_finds_an_excess_nobody_refunded_and_nothing_once_it_is(backend: Backend):
    """F6: the desk's USDT equals what its orders hold. Paid twice with no hot wallet: clean for the first hour
    (its refund is due), then the order is a difference naming what it holds; an order refunded is clean."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500")
    stack.pay(order)
    stack.pay(order)
    stack.confirm()
    senders = dict(stack.refunds._senders)
    stack.refunds._senders.clear()
    stack.run()
    assert _owed_check(stack, backend) == []
    stack.clock.advance(minutes=61)
    [(subject, _, actual)] = _owed_check(stack, backend)
    assert subject == f"remittance {order.id} (paid_out)" and actual == f"{order.usdt} held"
    stack.refunds._senders.update(senders)
    stack.run()
    stack.confirm_refunds()
    stack.run()
    assert _owed_check(stack, backend) == [] and stack.get(order).excess_note is None


def _audited(backend: Backend, action: str) -> list[dict[str, str]]:
    with backend.uow() as uow:
        return [dict(r.details) for r in uow.audit.records() if r.action == action]


def test_dust_sent_to_a_paid_order_is_kept_not_refunded(backend: Backend):
    """G4: five dust transfers to a paid order's address, one worker run each: no refund (each would cost the hot
    wallet a network fee), each kept as dust revenue, audited ``remittance.excess_kept``, and not owed."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500")
    stack.pay(order)
    stack.confirm()
    stack.run()
    dust = Money.of("0.000001", USDT)
    for _ in range(5):
        stack.pay(order, dust)
        stack.confirm()
        stack.run()
        stack.confirm_refunds()
        stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and done.excess_refund_ids == () and stack.senders["tron"].sent == {}
    assert done.kept() == Money.of("0.000005", USDT) and done.excess_note is None
    kept = _audited(backend, "remittance.excess_kept")
    assert [k["amount"] for k in kept] == [str(dust)] * 5 and kept[0]["floor"] == str(Money.of(1, USDT))
    assert _desk_usdt(stack).is_zero() and stack.books_balanced()
    assert stack.ledger.balance(remittance_dust(USDT)).posted == Money.of("0.000005", USDT)
    stack.clock.advance(minutes=61)
    assert _owed_check(stack, backend) == []


def test_excess_payments_are_summed_before_the_floor_is_applied(backend: Backend):
    """G4: two excess payments of 0.6 USDT (each below the 1 USDT floor) seen in one run are one refund of 1.2;
    one of 0.6 arriving later is kept."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500")
    stack.pay(order)
    stack.pay(order, Money.of("0.6", USDT))
    stack.pay(order, Money.of("0.6", USDT))
    stack.confirm()
    stack.run()
    [refund] = stack.remittances.excess_refunds(stack.get(order))
    assert refund.amount == Money.of("1.2", USDT)
    stack.pay(order, Money.of("0.6", USDT))
    stack.confirm()
    stack.run()
    stack.confirm_refunds()
    stack.run()
    done = stack.get(order)
    assert len(done.excess_refund_ids) == 1 and done.kept() == Money.of("0.6", USDT)
    assert _desk_usdt(stack).is_zero() and stack.books_balanced()
    stack.clock.advance(minutes=61)
    assert _owed_check(stack, backend) == []


def test_an_excess_refund_deducts_the_network_fee_and_dust_under_the_fee_is_kept(backend: Backend):
    """G4: with the hot wallet's estimate (0.8 USDT), an excess goes back less 0.8 x 1.25 = 1 USDT (kept, audited
    with the refund); once the estimate is 2 USDT (2.5 with the margin), an excess of 1.5 USDT, above the 1 USDT
    floor but not above the fee, is kept whole."""
    stack = remittance_stack(backend)
    estimator = FakeFeeEstimator(Money.of("0.8", USDT))
    stack.remittances.estimators = lambda: {"tron": estimator}
    order = stack.order(amount="500")
    stack.pay(order)
    stack.pay(order, Money.of("5", USDT))
    stack.confirm()
    stack.run()
    [refund] = stack.remittances.excess_refunds(stack.get(order))
    assert refund.amount == Money.of("4", USDT) and stack.get(order).kept("usdt-tron") == Money.of("1", USDT)
    [asked] = _audited(backend, "remittance.excess_refund")
    assert asked["network_fee"] == str(Money.of("1", USDT)) and asked["amount"] == str(Money.of("4", USDT))
    estimator.fee = Money.of("2", USDT)
    stack.pay(order, Money.of("1.5", USDT))
    stack.confirm()
    stack.run()
    stack.confirm_refunds()
    stack.run()
    done = stack.get(order)
    assert len(done.excess_refund_ids) == 1 and done.kept() == Money.of("2.5", USDT)
    [kept] = _audited(backend, "remittance.excess_kept")
    assert kept["floor"] == str(Money.of("2.5", USDT)) and kept["amount"] == str(Money.of("1.5", USDT))
    assert _desk_usdt(stack).is_zero() and stack.books_balanced()
    assert stack.ledger.balance(remittance_dust(USDT)).posted == Money.of("2.5", USDT)
    stack.clock.advance(minutes=61)
    assert _owed_check(stack, backend) == []


def test_a_payment_after_the_window_goes_back_whole_once(backend: Backend):
    """F6: paid in full only after the window: the order is expired (nothing paid out) and the late payment goes
    back whole, once, whatever the worker's runs."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500")
    stack.clock.advance(minutes=31)
    stack.confirm()
    stack.pay(order)
    stack.confirm()
    assert stack.remittances.invoice(order).exception.value == "paid_late"
    stack.run()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.EXPIRED and done.payout_id is None
    [refund] = stack.remittances.excess_refunds(done)
    assert refund.amount == order.usdt
    stack.confirm_refunds()
    stack.run()
    assert _desk_usdt(stack).is_zero() and stack.books_balanced()


def test_a_remittance_credit_waits_for_what_another_is_crediting_to_the_same_tier0_wallet(backend: Backend):
    """review8 R2: a tier-0 wallet took KES 4,000 of remittances today (its REMITTANCE row: KES 10,000 a day); another
    order's credit to it is being recorded, under the wallet's receive lock and not yet committed (KES 4,000 more).
    An order of KES 3,000 advanced meanwhile (a second runner: the worker's tick and an operator's ``remittances
    advance``) waits for that lock before it reads what the wallet took, so the two cannot both pass a day only one
    fits: it is paid by B2C to the same phone, the wallet keeps KES 4,000. Unfixed, it read the usage without the lock,
    saw KES 4,000 and credited the wallet at once (KES 11,000 taken that day). PostgreSQL only: SQLite and the fakes
    run one writer at a time."""
    import threading

    from cryptopay.core.kyc import Product
    from cryptopay.core.wallets import Usage

    from tests.support.threads import joined

    if backend.name != "postgres":
        pytest.skip("one writer at a time: a second transaction cannot be open while the first holds the lock")
    stack = remittance_stack(backend)
    zawadi = stack.wallet.sign_up("0712300002")
    first = stack.order(phone="0712300002", amount="4000", name="Zawadi Njeri")
    stack.pay(first)
    stack.confirm()
    stack.run()
    assert stack.get(first).route is RemittanceRoute.WALLET
    late = stack.order(phone="0712300002", amount="3000", name="Zawadi Njeri")
    stack.pay(late)
    stack.confirm()
    now = stack.clock.now()
    held, release = threading.Event(), threading.Event()

    def crediting() -> None:  # what another order's credit to Zawadi does, its usage recorded and not yet committed
        with backend.uow() as uow:
            uow.wallet_usage.lock_receiving(zawadi.id)
            value = Money.of(4000, KES)
            uow.wallet_usage.add(Usage("use_other", zawadi.id, Product.REMITTANCE.value, value, now, "rmt_other"))
            held.set()
            release.wait(timeout=60)

    other = threading.Thread(target=crediting, name="credit")
    other.start()
    try:
        assert held.wait(timeout=60)
        runner = threading.Thread(target=lambda: stack.remittances._advance(late.id), name="advance")
        runner.start()
        runner.join(timeout=3)  # unfixed, it credited at once, reading none of the other credit
    finally:
        release.set()
        joined(other)
    joined(runner)
    done = stack.get(late)
    assert (done.route, done.recipient_id) == (RemittanceRoute.MPESA, None), done
    assert stack.wallet.wallets.balances(zawadi.id)["KES"] == Money.of(4000, KES)


def test_dust_of_the_wrong_asset_is_left_for_an_operator_never_sent_back_on_chain(backend: Backend):
    """review8 R1: three transfers of 0.000001 USDC to an order's Ethereum address (it asks for USDT there), and one
    of 1.5 USDC while the hot wallet's fee estimate is 2 USDC (2.5 with the margin): each back on chain would cost
    the platform a network fee, so none is sent (the excess rule's floor, ``RemittanceRules.excess_floor``, and the
    network's fee apply to strays too). They stay pending for an operator (``cryptopay refunds wrong-network``), the
    order marks each once (``strays_held``, audited ``remittance.stray_held`` with the floor and the fee), however
    many runs; a stray worth more than both still goes back whole. Unfixed, each dust transfer was its own refund."""
    stack = remittance_stack(backend)
    estimator = FakeFeeEstimator(Money.of("2", USDC))
    stack.remittances.estimators = lambda: {"ethereum": estimator}
    order = stack.order(refund_address=EVM_REFUND)
    invoice = stack.remittances.invoice(order)
    address = next(o.address for o in invoice.options if o.rail.network.name == "ethereum")
    for amount in ("0.000001", "0.000001", "0.000001", "1.5"):
        stack.chains["ethereum"].pay(address, Money.of(amount, USDC))
    stack.confirm(12)  # as deep as an Ethereum rail asks
    stack.run(rounds=3)
    held = stack.get(order)
    assert held.excess_refund_ids == () and stack.senders["ethereum"].sent == {}
    strays = stack.remittances.wrong_payments(held)
    assert [p.state.value for p in strays] == ["pending"] * 4
    assert sorted(held.strays_held) == sorted(p.id for p in strays) and held.excess_note is None
    audited = _audited(backend, "remittance.stray_held")
    assert sorted(a["payment"] for a in audited) == sorted(p.id for p in strays)  # once each, not per run
    big = next(a for a in audited if a["amount"] == str(Money.of("1.5", USDC)))
    assert big["floor"] == str(Money.of(1, USDC)) and big["network_fee"] == str(Money.of("2.5", USDC))
    stack.chains["ethereum"].pay(address, Money.of(10, USDC))
    stack.confirm(12)
    stack.run(rounds=1)
    [refund] = stack.remittances.excess_refunds(stack.get(order))
    assert (refund.amount, refund.address) == (Money.of(10, USDC), EVM_REFUND)
    assert [p.state.value for p in stack.remittances.wrong_payments(stack.get(order))].count("pending") == 4
    assert stack.books_balanced()


def test_a_held_excess_and_a_dust_stray_on_one_order_are_each_noted_once_not_every_run(backend: Backend):
    """lastread A2: an excess that cannot be refunded (no hot wallet on Ethereum) and a dust stray (USDC to the
    order's Ethereum address) on one order. Each run used to write the excess's note, then overwrite it with the stray's
    (two row updates and two audit records per order per tick, forever, and the excess's reason lost). Now the
    stray is marked on the order apart (``strays_held``): after the first run, a second run writes nothing, and the
    excess's note (what the operator must fix) stays."""
    stack = remittance_stack(backend)
    order = stack.order(amount="500", refund_address=EVM_REFUND)
    stack.pay(order, network="ethereum")
    stack.pay(order, network="ethereum")
    address = next(o.address for o in stack.remittances.invoice(order).options if o.rail.network.name == "ethereum")
    stack.chains["ethereum"].pay(address, Money.of("0.000001", USDC))  # at most the floor: held, never refunded
    stack.confirm()
    stack.refunds._senders.pop("ethereum")
    stack.run()
    first = stack.get(order)
    assert first.excess_note and "not configured" in first.excess_note
    [stray] = stack.remittances.wrong_payments(first)
    assert first.strays_held == (stray.id,) and stray.state.value == "pending"
    audited = (len(_audited(backend, "remittance.excess_held")), len(_audited(backend, "remittance.stray_held")))
    assert audited == (1, 1)
    stack.run()
    assert stack.get(order) == first
    again = (len(_audited(backend, "remittance.excess_held")), len(_audited(backend, "remittance.stray_held")))
    assert again == (1, 1)


def test_a_held_orders_refund_is_proposed_and_approved_by_two_officers_on_every_backend(backend: Backend):
    """review8 R8: the proposal is kept in the order's document (read back as written), the proposer cannot approve
    it, and the approval concludes the alert and starts the refund in one unit of work."""
    from cryptopay.core.payments.held import SameOfficer

    stack = remittance_stack(backend, policy=RetryPolicy(attempts=1))
    listed, other = "TLsanctionedTronAddressXXXXXXXXXXX", "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", listed),))
    order = stack.order(amount="1500")
    stack.pay(order, payer=listed)
    stack.confirm()
    stack.run()
    with pytest.raises(UnderReview):
        stack.remittances.refund(order.id, actor="ops:a")
    stack.remittances.propose_refund(order.id, officer="usr_a", note="delisted", address=other)
    proposal = stack.get(order).refund_proposal
    assert proposal is not None and (proposal.officer, proposal.note, proposal.address) == ("usr_a", "delisted", other)
    assert proposal.at == stack.clock.now()
    with pytest.raises(SameOfficer):
        stack.remittances.approve_refund(order.id, officer="usr_a")
    with pytest.raises(Conflict):
        stack.remittances.approve_refund(order.id, officer="usr_b", expected=TRON_REFUND)
    approved = stack.remittances.approve_refund(order.id, officer="usr_b", expected=other)
    assert (approved.state, approved.refund_address, approved.refund_proposal) == (
        RemittanceState.REFUNDING,
        other,
        None,
    )
    [alert] = stack.monitoring.alerts()
    assert stack.monitoring.clearance([alert.id])[0].state == CaseStatus.CLOSED_NO_ACTION.value
    stack.run()
    stack.confirm_refunds()
    stack.run()
    assert stack.get(order).state is RemittanceState.REFUNDED and stack.books_balanced()


def test_with_no_sanctions_list_loaded_a_required_screening_holds_paid_orders_until_one_is(backend: Backend):
    """R12-3: opened and paid while no list is loaded, an order is converted but not paid out (``paying_out``, no
    route, waiting audited once, its sender shown it paying out); once a list is imported the next run screens its
    parties: a clean one is paid out, one naming a listed party is held for compliance."""
    stack = remittance_stack(backend, screening_required=True)
    clean = stack.order(amount="1000")
    listed = stack.order(amount="1000", phone="254712300011", name="Viktor Anatolyevich Bout")
    assert clean.screening_pending and listed.screening_pending
    for order in (clean, listed):
        stack.pay(order)
    stack.confirm()
    stack.run()
    stack.clock.advance(minutes=11)
    stack.run()
    for order in (clean, listed):
        waiting = stack.get(order)
        assert (waiting.state, waiting.route, waiting.payout_id) == (RemittanceState.PAYING_OUT, None, None)
        assert "waiting for sanctions screening" in (waiting.note or "") and waiting.conversion_entry_id
    with backend.uow() as uow:
        waits = [r.subject for r in uow.audit.records() if r.action == "remittance.waiting"]
    assert sorted(waits) == sorted([f"remittance:{clean.id}", f"remittance:{listed.id}"])
    assert ScreeningWaits(remittances=backend.uow).count() == {"remittance": 2}  # cryptopay_screening_waiting
    stack.list_sanctioned("Viktor Anatolyevich Bout")
    stack.run()
    paid, held = stack.get(clean), stack.get(listed)
    assert (paid.state, paid.screening_pending) == (RemittanceState.PAID_OUT, False)
    assert held.state is RemittanceState.HELD and held.review_alerts and held.payout_id is None
    assert stack.books_balanced()
