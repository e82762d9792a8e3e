"""Refunds a merchant asks for: capped by what the invoice received, at a named quote, one webhook per state."""

from decimal import Decimal

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import InvalidInput, NotFound, QuoteExpired, QuoteUsed, Refused
from cryptopay.core.fx import Pair
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments import Refund, RefundState
from cryptopay.core.payments.internal import InternalAddress, PlatformAddresses
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.ports.chains import TxState
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.wallets.quotes import QuotePurpose, WalletQuote

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
MERCHANT = flows.merchant_liability("m1", USDT)


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


def paid_in_kes(stack: PaymentsStack) -> str:
    """An invoice of KES 13,000 (100 USDT at 130) paid in full and settled."""
    invoice = stack.invoicing.create_invoice("m1", Money.of("13000", KES))
    stack.pay(invoice.id)
    stack.confirm(3)
    return invoice.id


def test_a_settled_invoice_can_be_refunded_up_to_what_it_received_pending_refunds_included(
    stack: PaymentsStack,
) -> None:
    """Two refunds may not together take more than was received, even while the first is still in flight."""
    invoice_id = paid_in_kes(stack)
    received = stack.invoice(invoice_id).options[0].due
    first = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("60"))
    assert first.state is RefundState.REQUESTED
    with pytest.raises(Refused, match=f"at most {received - usdt('60')}"):
        stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("50"))
    assert stack.refunds.refundable(invoice_id, "usdt-tron") == received - usdt("60")


def test_a_refund_in_shillings_is_converted_at_a_locked_quote_it_names(stack: PaymentsStack) -> None:
    """KES 1,300 becomes USDT at the quote's ask; the refund keeps the quote id, its rate and the amount asked."""
    invoice_id = paid_in_kes(stack)
    refund = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=Money.of("1300", KES))
    quote = stack.quotes.get(refund.quote_id or "")
    assert quote is not None and quote.pair == Pair(USDT, KES)
    assert refund.rate == quote.ask and refund.requested == Money.of("1300", KES)
    assert refund.amount == quote.convert(Money.of("1300", KES), at=stack.clock.now())
    assert Decimal(9) < refund.amount.amount < Decimal(10)


def kes_refund(stack: PaymentsStack, invoice_id: str, quote_id: str | None, kes: str = "650") -> Refund:
    return stack.refunds.refund(
        invoice_id, address=CUSTOMER, requested_by="user:u1", amount=Money.of(kes, KES), quote_id=quote_id
    )


def test_a_named_quote_must_be_the_merchants_live_and_of_the_right_pair(stack: PaymentsStack) -> None:
    """A quote the merchant locked for refunds converts the refund; an expired or unknown one is refused, nothing
    is held."""
    invoice_id = paid_in_kes(stack)
    quote = stack.refunds.lock_quote("m1", Pair(USDT, KES))
    with pytest.raises(InvalidInput, match="converts an amount in the invoice's currency"):
        stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("1"), quote_id=quote.id)
    assert kes_refund(stack, invoice_id, quote.id).quote_id == quote.id
    with pytest.raises(NotFound, match="no quote"):
        kes_refund(stack, invoice_id, "fxq_none")
    late = stack.refunds.lock_quote("m1", Pair(USDT, KES))
    stack.clock.advance(hours=2)
    with pytest.raises(QuoteExpired):
        kes_refund(stack, invoice_id, late.id)
    assert len(stack.refunds.list_refunds(invoice_id)) == 1


def test_a_named_quote_converts_one_refund_and_a_refused_refund_leaves_it_unused(stack: PaymentsStack) -> None:
    """Reusing a quote is QuoteUsed (nothing more is held); a refund refused before it is recorded keeps it free."""
    invoice_id = paid_in_kes(stack)
    quote = stack.refunds.lock_quote("m1", Pair(USDT, KES))
    with pytest.raises(Refused, match="at most"):
        kes_refund(stack, invoice_id, quote.id, kes="1300000")
    first = kes_refund(stack, invoice_id, quote.id)
    balance = stack.ledger.balance(MERCHANT)
    with pytest.raises(QuoteUsed):
        kes_refund(stack, invoice_id, quote.id)
    assert [r.id for r in stack.refunds.list_refunds(invoice_id)] == [first.id]
    assert stack.ledger.balance(MERCHANT) == balance


