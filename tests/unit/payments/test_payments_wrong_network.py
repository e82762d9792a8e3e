"""Payments on the wrong EVM network: recorded against the invoice, never credited by themselves, followed for
reorgs, accepted into the invoice at its terms (then confirmed and credited on that network) on request."""

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import InvalidState, NotFound, Refused
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import USDC, USDT, Money
from cryptopay.core.payments.model import RefundState
from cryptopay.core.payments.wrong_network import NotThePayer, WrongNetworkNotAcceptable, WrongNetworkState
from cryptopay.core.ports.chains import TxState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


@pytest.fixture
def stack() -> PaymentsStack:
    """Ethereum, Polygon and Tron; merchant m1's store takes USDT on Ethereum only."""
    stack = PaymentsStack(networks=("ethereum", "polygon", "tron"))
    stack.add_merchant("m1", settlement=PROFILE, rails=("usdt-ethereum",))
    return stack


PAYER = "0x" + "ab" * 20


def _paid_on_polygon(stack: PaymentsStack, amount: str = "100") -> tuple[str, str]:
    """An invoice asking USDT on Ethereum, paid in USDT on Polygon to its address and scanned: (invoice, record)."""
    invoice = stack.invoicing.create_invoice("m1", usdt(amount))
    stack.chains["polygon"].pay(invoice.options[0].address, usdt(amount), sender=PAYER)
    stack.sync()
    [record] = stack.detection.wrong_network_payments(invoice_id=invoice.id)
    return invoice.id, record.id


def test_usdt_on_polygon_to_an_ethereum_invoice_is_recorded_and_not_credited(stack: PaymentsStack) -> None:
    """The payment is a pending wrong-network record of the invoice, with a webhook and an audit record; the
    invoice stays new and nothing is booked."""
    invoice_id, record_id = _paid_on_polygon(stack)
    record = stack.detection.wrong_network_payment(record_id)
    assert (record.state, record.rail_key, record.invoice_rails) == (
        WrongNetworkState.PENDING,
        "usdt-polygon",
        ("usdt-ethereum",),
    )
    assert record.transfer.amount == usdt("100") and record.invoice_id == invoice_id
    assert stack.invoice(invoice_id).state is InvoiceState.NEW and stack.invoice(invoice_id).payments == []
    assert stack.books_balanced()
    with pytest.raises(NotFound):  # nothing booked on Polygon, not even an account opened
        stack.balance(flows.custody("polygon", USDT))
    [message] = stack.outbox("invoice.wrong_network_payment")
    assert message.payload["wrong_network_payment_id"] == record_id
    assert (message.payload["rail"], message.payload["amount"], message.payload["state"]) == (
        "usdt-polygon",
        "100.000000",
        "new",
    )
    assert message.payload["merchant_id"] == "m1" and message.payload["invoice_rails"] == "usdt-ethereum"
    actions = [r.action for r in stack.storage.audit_records()]
    assert actions.count("invoice.wrong_network_payment") == 1


def test_an_invoice_s_wrong_network_payment_is_found_only_through_that_invoice(stack: PaymentsStack) -> None:
    """Another invoice's payment and an unknown id are the same not-found through an invoice."""
    invoice_id, record_id = _paid_on_polygon(stack)
    other = stack.invoicing.create_invoice("m1", usdt("5"))
    assert stack.detection.invoice_wrong_network_payment(invoice_id, record_id).id == record_id
    for asked_invoice, asked_payment in ((other.id, record_id), (invoice_id, "wnp_unknown")):
        with pytest.raises(NotFound) as refused:
            stack.detection.invoice_wrong_network_payment(asked_invoice, asked_payment)
        assert refused.value.message == f"wrong-network payment {asked_payment} not found"


