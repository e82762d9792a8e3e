"""The repositories behind refunds, cancelled invoices and payment links on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import Conflict
from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.model import LinkReservation, PaymentLink, PaymentLinkBusy, Refund, RefundState
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.payments import payments_storage
from cryptopay.core.wallets.quotes import QuotePurpose, WalletQuote

from tests.support.sql_engines import race

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def storage(engine):
    return payments_storage() if engine is None else SqlStorage(engine)


def refund(n: int, invoice_id: str = "inv_1", at: datetime = NOW) -> Refund:
    return Refund(
        id=f"rfd_{n:02d}",
        invoice_id=invoice_id,
        merchant_id="m1",
        rail_key="usdt-tron",
        network="tron",
        address="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        amount=Money.of("1.5", USDT),
        hold_id=f"hold_{n}",
        requested_by="user:u1",
        created_at=at,
        reason="settled/none",
        requested=Money.of("200", KES),
        quote_id="fxq_1",
        rate=Money.of("130.5", KES).amount,
    )


def test_refunds_list_newest_first_by_keyset_and_keep_their_quote(storage):
    """Pages go by id, descending, strictly before the cursor; the quote and the amount asked round-trip."""
    with storage.unit_of_work() as uow:
        for n in range(5):
            uow.refunds.add(refund(n, at=NOW + timedelta(seconds=n // 2)))  # pairs share a creation time
        uow.refunds.add(refund(9, invoice_id="inv_2"))
    with storage.unit_of_work() as uow:
        first = uow.refunds.list_for_invoice("inv_1", before=None, limit=2)
        second = uow.refunds.list_for_invoice("inv_1", before=first[-1].id, limit=2)
        third = uow.refunds.list_for_invoice("inv_1", before=second[-1].id, limit=2)
    assert [r.id for r in first + second + third] == ["rfd_04", "rfd_03", "rfd_02", "rfd_01", "rfd_00"]
    assert first[0].quote_id == "fxq_1" and first[0].requested == Money.of("200", KES)
    assert first[0].rate == Money.of("130.5", KES).amount and first[0].state is RefundState.REQUESTED


def test_a_cancelled_invoice_round_trips_and_is_no_longer_expiring(storage):
    """State, cancellation time and actor are stored; the expiry job no longer sees it; the watchers still do."""
    tron = rail_for("tron", "USDT", confirmations=3)
    invoice, _ = Invoice.create(
        invoice_id="inv_c", merchant_id="m1", price=Money.of("10", USDT), addresses={tron: "TXYZ"}, now=NOW
    )
    invoice.cancel(by="user:u1", now=NOW + timedelta(minutes=1))
    with storage.unit_of_work() as uow:
        uow.invoices.add(invoice)
    with storage.unit_of_work() as uow:
        found = uow.invoices.get("inv_c")
        assert found is not None and found.state is InvoiceState.CANCELLED
        assert (found.cancelled_at, found.cancelled_by) == (NOW + timedelta(minutes=1), "user:u1")
        assert uow.invoices.expiring(NOW + timedelta(hours=1)) == []
        assert [i.id for i in uow.invoices.watching(NOW + timedelta(hours=1))] == ["inv_c"]
        listed = uow.invoices.list_for_merchant("m1", before=None, limit=5, state=InvoiceState.CANCELLED)
        assert [i.id for i in listed] == ["inv_c"]


def link(n: int, *, merchant_id: str = "m1", max_uses: int | None = None, expires_at: datetime | None = None):
    return PaymentLink(
        id=f"lnk_{n:02d}",
        public_id=f"pl_public_{n}",
        merchant_id=merchant_id,
        currency=KES,
        amount=Money.of("500", KES),
        description="Mandazi",
        created_at=NOW,
        created_by="user:u1",
        rails=("usdt-tron",),
        max_uses=max_uses,
        expires_at=expires_at,
    )


def test_payment_links_round_trip_by_id_and_public_id_and_list_newest_first(storage):
    """A link is found by either id; a taken public id is a conflict; a merchant's links page by id, descending."""
    with storage.unit_of_work() as uow:
        for n in range(3):
            uow.payment_links.add(link(n))
        uow.payment_links.add(link(7, merchant_id="m2"))
    with pytest.raises(Conflict), storage.unit_of_work() as uow:
        uow.payment_links.add(attrs.evolve(link(8), public_id="pl_public_1"))
    with storage.unit_of_work() as uow:
        found = uow.payment_links.by_public_id("pl_public_1")
        assert found == link(1) and uow.payment_links.get("lnk_01") == link(1)
        assert uow.payment_links.by_public_id("pl_nope") is None and uow.payment_links.get("lnk_08") is None
        first = uow.payment_links.list_for_merchant("m1", before=None, limit=2)
        rest = uow.payment_links.list_for_merchant("m1", before=first[-1].id, limit=2)
    assert [x.id for x in first + rest] == ["lnk_02", "lnk_01", "lnk_00"]