def test_only_the_invoices_merchant_may_name_its_refund_quote(stack: PaymentsStack) -> None:
    """Another merchant's quote, a quote nobody claimed (an invoice's, a bare pricer's) and a wallet user's are all
    NotFound alike; none of them is used by the attempt."""
    invoice_id = paid_in_kes(stack)
    others = stack.refunds.lock_quote("m2", Pair(USDT, KES))
    bare = stack.pricer.quote(Pair(USDT, KES))
    invoice_quote = stack.invoice(invoice_id).quote_ids[0]
    wallet = stack.pricer.quote(Pair(USDT, KES))
    now = stack.clock.now()
    claim = WalletQuote(
        quote_id=wallet.id, owner_id="m1", purpose=QuotePurpose.TRADE, locked_at=now, expires_at=wallet.expires_at
    )
    with stack.uow() as uow:
        uow.wallet_quotes.add(claim)
    for quote_id in (others.id, bare.id, invoice_quote):
        with pytest.raises(NotFound, match="no quote"):
            kes_refund(stack, invoice_id, quote_id)
    with pytest.raises(InvalidInput, match="locked to trade"):  # even under the merchant's own id
        kes_refund(stack, invoice_id, wallet.id)
    assert stack.refunds.list_refunds(invoice_id) == []
    with stack.uow() as uow:
        assert uow.wallet_quotes.get(others.id).used_by is None  # type: ignore[union-attr]


def test_a_refund_quote_is_never_a_wallet_trade_quote() -> None:
    assert not QuotePurpose.TRADE.allows(QuotePurpose.REFUND)
    assert not QuotePurpose.REFUND.allows(QuotePurpose.BUY) and QuotePurpose.REFUND.allows(QuotePurpose.REFUND)


def test_each_refund_state_is_a_merchant_event_and_an_audit_record(stack: PaymentsStack) -> None:
    """requested, sent and confirmed each go to the outbox (for webhooks) with the refund's amount and address."""
    invoice_id = paid_in_kes(stack)
    refund = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("10"))
    stack.refunds.send_refunds()
    for _ in range(3):  # reviewer10 R10-9 (Low): a check that changes nothing is no audit record
        stack.refunds.check_refunds()
    stack.senders["tron"].finish(refund.id, TxState.CONFIRMED)
    stack.refunds.check_refunds()
    events = [m for m in stack.outbox() if m.topic.startswith("refund.")]
    assert [m.topic for m in events] == ["refund.requested", "refund.sent", "refund.confirmed"]
    assert {m.payload["refund_id"] for m in events} == {refund.id}
    assert events[-1].payload["merchant_id"] == "m1" and events[-1].payload["amount"] == "10.000000"
    assert events[-1].payload["tx_hash"]
    actions = [r.action for r in stack.storage.audit_records() if r.subject == f"refund:{refund.id}"]
    assert actions == ["refund.request", "refund.sent", "refund.confirmed"]


def test_a_failed_refund_is_an_event_and_frees_its_amount(stack: PaymentsStack) -> None:
    """refund.failed is published and the held amount is refundable again."""
    invoice_id = paid_in_kes(stack)
    before = stack.refunds.refundable(invoice_id, "usdt-tron")
    refund = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("10"))
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(refund.id, TxState.FAILED)
    stack.refunds.check_refunds()
    assert stack.topics()[-1] == "refund.failed"
    assert stack.refunds.refundable(invoice_id, "usdt-tron") == before and stack.books_balanced()


def test_refunds_of_an_invoice_list_newest_first_by_cursor(stack: PaymentsStack) -> None:
    """Each page is older than the cursor; the walk sees every refund once."""
    invoice_id = paid_in_kes(stack)
    made = []
    for _ in range(3):
        made.append(stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="u", amount=usdt("1")).id)
        stack.clock.advance(seconds=1)
    first = stack.refunds.list_refunds(invoice_id, limit=2)
    rest = stack.refunds.list_refunds(invoice_id, before=first[-1].id, limit=2)
    assert [r.id for r in first + rest] == list(reversed(made))
    assert stack.refunds.get_refund(made[0]).id == made[0]


def test_a_refund_address_must_belong_to_the_rail_and_not_be_the_invoice(stack: PaymentsStack) -> None:
    """An EVM address on Tron, or the invoice's own deposit address, is refused before anything is held."""
    invoice_id = paid_in_kes(stack)
    own = stack.invoice(invoice_id).options[0].address
    with pytest.raises(InvalidInput, match="not a tron address"):
        stack.refunds.refund(invoice_id, address="0x" + "ab" * 20, requested_by="u", amount=usdt("1"))
    with pytest.raises(InvalidInput, match="own deposit address"):
        stack.refunds.refund(invoice_id, address=own, requested_by="u", amount=usdt("1"))
    assert stack.refunds.list_refunds(invoice_id) == []