def test_a_rescan_records_nothing_twice(stack: PaymentsStack) -> None:
    """The same transfer scanned again changes nothing and says nothing again."""
    invoice_id, _ = _paid_on_polygon(stack)
    [record] = stack.detection.wrong_network_payments(invoice_id=invoice_id)
    report = stack.detection.record_chain_transfers("polygon", [record.transfer])
    assert report.wrong_network == (record.transfer,) and report.events == ()
    assert len(stack.outbox("invoice.wrong_network_payment")) == 1
    assert len(stack.detection.wrong_network_payments(invoice_id=invoice_id)) == 1


def test_the_scan_of_each_evm_network_watches_the_other_evm_networks_invoices(stack: PaymentsStack) -> None:
    """Polygon's and BSC-less Ethereum's scans watch the invoice's address; Tron's never an EVM address."""
    invoice = stack.invoicing.create_invoice("m1", usdt("5"))
    address = invoice.options[0].address
    assert address in stack.detection.watched_addresses("polygon")
    assert address in stack.detection.watched_addresses("ethereum")
    assert address not in stack.detection.watched_addresses("tron")


def test_a_stranger_s_address_on_polygon_is_ignored(stack: PaymentsStack) -> None:
    """A transfer to an address nobody here derived is neither a payment nor a wrong-network record."""
    stray = stack.chains["polygon"].pay("0x" + "12" * 20, usdt("5"))
    report = stack.detection.record_chain_transfers("polygon", [stray])
    assert report.ignored == (stray,) and report.wrong_network == ()


def test_a_reorg_withdraws_the_record_and_a_new_mining_restores_it(stack: PaymentsStack) -> None:
    """Its block leaves the chain: withdrawn, with a webhook; mined again: pending again, with a webhook."""
    invoice_id, record_id = _paid_on_polygon(stack)
    polygon = stack.chains["polygon"]
    [dropped] = polygon.reorg(1)
    polygon.mine()
    polygon.mine()
    stack.sync()
    withdrawn = stack.detection.wrong_network_payment(record_id)
    assert withdrawn.state is WrongNetworkState.WITHDRAWN and withdrawn.reason == "block reorganised away"
    [message] = stack.outbox("invoice.wrong_network_payment_withdrawn")
    assert message.payload["wrong_network_payment_id"] == record_id
    polygon.include(dropped)
    stack.sync()
    again = stack.detection.wrong_network_payment(record_id)
    assert again.state is WrongNetworkState.PENDING and again.transfer.block_hash != dropped.block_hash
    assert len(stack.outbox("invoice.wrong_network_payment")) == 2
    assert stack.invoice(invoice_id).payments == []


def test_the_depth_is_followed_while_pending(stack: PaymentsStack) -> None:
    """A pending record's confirmations grow with the chain."""
    _, record_id = _paid_on_polygon(stack)
    stack.confirm(3)
    assert stack.detection.wrong_network_payment(record_id).confirmations == 4


def test_accepting_credits_it_at_the_invoice_s_terms_after_the_network_s_depth(stack: PaymentsStack) -> None:
    """Accepted: the invoice offers USDT on Polygon at the Ethereum terms, the payment counts (processing), is
    confirmed at Polygon's depth, and is booked in Polygon's custody; the address is stored on Polygon."""
    invoice_id, record_id = _paid_on_polygon(stack)
    accepted = stack.detection.accept_wrong_network(record_id, actor="user:owner")
    assert (accepted.state, accepted.decided_by) == (WrongNetworkState.ACCEPTED, "user:owner")
    invoice = stack.invoice(invoice_id)
    assert [o.rail.key for o in invoice.options] == ["usdt-ethereum", "usdt-polygon"]
    assert invoice.option("usdt-polygon").due == invoice.option("usdt-ethereum").due
    assert invoice.state is InvoiceState.PROCESSING
    with stack.uow() as uow:
        stored = uow.deposit_addresses.by_address("polygon", invoice.options[0].address)
    assert stored is not None and stored.invoice_id == invoice_id
    stack.confirm(3)
    assert stack.invoice(invoice_id).state is InvoiceState.SETTLED
    assert stack.balance(flows.custody("polygon", USDT)) == usdt("100") and stack.books_balanced()
    assert stack.balance(flows.merchant_liability("m1", USDT)) == usdt("99")
    assert "invoice.wrong_network_accepted" in {r.action for r in stack.storage.audit_records()}
    with pytest.raises(InvalidState):
        stack.detection.accept_wrong_network(record_id, actor="user:owner")


