"""A capped payment link counts paid invoices plus open ones (review H4), on memory, SQLite and PostgreSQL: an invoice
that ends unpaid gives its use back in the transaction that ends it; one paid keeps it; money that arrives late
takes it again, past the cap if need be, audited."""

from __future__ import annotations

import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.invoices import InvoiceException, InvoiceState
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.link_uses import RESERVATION
from cryptopay.core.payments.links import PaymentLinkBusy, PaymentLinkClosed
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.contract.test_payments_repository_contract import SqlPaymentsStack


@pytest.fixture
def stack(engine) -> PaymentsStack:
    found = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    found.add_merchant("m1", settlement=profile)
    return found


def _capped(stack: PaymentsStack, uses: int):
    links = stack.payment_links
    return links.create_link("m1", actor="user:u1", description="Tickets", amount=Money.of("500", KES), max_uses=uses)


def _audit(stack: PaymentsStack, action: str) -> list[dict[str, str]]:
    with stack.uow() as uow:
        return [dict(r.details) for r in uow.audit.records() if r.action == action]


def test_abandoned_checkouts_give_their_uses_back_when_they_expire(stack):
    """The reviewer's reproduction: two invoices close a link capped at two; once they expire unpaid, it is open
    again with both uses back, each given back audited."""
    link = _capped(stack, 2)
    first, second = (stack.payment_links.create_invoice(link.public_id) for _ in range(2))
    with pytest.raises(PaymentLinkBusy, match="checkout in progress"):  # not "used up": nothing paid (F11)
        stack.payment_links.create_invoice(link.public_id)
    stack.tick(minutes=20)
    assert {stack.invoice(i.id).state for i in (first, second)} == {InvoiceState.EXPIRED}
    assert stack.payment_links.get_link(link.id).uses == 0
    released = _audit(stack, "payment_link.use_released")
    assert sorted(r["invoice"] for r in released) == sorted([first.id, second.id])
    assert {r["over_cap"] for r in released} == {"false"}
    stack.payment_links.create_invoice(link.public_id)
    stack.payment_links.create_invoice(link.public_id)
    assert stack.payment_links.get_link(link.id).uses == 2


def test_a_cancelled_invoice_gives_its_use_back_and_a_paid_one_keeps_it(stack):
    """Cancelled unpaid: the use is back in the cancellation's transaction; paid and settled: kept after the expiry."""
    link = _capped(stack, 1)
    cancelled = stack.payment_links.create_invoice(link.public_id)
    stack.invoicing.cancel_invoice(cancelled.id, actor="user:u1")
    assert stack.payment_links.get_link(link.id).uses == 0
    paid = stack.payment_links.create_invoice(link.public_id)
    stack.pay(paid.id)
    stack.confirm(3)
    stack.tick(minutes=30)
    assert stack.invoice(paid.id).state is InvoiceState.SETTLED
    assert stack.payment_links.get_link(link.id).uses == 1
    with pytest.raises(PaymentLinkClosed, match="limit"):
        stack.payment_links.create_invoice(link.public_id)


def test_a_late_payment_to_an_expired_invoice_of_a_full_link_takes_its_use_again_over_the_cap(stack):
    """The first customer's invoice expires (use back), a second customer fills the link, then the first one's
    money arrives: it is recorded and credited as late, and the link counts two uses of one, audited over the cap."""
    link = _capped(stack, 1)
    late = stack.payment_links.create_invoice(link.public_id)
    stack.tick(minutes=20)
    assert stack.payment_links.get_link(link.id).uses == 0
    stack.payment_links.create_invoice(link.public_id)
    stack.pay(late.id)
    stack.confirm(3)
    found = stack.invoice(late.id)
    assert (found.state, found.exception) == (InvoiceState.EXPIRED, InvoiceException.PAID_LATE)
    assert stack.payment_links.get_link(link.id).uses == 2
    [retaken] = _audit(stack, "payment_link.use_retaken")
    assert (retaken["invoice"], retaken["uses"], retaken["max_uses"], retaken["over_cap"]) == (
        late.id,
        "2",
        "1",
        "true",
    )
    with pytest.raises(PaymentLinkClosed, match="limit"):
        stack.payment_links.create_invoice(link.public_id)


STRANGER, CUSTOMER = "198.51.100.7", "203.0.113.9"