def test_a_use_is_claimed_only_while_the_link_is_open_and_update_keeps_the_count(storage):
    """Claims stop at the cap, at the expiry and once deactivated; saving the link never rewinds its uses."""
    with storage.unit_of_work() as uow:
        uow.payment_links.add(link(1, max_uses=2))
        uow.payment_links.add(link(2, expires_at=NOW + timedelta(hours=1)))
    with storage.unit_of_work() as uow:
        stale = uow.payment_links.get("lnk_01")
        assert [uow.payment_links.claim_use("lnk_01", f"inv_{n}", NOW) for n in range(3)] == [True, True, False]
        assert uow.payment_links.claim_use("lnk_02", "inv_x", NOW + timedelta(hours=1)) is False
        assert uow.payment_links.claim_use("lnk_nope", "inv_y", NOW) is False
    with storage.unit_of_work() as uow:
        assert stale is not None
        uow.payment_links.update(attrs.evolve(stale, active=False, deactivated_at=NOW))
    with storage.unit_of_work() as uow:
        saved = uow.payment_links.get("lnk_01")
        assert saved is not None and (saved.uses, saved.active) == (2, False)
        assert uow.payment_links.claim_use("lnk_02", "inv_z", NOW) is True


def test_a_claim_rolls_back_with_its_transaction(storage):
    """A use claimed in a transaction that fails is not counted, nor held by its invoice."""
    with storage.unit_of_work() as uow:
        uow.payment_links.add(link(1, max_uses=1))
    with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
        assert uow.payment_links.claim_use("lnk_01", "inv_1", NOW)
        raise RuntimeError("the invoice could not be stored")
    with storage.unit_of_work() as uow:
        assert uow.payment_links.release_use("inv_1", NOW) is None
        assert uow.payment_links.claim_use("lnk_01", "inv_2", NOW) is True


def test_an_invoice_gives_its_use_back_once_and_takes_it_again_once_past_the_cap(storage):
    """Released uses reopen a full link; a use taken again counts even over the cap; each moves once; an invoice
    holding no use moves nothing."""
    with storage.unit_of_work() as uow:
        uow.payment_links.add(link(1, max_uses=2))
        uow.payment_links.add(link(2))
    with storage.unit_of_work() as uow:
        links = uow.payment_links
        assert links.claim_use("lnk_01", "inv_1", NOW) and links.claim_use("lnk_01", "inv_2", NOW)
        assert links.claim_use("lnk_01", "inv_3", NOW) is False
        released = links.release_use("inv_1", NOW)
        assert released is not None and (released.id, released.uses) == ("lnk_01", 1)
        assert links.release_use("inv_1", NOW) is None and links.release_use("inv_none", NOW) is None
        assert links.retake_use("inv_2", NOW) is None and links.retake_use("inv_none", NOW) is None
    with storage.unit_of_work() as uow:
        assert uow.payment_links.get("lnk_01").uses == 1
        assert uow.payment_links.claim_use("lnk_01", "inv_3", NOW) is True
        retaken = uow.payment_links.retake_use("inv_1", NOW + timedelta(hours=1))
        assert retaken is not None and (retaken.uses, retaken.max_uses) == (3, 2)
        assert uow.payment_links.retake_use("inv_1", NOW) is None
    with storage.unit_of_work() as uow:
        assert uow.payment_links.get("lnk_01").uses == 3
        assert uow.payment_links.claim_use("lnk_01", "inv_4", NOW) is False
        with pytest.raises(Conflict):
            uow.payment_links.claim_use("lnk_02", "inv_1", NOW)


def test_two_claims_for_the_last_use_given_back_never_both_win(storage):
    """A link capped at two, one use held and one given back: two customers press at once, one invoice gets it;
    two transactions giving back the same invoice's use at once give it back once."""
    with storage.unit_of_work() as uow:
        uow.payment_links.add(link(1, max_uses=2))
    with storage.unit_of_work() as uow:
        assert uow.payment_links.claim_use("lnk_01", "inv_a", NOW) and uow.payment_links.claim_use(
            "lnk_01", "inv_b", NOW
        )
        assert uow.payment_links.release_use("inv_b", NOW) is not None

    def claim(n: int) -> bool:
        with storage.unit_of_work() as uow:
            return uow.payment_links.claim_use("lnk_01", f"inv_c{n}", NOW)

    assert sorted(race(2, claim)) == [False, True]

    def release(_: int) -> bool:
        with storage.unit_of_work() as uow:
            return uow.payment_links.release_use("inv_a", NOW) is not None

    assert sorted(race(2, release)) == [False, True]
    with storage.unit_of_work() as uow:
        assert uow.payment_links.get("lnk_01").uses == 1