def test_an_asset_the_invoice_does_not_ask_for_cannot_be_accepted(stack: PaymentsStack) -> None:
    """USDC on Polygon to a USDT invoice is recorded, but accepting it is refused (a refund's business)."""
    invoice = stack.invoicing.create_invoice("m1", usdt("10"))
    stack.chains["polygon"].pay(invoice.options[0].address, Money.of("10", USDC))
    stack.sync()
    [record] = stack.detection.wrong_network_payments(invoice_id=invoice.id)
    assert record.rail_key == "usdc-polygon"
    with pytest.raises(WrongNetworkNotAcceptable):
        stack.detection.accept_wrong_network(record.id, actor="user:owner")
    assert stack.detection.wrong_network_payment(record.id).state is WrongNetworkState.PENDING
    assert [o.rail.key for o in stack.invoice(invoice.id).options] == ["usdt-ethereum"]


def test_a_network_no_hot_wallet_sweeps_is_refused(stack: PaymentsStack) -> None:
    """Without a hot wallet on Polygon the coins could not be swept: accepting is refused, nothing changes."""
    stack.senders.pop("polygon")
    stack.wire_use_cases()
    invoice_id, record_id = _paid_on_polygon(stack)
    with pytest.raises(WrongNetworkNotAcceptable, match="hot wallet"):
        stack.detection.accept_wrong_network(record_id, actor="user:owner")
    with stack.uow() as uow:
        assert uow.deposit_addresses.by_address("polygon", stack.invoice(invoice_id).options[0].address) is None


def test_listing_by_state_and_the_pending_gauge(stack: PaymentsStack) -> None:
    """Every pending record is listed (newest first) and counted by the observing gauge."""
    _, first = _paid_on_polygon(stack)
    _, second = _paid_on_polygon(stack, "7")
    pending = stack.detection.wrong_network_payments(state=WrongNetworkState.PENDING)
    assert [p.id for p in pending] == [second, first]
    assert stack.observing.measure().wrong_network_pending == 2
    stack.detection.accept_wrong_network(first, actor="ops:amina")
    assert stack.observing.measure().wrong_network_pending == 1
    with pytest.raises(NotFound):
        stack.detection.wrong_network_payment("wnp_missing")


def test_a_refund_waits_for_the_network_s_depth_then_sends_it_back_whole(stack: PaymentsStack) -> None:
    """Refused while shallower than Polygon's rail; then booked into Polygon's custody against the suspense account
    (the merchant's balance untouched), held, sent and paid out of custody: the books and the custody check agree."""
    invoice_id, record_id = _paid_on_polygon(stack)
    with pytest.raises(Refused, match="confirmations"):
        stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    stack.confirm(2)
    refund = stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    assert (refund.invoice_id, refund.rail_key, refund.amount) == (invoice_id, "usdt-polygon", usdt("100"))
    record = stack.detection.wrong_network_payment(record_id)
    assert (record.state, record.refund_id) == (WrongNetworkState.REFUNDED, refund.id)
    suspense = flows.wrong_network_suspense(USDT)
    assert stack.balance(flows.custody("polygon", USDT)) == usdt("100") and stack.balance(suspense) == usdt("100")
    assert stack.ledger.balance(suspense).available == usdt("0")  # held for the refund
    assert stack.balance(flows.merchant_liability("m1", USDT)) == usdt("0")
    with stack.uow() as uow:
        assert uow.deposit_addresses.by_address("polygon", refund.address) is None
        assert uow.deposit_addresses.by_address("polygon", record.transfer.to_address).invoice_id == invoice_id
    with pytest.raises(InvalidState):
        stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    in_flight = stack.reconciliation.reconcile().by_check()  # booked and held, not yet sent
    assert not any(in_flight.values()), in_flight  # custody counts the booked payment
    rescanned = stack.detection.record_chain_transfers("polygon", [record.transfer])  # a rescan decides nothing
    assert rescanned.events == () and stack.detection.wrong_network_payment(record_id).state is record.state
    stack.refunds.send_refunds()
    stack.senders["polygon"].finish(refund.id, TxState.CONFIRMED)
    [confirmed] = stack.refunds.check_refunds()
    assert confirmed.state is RefundState.CONFIRMED and confirmed.address == PAYER
    assert stack.balance(flows.custody("polygon", USDT)) == usdt("0") and stack.balance(suspense) == usdt("0")
    assert stack.books_balanced()
    assert stack.reconciliation.reconcile().by_check() == in_flight
    assert stack.topics().count("refund.confirmed") == 1


