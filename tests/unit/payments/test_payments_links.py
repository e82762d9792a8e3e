"""Payment links: each use makes an invoice; fixed or entered amounts, store bounds, expiry, caps, deactivation."""

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.link_amounts import (
    LINK_AMOUNTS,
    AmountAboveMaximum,
    AmountBelowMinimum,
    AmountBounds,
    AmountNotWhole,
)
from cryptopay.core.payments.links import PaymentLinkClosed, PaymentLinkCurrency, PaymentLinks, PaymentLinkTerms
from cryptopay.core.payments.model import AboveStoreMaximum, BelowStoreMinimum
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack


def kes(value: str) -> Money:
    return Money.of(value, KES)


def test_a_fixed_link_makes_an_invoice_per_use_named_after_the_link(stack: PaymentsStack) -> None:
    """Two customers, two invoices for the link's price; each invoice notes its link; each creation is audited."""
    link = stack.payment_links.create_link("m1", actor="user:u1", description="Mandazi", amount=kes("500"))
    first = stack.payment_links.create_invoice(link.public_id)
    second = stack.payment_links.create_invoice(link.public_id)
    assert first.id != second.id and first.price == second.price == kes("500")
    assert first.metadata == {"payment_link": link.id} and first.state is InvoiceState.NEW
    assert stack.payment_links.get_link(link.id).uses == 2
    actions = [r.action for r in stack.storage.audit_records()]
    assert actions.count("payment_link.create") == 1 and actions.count("invoice.create") == 2
    with pytest.raises(PaymentLinkTerms, match="fixed"):
        stack.payment_links.create_invoice(link.public_id, amount=kes("1"))


def test_an_entered_amount_must_fit_the_store_bounds(stack: PaymentsStack) -> None:
    """A customer-entered amount below the store's minimum or above its maximum makes no invoice and uses nothing."""
    with stack.uow() as uow:
        settings = uow.stores.get("m1")
        assert settings is not None
        uow.stores.put(attrs.evolve(settings, min_invoice="100", max_invoice="10000"))
    link = stack.payment_links.create_link("m1", actor="user:u1", description="Tip jar", max_uses=5)
    with pytest.raises(PaymentLinkTerms, match="enter the amount"):
        stack.payment_links.create_invoice(link.public_id)
    with pytest.raises(BelowStoreMinimum):
        stack.payment_links.create_invoice(link.public_id, amount=kes("99"))
    with pytest.raises(AboveStoreMaximum):
        stack.payment_links.create_invoice(link.public_id, amount=kes("10001"))
    with pytest.raises(PaymentLinkCurrency, match="paid in KES, not USDT"):  # a 422 on currency (review H16)
        stack.payment_links.create_invoice(link.public_id, amount=Money.of("5", USDT))
    with pytest.raises(PaymentLinkCurrency, match="paid in KES, not USDT") as refused:
        stack.payment_links.create_invoice(link.public_id, amount=Decimal("250"), currency=USDT)
    assert refused.value.details["field"] == "currency" and refused.value.http_status == 422
    with pytest.raises(PaymentLinkTerms, match="at most 2 places"):
        stack.payment_links.create_invoice(link.public_id, amount=Decimal("250.001"))
    with pytest.raises(PaymentLinkTerms, match="paid on usdt-tron"):
        restricted = stack.payment_links.create_link("m1", actor="u", description="x", rails=["usdt-tron"])
        stack.payment_links.create_invoice(restricted.public_id, amount=kes("250"), rail="usdt-ethereum")
    invoice = stack.payment_links.create_invoice(link.public_id, amount=Decimal("250"), currency=KES)
    assert invoice.price == kes("250") and stack.payment_links.get_link(link.id).uses == 1


def test_a_capped_expiring_link_closes_and_a_deactivated_one_never_reopens(stack: PaymentsStack) -> None:
    """The cap is the number of invoices; after the expiry or a deactivation, no more."""
    capped = stack.payment_links.create_link("m1", actor="u", description="One seat", amount=kes("500"), max_uses=1)
    stack.pay(stack.payment_links.create_invoice(capped.public_id).id)
    stack.tick(minutes=1)
    with pytest.raises(PaymentLinkClosed, match="limit"):
        stack.payment_links.create_invoice(capped.public_id)
    soon = stack.clock.now() + timedelta(hours=1)
    expiring = stack.payment_links.create_link("m1", actor="u", description="Promo", amount=kes("500"), expires_at=soon)
    stack.clock.advance(hours=1)
    with pytest.raises(PaymentLinkClosed, match="expired"):
        stack.payment_links.create_invoice(expiring.public_id)
    open_link = stack.payment_links.create_link("m1", actor="u", description="Menu", amount=kes("500"))
    stack.payment_links.deactivate_link(open_link.id, actor="u")
    assert not stack.payment_links.deactivate_link(open_link.id, actor="u").active
    with pytest.raises(PaymentLinkClosed, match="deactivated"):
        stack.payment_links.create_invoice(open_link.public_id)
    assert [r.action for r in stack.storage.audit_records()].count("payment_link.deactivate") == 1