def test_an_unpaid_checkout_holds_a_capped_link_only_for_its_reservation(stack):
    """Review5 S7: a stranger's unpaid invoice holds the last ticket five minutes, not its whole window; then the
    link opens to the next customer (the freed use audited), and the stranger's money, if it comes, still counts."""
    link = _capped(stack, 1)
    held = stack.payment_links.create_invoice(link.public_id, client=STRANGER)
    with pytest.raises(PaymentLinkBusy, match="checkout in progress"):  # busy, not "used up" (review6 F11)
        stack.payment_links.create_invoice(link.public_id, client=CUSTOMER)
    stack.tick(minutes=6)
    assert stack.invoice(held.id).state is InvoiceState.NEW  # its own window is 15 minutes
    assert stack.payment_links.load_public(link.public_id).closed_reason(stack.clock.now()) is None
    assert stack.payment_links.get_link(link.id).uses == 0
    [freed] = _audit(stack, "payment_link.use_released")
    assert freed == {"invoice": held.id, "reason": "reservation_lapsed"}
    stack.payment_links.create_invoice(link.public_id, client=CUSTOMER)
    stack.pay(held.id)
    stack.confirm(3)
    assert stack.payment_links.get_link(link.id).uses == 2  # money is never refused: over the cap, audited
    [retaken] = _audit(stack, "payment_link.use_retaken")
    assert (retaken["invoice"], retaken["over_cap"]) == (held.id, "true")


def test_a_payment_inside_the_reservation_keeps_the_use_for_good(stack):
    """A checkout paid a minute in keeps its use past its reservation: the link stays sold out."""
    link = _capped(stack, 1)
    paid = stack.payment_links.create_invoice(link.public_id, client=CUSTOMER)
    stack.pay(paid.id)
    stack.tick(minutes=1)
    stack.tick(minutes=6)
    with pytest.raises(PaymentLinkClosed, match="limit"):
        stack.payment_links.create_invoice(link.public_id, client=STRANGER)
    assert stack.payment_links.get_link(link.id).uses == 1
    assert _audit(stack, "payment_link.use_released") == []


def test_one_client_holds_at_most_two_open_checkouts_of_a_capped_link(stack):
    """A third unpaid checkout from one address is a 429 with Retry-After (nothing made); others still buy, and the
    same address may again once its reservations lapse."""
    link = _capped(stack, 5)
    for _ in range(2):
        stack.payment_links.create_invoice(link.public_id, client=STRANGER)
    with pytest.raises(PaymentLinkBusy) as refused:
        stack.payment_links.create_invoice(link.public_id, client=STRANGER)
    assert refused.value.http_status == 429 and 0 < refused.value.retry_after <= 300
    assert refused.value.details["limit"] == "payment_link.open_checkouts_per_client"
    assert stack.payment_links.get_link(link.id).uses == 2
    stack.payment_links.create_invoice(link.public_id, client=CUSTOMER)
    stack.tick(minutes=6)
    stack.payment_links.create_invoice(link.public_id, client=STRANGER)
    assert stack.payment_links.get_link(link.id).uses == 1


def test_a_cap_filled_by_unpaid_checkouts_is_busy_with_when_to_retry_never_used_up(stack):
    """Review6 F11: two addresses holding a 4-use link with unpaid checkouts make it busy for the others (429
    ``payment_link.uses_reserved``, Retry-After the first reservation's lapse), never "used 4 times": nothing was
    paid. Once every use is paid for it is closed for good, with the old reason."""
    link = _capped(stack, 4)
    first = stack.payment_links.create_invoice(link.public_id, client=STRANGER)
    stack.tick(minutes=2)
    for client in (STRANGER, CUSTOMER, CUSTOMER):
        stack.payment_links.create_invoice(link.public_id, client=client)
    assert stack.payment_links.busy_until(stack.payment_links.load_public(link.public_id)) == first.created_at + (
        RESERVATION
    )
    with pytest.raises(PaymentLinkBusy, match="one may free up in 3 minutes") as refused:
        stack.payment_links.create_invoice(link.public_id, client="192.0.2.1")
    assert refused.value.retry_after == 180 and refused.value.details["limit"] == "payment_link.uses_reserved"
    assert stack.payment_links.get_link(link.id).uses == 4  # nothing made, nothing claimed
    stack.pay(first.id)
    stack.tick(minutes=6)  # the other three lapse; the paid one keeps its use
    for client in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        stack.pay(stack.payment_links.create_invoice(link.public_id, client=client).id)
    stack.tick(minutes=1)  # the payments seen
    assert stack.payment_links.busy_until(stack.payment_links.load_public(link.public_id)) is None
    with pytest.raises(PaymentLinkClosed, match="used 4 times"):
        stack.payment_links.create_invoice(link.public_id, client="192.0.2.4")
