"""Remittances from abroad over the fakes: an order is an invoice of the remittance desk; once its USDT is confirmed
the recipient is paid by B2C (or credited, with a wallet) and told by SMS; failed payouts are retried, then refunded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.compliance.cases import CaseStatus
from cryptopay.core.compliance.monitoring import Blocked, UnderReview
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, LimitExceeded, Refused
from cryptopay.core.flows import FLOAT, IN_FLIGHT, MPESA_CHARGES, merchant_liability
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.kyc.limits import day_bounds
from cryptopay.core.mobile_money.limits import B2C_LIMITS, B2C_TARIFF
from cryptopay.core.money import KES, USDT, Money, Rounding
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.payouts import AwaitingStatus, PayoutKind
from cryptopay.core.remittances import DESK, RemittanceRoute, RemittanceState, Sender
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay.core.settlement.policy import PayoutLimits
from cryptopay.core.testing.mobile_money import Scenario

from tests.support.monitoring_rig import file_str
from tests.support.remittance_stack import EVM_REFUND, TRON_REFUND, remittance_stack


@pytest.fixture
def stack():
    return remittance_stack(policy=RetryPolicy(attempts=2))


def test_an_order_in_shillings_asks_for_usdt_at_the_bid_with_the_b2c_charge_on_top(stack):
    """KES 10,000 to a phone: the sender pays (10,000 + M-Pesa's charge) / bid USDT, rounded up, to a one-time
    address on each network the refund address belongs to."""
    order = stack.order(amount="10000")
    assert order.state is RemittanceState.AWAITING_PAYMENT
    assert (order.kes, order.charge) == (Money.of(10000, KES), B2C_TARIFF.charge(Money.of(10000, KES)))
    needed = (order.kes + order.charge).amount / order.bid
    assert order.usdt.asset == USDT and needed <= order.usdt.amount < needed + Decimal("0.000001")
    invoice = stack.remittances.invoice(order)
    assert invoice.merchant_id == DESK and invoice.price == order.usdt
    assert [o.rail.key for o in invoice.options] == ["usdt-tron"]  # a Tron refund address: paid on Tron
    evm = stack.order(refund_address=EVM_REFUND)
    assert [o.rail.key for o in stack.remittances.invoice(evm).options] == ["usdt-ethereum"]


def test_a_confirmed_order_is_paid_by_b2c_and_the_recipient_gets_an_sms(stack):
    """Paid and confirmed: converted at the locked quote, a remittance payout of KES 10,000 to the phone, paid; the
    recipient is told by SMS once; the desk keeps nothing and the books balance."""
    order = stack.order(amount="10000")
    stack.pay(order)
    stack.confirm()
    assert stack.remittances.invoice(order).state is InvoiceState.SETTLED
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and done.route is RemittanceRoute.MPESA
    payout = stack.remittances.payout_of(done)
    assert payout.kind is PayoutKind.REMITTANCE and payout.merchant_id == DESK
    assert (payout.amount, payout.destination) == (Money.of(10000, KES), "254712345678")
    assert [tx.remarks for tx in stack.wallet.mpesa.transactions()] == [f"Remittance {order.id}"]
    texts = [m.text for m in stack.wallet.sms.sent_to("254712345678")]
    assert len(texts) == 1 and "KES 10,000" in texts[0] and "Grace Otieno (GB)" in texts[0]
    stack.run()
    assert len(stack.wallet.sms.sent_to("254712345678")) == 1
    assert stack.ledger.balance(merchant_liability(DESK, KES)).posted.is_zero()
    assert stack.ledger.balance(merchant_liability(DESK, USDT)).posted.is_zero()
    assert stack.ledger.balance(IN_FLIGHT).posted.is_zero()
    assert stack.ledger.balance(FLOAT).posted == Money.of(-10000 - 11, KES)  # with M-Pesa's charge (B2C's band)
    assert stack.ledger.balance(MPESA_CHARGES).posted == Money.of(11, KES)
    assert stack.books_balanced()


def test_a_recipient_with_a_wallet_is_credited_instead(stack):
    """The phone has a wallet: the shillings go to it (no M-Pesa), its history shows a remittance, SMS says so."""
    achieng = stack.wallet.sign_up("0712345678", tier=1)
    order = stack.order(amount="5000")
    stack.pay(order)
    stack.confirm()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and done.route is RemittanceRoute.WALLET
    assert done.recipient_id == achieng.id
    assert stack.wallet.balance(achieng, "KES") == Money.of(5000, KES)
    assert stack.wallet.mpesa.transactions() == []
    assert [line.kind for line in stack.wallet.wallets.history(achieng.id)] == ["remittance"]
    assert "wallet" in stack.wallet.sms.sent_to("254712345678")[-1].text
    assert stack.books_balanced()
    (credited,) = [r for r in stack.wallet.backend.storage.audit_records() if r.action == "remittance.credited"]
    details = dict(credited.details)  # R10-10: what the sender paid and at which quote, with what the wallet got
    assert (
        details["usdt"] == str(done.usdt) and details["quote"] == done.quote_id and details["amount"] == str(done.kes)
    )


def test_a_tier_0_wallet_takes_small_remittances_and_the_rest_goes_to_the_same_phone_by_b2c(stack):
    """Tier 0 takes KES 10,000 a day from abroad (its receive figures): of three orders of KES 4,000 opened at once,
    two are credited to the wallet and the third, past the daily limit, is paid by B2C to the same phone; nothing
    waits, nothing is lost, the books balance."""
    achieng = stack.wallet.sign_up("0712345678")
    orders = [stack.order(amount="4000") for _ in range(3)]
    for order in orders:
        stack.pay(order)
    stack.confirm()
    stack.run()
    done = [stack.get(order) for order in orders]
    assert all(d.state is RemittanceState.PAID_OUT for d in done)
    routes = [d.route for d in done]
    assert sorted(r.value for r in routes) == sorted(["wallet", "wallet", "mpesa"]), routes
    credited = [d for d in done if d.route is RemittanceRoute.WALLET]
    assert stack.wallet.balance(achieng, "KES") == sum((d.kes for d in credited), Money.zero(KES))
    by_mpesa = next(d for d in done if d.route is RemittanceRoute.MPESA)
    assert [tx.remarks for tx in stack.wallet.mpesa.transactions()] == [f"Remittance {by_mpesa.id}"]
    assert stack.remittances.payout_of(by_mpesa).destination == "254712345678"
    assert stack.books_balanced()


def test_an_order_beyond_what_a_tier_0_wallet_may_take_is_opened_and_paid_by_b2c(stack):
    """A phone whose wallet is tier 0 is paid like a phone with no wallet when the order is beyond the wallet's
    remittance limits: the order opens (M-Pesa's own limits bound it) and its shillings reach the phone by B2C."""
    achieng = stack.wallet.sign_up("0712345678")
    order = stack.order(amount="200000")
    stack.pay(order)
    stack.confirm()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and done.route is RemittanceRoute.MPESA
    assert stack.wallet.balance(achieng, "KES").is_zero()
    assert stack.remittances.payout_of(done).amount == Money.of(200000, KES)
    with pytest.raises(InvalidInput, match="one M-Pesa payment can carry"):
        stack.order(amount="300000")  # beyond one B2C payment: refused before anything, wallet or not
    assert stack.books_balanced()


def _freeze(stack, user_id: str) -> None:
    with stack.wallet.backend.uow() as uow:
        profile = uow.kyc.get(user_id)
        profile.freeze("adm_1", "case 7", at=stack.clock.now())
        uow.kyc.update(profile)


def test_an_order_to_a_person_compliance_froze_opens_as_any_other_and_is_held_once_paid(stack):
    """Review4 R6: frozen by compliance before the order, the order opens as for any other number (the anonymous
    sender learns nothing: no tipping-off), officers are told by its audit record; once paid it is held for an
    operator, as one frozen after it opened, neither credited nor sent to M-Pesa, and the operator's refund sends
    the USDT back to the sender's refund address."""
    achieng = stack.wallet.sign_up("0712345678", tier=1)
    _freeze(stack, achieng.id)
    order = stack.order(amount="4000")
    assert order.state is RemittanceState.AWAITING_PAYMENT
    stack.pay(order)
    stack.confirm()
    stack.run()
    held = stack.get(order)
    assert held.state is RemittanceState.HELD and "compliance froze the recipient" in (held.note or "")
    assert stack.wallet.balance(achieng, "KES").is_zero() and stack.wallet.mpesa.transactions() == []
    with stack.wallet.backend.uow() as uow:
        actions = [(e.action, dict(e.details).get("reason")) for e in uow.audit.about([f"remittance:{order.id}"])]
    assert ("remittance.held", "recipient_frozen") in actions
    with stack.wallet.backend.uow() as uow:
        told = [dict(r.details) for r in uow.audit.records() if r.action == "remittance.frozen_recipient"]
    assert told == [{"recipient": achieng.id, "limit": "frozen"}]
    stack.remittances.refund(order.id, actor="ops:a")  # the operator sends it back: nothing is lost
    stack.run()
    stack.confirm_refunds()
    stack.run()
    refunded = stack.get(order)
    assert refunded.state is RemittanceState.REFUNDED
    assert stack.refunds.get_refund(refunded.refund_id).address == TRON_REFUND
    assert stack.books_balanced()


def test_a_failing_payout_is_retried_then_refunded_on_chain_to_the_sender(stack):
    """M-Pesa refuses twice (the policy's two attempts, ten minutes apart): the conversion is reversed and all the
    USDT goes back to the refund address on Tron; ``refunded`` once confirmed; the books balance."""
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="1000")
    stack.pay(order)
    stack.confirm()
    stack.run()
    assert stack.get(order).state is RemittanceState.PAYING_OUT and "failed" in stack.get(order).note
    stack.clock.advance(minutes=11)
    stack.run()
    assert stack.get(order).attempts == 2
    stack.run()
    refunding = stack.get(order)
    assert refunding.state is RemittanceState.REFUNDING and refunding.refund_id
    refund = stack.refunds.get_refund(refunding.refund_id)
    assert (refund.address, refund.amount) == (TRON_REFUND, order.usdt)
    stack.confirm_refunds()
    stack.run()
    assert stack.get(order).state is RemittanceState.REFUNDED
    assert stack.ledger.balance(merchant_liability(DESK, USDT)).posted.is_zero()
    assert stack.ledger.balance(merchant_liability(DESK, KES)).posted.is_zero()
    assert stack.books_balanced()


def test_an_unpaid_order_expires(stack):
    """Nothing arrives within the window: the order expires and nothing moves."""
    order = stack.order()
    stack.clock.advance(minutes=31)
    stack.confirm(2)
    stack.run()
    assert stack.get(order).state is RemittanceState.EXPIRED
    assert stack.books_balanced()


def test_bad_orders_are_refused_with_the_field(stack):
    """A bad phone, a KES amount with cents, a refund address on no network, a Kenyan sender: each names its field."""
    for kwargs, field in (
        ({"phone": "12345"}, "recipient_phone"),
        ({"amount": "100.50"}, "amount"),
        ({"refund_address": "not-an-address"}, "refund_address"),
        ({"amount": "5"}, "amount"),
        ({"amount": "300000"}, "amount"),
        ({"name": " "}, "recipient_name"),
    ):
        with pytest.raises(InvalidInput) as refused:
            stack.order(**kwargs)
        assert refused.value.details.get("field") == field
    with pytest.raises(InvalidInput):
        Sender(name="Wanjiru", country="KE")
    assert stack.remittances.orders() == []


def test_a_refund_address_the_platform_controls_is_refused_when_ordering_and_when_refunding(stack):
    """H20: a wallet's or an invoice's deposit address as the refund address (Tron, or EVM on any EVM network) is
    ``internal_address`` on its field; an operator's new refund address too, before anything changes."""
    wallet, invoice = "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW", "0xde709f2102306220921060314715629080e2fb77"
    now = stack.clock.now()
    with stack.wallet.backend.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("tron", wallet, 90, None, None, now, user_id="usr_1"))
        uow.deposit_addresses.add(DepositAddress("polygon", invoice, 91, "inv_x", "m2", now))
    for address in (wallet, invoice.upper().replace("0X", "0x")):
        with pytest.raises(InternalAddress) as refused:
            stack.order(refund_address=address)
        assert refused.value.details.get("field") == "refund_address"
    assert stack.remittances.orders() == []
    order = stack.order()
    with pytest.raises(InternalAddress):
        stack.remittances.refund(order.id, actor="ops:a", address=wallet)
    kept = stack.get(order)
    assert (kept.state, kept.refund_address) == (RemittanceState.AWAITING_PAYMENT, TRON_REFUND)