def test_concurrent_claims_never_pass_the_cap(storage):
    """Eight transactions claim a link capped at three at once: exactly three succeed."""
    with storage.unit_of_work() as uow:
        uow.payment_links.add(link(1, max_uses=3))

    def claim(n: int) -> bool:
        with storage.unit_of_work() as uow:
            return uow.payment_links.claim_use("lnk_01", f"inv_{n}", NOW)

    assert sorted(race(8, claim)) == [False] * 5 + [True] * 3
    with storage.unit_of_work() as uow:
        assert uow.payment_links.get("lnk_01").uses == 3


def test_a_refund_quote_claim_is_the_merchants_and_converts_one_refund(storage):
    """A merchant's refund claim round-trips through the payments unit of work (purpose ``refund``); another
    merchant cannot use it; of eight refunds racing for it exactly one uses it, and it remembers which."""
    claim = WalletQuote(
        quote_id="fxq_r", owner_id="m1", purpose=QuotePurpose.REFUND, locked_at=NOW, expires_at=NOW + timedelta(hours=1)
    )
    with storage.unit_of_work() as uow:
        uow.wallet_quotes.add(claim)
    with storage.unit_of_work() as uow:
        assert uow.wallet_quotes.get("fxq_r") == claim
        assert not uow.wallet_quotes.use("fxq_r", owner_id="m2", used_by="rfd_m2", at=NOW)

    def use(i: int) -> bool:
        with storage.unit_of_work() as uow:
            return uow.wallet_quotes.use("fxq_r", owner_id="m1", used_by=f"rfd_{i:02d}", at=NOW)

    assert sorted(race(8, use)) == [False] * 7 + [True]
    with storage.unit_of_work() as uow:
        used = uow.wallet_quotes.get("fxq_r")
    assert used.used_by is not None and used.used_by.startswith("rfd_") and used.used_at == NOW


def reserved(client: str, *, per_link: int = 50, per_client: int = 2, until: datetime = NOW + timedelta(minutes=5)):
    return LinkReservation(until=until, client=client, per_link=per_link, per_client=per_client)


def test_concurrent_checkouts_from_one_client_hold_at_most_its_share_of_a_capped_link(storage):
    """Eight claims from one address at once on a link of ten: two reservations stand, six are refused busy (429);
    eight from eight addresses on a link letting three stand: three stand (review5 S7)."""
    with storage.unit_of_work() as uow:
        uow.payment_links.add(link(1, max_uses=10))
        uow.payment_links.add(link(2, max_uses=10))

    def claim(link_id: str, client: str, n: int) -> str:
        try:
            with storage.unit_of_work() as uow:
                per_link = 3 if link_id == "lnk_02" else 50
                return str(
                    uow.payment_links.claim_use(
                        link_id, f"inv_{link_id}_{n}", NOW, reservation=reserved(client, per_link=per_link)
                    )
                )
        except PaymentLinkBusy as busy:
            return str(busy.details["limit"])

    one = race(8, lambda n: claim("lnk_01", "198.51.100.7", n))
    assert sorted(one) == ["True"] * 2 + ["payment_link.open_checkouts_per_client"] * 6
    many = race(8, lambda n: claim("lnk_02", f"198.51.100.{n}", n))
    assert sorted(many) == ["True"] * 3 + ["payment_link.open_checkouts"] * 5
    with storage.unit_of_work() as uow:
        assert (uow.payment_links.get("lnk_01").uses, uow.payment_links.get("lnk_02").uses) == (2, 3)


def test_a_lapsed_reservation_is_freed_once_and_a_kept_one_never(storage):
    """Two uses reserved until 09:05 of a link of two, one of them paid (kept): at 09:06 eight customers race to free
    the lapsed one and claim it: one wins, the use is freed once, the paid one still counts."""
    with storage.unit_of_work() as uow:
        uow.payment_links.add(link(1, max_uses=2))
    with storage.unit_of_work() as uow:
        assert uow.payment_links.claim_use("lnk_01", "inv_paid", NOW, reservation=reserved("a"))
        assert uow.payment_links.claim_use("lnk_01", "inv_gone", NOW, reservation=reserved("b"))
        assert uow.payment_links.retake_use("inv_paid", NOW) is None  # kept for good: still held, no move
    later = NOW + timedelta(minutes=6)

    def free_and_claim(n: int) -> tuple[list[str], bool]:
        with storage.unit_of_work() as uow:
            freed = uow.payment_links.release_lapsed("lnk_01", later)
            return freed, uow.payment_links.claim_use(
                "lnk_01", f"inv_c{n}", later, reservation=reserved(f"c{n}", until=later + timedelta(minutes=5))
            )

    results = race(8, free_and_claim)
    assert sorted(len(freed) for freed, _ in results) == [0] * 7 + [1]
    assert [freed for freed, _ in results if freed] == [["inv_gone"]]
    assert sorted(won for _, won in results) == [False] * 7 + [True]
    with storage.unit_of_work() as uow:
        assert uow.payment_links.get("lnk_01").uses == 2
        assert uow.payment_links.release_lapsed("lnk_01", later) == []
        assert uow.payment_links.retake_use("inv_gone", later) is not None  # its money after all: taken again