def test_a_failed_refund_can_be_asked_again_without_booking_twice(stack: PaymentsStack) -> None:
    """The refund fails: its hold is voided and another refund may be asked; the payment is booked only once."""
    _, record_id = _paid_on_polygon(stack)
    stack.confirm(2)
    first = stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    stack.refunds.send_refunds()
    stack.senders["polygon"].finish(first.id, TxState.FAILED)
    stack.refunds.check_refunds()
    second = stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="ops:amina")
    assert second.id != first.id
    assert stack.balance(flows.custody("polygon", USDT)) == usdt("100") and stack.books_balanced()
    assert stack.detection.wrong_network_payment(record_id).refund_id == second.id


def test_after_a_refund_the_address_still_reports_the_wrong_network(stack: PaymentsStack) -> None:
    """Stored on Polygon for the refund's sake, the address is still not a rail of the invoice: another payment
    there is another wrong-network record, never an invoice payment."""
    invoice_id, record_id = _paid_on_polygon(stack)
    stack.confirm(2)
    stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    stack.chains["polygon"].pay(stack.invoice(invoice_id).options[0].address, usdt("3"))
    stack.sync()
    found = stack.detection.wrong_network_payments(invoice_id=invoice_id)
    assert [p.state for p in found] == [WrongNetworkState.REFUNDED, WrongNetworkState.PENDING]
    assert stack.invoice(invoice_id).payments == []


def test_an_accepted_payment_is_refunded_through_its_invoice_not_here(stack: PaymentsStack) -> None:
    """Once accepted it belongs to the invoice: this refund refuses it."""
    _, record_id = _paid_on_polygon(stack)
    stack.detection.accept_wrong_network(record_id, actor="user:owner")
    stack.confirm(3)
    with pytest.raises(InvalidState):
        stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")