def test_the_senders_country_reaches_monitoring_once_the_money_arrived(stack):
    """A paid order from a high-risk jurisdiction (Myanmar: enhanced due diligence, flagged, not refused) is journaled
    with its country and the batch rule raises an alert; an unpaid one is never journaled, one from elsewhere raises
    nothing."""
    unpaid = stack.order(sender=Sender(name="Aung", country="MM", address="Yangon"))
    order = stack.order(sender=Sender(name="Aung", country="MM", address="Yangon"))
    other = stack.order(sender=Sender(name="Ann", country="GB"))
    for paid in (order, other):
        stack.pay(paid)
    stack.confirm()
    stack.run()
    alerts = stack.monitoring.run_batch(unpaid.created_at - timedelta(minutes=1))
    assert [(a.rule_id, a.party_id) for a in alerts] == [("high-risk-remittance", "phone:254712345678")]
    assert stack.get(order).state is RemittanceState.PAID_OUT


@pytest.mark.parametrize("country", ["KP", "IR"])
def test_a_sender_in_a_call_for_action_jurisdiction_is_refused_before_paying(stack, country):
    """FATF's countermeasures list (data: the default rule set's blocking ``call-for-action-remittance``): the order
    is refused when opened (``blocked_by_compliance``), nothing is stored or asked of the sender, and compliance has
    a blocking alert naming the country, audited."""
    with pytest.raises(Blocked) as refused:
        stack.order(sender=Sender(name="Kim", country=country, address="12 Main Street"))
    assert refused.value.code == "blocked_by_compliance" and "call-for-action-remittance" in refused.value.message
    assert stack.remittances.orders() == []
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.blocking, alert.evidence["country"]) == ("call-for-action-remittance", True, country)
    assert alert.party_id == "phone:254712345678"
    # The never-erased chain keeps the number masked (R13-5); the alert's own row keeps it whole for the desk.
    with stack.monitoring.uow() as uow:
        records = uow.audit.records()
    [raised] = [r for r in records if r.action == "compliance.alert_raised"]
    assert dict(raised.details)["party"] == "phone:2547******78"
    assert not [r for r in records if "712345678" in repr(r)]