def test_bad_link_terms_are_refused(stack: PaymentsStack) -> None:
    """An empty description, a past expiry, a cap below one, a rail the store lacks, a missing store."""
    now = stack.clock.now()
    for terms, field in (
        ({"description": ""}, "description"),
        ({"description": "x", "expires_at": now}, "expires_at"),
        ({"description": "x", "max_uses": 0}, "max_uses"),
        ({"description": "x", "amount": kes("0")}, "amount"),
    ):
        with pytest.raises(InvalidInput) as refused:
            stack.payment_links.create_link("m1", actor="u", **terms)
        assert refused.value.details.get("field") == field
    with pytest.raises(InvalidInput, match="does not accept"):
        stack.payment_links.create_link("m1", actor="u", description="x", rails=["usdt-ethereum"])
    with pytest.raises(NotFound):
        stack.payment_links.create_link("m_none", actor="u", description="x")
    with pytest.raises(NotFound):
        stack.payment_links.load_public("pl_nope")


def test_links_list_newest_first_and_a_link_loads_by_public_id(stack: PaymentsStack) -> None:
    """The merchant's page is newest first; the public id (for hosted pages) loads the same link."""
    made = [stack.payment_links.create_link("m1", actor="u", description=f"L{n}").id for n in range(3)]
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345679")
    stack.add_merchant("m2", settlement=profile)
    stack.payment_links.create_link("m2", actor="u", description="other")
    page = stack.payment_links.list_links("m1", limit=2)
    rest = stack.payment_links.list_links("m1", before=page[-1].id)
    assert [x.id for x in page + rest] == list(reversed(made))
    link = stack.payment_links.get_link(made[0])
    assert stack.payment_links.load_public(link.public_id).id == link.id and link.public_id.startswith("pl_")


def test_link_amounts_are_bounded_per_currency_as_data(stack: PaymentsStack) -> None:
    """Without store bounds: whole shillings from KES 10 to 1,000,000 (fixed or entered), USDT from 1 to 10,000;
    other bounds are data given to ``PaymentLinks``; a store's narrower bounds are what the page shows."""
    links = stack.payment_links
    with pytest.raises(AmountBelowMinimum):
        links.create_link("m1", actor="u", description="x", amount=kes("9"))
    with pytest.raises(AmountNotWhole):
        links.create_link("m1", actor="u", description="x", amount=kes("10.50"))
    tips = links.create_link("m1", actor="u", description="Tips")
    for entered, error in ((kes("0.01"), AmountNotWhole), (kes("9"), AmountBelowMinimum)):
        with pytest.raises(error) as raised:
            links.create_invoice(tips.public_id, amount=entered)
        assert raised.value.details == {"field": "amount"}
    with pytest.raises(AmountAboveMaximum):
        links.create_invoice(tips.public_id, amount=Decimal("1000000000000000000"))
    assert links.get_link(tips.id).uses == 0
    assert links.create_invoice(tips.public_id, amount=kes("1000000")).price == kes("1000000")
    usdt = links.create_link("m1", actor="u", description="USDT tips", currency=USDT)
    with pytest.raises(AmountBelowMinimum):
        links.create_invoice(usdt.public_id, amount=Decimal("0.99"))
    assert links.amount_bounds(tips) == LINK_AMOUNTS["KES"] and links.amount_bounds(usdt) == LINK_AMOUNTS["USDT"]
    generous = PaymentLinks(
        uow=stack.uow,
        clock=stack.clock,
        ids=stack.ids,
        invoicing=stack.invoicing,
        amounts={"KES": AmountBounds(kes("1"), kes("100"))},
    )
    assert generous.create_link("m1", actor="u", description="x", amount=kes("1.50")).amount == kes("1.50")
    with pytest.raises(AmountAboveMaximum):
        generous.create_link("m1", actor="u", description="x", amount=kes("101"))
    with stack.uow() as uow:
        settings = uow.stores.get("m1")
        assert settings is not None
        uow.stores.put(attrs.evolve(settings, min_invoice="100", max_invoice="5000000"))
    narrowed = links.amount_bounds(tips)
    assert narrowed is not None and (narrowed.minimum, narrowed.maximum) == (kes("100"), kes("1000000"))
    fixed = links.create_link("m1", actor="u", description="Fixed", amount=kes("500"))
    assert links.amount_bounds(fixed) is None