HOT = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"  # the Tron hot wallet's, in the test below


def test_a_refund_never_goes_to_an_address_the_platform_controls(stack: PaymentsStack) -> None:
    """H20: another invoice's deposit address, a wallet's, the hot wallet: ``internal_address``, nothing held."""
    refunds = Refunds(
        uow=stack.uow,
        clock=stack.clock,
        ids=stack.ids,
        ledger=stack.ledger,
        senders=stack.senders,
        pricer=stack.pricer,
        quotes=stack.quotes,
        platform=PlatformAddresses({"tron": HOT}),
    )
    invoice_id = paid_in_kes(stack)
    other, wallet, now = "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8", "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW", stack.clock.now()
    with stack.uow() as uow:  # the fake chain's own addresses are not Tron-shaped: these are, as a deriver's are
        uow.deposit_addresses.add(DepositAddress("tron", other, 98, "inv_other", "m2", now))
        uow.deposit_addresses.add(DepositAddress("tron", wallet, 99, None, None, now, user_id="usr_1"))
    held = stack.ledger.balance(MERCHANT)
    for address in (other, wallet, HOT):
        with pytest.raises(InternalAddress) as refused:
            refunds.refund(invoice_id, address=address, requested_by="u", amount=usdt("1"))
        assert (refused.value.code, refused.value.details["field"]) == ("internal_address", "address")
    assert stack.refunds.list_refunds(invoice_id) == [] and stack.senders["tron"].requests == []
    assert stack.ledger.balance(MERCHANT) == held
    assert (
        refunds.refund(invoice_id, address=CUSTOMER, requested_by="u", amount=usdt("1")).state is RefundState.REQUESTED
    )


def test_without_an_amount_a_refund_takes_what_is_owed_and_nothing_owed_is_asked_for(stack: PaymentsStack) -> None:
    """An invoice paid exactly owes nothing beyond its price: the merchant must name the amount."""
    invoice_id = paid_in_kes(stack)
    with pytest.raises(InvalidInput, match="name the amount"):
        stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1")
    assert stack.refunds.list_refunds(invoice_id) == []


def test_a_refund_whose_payment_left_the_chain_fails_instead_of_being_sent(stack: PaymentsStack) -> None:
    """A refund asked while the payment counted, then the payment reorganised off the chain (its credit owed back, a
    clawback while the refund holds part of it): the worker fails the refund with its hold voided and a refund.failed
    webhook, and sends nothing."""
    invoice_id = paid_in_kes(stack)
    refund = stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("60"))
    stack.chains["tron"].reorg(4)
    stack.sync()
    [failed] = stack.refunds.send_refunds()
    assert failed.id == refund.id and failed.state is RefundState.FAILED and stack.senders["tron"].sent == {}
    balance = stack.ledger.balance(MERCHANT)
    assert balance.available == balance.posted and stack.books_balanced()  # the clawback waits for the next settlement
    assert [m.payload["state"] for m in stack.outbox("refund.failed")] == ["failed"]


class _ClosingWhileScreened:
    """Sanctions screening that lists nothing, while an operator closes the merchant as the refund is screened: the
    close lands between the refund's first look at the merchant and its transaction."""

    threshold = 90.0

    def __init__(self, stack: PaymentsStack) -> None:
        self._stack = stack

    def screen_address(self, network: str, address: str) -> list:
        merchant = self._stack.merchants.get("m1")
        assert merchant is not None
        merchant.closed_at = self._stack.clock.now()
        self._stack.merchants.update(merchant)
        return []

    def screen_name(self, name: str, *, threshold: float | None = None) -> list:
        return []

    def must_wait(self) -> bool:
        return False


def test_a_merchant_closed_while_its_refund_is_prepared_is_checked_again_in_the_refunds_transaction(
    stack: PaymentsStack,
) -> None:
    """The close that lands after the refund's first check still refuses it (403 ``merchant_closed``), inside the
    refund's own transaction: nothing is held, recorded or audited."""
    from cryptopay.core.identity.model import MerchantClosed

    invoice_id = paid_in_kes(stack)
    balance = stack.balance(MERCHANT)
    stack.screening = _ClosingWhileScreened(stack)
    with pytest.raises(MerchantClosed):
        stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("5"))
    assert stack.balance(MERCHANT) == balance and stack.refunds.list_refunds(invoice_id) == []
    with stack.uow() as uow:
        assert [r for r in uow.audit.records() if r.action == "refund.request"] == []