LISTED = "Dmitri Ivanovich Petrov"


@pytest.mark.parametrize(
    ("sender", "recipient", "role"),
    [("PETROV Dmitri Ivanovich", "Achieng Otieno", "sender"), ("Grace Otieno", "Dmitry Ivanovich Petrov", "recipient")],
)
def test_a_sender_or_recipient_on_a_sanctions_list_opens_an_order_held_once_paid(stack, sender, recipient, role):
    """The originator's and the recipient's names screened when the order opens (the default rule set's blocking
    ``sanctioned-remittance-party``, the screening's threshold). tipoff3: a match was refused
    (``blocked_by_compliance``), so anyone could probe names against our lists; the order now opens as any other,
    keeps the blocking alert (compliance has it with the evidence; the officers' note says so), reads as any order
    to its sender, and once paid is held (its sender reads ``paying_out``), no payout, until compliance clears it."""
    stack.list_sanctioned(LISTED, "Mujahidin Youth Movement")
    order = stack.order(sender=Sender(name=sender, country="GB", address="12 Acacia Road"), name=recipient)
    assert (order.state, order.shown_state) == (RemittanceState.AWAITING_PAYMENT, RemittanceState.AWAITING_PAYMENT)
    assert "strong sanctions match" in (order.note or "")
    [alert] = stack.monitoring.alerts()
    assert order.review_alerts == (alert.id,)
    stack.pay(order)
    stack.confirm()
    stack.run()
    held = stack.get(order)
    assert (held.state, held.shown_state, held.payout_id) == (RemittanceState.HELD, RemittanceState.PAYING_OUT, None)
    with pytest.raises(UnderReview):
        stack.remittances.retry(order.id, actor="ops:payments")
    assert (alert.rule_id, alert.kind, alert.blocking) == ("sanctioned-remittance-party", "sanctioned_name", True)
    evidence = alert.evidence
    assert (evidence["role"], evidence["listed_name"], evidence["list"], evidence["ref"]) == (
        role,
        LISTED,
        "ofac_sdn",
        "ofac:9001",
    )
    assert evidence["match"] == "strong" and float(evidence["score"]) >= 90
    assert alert.party_id == "phone:254712345678" and alert.movement_id.startswith("remittance:rmt_")