def test_usdc_to_a_usdt_invoice_on_its_own_network_is_a_wrong_asset_payment_owed_until_refunded(
    stack: PaymentsStack,
) -> None:
    """USDC sent to the invoice's Ethereum address when it asked for USDT on Ethereum: recorded as a pending
    wrong-asset payment (webhook, audit), never credited nor accepted; reconciliation lists it as owed a day after it
    was seen; refunded whole from custody (the merchant's balance untouched), it is owed no more."""
    invoice = stack.invoicing.create_invoice("m1", usdt("25"))
    stack.chains["ethereum"].pay(invoice.options[0].address, Money.of("25", USDC), sender=PAYER)
    stack.sync()
    [record] = stack.detection.wrong_network_payments(invoice_id=invoice.id)
    assert (record.state, record.rail_key, record.wrong) == (WrongNetworkState.PENDING, "usdc-ethereum", "asset")
    assert stack.invoice(invoice.id).state is InvoiceState.NEW and stack.invoice(invoice.id).payments == []
    [message] = stack.outbox("invoice.wrong_network_payment")
    assert (message.payload["wrong"], message.payload["rail"], message.payload["invoice_rails"]) == (
        "asset",
        "usdc-ethereum",
        "usdt-ethereum",
    )
    actions = [r.action for r in stack.storage.audit_records()]
    assert actions.count("invoice.wrong_network_payment") == 1 and "invoice.transfer_unmatched" not in actions
    stack.sync()  # a rescan records nothing twice
    assert (
        len(stack.detection.wrong_network_payments(invoice_id=invoice.id)) == 1
        and len(stack.outbox("invoice.wrong_network_payment")) == 1
    )
    with pytest.raises(WrongNetworkNotAcceptable):
        stack.detection.accept_wrong_network(record.id, actor="user:owner")
    assert stack.reconciliation.reconcile().by_check()["wrong-payments-owed"] == 0  # the merchant has a day
    stack.confirm(12)
    stack.clock.advance(days=1)
    owed = stack.reconciliation.reconcile()
    assert owed.by_check()["wrong-payments-owed"] == 1
    [difference] = [d for r in owed.results if r.check.name == "wrong-payments-owed" for d in r.differences]
    assert difference.subject == f"wrong-asset payment {record.id} (invoice {invoice.id})"
    refund = stack.refunds.refund_wrong_network(record.id, address=PAYER, requested_by="user:owner")
    assert (refund.rail_key, refund.amount) == ("usdc-ethereum", Money.of("25", USDC))
    assert stack.balance(flows.custody("ethereum", USDC)) == Money.of("25", USDC)
    assert stack.balance(flows.merchant_liability("m1", USDT)) == usdt("0")
    stack.refunds.send_refunds()
    stack.senders["ethereum"].finish(refund.id, TxState.CONFIRMED)
    stack.refunds.check_refunds()
    assert stack.balance(flows.custody("ethereum", USDC)) == Money.of("0", USDC) and stack.books_balanced()
    checks = stack.reconciliation.reconcile().by_check()
    assert (checks["wrong-payments-owed"], checks["custody"]) == (0, 0)


def test_a_refund_to_a_listed_address_is_refused_and_the_payment_stays_pending(stack: PaymentsStack) -> None:
    """review3 I20: the payer's address is on a sanctions list (as an OFAC "Digital Currency Address - ETH"): the
    wrong-network refund and a merchant's refund to it are ``Blocked`` before anything is booked or held, audited
    ``refund.blocked``; the payment stays pending for compliance."""
    from cryptopay.adapters.sanctions import RapidfuzzMatcher
    from cryptopay.core.compliance.monitoring import Blocked
    from cryptopay.core.compliance.screening import ListEntry, Screening
    from cryptopay.core.payments.refunds import Refunds
    from cryptopay.core.testing.compliance import monitoring_repositories
    from cryptopay.core.testing.storage import InMemoryStorage

    lists = InMemoryStorage(**monitoring_repositories())
    screening = Screening(uow=lists.unit_of_work, matcher=RapidfuzzMatcher(), clock=stack.clock, ids=stack.ids)
    entry = ListEntry(ref="ofac:38", kind="individual", names=("BADGUY, Crypto",), addresses=(("ethereum", PAYER),))
    screening.import_list("ofac_sdn", "test", [entry], actor="operator:test")
    refunds = Refunds(
        uow=stack.uow,
        clock=stack.clock,
        ids=stack.ids,
        ledger=stack.ledger,
        senders=stack.senders,
        rails=stack.refunds._rails,
        screening=lambda: screening,
    )
    invoice_id, record_id = _paid_on_polygon(stack)
    stack.confirm(2)
    with pytest.raises(Blocked) as refused:
        refunds.refund_wrong_network(record_id, address=PAYER.upper().replace("0X", "0x"), requested_by="user:owner")
    assert refused.value.code == "blocked_by_compliance" and "ofac" not in refused.value.message
    assert stack.detection.wrong_network_payment(record_id).state is WrongNetworkState.PENDING
    assert refunds.list_refunds(invoice_id) == [] and stack.books_balanced()
    with stack.uow() as uow:
        [blocked] = [r for r in uow.audit.about([f"invoice:{invoice_id}"]) if r.action == "refund.blocked"]
    assert (blocked.actor, dict(blocked.details)["lists"]) == ("user:owner", "ofac:38")


