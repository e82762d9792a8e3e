"""R10-10: the wallet's money records in the audit trail name what moved (amounts and assets), at which quote and
rate, and the M-Pesa receipt, as ``paybill.credited`` does: the chained trail alone rebuilds a customer's movements."""

from __future__ import annotations

from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.wallets.bills import Bills
from cryptopay.core.wallets.quotes import QuotePurpose

from tests.support.wallet_stack import wallet_stack


def _details(stack, action: str) -> dict[str, str]:
    (record,) = [r for r in stack.backend.storage.audit_records() if r.action == action]
    return dict(record.details)


def test_a_credited_buy_names_the_shillings_the_usdt_the_quote_and_the_receipt():
    stack = wallet_stack()
    amina = stack.sign_up("0712000001")
    buy = stack.buys.start(amina.id, Money.of(1000, KES))
    stack.deliver_callbacks()
    done = stack.buys.get(buy.id)
    details = _details(stack, "wallet.buy_credited")
    assert details["kes"] == str(done.kes) and details["usdt"] == str(done.usdt)
    assert details["quote"] == done.quote_id and details["ask"] == str(done.ask)
    assert details["receipt"] == done.receipt and done.receipt


def test_a_sale_names_the_usdt_sold_the_bid_and_the_shillings():
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    sale = stack.sells.start(amina.id, Money.of(10, USDT))
    details = _details(stack, "wallet.sell")
    assert details["usdt"] == str(Money.of(10, USDT)) and details["kes"] == str(sale.kes)
    assert details["paid"] == str(sale.payout.amount) and details["charge"] == str(sale.payout.charge)
    assert details["bid"] and details["quote"] and details["payout"] == sale.payout.id


def test_a_bill_paid_with_usdt_names_the_amount_the_account_and_what_was_sold():
    stack = wallet_stack()
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    quote = stack.buys.quote(amina.id, QuotePurpose.SELL)
    bill = bills.pay(amina.id, "DSTV", "7012345678", Money.of(1000, KES), pay_with="USDT", quote_id=quote.id)
    details = _details(stack, "wallet.bill")
    assert details["amount"] == str(Money.of(1000, KES)) and details["account"] == "7012****78"
    assert details["sold"] == str(bill.paid_with) and details["quote"] == quote.id and details["bid"] == str(quote.bid)


def test_a_bills_account_is_masked_in_the_audit_chain_like_any_phone_number():
    """smallfix: a bill's account can be a phone number (``0722000002`` is a valid DStv account): the chain, never
    erased, kept it whole; ``wallet.bill`` now names it masked (``mask_msisdn``), as every number in the chain is."""
    stack = wallet_stack()
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "5000", "KES")
    bill = bills.pay(amina.id, "DSTV", "0722000002", Money.of(1000, KES))
    assert bill.account == "0722000002" and _details(stack, "wallet.bill")["account"] == "0722****02"
    chain = [(r.actor, r.subject, r.details) for r in stack.backend.storage.audit_records()]
    assert "0722000002" not in repr(chain)