def test_a_matched_sender_paying_short_is_not_refunded_by_the_worker(stack):
    """lastread A9: an order opened with a strong sanctions match (tipoff3: it opens as any other) that is paid short
    expires; the worker must not send what arrived back to the sender's refund address while the alert waits (only
    two officers decide that refund): no excess refund, the order noted once (``remittance.excess_held``, reason
    ``under_compliance_review``); a case one officer closed changes nothing (reviewer10 R10-1); once two officers
    released it the worker refunds it as any other."""
    stack.list_sanctioned(LISTED)
    order = stack.order(sender=Sender(name="PETROV Dmitri Ivanovich", country="GB", address="12 Acacia Road"))
    [alert] = stack.monitoring.alerts()
    assert alert.blocking and order.review_alerts == (alert.id,)
    due = next(o for o in stack.remittances.invoice(order).options if o.rail.network.name == "tron").due
    stack.pay(order, Money.of(due.amount / 2, due.asset))
    stack.confirm()
    stack.clock.advance(hours=3)
    stack.confirm()
    for _ in range(3):
        stack.run()
        stack.confirm()
    kept = stack.get(order)
    assert kept.state is RemittanceState.EXPIRED and kept.excess_refund_ids == ()
    assert "compliance" in (kept.excess_note or "")
    with stack.wallet.backend.uow() as uow:
        held = [dict(r.details) for r in uow.audit.records() if r.action == "remittance.excess_held"]
    assert [h["reason"] for h in held] == ["under_compliance_review"]  # once, not every run
    case = stack.monitoring.open_case("officer@example.com", [alert.id])
    stack.monitoring.move("officer@example.com", case.id, CaseStatus.CLOSED_NO_ACTION, "a namesake")
    stack.run()
    assert stack.get(order).excess_refund_ids == ()  # one officer's closed case is no release
    stack.remittances.propose_release(order.id, officer="usr_ann", note="a namesake")
    stack.run()
    assert stack.get(order).excess_refund_ids == ()  # proposed is not approved
    assert stack.remittances.approve_release(order.id, officer="usr_bob").state is RemittanceState.EXPIRED
    stack.run()
    assert len(stack.get(order).excess_refund_ids) == 1  # released by two officers: refunded as any short payment


def test_a_matched_sender_s_wrong_asset_payment_is_not_refunded_by_the_worker(stack):
    """lastread A9, the stray path: USDC sent to a strongly matched sender's order address (USDT) stays pending while
    the alert waits, the order noted once; no refund leaves."""
    from cryptopay.core.money import USDC

    from tests.support.remittance_stack import EVM_REFUND

    stack.list_sanctioned(LISTED)
    order = stack.order(
        sender=Sender(name="PETROV Dmitri Ivanovich", country="GB", address="12 Acacia Road"), refund_address=EVM_REFUND
    )
    address = next(o.address for o in stack.remittances.invoice(order).options if o.rail.network.name == "ethereum")
    stack.chains["ethereum"].pay(address, Money.of(order.usdt.amount, USDC))
    stack.confirm(12)
    stack.run(rounds=2)
    kept = stack.get(order)
    assert kept.excess_refund_ids == () and "compliance" in (kept.excess_note or "")
    [record] = stack.detection.wrong_network_payments(invoice_id=order.invoice_id)
    assert record.state.value == "pending"


def test_a_possible_sanctions_match_opens_the_order_and_holds_its_payout_for_compliance(stack):
    """A name scoring from the rule's ``review_score`` (80) up to the threshold (90): the order opens, with a
    non-blocking alert; once paid its shillings are held (no payout, audited ``remittance.held``) until an operator,
    compliance having cleared it, pays it out."""
    stack.list_sanctioned(LISTED)
    order = stack.order(sender=Sender(name="Dmitri Ivanovich", country="GB", address="12 Acacia Road"))
    [alert] = stack.monitoring.alerts()
    assert (alert.blocking, alert.evidence["match"], alert.evidence["role"]) == (False, "possible", "sender")
    assert 80 <= float(alert.evidence["score"]) < 90 and order.review_alerts == (alert.id,)
    clean = stack.order(amount="5000")
    assert clean.review_alerts == ()
    for paid in (order, clean):
        stack.pay(paid)
    stack.confirm()
    stack.run()
    held = stack.get(order)
    assert held.state is RemittanceState.HELD and alert.id in (held.note or "") and held.payout_id is None
    assert stack.get(clean).state is RemittanceState.PAID_OUT
    with stack.wallet.backend.uow() as uow:
        reasons = [dict(r.details) for r in uow.audit.records() if r.action == "remittance.held"]
    assert reasons == [{"reason": "sanctions_review", "alerts": alert.id}]
    stack.run()
    assert stack.get(order).state is RemittanceState.HELD  # the worker never pays it out on its own
    case = stack.monitoring.open_case("officer@example.com", [alert.id])
    file_str(stack.monitoring, case.id, "officer@example.com")
    with pytest.raises(UnderReview) as refused:  # reported is not cleared: the operator refunds, never pays out
        stack.remittances.retry(order.id, actor="ops:compliance")
    assert refused.value.code == "under_compliance_review" and f"case {case.id} is reported" in refused.value.message
    assert stack.get(order).state is RemittanceState.HELD and stack.get(order).payout_id is None
    with stack.wallet.backend.uow() as uow:
        assert [r for r in uow.audit.records() if r.action == "remittance.released"] == []


def test_one_officer_closing_the_case_does_not_release_a_sanctions_held_order(stack):
    """reviewer10 R10-1: a listed recipient's order held once paid; ONE officer opened and closed its alert's case
    with no action, then an operator retried: it was paid out (``paying_out``, then ``paid_out``) on one person's
    say. A closed case is not a release: the retry is refused (``UnderReview``, audited
    ``remittance.release_refused`` by the operator) and the order stays held, no payout."""
    stack.list_sanctioned("Viktor Anatolyevich Bout")
    held = stack.order(amount="1600", name="Viktor Anatolyevich Bout")
    stack.pay(held)
    stack.confirm()
    stack.run()
    assert stack.get(held).state is RemittanceState.HELD
    alerts = stack.monitoring.alerts()
    case = stack.monitoring.open_case("usr_ann", [a.id for a in alerts])
    stack.monitoring.move("usr_ann", case.id, CaseStatus.CLOSED_NO_ACTION, "looks fine to me")
    with pytest.raises(UnderReview) as refused:
        stack.remittances.retry(held.id, actor="ops:root")
    assert refused.value.code == "under_compliance_review" and "release" in refused.value.message
    stack.run()
    assert (stack.get(held).state, stack.get(held).payout_id) == (RemittanceState.HELD, None)
    with stack.wallet.backend.uow() as uow:
        found = [(r.actor, r.action) for r in uow.audit.about([f"remittance:{held.id}"])]
    assert ("ops:root", "remittance.release_refused") in found
    assert not [a for _, a in found if a in ("remittance.released", "remittance.payout")]


