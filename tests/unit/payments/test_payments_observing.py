"""Business gauges: invoices by state, payments seen and confirmed, payouts by state and age, settlements past
their promise, queue backlog, dead letters, scanner lag, paybill payments M-Pesa did not confirm."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.observing import Observing
from cryptopay.core.remittances import RemittanceOrder, Sender
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.wallets.paybill import PaybillState
from cryptopay.core.webhooks.model import DeliveryStatus, WebhookDelivery

from tests.support.paybill import pay, registered, verified
from tests.support.wallet_stack import wallet_stack

AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi; the cut-off was 14:00 UTC


def settled(stack: PaymentsStack) -> None:
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF)
    stack.settling.run_settlements()


def test_a_planned_payout_and_its_settlement_are_measured_and_the_overdue_one_counted(stack: PaymentsStack) -> None:
    """Three hours after the run: one planned payout 3 h old, one settlement 1 h past its complete_by."""
    settled(stack)
    stack.clock.set(AFTER_CUTOFF + timedelta(hours=3))
    measures = stack.observing.measure()
    assert measures.payouts == {"planned": 1, "submitted": 0, "unknown": 0}
    assert measures.oldest_payout_seconds["planned"] == 3 * 3600
    assert (measures.settlements_paying, measures.settlements_overdue) == (1, 1)
    assert measures.settlement_lag_seconds == 5400  # 17:30 UTC less complete_by (14:00 + 2 h)
    assert stack.metrics.get("cryptopay_payouts", state="planned") == 1
    assert stack.metrics.get("cryptopay_settlements_overdue") == 1


def test_a_settlement_within_its_two_hours_is_not_overdue(stack: PaymentsStack) -> None:
    """Before cut-off + 2 hours a paying settlement is counted as paying, not overdue, and lags by nothing."""
    settled(stack)
    measures = stack.observing.measure()
    assert (measures.settlements_paying, measures.settlements_overdue, measures.settlement_lag_seconds) == (1, 0, 0)


def test_dead_webhook_deliveries_are_counted(stack: PaymentsStack) -> None:
    """A dead-lettered delivery shows in ``cryptopay_webhook_dead_letters``; a pending one does not."""
    now = stack.clock.now()
    with stack.storage.unit_of_work() as uow:
        uow.webhook_deliveries.add(WebhookDelivery.new("whd_1", "whe_1", "m1", "evt_1", "invoice.paid", "{}", at=now))
        dead = WebhookDelivery.new("whd_2", "whe_1", "m1", "evt_2", "invoice.paid", "{}", at=now)
        uow.webhook_deliveries.add(attrs.evolve(dead, status=DeliveryStatus.DEAD))
    assert stack.observing.measure().webhook_dead_letters == 1
    assert stack.metrics.get("cryptopay_webhook_dead_letters") == 1


def test_a_dead_letter_redelivered_before_the_measure_still_raises_the_dead_letter_counter(
    stack: PaymentsStack,
) -> None:
    """Dead-lettered, redelivered, dead-lettered again and redelivered between two measures: the gauge of dead
    deliveries reads 0 both times, ``cryptopay_webhook_dead_letters_total`` (a counter) rose by 2."""
    now = stack.clock.now()
    with stack.storage.unit_of_work() as uow:
        uow.webhook_deliveries.add(WebhookDelivery.new("whd_1", "whe_1", "m1", "evt_1", "invoice.paid", "{}", at=now))
    stack.observing.measure()
    assert stack.metrics.get("cryptopay_webhook_dead_letters_total") == 0
    assert "cryptopay_webhook_dead_letters_total" in stack.metrics.counters
    for _ in range(2):
        with stack.storage.unit_of_work() as uow:
            found = uow.webhook_deliveries.get("whd_1")
            assert found is not None
            uow.webhook_deliveries.save(found.abandoned(now, "the endpoint was deleted"))
        with stack.storage.unit_of_work() as uow:
            found = uow.webhook_deliveries.get("whd_1")
            assert found is not None
            uow.webhook_deliveries.save(found.redelivered(now))
    measures = stack.observing.measure()
    assert (measures.webhook_dead_letters, measures.webhook_dead_lettered) == (0, 2)
    assert stack.metrics.get("cryptopay_webhook_dead_letters") == 0
    assert stack.metrics.get("cryptopay_webhook_dead_letters_total") == 2


def test_the_scanner_reports_how_far_behind_the_head_it_is() -> None:
    """A scanner stepping at most 2 blocks with 5 new ones stays 3 behind, then catches up to 0."""
    stack = PaymentsStack()
    chain = stack.chains["tron"]
    for _ in range(5):
        chain.mine()
    from cryptopay.core.scanning import ChainScanner

    scanner = ChainScanner(chain, stack.cursors, start_block=chain.head() - 4, max_blocks=2, metrics=stack.metrics)
    scanner.step([], lambda transfers: None)
    assert stack.metrics.get("cryptopay_scanner_lag_blocks", network="tron") == 3
    scanner.step([], lambda transfers: None)
    scanner.step([], lambda transfers: None)
    assert stack.metrics.get("cryptopay_scanner_lag_blocks", network="tron") == 0


def test_invoices_by_state_and_payments_seen_then_confirmed_are_measured(stack: PaymentsStack) -> None:
    """A paid invoice is counted as processing with a payment seen; once confirmed, settled with one credit."""
    open_one = stack.invoicing.create_invoice("m1", Money.of("50", USDT))
    paid = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(paid.id)
    stack.confirm(1)  # scanned: seen, not yet 3 confirmations deep
    seen = stack.observing.measure()
    assert seen.invoices["new"] == 1 and seen.invoices["processing"] == 1 and seen.invoices["settled"] == 0
    assert (seen.payments_unconfirmed, seen.payments_confirmed) == (1, 0)
    stack.confirm(2)
    confirmed = stack.observing.measure()
    assert confirmed.invoices["settled"] == 1 and (confirmed.payments_unconfirmed, confirmed.payments_confirmed) == (
        0,
        1,
    )
    assert stack.metrics.get("cryptopay_invoices", state="settled") == 1
    assert stack.metrics.get("cryptopay_payments_confirmed") == 1
    assert open_one.id != paid.id


def test_the_queue_backlog_is_measured_per_queue(stack: PaymentsStack) -> None:
    """Jobs waiting to run show in ``cryptopay_jobs_waiting`` by queue."""
    stack.jobs.enqueue("webhooks.sweep", {}, job_id="sweep-later", delay=timedelta(hours=1))
    measures = stack.observing.measure()
    assert measures.jobs_waiting is not None and sum(measures.jobs_waiting.values()) >= 1
    assert stack.metrics.get("cryptopay_jobs_waiting", queue="fake") == sum(measures.jobs_waiting.values())


def test_remittances_are_measured_by_state_and_age(stack: PaymentsStack) -> None:
    """An order opened two hours ago and still unpaid is counted with its age; none awaits Transaction Status."""
    opened = stack.clock.now()
    order = RemittanceOrder(
        id="rmt_1",
        public_id="pub1",
        created_at=opened,
        recipient_phone="254712345678",
        recipient_name="Achieng Otieno",
        sender=Sender(name="Grace Otieno", country="GB"),
        refund_address="TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
        requested=Money.of(1000, KES),
        usdt=Money.of("7.82", USDT),
        kes=Money.of(1000, KES),
        charge=Money.of(11, KES),
        quote_id="q_1",
        bid=Decimal("129.35"),
        mid=Decimal("130"),
        invoice_id="inv_1",
    )
    with stack.storage.unit_of_work() as uow:
        uow.remittances.add(order)
    stack.clock.advance(hours=2)
    measures = stack.observing.measure()
    assert measures.remittances is not None and measures.remittances.orders["awaiting_payment"] == 1
    assert stack.metrics.get("cryptopay_remittances", state="awaiting_payment") == 1
    assert stack.metrics.get("cryptopay_remittance_oldest_age_seconds", state="awaiting_payment") == 7200
    assert stack.metrics.get("cryptopay_remittances", state="held") == 0
    assert stack.metrics.get("cryptopay_remittances_awaiting_status") == 0
    assert stack.metrics.get("cryptopay_remittance_awaiting_status_oldest_seconds") == 0


def test_paybill_payments_m_pesa_did_not_confirm_are_counted_and_stay_counted(stack: PaymentsStack) -> None:
    """A confirmation replayed with another amount ends unverified (nothing booked): the unverified counter reads 1,
    a genuine payment booked beside it is not counted, and a later measure still reads 1 (the alert's increase())."""
    wallets = wallet_stack()
    wallets.sign_up("0712000001")
    desk, token = registered(wallets)
    observing = Observing(
        uow=stack.uow,
        clock=stack.clock,
        ledger=stack.ledger,
        settling=stack.settling,
        webhooks=stack.storage.unit_of_work,
        metrics=stack.metrics,
        paybill=wallets.backend.uow,
    )
    assert observing.measure().paybill_unverified == 0
    assert stack.metrics.get("cryptopay_paybill_unverified_total") == 0
    assert pay(wallets, desk, "0799000002", 500, "0712000001").state is PaybillState.CREDITED
    wallets.mpesa.simulate_c2b("0799000001", 800, "0712000001")
    forged = {**wallets.mpesa.outbox.pop().payload, "TransAmount": "8000.00"}
    desk.confirm(parse_payload(forged), token=token)
    (payment,) = verified(wallets, desk)
    assert payment.state is PaybillState.UNVERIFIED
    assert observing.measure().paybill_unverified == 1
    assert stack.metrics.get("cryptopay_paybill_unverified_total") == 1
    assert "cryptopay_paybill_unverified_total" in stack.metrics.counters
    assert observing.measure().paybill_unverified == 1


def test_sends_held_for_a_frozen_recipient_left_undecided_are_counted_with_the_oldest_ones_age(
    stack: PaymentsStack,
) -> None:
    """The officers' queue of held sends is measured: how many wait and how long the oldest has (from when it was
    held); once an officer's decision is approved the send leaves the count (the alert reads the age); one an officer
    kept held is counted but no longer ages the alert."""
    wallets = wallet_stack()
    amina, baraka = wallets.sign_up("0712000001", tier=1), wallets.sign_up("0712000002", tier=1)
    wallets.fund(amina, "1000", "KES")
    wallets.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    observing = Observing(
        uow=stack.uow,
        clock=wallets.clock,
        ledger=stack.ledger,
        settling=stack.settling,
        webhooks=stack.storage.unit_of_work,
        metrics=stack.metrics,
        wallets=wallets.backend.uow,
    )
    measured = observing.measure()
    assert (measured.held_sends, measured.held_send_oldest_seconds) == (0, 0)
    first = wallets.wallets.send(amina.id, "0712000002", Money.of("100", KES))
    wallets.clock.advance(hours=20)
    wallets.wallets.send(amina.id, "0712000002", Money.of("50", KES))
    wallets.clock.advance(hours=5)
    measured = observing.measure()
    assert (measured.held_sends, measured.held_send_oldest_seconds) == (2, 25 * 3600)
    assert stack.metrics.get("cryptopay_held_sends_waiting") == 2
    assert stack.metrics.get("cryptopay_held_send_oldest_age_seconds") == 25 * 3600
    held = wallets.wallets.held_sends()
    held.return_to_sender(first.id, officer="usr_ann", note="the phone was stolen")
    assert observing.measure().held_sends == 2  # proposed only: still undecided
    held.approve(first.id, officer="usr_ben")
    measured = observing.measure()
    assert (measured.held_sends, measured.held_send_oldest_seconds) == (1, 5 * 3600)
    [second] = held.waiting()
    held.keep(second.id, officer="usr_ann", note="the police asked us to keep it")  # tipoff3: decided, kept
    measured = observing.measure()
    assert (measured.held_sends, measured.held_send_oldest_seconds) == (1, 0)  # counted, no longer ageing the alert


def test_compliance_desks_count_open_alerts_and_cases_past_their_deadline() -> None:
    """An open AML alert ages from when it was raised; a case counts once past its deadline, until concluded
    (review12 R12-10: no officer opening the console must still page someone)."""
    from cryptopay.core.compliance.cases import Alert, Case, CaseStatus

    stack = PaymentsStack()
    measured = stack.observing.measure()
    assert measured.desks["aml_alert"] == measured.desks["compliance_case"] == (0, 0.0)
    now = stack.clock.now()
    alert = Alert(
        id="alr_1",
        key="r:1:mv_1",
        rule_id="r",
        rule_version=1,
        kind="velocity",
        party_id="usr_1",
        movement_id="mv_1",
        created_at=now,
    )
    case = Case(id="cas_1", party_id="usr_2", alert_ids=(), created_at=now, deadline=now + timedelta(days=7))
    listed = attrs.evolve(alert, id="alr_2", key="sanctions:snp_1:usr_3:ofac:1", party_id="usr_3", blocking=True)
    with stack.storage.unit_of_work() as uow:
        uow.alerts.add(alert)
        uow.cases.add(case)
    stack.clock.advance(days=8)
    with stack.storage.unit_of_work() as uow:
        uow.alerts.add(attrs.evolve(listed, created_at=stack.clock.now()))
    stack.clock.advance(hours=1)
    measured = stack.observing.measure()
    assert measured.desks["aml_alert"] == (2, 8 * 86400 + 3600)
    assert measured.desks["aml_blocking_alert"] == (1, 3600)  # a sanctions match holding money pages at once
    assert stack.metrics.get("cryptopay_aml_blocking_alerts_open") == 1
    assert measured.desks["compliance_case"] == (1, 86400 + 3600)
    assert stack.metrics.get("cryptopay_compliance_cases_overdue") == 1
    assert stack.metrics.get("cryptopay_aml_alert_oldest_age_seconds") == 8 * 86400 + 3600
    case.move(CaseStatus.CLOSED_NO_ACTION, "usr_ann", at=stack.clock.now(), note="explained")
    with stack.storage.unit_of_work() as uow:
        uow.cases.update(case)
    assert stack.observing.measure().desks["compliance_case"] == (0, 0.0)
    assert stack.metrics.get("cryptopay_held_payments_waiting") == 0