def test_a_wrong_payment_goes_back_only_to_the_address_that_paid_it_unless_an_operator_decides(
    stack: PaymentsStack,
) -> None:
    """review R27: the coins are the payer's. A merchant (its API key or a user) cannot send them anywhere else:
    ``payer_address_only``, nothing booked or held; with no address they go to the paying address; another address
    is an operator's decision with a reason, audited next to the address that paid."""
    invoice_id, record_id = _paid_on_polygon(stack)
    stack.confirm(2)
    elsewhere = "0x" + "cd" * 20
    for actor in ("key:k1", "user:owner"):
        with pytest.raises(NotThePayer) as refused:
            stack.refunds.refund_wrong_network(record_id, address=elsewhere, requested_by=actor)
        assert (refused.value.code, refused.value.details["field"]) == ("payer_address_only", "address")
    assert stack.refunds.list_refunds(invoice_id) == [] and stack.books_balanced()
    assert stack.detection.wrong_network_payment(record_id).state is WrongNetworkState.PENDING
    refund = stack.refunds.refund_wrong_network(record_id, requested_by="key:k1")
    assert refund.address == PAYER
    stack.refunds.send_refunds()
    stack.senders["polygon"].finish(refund.id, TxState.FAILED)
    stack.refunds.check_refunds()
    moved = stack.refunds.refund_wrong_network(
        record_id, address=elsewhere, requested_by="ops:amina", redirect_reason="payer's exchange: ticket 42"
    )
    assert moved.address == elsewhere
    with stack.uow() as uow:
        [audited] = [r for r in uow.audit.about([f"refund:{moved.id}"]) if r.action == "refund.request"]
    details = dict(audited.details)
    assert (audited.actor, details["payer"], details["redirect_reason"]) == (
        "ops:amina",
        PAYER,
        "payer's exchange: ticket 42",
    )


def test_a_refund_whose_payment_left_the_chain_before_it_was_sent_fails_and_sends_nothing(
    stack: PaymentsStack,
) -> None:
    """Found by revpass5: a wrong-network refund skipped the worker's still-covered check. Its payment is followed
    for reorgs while refunded: withdrawn, the refund fails before it is sent (hold voided, nothing broadcast); mined
    again, it is refunded from the same booking (never booked twice)."""
    _, record_id = _paid_on_polygon(stack)
    stack.confirm(2)
    first = stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    polygon = stack.chains["polygon"]
    [dropped] = polygon.reorg(4)
    for _ in range(5):
        polygon.mine()
    stack.sync()
    assert stack.detection.wrong_network_payment(record_id).state is WrongNetworkState.WITHDRAWN
    [failed] = stack.refunds.send_refunds()
    assert failed.state is RefundState.FAILED and "left the chain" in (failed.failure or "")
    assert failed.id == first.id and stack.senders["polygon"].requests == []  # nothing broadcast
    suspense = flows.wrong_network_suspense(USDT)
    assert stack.ledger.balance(suspense).available == usdt("100")  # the hold voided, the booking kept
    with pytest.raises(InvalidState):
        stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    assert not any(stack.reconciliation.reconcile().by_check().values())  # the books count the standing booking
    polygon.include(dropped)
    stack.confirm(3)
    assert stack.detection.wrong_network_payment(record_id).state is WrongNetworkState.PENDING
    assert not any(stack.reconciliation.reconcile().by_check().values())  # booked once, on the chain again
    second = stack.refunds.refund_wrong_network(record_id, address=PAYER, requested_by="user:owner")
    [sent] = stack.refunds.send_refunds()
    assert sent.id == second.id and sent.state is RefundState.SENT
    assert stack.balance(flows.custody("polygon", USDT)) == usdt("100") and stack.books_balanced()