def test_a_held_order_is_paid_out_once_two_officers_released_it(stack):
    """The four-eyes release: one officer proposes (audited ``remittance.release_proposed``; nothing moves, the
    alert stays open), the proposer cannot approve (``SameOfficer``, audited), a second officer approves: the alert
    concluded in a case closed with no action and the payout planned in one unit of work, audited
    ``remittance.release_approved`` naming both; a decline withdraws a proposal; an order not held for compliance
    has nothing to release."""
    stack.list_sanctioned(LISTED)
    order = stack.order(sender=Sender(name="Dmitri Ivanovich", country="GB", address="12 Acacia Road"))
    clean = stack.order(amount="5000")
    [alert] = stack.monitoring.alerts()
    for paid in (order, clean):
        stack.pay(paid)
    stack.confirm()
    stack.run()
    with pytest.raises(InvalidState):
        stack.remittances.propose_release(clean.id, officer="usr_ann", note="nothing held")
    with pytest.raises(InvalidInput):
        stack.remittances.propose_release(order.id, officer="usr_ann", note="  ")
    stack.remittances.propose_release(order.id, officer="usr_ann", note="first look")
    assert stack.remittances.decline_release(order.id, officer="usr_ann", note="withdrawn").release_proposal is None
    with pytest.raises(InvalidState):
        stack.remittances.approve_release(order.id, officer="usr_bob")
    proposed = stack.remittances.propose_release(order.id, officer="usr_ann", note="a namesake: born 1950")
    assert proposed.state is RemittanceState.HELD and stack.monitoring.alerts()[0].case_id is None
    with pytest.raises(Conflict):  # one decision at a time
        stack.remittances.propose_refund(order.id, officer="usr_bob", note="send it back")
    with pytest.raises(SameOfficer):
        stack.remittances.approve_release(order.id, officer="usr_ann")
    assert stack.get(order).state is RemittanceState.HELD
    approved = stack.remittances.approve_release(order.id, officer="usr_bob")
    assert approved.state is RemittanceState.PAYING_OUT and approved.cleared_alerts == (alert.id,)
    [concluded] = stack.monitoring.alerts()
    assert stack.monitoring.case(concluded.case_id or "").status is CaseStatus.CLOSED_NO_ACTION
    stack.run()
    assert stack.get(order).state is RemittanceState.PAID_OUT and stack.books_balanced()
    with stack.wallet.backend.uow() as uow:
        records = [(r.actor, r.action, dict(r.details)) for r in uow.audit.about([f"remittance:{order.id}"])]
    actions = [(actor, action) for actor, action, _ in records if "release" in action]
    assert actions == [
        ("user:usr_ann", "remittance.release_proposed"),
        ("user:usr_ann", "remittance.release_proposal_declined"),
        ("user:usr_ann", "remittance.release_proposed"),
        ("user:usr_ann", "remittance.release_same_officer_refused"),
        ("user:usr_bob", "remittance.release_approved"),
    ]
    [approval] = [d for _, action, d in records if action == "remittance.release_approved"]
    assert (approval["proposed_by"], approval["alerts"], approval["cases"]) == ("usr_ann", alert.id, concluded.case_id)


def test_a_release_past_the_recipients_daily_limit_concludes_nothing(stack):
    """The approval checks the payout it plans first: refused (the recipient's M-Pesa daily limit), the alert stays
    open, the proposal waits and the order stays held."""
    stack.list_sanctioned(LISTED)
    order = stack.order(sender=Sender(name="Dmitri Ivanovich", country="GB", address="12 Acacia Road"))
    stack.pay(order)
    stack.confirm()
    stack.run()
    stack.remittances.propose_release(order.id, officer="usr_ann", note="a namesake")
    stack.remittances.limits = attrs.evolve(stack.remittances.limits, per_day=Money.of(500, KES))
    with pytest.raises(LimitExceeded):
        stack.remittances.approve_release(order.id, officer="usr_bob")
    stored = stack.get(order)
    assert (stored.state, stored.cleared_alerts, stored.payout_id) == (RemittanceState.HELD, (), None)
    assert stored.release_proposal is not None and stack.monitoring.alerts()[0].case_id is None


def test_a_held_orders_failed_payout_is_not_retried_as_a_plain_payout(stack):
    """reviewer10 R10-1's side door: a paid order held by a new list match after its payout failed; an operator's
    ``payouts retry`` of that payout (no order checked) is ``Refused``, pointing at ``remittances retry``; nothing
    is paid."""
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="1000", name="Dmitry Ivanovich Petrov")
    stack.pay(order)
    stack.confirm()
    stack.run()
    failed = stack.remittances.payout_of(stack.get(order))
    assert failed is not None and failed.state.value == "failed"
    stack.list_sanctioned(LISTED)
    [held] = stack.remittances.rescreen()
    assert held.state is RemittanceState.HELD
    with pytest.raises(Refused) as refused:
        stack.wallet.payouts.retry_failed_payout(failed.id, actor="ops:root")
    assert "remittances retry" in refused.value.message
    stack.run()
    assert stack.remittances.payout_of(stack.get(order)).id == failed.id and stack.get(order).state is held.state


def test_a_payout_failing_while_a_new_list_match_waits_is_held_not_retried(stack):
    """A list imported while the payout was in flight keeps its alert on the order (M-Pesa had it); if that payout
    fails, the worker holds the order (audited ``remittance.held``, ``sanctions_review``) instead of trying again
    to pay a listed name."""
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="1000", name="Dmitry Ivanovich Petrov")
    stack.pay(order)
    stack.confirm()
    stack.remittances.advance()  # funded and its payout planned
    stack.remittances.advance()
    assert stack.get(order).payout_id is not None
    stack.list_sanctioned(LISTED)
    [kept] = stack.remittances.rescreen()
    assert kept.state is RemittanceState.PAYING_OUT and kept.review_alerts
    stack.run()
    stack.clock.advance(minutes=11)
    stack.run()
    held = stack.get(order)
    assert held.state is RemittanceState.HELD and held.attempts == 1
    with stack.wallet.backend.uow() as uow:
        reasons = [dict(r.details)["reason"] for r in uow.audit.records() if r.action == "remittance.held"]
    assert reasons == ["sanctions_review"]


