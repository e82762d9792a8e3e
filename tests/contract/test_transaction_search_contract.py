"""The staff's transaction search (``TransactionIndex``): the same hits on the in-memory fake, SQLite and PostgreSQL,
found by id, public id, phone, deposit address, transaction hash and M-Pesa receipt, newest first and bounded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from cryptopay.adapters.sql.search import SqlTransactionIndex
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout
from cryptopay.core.search import TransactionSearch
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.search import InMemoryTransactionIndex
from cryptopay.core.testing.wallets import InMemoryBuys, InMemoryTransfers, InMemoryWallets
from cryptopay.core.wallets import Transfer, TransferState, Wallet
from cryptopay.core.wallets.buys import Buy, BuyState

from tests.contract.test_payments_repository_contract import SqlPaymentsStack

PHONE = "254712000001"


@pytest.fixture
def rig(engine):
    """A stack with one merchant's paid invoice, a payout, a wallet's transfer and buy; and its search."""
    if engine is None:
        stack = PaymentsStack()
        extra = {
            "wallets": InMemoryWallets(),
            "wallet_transfers": InMemoryTransfers(),
            "wallet_buys": InMemoryBuys(),
        }
        stack.storage.repositories.update(extra)  # type: ignore[attr-defined]
        index = InMemoryTransactionIndex(stack.storage)
    else:
        stack = SqlPaymentsStack(SqlStorage(engine))
        index = SqlTransactionIndex(engine)
    return stack, TransactionSearch(index)


def _seed(stack: PaymentsStack) -> dict[str, str]:
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile)
    invoice = stack.invoicing.create_invoice("m1", Money.of("10", USDT))
    other = stack.invoicing.create_invoice("m1", Money.of("5", USDT))
    paid = stack.pay(invoice.id)
    stack.confirm()
    at = stack.clock.now()
    payout = Payout(
        id="po_9",
        settlement_id="stl_1",
        merchant_id="m1",
        originator_id="po_9-1",
        method=SettlementMethod.MPESA_B2C,
        destination=PHONE,
        amount=Money.of(5000, KES),
        charge=Money.of("15.50", KES),
        hold_id="hld_9",
        created_at=at,
    )
    payout.completed(at, receipt="SBX12AB34C", code="0", desc="ok")
    with stack.uow() as uow:
        uow.payouts.add(payout)
        uow.wallets.add(Wallet(user_id="usr_w", phone=PHONE, created_at=at))
        uow.wallet_transfers.add(
            Transfer(
                id="wtr_1",
                sender_id="usr_w",
                recipient_phone="254733000003",
                amount=Money.of("200", KES),
                fee=Money.zero(KES),
                state=TransferState.AWAITING_CLAIM,
                created_at=at + timedelta(seconds=1),
                claim_expires_at=at + timedelta(days=7),
            )
        )
        buy = Buy(
            id="buy_1",
            user_id="usr_w",
            phone=PHONE,
            kes=Money.of(1000, KES),
            usdt=Money.of("7.654037", USDT),
            quote_id="qt_1",
            ask=Decimal("130.65"),
            mid=Decimal("130"),
            state=BuyState.CREDITED,
            token_digest="digest-buy_1",
            created_at=at + timedelta(seconds=2),
            next_query_at=at,
            receipt="RKT9XY12ZQ",
        )
        uow.wallet_buys.add(buy)
    return {
        "invoice": invoice.id,
        "public": invoice.public_id or "",
        "other": other.id,
        "address": invoice.options[0].address,
        "hash": paid.tx_hash,
    }


def _found(search: TransactionSearch, text: str) -> list[tuple[str, str, str]]:
    return [(h.kind, h.id, h.matched) for h in search.find(text)]


def test_transactions_are_found_by_what_staff_have_in_hand(rig):
    """Ids, the public id, the deposit address, the tx hash (any case, with or without 0x) and receipts."""
    stack, search = rig
    seeded = _seed(stack)
    assert _found(search, seeded["invoice"]) == [("invoice", seeded["invoice"], "id")]
    assert _found(search, seeded["public"]) == [("invoice", seeded["invoice"], "id")]
    assert _found(search, seeded["address"]) == [("invoice", seeded["invoice"], "address")]
    bare = seeded["hash"].lower().removeprefix("0x")
    for text in (seeded["hash"], bare.upper(), "0x" + bare):
        assert _found(search, text) == [("invoice", seeded["invoice"], "tx_hash")], text
    assert _found(search, "SBX12AB34C") == [("payout", "po_9", "receipt")]
    assert _found(search, "RKT9XY12ZQ") == [("wallet_buy", "buy_1", "receipt")]
    assert _found(search, "po_9-1") == [("payout", "po_9", "id")]
    assert _found(search, "wtr_1") == [("wallet_transfer", "wtr_1", "id")]
    hit = search.find(seeded["invoice"])[0]
    assert (hit.party_id, hit.amount, hit.state) == ("m1", Money.of("10", USDT), "settled")


def test_a_phone_in_any_form_finds_its_payouts_and_wallet_movements_newest_first(rig):
    """0712 000 001 is 254712000001: the payout to it, the wallet's transfer and its buy, newest first."""
    stack, search = rig
    _seed(stack)
    found = _found(search, "0712 000 001")
    assert found == [
        ("wallet_buy", "buy_1", "phone"),
        ("wallet_transfer", "wtr_1", "phone"),
        ("payout", "po_9", "phone"),
    ]
    assert _found(search, "254799999999") == []


def test_unknown_or_malformed_terms_find_nothing_or_are_refused(rig):
    """An unknown id finds nothing; a receipt inside another field is no match; a term with spaces or symbols
    that no id has is refused, naming the field."""
    stack, search = rig
    _seed(stack)
    assert _found(search, "inv_nope") == []
    assert _found(search, "digest") == []
    for bad in ("ab", "x" * 129, "<script>", "a;b"):
        with pytest.raises(InvalidInput) as refused:
            search.find(bad)
        assert refused.value.details.get("field") == "q"