def test_a_possible_match_on_a_new_list_holds_an_unpaid_order_once_it_is_paid(stack):
    """A list imported after the order opened naming someone close to its sender (a possible match): the order
    stays open with the alert, and once paid it is held for compliance like an order that opened with one."""
    stack.list_sanctioned("Mujahidin Youth Movement")
    order = stack.order(sender=Sender(name="Dmitri Ivanovich", country="GB", address="12 Acacia Road"))
    stack.list_sanctioned(LISTED)
    [changed] = stack.remittances.rescreen()
    [alert] = [a for a in stack.monitoring.alerts() if a.evidence.get("match") == "possible"]
    assert (changed.state, changed.review_alerts) == (RemittanceState.AWAITING_PAYMENT, (alert.id,))
    assert stack.remittances.rescreen() == []
    stack.pay(order)
    stack.confirm()
    stack.run()
    assert stack.get(order).state is RemittanceState.HELD and stack.get(order).payout_id is None


def test_a_strong_match_on_an_order_whose_payment_is_on_the_way_holds_it_once_paid(stack):
    """The invoice has seen the sender's payment (not yet confirmed): it cannot be cancelled, so the order keeps
    the blocking alert and is held, never paid out, once the payment is confirmed."""
    stack.list_sanctioned("Mujahidin Youth Movement")
    order = stack.order(name="Viktor Anatolyevich Bout")
    stack.pay(order)
    stack.confirm(blocks=1)
    stack.list_sanctioned("Viktor Anatolyevich Bout")
    [changed] = stack.remittances.rescreen()
    assert changed.state is RemittanceState.AWAITING_PAYMENT and len(changed.review_alerts) == 1
    stack.confirm()
    stack.run()
    assert stack.get(order).state is RemittanceState.HELD and stack.books_balanced()


def test_names_far_from_any_listed_name_raise_nothing(stack):
    """Below the review score nothing is raised and the order is paid out as usual."""
    stack.list_sanctioned(LISTED)
    order = stack.order(sender=Sender(name="Dmitri Kamau", country="GB"), name="Ivan Otieno")
    assert stack.monitoring.alerts() == [] and order.review_alerts == ()


def test_above_the_travel_rule_threshold_full_originator_data_is_required_and_kept(stack):
    """USD 1,000 and more: a sender with only a name and a country is refused before paying (naming what is
    missing); with an address the order opens, and once paid its IVMS101 record is kept with the Tron transaction."""
    from cryptopay.core.compliance.travel_rule import IncompleteTravelRuleData, TransferDirection

    bare = Sender(name="Grace Otieno", country="GB")
    small = stack.order(amount="50000", sender=bare)  # about USD 385: below the threshold, a name is enough
    assert small.assessment is not None and not small.assessment.applies
    with pytest.raises(IncompleteTravelRuleData, match="address, an identity number"):
        stack.order(amount="200000", sender=bare)
    big = stack.order(amount="200000")
    assert big.assessment is not None and big.assessment.applies
    transfer = stack.pay(big)
    stack.confirm()
    stack.run()
    done = stack.get(big)
    assert done.state is RemittanceState.PAID_OUT and done.travel_rule_id
    with stack.wallet.backend.uow() as uow:
        record = uow.travel_rule.for_transfer(TransferDirection.IN, big.id)
        small_record = uow.travel_rule.for_transfer(TransferDirection.IN, small.id)
    assert record.id == done.travel_rule_id and record.transfer.tx_hash == transfer.tx_hash
    payload = record.ivms101()
    # the address that paid is the originator's account number (FATF R.16), then the refund address
    assert payload["originator"]["accountNumber"] == [transfer.from_address, TRON_REFUND]
    assert payload["beneficiary"]["accountNumber"] == ["254712345678"]
    assert done.paid_from == (transfer.from_address,)
    assert small_record is None


def test_the_addresses_that_paid_an_order_are_recorded_as_its_originator_accounts(stack):
    """Paid in two transfers from two addresses (neither the refund address): once funded, the order names both
    (``paid_from``, in the order they came, each once), audited with ``remittance.funded``; below the Travel Rule
    threshold too (no IVMS101 record is kept then, but officers see the payers on the order)."""
    order = stack.order(amount="1000")
    half = Money.rounded(order.usdt.amount / 2, USDT, Rounding.UP)
    stack.pay(order, half, payer="TPayerOneXXXXXXXXXXXXXXXXXXXXXXXXX")
    stack.pay(order, order.usdt - half, payer="TPayerTwoXXXXXXXXXXXXXXXXXXXXXXXXX")
    stack.confirm()
    stack.run()
    funded = stack.get(order)
    assert funded.state is RemittanceState.PAID_OUT and funded.travel_rule_id is None
    assert funded.paid_from == ("TPayerOneXXXXXXXXXXXXXXXXXXXXXXXXX", "TPayerTwoXXXXXXXXXXXXXXXXXXXXXXXXX")
    with stack.wallet.backend.uow() as uow:
        [details] = [
            dict(r.details) for r in uow.audit.about([f"remittance:{order.id}"]) if r.action == "remittance.funded"
        ]
    assert details["paid_from"] == "TPayerOneXXXXXXXXXXXXXXXXXXXXXXXXX,TPayerTwoXXXXXXXXXXXXXXXXXXXXXXXXX"


def test_the_desk_is_never_settled():
    """Settlement runs skip the remittance desk's store (its funds belong to the orders), even when asked by name."""
    from cryptopay.core.errors import NotFound
    from cryptopay.core.payments.model import StoreSettings
    from cryptopay.core.rails import rail_for
    from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
    from cryptopay.core.testing.payments_stack import PaymentsStack

    payments = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    payments.add_merchant("m1", settlement=profile)
    with payments.uow() as uow:
        uow.stores.put(StoreSettings(merchant_id=DESK, rails=[rail_for("tron", "USDT")]))
    assert [run.merchant_id for run in payments.settling.run_settlements()] == ["m1"]
    with pytest.raises(NotFound, match="remittance desk"):
        payments.settling.run_settlements(merchant_id=DESK)


def test_a_remittance_payout_is_not_held_by_the_merchant_kyb_gate(stack):
    """Where settlements wait for KYB, a remittance's payout (owned by the desk, which has no profile) is still
    sent: its compliance is the order's (monitoring, the Travel Rule)."""
    from cryptopay.core.kyc.gate import PayoutGate
    from cryptopay.core.payouts import Payouts

    wallet = stack.wallet
    gate = PayoutGate(uow=wallet.backend.uow, clock=wallet.clock, require_kyb=True)
    wallet.payouts = Payouts(
        uow=wallet.backend.uow,
        clock=wallet.clock,
        ids=wallet.sells.ids,
        ledger=wallet.ledger,
        gateway=wallet.mpesa,
        urls=wallet.payouts._urls,
        gate=gate,
    )
    assert not gate.held(DESK).allowed
    order = stack.order(amount="1000")
    stack.pay(order)
    stack.confirm()
    stack.run()
    assert stack.get(order).state is RemittanceState.PAID_OUT


def test_two_workers_retrying_and_refunding_at_once_make_one_attempt_and_one_refund(stack):
    """A retry already made by another worker is adopted (counted once); a refund already asked is adopted too."""
    stack.remittances.policy = RetryPolicy(attempts=2, wait=timedelta(0))
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="1000")
    stack.pay(order)
    stack.confirm()
    stack.run(rounds=1)
    first = stack.remittances.payout_of(stack.get(order))
    other_worker = {"actor": "system:remittances", "check": lambda _uow: None}  # as its ``Remittances._retry``
    with pytest.raises(AwaitingStatus):  # the failure came in a callback: Transaction Status confirms it first
        stack.wallet.payouts.retry_failed_payout(first.id, **other_worker)
    stack.wallet.deliver_callbacks()
    stack.wallet.payouts.retry_failed_payout(first.id, **other_worker)  # the other worker's retry
    stack.run(rounds=1)
    assert stack.get(order).attempts == 2
    stack.run(rounds=2)
    refunding = stack.get(order)
    assert refunding.state is RemittanceState.REFUNDING
    assert len(stack.refunds.list_refunds(refunding.invoice_id)) == 1
    stack.remittances._request_refund(order.id, "system:remittances")  # a second worker asks again: adopted
    assert len(stack.refunds.list_refunds(refunding.invoice_id)) == 1
    assert stack.get(order).state is RemittanceState.REFUNDING


def test_the_recipients_daily_limit_is_data_and_an_operators_retry_past_it_is_refused(stack):
    """With a KES 15,000 daily limit: an order above it is refused when opened; a second order of the day waits with
    no payout, an operator's retry is refused by ``mpesa.daily``; after midnight in Nairobi it is paid."""
    limits = PayoutLimits(part=B2C_LIMITS, per_day=Money.of(15_000, KES))
    stack.remittances = attrs.evolve(stack.remittances, limits=limits)
    with pytest.raises(InvalidInput):
        stack.order(amount="20000")
    first, second = stack.order(amount="10000"), stack.order(amount="6000")
    stack.pay(first)
    stack.pay(second)
    stack.confirm()
    stack.run()
    assert stack.get(first).state is RemittanceState.PAID_OUT
    waiting = stack.get(second)
    assert (waiting.state, waiting.payout_id) == (RemittanceState.PAYING_OUT, None)
    with pytest.raises(LimitExceeded) as refused:
        stack.remittances.retry(second.id, actor="ops:test")
    assert refused.value.details["limit"] == "mpesa.daily" and refused.value.details["remaining"] == "5000.00"
    stack.clock.set(day_bounds(stack.clock.now())[1])
    stack.run()
    assert stack.get(second).state is RemittanceState.PAID_OUT and stack.books_balanced()


def test_a_recipient_whose_payout_waits_for_the_next_day_is_told_once_per_wait(stack):
    """The second order of the day passes the recipient's daily limit: one SMS (English, then Swahili) says the money
    is paid on the next Nairobi day, however many times the worker runs; a wait renewed at midnight (the day filled
    by then) is told again; paid, the usual SMS follows."""
    limits = PayoutLimits(part=B2C_LIMITS, per_day=Money.of(15_000, KES))
    stack.remittances = attrs.evolve(stack.remittances, limits=limits)
    stack.clock.set(datetime(2026, 12, 6, 18, 0, tzinfo=UTC))  # 21:00 in Nairobi: "tomorrow" is 7 December there
    first, second = stack.order(amount="10000"), stack.order(amount="6000")
    stack.pay(first)
    stack.pay(second)
    stack.confirm()
    stack.run(rounds=5)
    waiting = [m.text for m in stack.wallet.sms.sent_to("254712345678") if "daily limit" in m.text]
    assert len(waiting) == 1
    assert "KES 6,000 from Grace Otieno (GB) is paid to your M-Pesa on 07/12/2026" in waiting[0]
    assert "tarehe 07/12/2026" in waiting[0] and second.id in waiting[0]
    told = [r for r in stack.wallet.backend.storage.audit_records() if r.action == "remittance.waiting_notified"]
    assert len(told) == 1 and dict(told[0].details)["outcome"].startswith("sent ")

    midnight = day_bounds(stack.clock.now())[1]
    third = stack.order(amount="14000")  # paid at midnight before the second is looked at again
    stack.pay(third)
    stack.confirm()
    stack.clock.set(midnight)
    stack.remittances._advance(third.id)
    stack.run(rounds=3)
    waiting = [m.text for m in stack.wallet.sms.sent_to("254712345678") if "daily limit" in m.text]
    assert len(waiting) == 2 and "on 08/12/2026" in waiting[1]
    stack.clock.set(day_bounds(stack.clock.now())[1])
    stack.run()
    assert stack.get(second).state is RemittanceState.PAID_OUT
    assert sum("KES 6,000" in m.text for m in stack.wallet.sms.sent_to("254712345678")) == 3


def test_one_paid_order_is_one_remittance_in_on_its_network_in_the_monthly_flows(stack):
    """The desk's invoice payment is not journaled as a merchant payment too: the monthly virtual-asset flows show
    one paid order once, as a remittance in on the network it was paid on, from the payer's address."""
    from cryptopay.core.compliance.reports import Reporting

    order = stack.order(amount="10000")
    transfer = stack.pay(order)
    stack.confirm()
    stack.run()
    assert stack.get(order).state is RemittanceState.PAID_OUT
    at = stack.clock.now()
    rows = Reporting(uow=stack.wallet.backend.uow, clock=stack.clock).monthly(at.year, at.month)
    assert [(r.asset, r.network, r.product, r.direction, r.count) for r in rows] == [
        ("USDT", "tron", "remittance", "in", 1)
    ]
    with stack.wallet.backend.uow() as uow:
        [moved] = uow.movements.for_party("phone:254712345678", since=order.created_at - timedelta(days=1))
        assert uow.movements.for_party(DESK, since=order.created_at - timedelta(days=1)) == []
    assert (moved.counterparty, moved.network, moved.amount) == (transfer.from_address, "tron", order.value)


def test_orders_split_under_the_travel_rule_threshold_to_one_recipient_raise_a_structuring_alert(stack):
    """Two senders (no link between them the order can see) each send just under USD 1,000 to one number within a
    day: the batch rule ``structuring-travel-rule`` flags the recipient with both orders; one such order does not."""
    orders = [
        stack.order(amount="125000", sender=Sender(name="John Smith", country="GB")),
        stack.order(amount="125000", sender=Sender(name="Ann Lee", country="US"), refund_address=EVM_REFUND),
    ]
    stack.pay(orders[0])
    stack.pay(orders[1], network="ethereum")
    stack.confirm()
    stack.run()
    assert all(stack.get(o).state is RemittanceState.PAID_OUT for o in orders)
    alerts = stack.monitoring.run_batch(orders[0].created_at - timedelta(minutes=1))
    flagged = [a for a in alerts if a.rule_id == "structuring-travel-rule"]
    assert flagged and {a.party_id for a in flagged} == {"phone:254712345678"}
    assert {m for a in flagged for m in a.evidence["movements"].split(",")} == {f"remittance:{o.id}" for o in orders}


def test_one_order_that_raises_does_not_stop_the_others_and_waits_unchanged_for_the_next_run(stack, caplog):
    """Three paid orders, the first the worker reads broken (its invoice is gone): the other two are paid out; the
    broken one is logged by id and error kind (not the error's text), counted in the run's gauge, and left as it
    was; once mended, the next run pays it out too."""
    from cryptopay.core.testing.metrics import RecordingMetrics

    metrics = RecordingMetrics()
    stack.remittances = attrs.evolve(stack.remittances, metrics=metrics)
    orders = [stack.order(amount="1000") for _ in range(3)]
    for order in orders:
        stack.pay(order)
    stack.confirm()
    bad = min(orders, key=lambda o: o.id)  # the first the worker reads
    with stack.wallet.backend.uow() as uow:
        uow.remittances.update(attrs.evolve(uow.remittances.get(bad.id), invoice_id="inv_gone"))
    with caplog.at_level("WARNING", logger="cryptopay.core.remittances.service"):
        stack.run()
    states = {o.id: stack.get(o).state for o in orders}
    assert states.pop(bad.id) is RemittanceState.AWAITING_PAYMENT
    assert set(states.values()) == {RemittanceState.PAID_OUT}
    failures = [r.getMessage() for r in caplog.records if bad.id in r.getMessage()]
    assert failures and all("NotFound (not_found)" in line and "inv_gone" not in line for line in failures)
    assert metrics.get("cryptopay_remittances_failed") == 1
    with stack.wallet.backend.uow() as uow:
        uow.remittances.update(attrs.evolve(uow.remittances.get(bad.id), invoice_id=bad.invoice_id))
    stack.run()
    assert stack.get(bad).state is RemittanceState.PAID_OUT
    assert metrics.get("cryptopay_remittances_failed") == 0
    assert stack.books_balanced()


def test_a_remittance_payout_unknown_past_the_bound_is_concluded_failed_by_two_people_and_paid_again(stack):
    """R10-4 for a remittance: the B2C request never reached M-Pesa and Transaction Status cannot be reached either,
    so the payout stays unknown; two people conclude it failed from M-Pesa's statement (no such payment), and the
    remittance's own retry pays the recipient once."""
    from cryptopay.core.mobile_money import OutcomeUnknown
    from cryptopay.core.payouts import PayoutState
    from cryptopay.core.payouts.model import ConclusionOutcome
    from cryptopay.core.testing.mpesa_statement import statement_of

    mpesa = stack.wallet.mpesa
    real_b2c, real_status = mpesa.b2c, mpesa.transaction_status

    def lost(request, **kw):
        raise OutcomeUnknown("read timeout")

    mpesa.b2c = mpesa.transaction_status = lost
    order = stack.order(amount="1000")
    stack.pay(order)
    stack.confirm()
    stack.run()
    for _ in range(4):
        stack.clock.advance(minutes=15)
        stack.wallet.payouts.query_stale_payouts()  # each status query fails: Daraja cannot be reached
    payout = stack.remittances.payout_of(stack.get(order))
    assert payout.state is PayoutState.UNKNOWN
    assert [p.id for p in stack.wallet.payouts.unresolved()] == [payout.id]
    mpesa.b2c, mpesa.transaction_status = real_b2c, real_status
    stack.wallet.payouts.propose_conclusion(
        payout.id,
        outcome=ConclusionOutcome.FAILED,
        receipt=None,
        evidence="payout Short Code statement",
        note="not on it",
        by="ops:ann",
        statement=statement_of(mpesa, shortcode=mpesa.payout_shortcode),
    )
    stack.wallet.payouts.approve_conclusion(
        payout.id, by="user:usr_bob", outcome=ConclusionOutcome.FAILED, receipt=None
    )
    stack.run()  # the order sees its payout failed: tried again after the policy's wait
    stack.clock.advance(minutes=11)
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and done.attempts == 2
    assert [tx.remarks for tx in mpesa.transactions() if tx.state == "succeeded"] == [f"Remittance {order.id}"]
    assert stack.books_balanced()
