"""Payment repositories in a unit of work: the same rules from the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from cryptopay.adapters.sql.ledger_store import SqlLedgerStore
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import flows
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.invoices import InvoiceException, InvoiceState
from cryptopay.core.ledger import Ledger
from cryptopay.core.listings import Listings, each
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.model import DepositAddress, HoldDecision, PaymentCredit, StoreSettings, index_families
from cryptopay.core.payouts import AwaitingStatus, Payout, PayoutKind, PayoutQuery, PayoutState
from cryptopay.core.payouts.answers import UnmatchedAnswer
from cryptopay.core.payouts.model import B2BTarget, CallbackPurpose, CallbackToken, ReceiptCorrection, token_key
from cryptopay.core.rails import rail_for
from cryptopay.core.settlement import (
    Settlement,
    SettlementMethod,
    SettlementProfile,
    SettlementSchedule,
    SettlementState,
)
from cryptopay.core.testing.payments import payments_storage
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.support.sql_engines import SQL_BACKENDS, backend_engine, race

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EVM = "0xAbCdEf0000000000000000000000000000000001"


@pytest.fixture
def storage(engine):
    return payments_storage() if engine is None else SqlStorage(engine)


def settlement(n: int, cutoff: datetime, merchant_id: str = "m1", state=SettlementState.PAYING) -> Settlement:
    return Settlement(
        id=f"stl_{n}",
        merchant_id=merchant_id,
        cutoff=cutoff,
        created_at=cutoff,
        complete_by=cutoff,
        method=SettlementMethod.MPESA_B2C,
        destination="254712345678",
        state=state,
        converted=Money.of("99.5", USDT),
        credited=Money.of("12870.33", KES),
    )


def payout(n: int, *, originator: str | None = None, at: datetime = NOW, destination: str = "254712345678") -> Payout:
    return Payout(
        id=f"po_{n}",
        settlement_id="stl_1",
        merchant_id="m1",
        originator_id=originator or f"po_{n}-1",
        method=SettlementMethod.MPESA_B2C,
        destination=destination,
        amount=Money.of(5000, KES),
        charge=Money.of("15.50", KES),
        hold_id=f"hld_{n}",
        created_at=at,
    )


def test_waiting_payouts_and_refunds_are_read_a_keyset_page_at_a_time(storage):
    """``by_state(after=(created_at, id))`` gives the queue past that item, oldest first, ties by id: how a worker's
    run reads past the items compliance holds (``page_past``); alike on memory, SQLite and PostgreSQL."""
    from cryptopay.core.payments.model import Refund, RefundState

    later = NOW + timedelta(seconds=1)
    made = [payout(3, at=later), payout(1), payout(2), payout(4, at=later)]
    refunds = [
        Refund(
            id=f"rf_{n}",
            invoice_id="inv_1",
            merchant_id="m1",
            rail_key="tron-usdt",
            network="tron",
            address="TAddr",
            amount=Money.of(1, USDT),
            hold_id=f"hld_r{n}",
            requested_by="user:u",
            created_at=at,
            reason="customer",
        )
        for n, at in ((2, later), (1, NOW), (3, NOW), (4, later))
    ]
    with storage.unit_of_work() as uow:
        for p in made:
            uow.payouts.add(p)
        for r in refunds:
            uow.refunds.add(r)
    with storage.unit_of_work() as uow:
        planned = uow.payouts.by_state
        assert [p.id for p in planned(PayoutState.PLANNED, limit=2)] == ["po_1", "po_2"]
        assert [p.id for p in planned(PayoutState.PLANNED, limit=2, after=(NOW, "po_2"))] == ["po_3", "po_4"]
        assert [p.id for p in planned(PayoutState.PLANNED, limit=9, after=(later, "po_3"))] == ["po_4"]
        assert planned(PayoutState.PLANNED, after=(later, "po_4")) == []
        requested = uow.refunds.by_state
        assert [r.id for r in requested(RefundState.REQUESTED, after=(NOW, "rf_1"))] == ["rf_3", "rf_2", "rf_4"]
        assert [r.id for r in requested(RefundState.REQUESTED, limit=1, after=(later, "rf_2"))] == ["rf_4"]


def test_deposit_indexes_are_never_handed_out_twice(storage):
    """Eight concurrent transactions each allocate an index: eight distinct ones, per network, from zero."""

    def allocate(_: int) -> int:
        with storage.unit_of_work() as uow:
            return uow.deposit_addresses.allocate_index("ethereum")

    assert sorted(race(8, allocate)) == list(range(8))
    with storage.unit_of_work() as uow:
        assert uow.deposit_addresses.allocate_index("tron") == 0
        assert uow.deposit_addresses.allocate_index("ethereum") == 8


def test_concurrent_evm_allocations_on_different_networks_never_share_an_index(storage):
    """Twelve concurrent transactions each take an index for one EVM network (ethereum, polygon, bsc in turn, as
    invoices on those networks do): twelve distinct indexes, so no EVM address is given twice across networks."""
    networks = ("ethereum", "polygon", "bsc")

    def allocate(n: int) -> int:
        with storage.unit_of_work() as uow:
            (counters,) = index_families([networks[n % 3]])
            return uow.deposit_addresses.allocate_shared_index(counters)

    assert sorted(race(12, allocate)) == list(range(12))
    with storage.unit_of_work() as uow:
        assert [uow.deposit_addresses.allocate_index(n) for n in networks] == [12, 12, 12]
        assert uow.deposit_addresses.allocate_index("tron") == 0


def test_deposit_addresses_are_unique_by_key_and_index(storage):
    """An EVM address is taken whatever its case, an index once per network; lookups ignore EVM case."""
    first = DepositAddress("ethereum", EVM, 0, "inv_1", "m1", NOW)
    with storage.unit_of_work() as uow:
        uow.deposit_addresses.add(first)
        uow.deposit_addresses.add(DepositAddress("tron", "TXyZ", 0, "inv_2", "m1", NOW))
    for clash in (
        DepositAddress("ethereum", EVM.lower(), 1, "inv_3", "m1", NOW),
        DepositAddress("ethereum", "0x" + "2" * 40, 0, "inv_3", "m1", NOW),
    ):
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.deposit_addresses.add(clash)
    with storage.unit_of_work() as uow:
        assert uow.deposit_addresses.by_address("ethereum", EVM.upper().replace("0X", "0x")) == first
        assert uow.deposit_addresses.by_address("tron", "txyz") is None
        assert uow.deposit_addresses.addresses_for("ethereum") == [EVM]


def test_an_address_is_found_on_any_of_several_networks_in_its_key_form(storage):
    """``by_address_on``: one lookup over a family of networks (an EVM key on any EVM network), wallets' and
    invoices' addresses alike, compared as ``address_key`` has them (EVM and bech32 case-insensitive, base58 not)."""
    wallet = DepositAddress("ethereum", EVM, 3, None, None, NOW, user_id="usr_1")
    invoice = DepositAddress("tron", "TXyZ", 0, "inv_2", "m1", NOW)
    bech32 = DepositAddress("bitcoin", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", 0, "inv_3", "m1", NOW)
    with storage.unit_of_work() as uow:
        for address in (wallet, invoice, bech32):
            uow.deposit_addresses.add(address)
    with storage.unit_of_work() as uow:
        found = uow.deposit_addresses
        assert found.by_address_on(("bsc", "ethereum", "polygon"), EVM.lower()) == wallet
        assert found.by_address_on(("ethereum",), EVM.upper().replace("0X", "0x")) == wallet
        assert found.by_address_on(("bsc", "polygon"), EVM) is None  # not derived there (a family lookup finds it)
        assert found.by_address_on(("tron",), "TXyZ") == invoice
        assert found.by_address_on(("tron",), "txyz") is None  # base58 is case-sensitive
        assert found.by_address_on(("bitcoin",), bech32.address.upper()) == bech32
        assert found.by_address_on(("tron", "bitcoin"), " TXyZ ") == invoice
        assert found.by_address_on((), EVM) is None


def test_one_settlement_per_merchant_and_cut_off(storage):
    """A second settlement at one cut-off is a Conflict; the latest cut-off is the last; states list oldest first."""
    day = timedelta(days=1)
    with storage.unit_of_work() as uow:
        uow.settlements.add(settlement(1, NOW))
        uow.settlements.add(settlement(2, NOW + day, state=SettlementState.SKIPPED))
        uow.settlements.add(settlement(3, NOW, merchant_id="m2"))
    with pytest.raises(Conflict), storage.unit_of_work() as uow:
        uow.settlements.add(settlement(4, NOW))
    with storage.unit_of_work() as uow:
        assert uow.settlements.get("stl_1") == settlement(1, NOW)
        assert uow.settlements.last_for("m1").id == "stl_2" and uow.settlements.last_for("m9") is None
        each = uow.settlements.last_for_each(["m1", "m2", "m9"])
        assert {m: s.id for m, s in each.items()} == {"m1": "stl_2", "m2": "stl_3"}
        assert [s.id for s in uow.settlements.by_state(SettlementState.PAYING)] == ["stl_1", "stl_3"]
        assert [s.id for s in uow.settlements.list_for_merchant("m1", before=None, limit=5)] == ["stl_2", "stl_1"]
        assert [s.id for s in uow.settlements.list_for_merchant("m1", before="stl_2", limit=5)] == ["stl_1"]


def test_payouts_are_found_by_every_id_mpesa_echoes(storage):
    """Originator ids are unique; payouts are found by originator and conversation ids and by every answer key."""
    asked = payout(1)
    sent = CallbackToken("d1", CallbackPurpose.RESULT, "send:1")
    asked.submitted(NOW, callbacks=(sent,), check_at=NOW + timedelta(minutes=2))
    asked.acknowledged(originator_id=None, conversation_id="AG_1")
    asked.unknown(NOW, "no answer", check_at=NOW + timedelta(minutes=2))
    status = CallbackToken("d2", CallbackPurpose.STATUS_RESULT, "pq_1")
    asked.asking(PayoutQuery(query_id="pq_1", asked_at=NOW), (status,), check_at=NOW + timedelta(minutes=2))
    with storage.unit_of_work() as uow:
        uow.payouts.add(payout(1))
        uow.payouts.update(asked)
        uow.payouts.add(payout(2, at=NOW + timedelta(seconds=1), destination="254700000000"))
    with pytest.raises(Conflict), storage.unit_of_work() as uow:
        uow.payouts.add(payout(3, originator="po_1-1"))
    with storage.unit_of_work() as uow:
        assert uow.payouts.get("po_1") == asked
        assert uow.payouts.by_originator_id("po_2-1").id == "po_2"
        assert uow.payouts.by_conversation_id("AG_1").id == "po_1"
        assert uow.payouts.by_answer_key(token_key("d1")).id == uow.payouts.by_answer_key(token_key("d2")).id == "po_1"
        assert uow.payouts.by_answer_key(token_key("d9")) is None
        assert [p.id for p in uow.payouts.due_for_status(NOW + timedelta(minutes=2))] == ["po_1"]
        assert uow.payouts.due_for_status(NOW + timedelta(minutes=1)) == []
        assert [p.id for p in uow.payouts.by_state(PayoutState.PLANNED)] == ["po_2"]
        assert [p.id for p in uow.payouts.for_settlement("stl_1")] == ["po_1", "po_2"]
        assert [p.id for p in uow.payouts.to_destination("254700000000", since=NOW)] == ["po_2"]
        both = uow.payouts.to_destinations(["254700000000", payout(1).destination, "254799999999"], since=NOW)
        assert [p.id for p in both] == ["po_1", "po_2"]
        assert uow.payouts.to_destinations(["254700000000"], since=NOW + timedelta(seconds=2)) == []


def test_a_bank_payout_keeps_its_b2b_target_and_its_bank_file_export(storage):
    """A B2B target (paybill + account reference) and a bank transfer's export time survive a round trip."""
    by_paybill = attrs.evolve(
        payout(5, originator="x"),
        originator_id=None,
        method=SettlementMethod.BANK,
        destination="EQUITY:0170123456789",
        b2b=B2BTarget.paybill("247247", "0170123456789"),
    )
    transfer = attrs.evolve(
        payout(6, originator="y"), originator_id=None, method=SettlementMethod.BANK, destination="CITI:12345678"
    )
    transfer.awaiting_transfer(NOW)
    transfer.exported_at = NOW + timedelta(minutes=5)
    with storage.unit_of_work() as uow:
        uow.payouts.add(by_paybill)
        uow.payouts.add(transfer)
    with storage.unit_of_work() as uow:
        assert uow.payouts.get("po_5") == by_paybill and uow.payouts.get("po_6") == transfer
        assert uow.payouts.get("po_6").is_bank_transfer and not uow.payouts.get("po_5").is_bank_transfer
        assert [p.id for p in uow.payouts.by_state(PayoutState.SUBMITTED)] == ["po_6"]
        assert uow.payouts.due_for_status(NOW + timedelta(days=1)) == []


def test_a_payouts_conclusion_from_mpesas_record_survives_a_round_trip(storage):
    """R10-4: the conclusion proposed for an unknown payout (outcome, receipt, evidence, who, what the statement
    uploaded showed of it) and its approval."""
    from cryptopay.core.payouts.model import Conclusion, ConclusionOutcome, StatementEvidence

    unknown = attrs.evolve(payout(7, originator="z"), state=PayoutState.UNKNOWN, unknown_since=NOW)
    unknown.conclusion = Conclusion(
        outcome=ConclusionOutcome.COMPLETED,
        receipt="NLJ7RT61SV",
        evidence="statement of 600000, 2026-01-05",
        note="on the statement",
        by="ops:ann",
        at=NOW,
        statement=StatementEvidence(
            digest="ab" * 32,
            shortcode="600000",
            covers_from=NOW - timedelta(days=1),
            covers_to=NOW + timedelta(days=1),
            payments=3,
            receipt="NLJ7RT61SV",
            paid_at=NOW + timedelta(seconds=20),
            paid=Money.of("990", KES),
        ),
    )
    with storage.unit_of_work() as uow:
        uow.payouts.add(unknown)
    approved = attrs.evolve(unknown.conclusion, approved_by="user:usr_bob", approved_at=NOW + timedelta(hours=1))
    with storage.unit_of_work() as uow:
        assert uow.payouts.get("po_7") == unknown
        found = uow.payouts.get("po_7")
        found.conclusion = approved
        uow.payouts.update(found)
    with storage.unit_of_work() as uow:
        assert uow.payouts.get("po_7").conclusion == approved


def credit(n: int, at: datetime, merchant_id: str = "m1") -> PaymentCredit:
    return PaymentCredit(
        id=f"crd_{n}",
        invoice_id=f"inv_{n}",
        merchant_id=merchant_id,
        transfer=("tron", f"0x{n:064x}", 0),
        generation=0,
        received=Money.of("100", USDT),
        fee=Money.of("1", USDT),
        entry_id=f"ent_{n}",
        credited_at=at,
    )


def test_credits_are_found_by_merchant_and_time_a_page_at_a_time(storage):
    """A report's credits: one merchant's, credited in [since, until), by id after the cursor, at most limit."""
    with storage.unit_of_work() as uow:
        for n, minutes in enumerate((0, 5, 10, 15), start=1):
            uow.payment_credits.add(credit(n, NOW + timedelta(minutes=minutes)))
        uow.payment_credits.add(credit(9, NOW + timedelta(minutes=5), merchant_id="m2"))
    until = NOW + timedelta(minutes=15)
    with storage.unit_of_work() as uow:
        found = uow.payment_credits.credited_between("m1", NOW, until, after=None, limit=10)
        assert [c.id for c in found] == ["crd_1", "crd_2", "crd_3"] and found[0] == credit(1, NOW)
        page = uow.payment_credits.credited_between("m1", NOW, until, after="crd_1", limit=1)
        assert [c.id for c in page] == ["crd_2"]
        assert uow.payment_credits.credited_between("m3", NOW, until, after=None, limit=10) == []


def test_held_credits_wait_for_an_officer_until_one_decides(storage):
    """A held credit's alerts and decision round-trip; ``awaiting_decision`` lists the held ones nobody decided, by id
    (not a plain credit, a decided one, or one whose payment left the chain)."""
    held = [attrs.evolve(credit(n, NOW), held=True, alerts=(f"alr_{n}",)) for n in (1, 2, 3)]
    with storage.unit_of_work() as uow:
        for item in (*held, credit(4, NOW)):
            uow.payment_credits.add(item)
    with storage.unit_of_work() as uow:
        assert [c.id for c in uow.payment_credits.awaiting_decision(after=None, limit=10)] == [
            "crd_1",
            "crd_2",
            "crd_3",
        ]
        decided = uow.payment_credits.get("crd_2", lock=True)
        assert decided == held[1]
        decided.decision, decided.decided_by, decided.decided_at = HoldDecision.RELEASED, "usr_ann", NOW
        decided.decision_note, decided.release_entry_id = "false positive", "ent_rel"
        uow.payment_credits.update(decided)
        gone = attrs.evolve(held[2], reversal_entry_id="ent_rev")
        uow.payment_credits.update(gone)
    with storage.unit_of_work() as uow:
        assert [c.id for c in uow.payment_credits.awaiting_decision(after=None, limit=10)] == ["crd_1"]
        assert uow.payment_credits.awaiting_decision(after="crd_1", limit=10) == []
        assert uow.payment_credits.get("crd_2") == decided and uow.payment_credits.get("crd_9") is None


class SqlPaymentsStack(PaymentsStack):
    """The in-memory deployment of the payment use cases, with its storage and ledger swapped for SQL."""

    def __init__(self, storage: SqlStorage, *, networks: Sequence[str] = ("tron",)) -> None:
        super().__init__(networks=networks)
        self.storage, self.uow = storage, storage.unit_of_work
        self.ledger = Ledger(SqlLedgerStore(storage.engine), clock=self.clock, ids=self.ids)
        self.wire_use_cases()


@pytest.fixture(params=SQL_BACKENDS)
def sql_engine(request, tmp_path):
    yield from backend_engine(request, tmp_path)


def test_the_payment_use_cases_run_end_to_end_on_sql(sql_engine):
    """Invoice, payment, confirmations, instant settlement and an M-Pesa payout, all through the SQL repositories."""
    stack = SqlPaymentsStack(SqlStorage(sql_engine))
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile)
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT), metadata={"cart": "c-88"})
    assert stack.invoice(invoice.id).metadata == {"cart": "c-88"}
    stack.pay(invoice.id)
    stack.tick(minutes=1)
    assert stack.invoice(invoice.id).state is InvoiceState.PROCESSING
    stack.confirm(3)
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED
    [run] = stack.settling.run_settlements()
    [sent] = stack.payouts.submit_payouts()
    [done] = stack.deliver_callbacks()
    assert sent.id == run.payouts[0].id and done.state is PayoutState.COMPLETED and done.receipt
    with stack.uow() as uow:
        assert uow.settlements.get(sent.settlement_id).state is SettlementState.COMPLETED
        assert [c.invoice_id for c in uow.payment_credits.for_invoice(invoice.id)] == [invoice.id]
        assert uow.invoices.by_address("tron", invoice.options[0].address).id == invoice.id
    assert stack.books_balanced()


@pytest.fixture
def any_stack(engine):
    return PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))


def test_an_invoice_is_found_by_its_public_id_only(any_stack):
    """The checkout page's public id finds its invoice (with its return URL); another id finds nothing."""
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    any_stack.add_merchant("m1", settlement=profile)
    invoicing = any_stack.invoicing
    first = invoicing.create_invoice("m1", Money.of("100", USDT), return_url="https://duka.example/done")
    second = invoicing.create_invoice("m1", Money.of("5", USDT))
    assert first.public_id and second.public_id and first.public_id != second.public_id
    assert first.public_id not in first.id and len(first.public_id) == 22
    found = invoicing.get_public_invoice(first.public_id)
    assert found.id == first.id and found.return_url == "https://duka.example/done"
    assert invoicing.get_public_invoice(second.public_id).id == second.id
    with any_stack.uow() as uow:
        assert uow.invoices.by_public_id("not-" + first.public_id) is None
    with pytest.raises(InvalidInput):
        invoicing.create_invoice("m1", Money.of("1", USDT), return_url="javascript:alert(1)")


def test_a_status_query_s_ids_learnt_later_find_its_payout_too(storage):
    """M-Pesa's ids for a status query, stored after its acknowledgement, become answer keys as well."""
    asked = payout(1)
    asked.asking(PayoutQuery(query_id="pq_1", asked_at=NOW), (), check_at=NOW)
    asked.query_answered("pq_1", originator_id="16740-1", conversation_id="AG_9")
    with storage.unit_of_work() as uow:
        uow.payouts.add(asked)
    with storage.unit_of_work() as uow:
        assert uow.payouts.by_answer_key("query:16740-1").id == "po_1"
        assert uow.payouts.by_answer_key("query-conversation:AG_9").id == "po_1"


def test_payouts_are_found_by_their_receipt(storage):
    """LASTREAD L-6: the payouts booked with one M-Pesa receipt (a conclusion proposed naming it is not a booking)."""
    paid = payout(1)
    paid.completed(NOW, receipt="SBX1PAID", code="0", desc="ok")
    other = payout(2)
    with storage.unit_of_work() as uow:
        uow.payouts.add(paid)
        uow.payouts.add(other)
    with storage.unit_of_work() as uow:
        assert [p.id for p in uow.payouts.with_receipt("SBX1PAID")] == ["po_1"]
        assert uow.payouts.with_receipt("SBX1") == [] and uow.payouts.with_receipt("%") == []


def test_a_payout_booked_after_it_was_added_is_found_by_its_receipt_and_by_its_corrected_one_only(storage):
    """The receipt is kept on every update (an indexed column on SQL): found once booked; once corrected, by the new
    receipt only, the correction (the old receipt with it) kept with the payout."""
    sent = payout(1)
    with storage.unit_of_work() as uow:
        uow.payouts.add(sent)
    with storage.unit_of_work() as uow:
        assert uow.payouts.with_receipt("SBX7LATE") == []
        booked = uow.payouts.get("po_1")
        booked.completed(NOW, receipt="SBX7LATE", code="0", desc="ok")
        uow.payouts.update(booked)
    with storage.unit_of_work() as uow:
        assert [p.id for p in uow.payouts.with_receipt("SBX7LATE")] == ["po_1"]
        corrected = uow.payouts.get("po_1")
        fixed = ReceiptCorrection(before="SBX7LATE", receipt="SBX7RIGHT", reason="typo", by="user:a", at=NOW)
        corrected.receipt, corrected.corrections = "SBX7RIGHT", (attrs.evolve(fixed, approved_by="user:b"),)
        uow.payouts.update(corrected)
    with storage.unit_of_work() as uow:
        assert uow.payouts.with_receipt("SBX7LATE") == [] and list(uow.payouts.with_receipts(["SBX7LATE"])) == []
        [found] = uow.payouts.with_receipt("SBX7RIGHT")
        assert [(c.before, c.receipt, c.approved_by) for c in found.corrections] == [
            ("SBX7LATE", "SBX7RIGHT", "user:b")
        ]


def test_a_result_with_an_overlong_receipt_is_still_booked(storage):
    """A receipt longer than any M-Pesa's or bank's (a malformed answer) is kept on the payout, not indexed: its
    result is written all the same, alike on memory, SQLite and PostgreSQL."""
    sent = payout(1)
    with storage.unit_of_work() as uow:
        uow.payouts.add(sent)
    with storage.unit_of_work() as uow:
        booked = uow.payouts.get("po_1")
        booked.completed(NOW, receipt="R" * 300, code="0", desc="ok")
        uow.payouts.update(booked)
    with storage.unit_of_work() as uow:
        assert uow.payouts.get("po_1").receipt == "R" * 300


def test_payouts_are_found_by_many_receipts_at_once(storage):
    """reader2 L2-4: a statement's receipts in one read, by receipt, oldest first; a receipt no payout is booked with
    (a prefix of one, a LIKE wildcard, a conclusion's proposal) is absent."""
    first, second, bank, other = payout(1), payout(2, at=NOW + timedelta(minutes=1)), payout(3), payout(4)
    first.completed(NOW, receipt="SBX1PAID", code="0", desc="ok")
    second.completed(NOW, receipt="SBX2PAID", code="0", desc="ok")
    bank.completed(NOW, receipt="FT-26/337.A", code="bank", desc="confirmed")
    with storage.unit_of_work() as uow:
        for each in (first, second, bank, other):
            uow.payouts.add(each)
    with storage.unit_of_work() as uow:
        found = uow.payouts.with_receipts(["SBX1PAID", "SBX2PAID", "FT-26/337.A", "SBX1", "%", "SBX9NONE"])
        assert {r: [p.id for p in ps] for r, ps in found.items()} == {
            "SBX1PAID": ["po_1"],
            "SBX2PAID": ["po_2"],
            "FT-26/337.A": ["po_3"],
        }
        assert uow.payouts.with_receipts([]) == {}


def test_payouts_are_found_by_a_bank_reference(storage):
    """R10-7: a bank transfer's reference (with '-', '/' or '.') finds the payout booked with it, and only it."""
    paid = payout(1)
    paid.completed(NOW, receipt="FT-26/337.A", code="bank", desc="confirmed")
    with storage.unit_of_work() as uow:
        uow.payouts.add(paid)
    with storage.unit_of_work() as uow:
        assert [p.id for p in uow.payouts.with_receipt("FT-26/337.A")] == ["po_1"]
        assert uow.payouts.with_receipt("FT-26/337") == [] and uow.payouts.with_receipt("FT_26%") == []
    """A kept answer is pending, oldest first, until a matching attempt closes it."""
    first = UnmatchedAnswer(id="ans_1", received_at=NOW, purpose=CallbackPurpose.STATUS_RESULT, body='{"Result": {}}')
    second = UnmatchedAnswer(
        id="ans_2", received_at=NOW + timedelta(seconds=1), purpose=CallbackPurpose.RESULT, body="{}"
    )
    with storage.unit_of_work() as uow:
        uow.unmatched_answers.add(second)
        uow.unmatched_answers.add(first)
    with storage.unit_of_work() as uow:
        assert [a.id for a in uow.unmatched_answers.pending()] == ["ans_1", "ans_2"]
        kept = uow.unmatched_answers.get("ans_1")
        assert kept == first
        kept.tried(NOW, "po_1")
        uow.unmatched_answers.update(kept)
    with storage.unit_of_work() as uow:
        assert [a.id for a in uow.unmatched_answers.pending()] == ["ans_2"]
        assert uow.unmatched_answers.get("ans_1").payout_id == "po_1"


def test_payouts_are_listed_per_merchant_and_per_state_a_page_at_a_time(storage):
    """A merchant's payouts (by their own owner) and every merchant's payouts in a state come newest
    first (by id, descending), strictly before the cursor, at most ``limit``; the read model walks every page."""
    with storage.unit_of_work() as uow:
        uow.settlements.add(settlement(1, NOW))
        uow.settlements.add(settlement(2, NOW, merchant_id="m2"))
        for n in (3, 1, 2):
            uow.payouts.add(payout(n))
        uow.payouts.add(attrs.evolve(payout(4), settlement_id="stl_2", merchant_id="m2"))
        done = payout(2)
        done.submitted(NOW, callbacks=(CallbackToken("d", CallbackPurpose.RESULT, "send:1"),), check_at=NOW)
        uow.payouts.update(done)
    with storage.unit_of_work() as uow:
        first = uow.payouts.list_for_merchant("m1", before=None, limit=2)
        assert [p.id for p in first] == ["po_3", "po_2"]
        assert [p.id for p in uow.payouts.list_for_merchant("m1", before="po_2", limit=2)] == ["po_1"]
        planned = uow.payouts.list_for_merchant("m1", before=None, limit=9, state=PayoutState.PLANNED)
        assert [p.id for p in planned] == ["po_3", "po_1"]
        in_state = uow.payouts.list_in_state(PayoutState.PLANNED, before="po_4", limit=9)
        assert [p.id for p in in_state] == ["po_3", "po_1"]
        assert uow.payouts.list_for_merchant("m9", before=None, limit=9) == []
    listings = Listings(uow=storage.unit_of_work)
    walked = each(lambda before, limit: listings.payouts("m1", before=before, limit=limit), lambda p: p.id, page=1)
    assert [p.id for p in walked] == ["po_3", "po_2", "po_1"]
    assert [p.id for p in listings.payouts(None, before=None, limit=9, state=PayoutState.SUBMITTED)] == ["po_2"]
    with pytest.raises(InvalidInput):
        listings.payouts(None, before=None, limit=9)


def test_a_wallets_sale_bill_and_remittance_payouts_are_listed_under_their_owner(storage):
    """Payouts with no settlement behind them (a wallet's sale and bill, the remittance desk's) are listed under the
    ``merchant_id`` they carry, keep their kind, and never appear under anyone else."""
    with storage.unit_of_work() as uow:
        uow.settlements.add(settlement(1, NOW))
        uow.payouts.add(payout(1))
        uow.payouts.add(attrs.evolve(payout(2), settlement_id="sel_1", merchant_id="usr_1", kind=PayoutKind.SALE))
        uow.payouts.add(attrs.evolve(payout(3), settlement_id="bil_1", merchant_id="usr_1", kind=PayoutKind.BILL))
        uow.payouts.add(
            attrs.evolve(payout(4), settlement_id="rem_1", merchant_id="remittances", kind=PayoutKind.REMITTANCE)
        )
    with storage.unit_of_work() as uow:
        mine = uow.payouts.list_for_merchant("usr_1", before=None, limit=9)
        assert [(p.id, p.kind) for p in mine] == [("po_3", PayoutKind.BILL), ("po_2", PayoutKind.SALE)]
        assert [p.id for p in uow.payouts.list_for_merchant("usr_1", before="po_3", limit=9)] == ["po_2"]
        assert [p.id for p in uow.payouts.list_for_merchant("m1", before=None, limit=9)] == ["po_1"]
        desk = uow.payouts.list_for_merchant("remittances", before=None, limit=9, state=PayoutState.PLANNED)
        assert [(p.id, p.remark) for p in desk] == [("po_4", "Remittance rem_1")]
    listings = Listings(uow=storage.unit_of_work)  # review5 S6: ``cryptopay payouts list`` lists them all
    assert [(p.id, p.kind) for p in listings.every_payout()] == [
        ("po_4", PayoutKind.REMITTANCE),
        ("po_3", PayoutKind.BILL),
        ("po_2", PayoutKind.SALE),
        ("po_1", PayoutKind.SETTLEMENT),
    ]
    assert [p.id for p in listings.every_payout(PayoutState.PLANNED)] == ["po_4", "po_3", "po_2", "po_1"]
    assert list(listings.every_payout(PayoutState.COMPLETED)) == []


def test_invoices_are_listed_per_merchant_in_a_state(engine):
    """A merchant's invoices are listed newest first, only those in the state asked for when one is named."""
    stack = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    invoices = [stack.invoicing.create_invoice("m1", Money.of(100 * n, KES)) for n in (1, 2, 3)]
    stack.pay(invoices[1].id)
    stack.sync()
    listed = stack.listings.invoices("m1", before=None, limit=9, state=InvoiceState.NEW)
    assert [i.id for i in listed] == [invoices[2].id, invoices[0].id]
    assert [i.id for i in stack.listings.invoices("m1", before=None, limit=9)] == [i.id for i in reversed(invoices)]
    assert [i.id for i in stack.listings.invoices("m1", before=invoices[1].id, limit=9)] == [invoices[0].id]
    (processing,) = stack.listings.each_invoice("m1", InvoiceState.PROCESSING)
    assert processing.id == invoices[1].id


def test_invoices_and_confirmed_payments_are_counted(engine):
    """Invoices by state, those with payments seen but not confirmed, and credits booked: counted alike everywhere."""
    stack = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    invoices = [stack.invoicing.create_invoice("m1", Money.of(100 * n, KES)) for n in (1, 2, 3)]
    stack.pay(invoices[1].id)
    stack.tick(minutes=1)
    with stack.uow() as uow:
        assert uow.invoices.count_by_state() == {InvoiceState.NEW: 2, InvoiceState.PROCESSING: 1}
        assert (uow.invoices.count_unconfirmed(), uow.payment_credits.count()) == (1, 0)
    stack.confirm(3)
    with stack.uow() as uow:
        assert uow.invoices.count_by_state() == {InvoiceState.NEW: 2, InvoiceState.SETTLED: 1}
        assert (uow.invoices.count_unconfirmed(), uow.payment_credits.count()) == (0, 1)


def test_invoices_by_creation_time_order_text_and_open_count_are_bounded_queries(engine):
    """The dashboard's reads: invoices created in a span (a page at a time), order ids containing a text in any case
    (``%`` and ``_`` are plain characters), and the open count, per merchant, alike everywhere."""
    stack = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    stack.add_merchant("m2", settlement=profile)
    start = stack.clock.now()
    orders = ("A-1001", "a-1002", "B_7", "100%", None)
    made = []
    for order in orders:
        made.append(stack.invoicing.create_invoice("m1", Money.of(100, KES), order_id=order))
        stack.tick(minutes=2)
    stack.invoicing.create_invoice("m2", Money.of(100, KES), order_id="A-1003")
    stack.pay(made[0].id)
    stack.sync()
    with stack.uow() as uow:
        found = uow.invoices.find_by_order("m1", "a-10", limit=9)
        assert [i.id for i in found] == [made[1].id, made[0].id]
        assert [i.id for i in uow.invoices.find_by_order("m1", "A-10", limit=1)] == [made[1].id]
        assert [i.id for i in uow.invoices.find_by_order("m1", "_", limit=9)] == [made[2].id]
        assert [i.id for i in uow.invoices.find_by_order("m1", "0%", limit=9)] == [made[3].id]
        assert uow.invoices.find_by_order("m1", "zzz", limit=9) == []
        span = uow.invoices.created_between(
            "m1", start + timedelta(minutes=1), start + timedelta(minutes=5), before=None, limit=9
        )
        assert [i.id for i in span] == [made[2].id, made[1].id]
        assert uow.invoices.count_for_merchant("m1", (InvoiceState.NEW,)) == 4
        assert uow.invoices.count_for_merchant("m1", (InvoiceState.NEW, InvoiceState.PROCESSING)) == 5
        assert uow.invoices.count_for_merchant("m9", (InvoiceState.NEW,)) == 0
    walked = stack.listings.invoices_created("m1", start, start + timedelta(days=1))
    assert [i.id for i in walked] == [i.id for i in reversed(made)]


def test_store_invoice_bounds_round_trip_and_a_store_without_them_has_none(storage):
    """A store's minimum and maximum invoice amounts are kept exactly; a store saved without them reads back None."""
    rails = [rail_for("tron", "USDT")]
    bounded = StoreSettings(merchant_id="m1", rails=rails, min_invoice=Decimal("100"), max_invoice=Decimal("2500.50"))
    with storage.unit_of_work() as uow:
        uow.stores.put(bounded)
        uow.stores.put(StoreSettings(merchant_id="m2", rails=rails))
    with storage.unit_of_work() as uow:
        assert uow.stores.get("m1") == bounded
        found = uow.stores.get("m2")
    assert found is not None and (found.min_invoice, found.max_invoice) == (None, None)


def test_merchants_settling_to_one_number_at_once_never_pass_its_daily_limit(sql_engine):
    """Four merchants settle about KES 200,000 each, at the same instant, to one M-Pesa number that receives at most
    KES 500,000 a day: together they plan exactly the limit, whatever the interleaving. On PostgreSQL the number's
    advisory lock (``lock_destination``, taken first in each run) is what makes it so: without it every run reads the
    day's payouts before the others commit and plans its whole balance (KES 800,000)."""
    from cryptopay.core.kyc.limits import day_bounds
    from cryptopay.core.mobile_money.limits import DAILY_CUSTOMER_LIMIT

    phone, merchants = "254712345678", [f"m{n}" for n in range(4)]
    stack = SqlPaymentsStack(SqlStorage(sql_engine))
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, phone)
    for merchant in merchants:
        stack.add_merchant(merchant, settlement=profile)
        stack.pay(stack.invoicing.create_invoice(merchant, Money.of("1550", USDT)).id)
    stack.tick(minutes=1)
    stack.confirm(3)

    runs = race(len(merchants), lambda n: stack.settling.run_settlements(merchant_id=merchants[n]))
    with stack.uow() as uow:
        today = uow.payouts.to_destination(phone, since=day_bounds(stack.clock.now())[0])
    planned = sum((p.amount for p in today if p.state is not PayoutState.FAILED), Money.zero(KES))
    assert planned == DAILY_CUSTOMER_LIMIT, [(p.merchant_id, str(p.amount.amount)) for p in today]
    assert sum(len(run.payouts) for [run] in runs) == len(today)
    assert stack.books_balanced()


def _settled_to_one_number(stack: PaymentsStack, phone: str, failing: int, paid: int) -> list[Payout]:
    """``failing`` merchants settle about KES 200,000 each to ``phone`` and their payouts fail definitively (the
    number unreachable), then ``paid`` more settle the same to it (planned, counted in its day): the failed payouts."""
    from cryptopay.core.testing.mobile_money import Scenario

    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, phone)
    merchants = [f"m{n}" for n in range(failing + paid)]
    for merchant in merchants:
        stack.add_merchant(merchant, settlement=profile)
        stack.pay(stack.invoicing.create_invoice(merchant, Money.of("1550", USDT)).id)
    stack.tick(minutes=1)
    stack.confirm(3)
    stack.mpesa.set_scenario(phone, Scenario.UNREACHABLE)
    failed = []
    for merchant in merchants[:failing]:  # each fails before the next is planned: failed payouts count for nothing
        [run] = stack.settling.run_settlements(merchant_id=merchant)
        assert len(run.payouts) == 1, run.reason
        stack.payouts.submit_payouts()
        failed += [p for p in stack.deliver_callbacks() if p is not None]
    assert [p.state for p in failed] == [PayoutState.FAILED] * failing
    for payout in failed:  # failed by a callback: Transaction Status confirms it before a retry
        with pytest.raises(AwaitingStatus):
            stack.payouts.retry_failed_payout(payout.id, actor="ops:alice")
    stack.deliver_callbacks()
    stack.mpesa.set_scenario(phone, Scenario.SUCCESS)
    for merchant in merchants[failing:]:
        [run] = stack.settling.run_settlements(merchant_id=merchant)
        assert len(run.payouts) == 1, run.reason
    return failed


def _paid_today(stack: PaymentsStack, phone: str) -> Money:
    from cryptopay.core.kyc.limits import day_bounds

    with stack.uow() as uow:
        today = uow.payouts.to_destination(phone, since=day_bounds(stack.clock.now())[0])
    return sum((p.amount for p in today if p.state is not PayoutState.FAILED), Money.zero(KES))


def test_a_settlement_payout_retried_past_the_numbers_daily_limit_is_refused_until_the_next_day(any_stack):
    """A merchant's settlement payout of about KES 200,000 failed; two other merchants then settled about KES 400,000
    to the same M-Pesa number the same day. The operator's retry (the use case the CLI and the API call) is refused:
    M-Pesa pays one customer at most KES 500,000 a day. The refusal names the limit, what remains today and the day
    it is possible again, is audited, and changes nothing else; on that day the same retry makes the new attempt."""
    from cryptopay.core.errors import LimitExceeded
    from cryptopay.core.kyc.limits import day_bounds
    from cryptopay.core.mobile_money.limits import DAILY_CUSTOMER_LIMIT

    stack, phone = any_stack, "254712345678"
    [failed] = _settled_to_one_number(stack, phone, failing=1, paid=2)
    paid, balance = _paid_today(stack, phone), stack.balance(flows.merchant_liability("m0", KES))
    assert paid + failed.amount > DAILY_CUSTOMER_LIMIT >= paid
    tomorrow = day_bounds(stack.clock.now())[1]

    with pytest.raises(LimitExceeded, match="daily limit") as refused:
        stack.payouts.retry_failed_payout(failed.id, actor="ops:alice")
    left = DAILY_CUSTOMER_LIMIT - paid
    assert refused.value.details["limit"] == "mpesa.daily"
    assert refused.value.details["remaining"] == str(left.amount)
    assert refused.value.details["possible_from"] == tomorrow.date().isoformat()
    assert f"KES {left.amount:,} remains today" in refused.value.message
    assert tomorrow.date().isoformat() in refused.value.message and "500,000" in refused.value.message
    assert phone not in refused.value.message  # the number is masked
    with stack.uow() as uow:
        assert uow.payouts.get(failed.id).retried_by is None
        [record] = [r for r in uow.audit.about([f"payout:{failed.id}"]) if r.action == "payout.retry_refused"]
    assert (record.actor, dict(record.details)["possible_from"]) == ("ops:alice", tomorrow.date().isoformat())
    assert _paid_today(stack, phone) == paid
    assert stack.balance(flows.merchant_liability("m0", KES)) == balance and stack.books_balanced()

    stack.clock.set(tomorrow)
    again = stack.payouts.retry_failed_payout(failed.id, actor="ops:alice")
    assert (again.retry_of, again.amount, again.state) == (failed.id, failed.amount, PayoutState.PLANNED)
    assert stack.books_balanced()


def test_operators_retrying_payouts_to_one_number_at_once_never_pass_its_daily_limit(any_stack):
    """Four merchants' settlement payouts of about KES 200,000 to one number failed: its KES 500,000 daily limit has
    room for two of them again. Four operators retry them at the same instant: two new attempts are made and two
    retries are refused, whatever the interleaving. On PostgreSQL the number's advisory lock, taken by each retry
    before it reads the day's payouts, is what makes it so: without it the retries read the day before the others
    commit and plan up to KES 800,000 (it failed so in 3 runs of 3)."""
    from cryptopay.core.errors import LimitExceeded
    from cryptopay.core.mobile_money.limits import DAILY_CUSTOMER_LIMIT

    stack, phone = any_stack, "254712345678"
    failed = _settled_to_one_number(stack, phone, failing=4, paid=0)

    def retry(n: int) -> Payout | LimitExceeded:
        try:
            return stack.payouts.retry_failed_payout(failed[n].id, actor=f"ops:operator{n}")
        except LimitExceeded as refused:
            return refused

    results = race(len(failed), retry)
    assert sorted(isinstance(r, LimitExceeded) for r in results) == [False, False, True, True], results
    assert _paid_today(stack, phone) <= DAILY_CUSTOMER_LIMIT
    assert stack.books_balanced()


def test_watched_invoices_are_found_by_merchant_and_exception(engine):
    """``watched_with_exception``: a merchant's invoices still watched whose exception is one asked for (an
    overpaid one), not those without (paid exactly), another merchant's, another exception, nor any once its
    monitoring window is over; alike everywhere (on SQL, the ``exception`` column and its index, 0040)."""
    stack = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    stack.add_merchant("m2", settlement=profile)
    over, exact = (stack.invoicing.create_invoice("m1", Money.of(100, KES)) for _ in range(2))
    elsewhere = stack.invoicing.create_invoice("m2", Money.of(100, KES))
    for invoice in (over, elsewhere):
        due = invoice.options[0].due
        stack.pay(invoice.id, due + due)
    stack.pay(exact.id)
    stack.confirm(3)
    assert stack.invoice(over.id).exception is InvoiceException.PAID_OVER
    wanted = (InvoiceException.PAID_OVER, InvoiceException.PAID_LATE)
    closes = stack.invoice(over.id).monitoring_until
    with stack.uow() as uow:
        now = stack.clock.now()
        assert [i.id for i in uow.invoices.watched_with_exception("m1", wanted, now)] == [over.id]
        assert [i.id for i in uow.invoices.watched_with_exception("m2", wanted, now)] == [elsewhere.id]
        assert uow.invoices.watched_with_exception("m1", (InvoiceException.PAID_LATE,), now) == []
        assert uow.invoices.watched_with_exception("m1", wanted, closes) == []


def test_a_held_credit_reads_back_held(storage):
    """A payment compliance held (a listed payer) keeps its ``held`` mark; older rows without it read as not held."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with storage.unit_of_work() as uow:
        uow.payment_credits.add(attrs.evolve(credit(91, at), held=True, fee=Money.zero(USDT)))
        uow.payment_credits.add(credit(92, at))
    with storage.unit_of_work() as uow:
        assert [c.held for c in uow.payment_credits.for_invoice("inv_91")] == [True]
        assert [c.held for c in uow.payment_credits.for_invoice("inv_92")] == [False]


def test_a_wallets_sales_are_listed_once_each_newest_first_a_page_at_a_time(storage):
    """``objects_of``: the distinct business objects of the owner's payouts with a prefix (a retried sale is one
    sale), newest first by that id, strictly before the cursor, at most ``limit``; never another owner's or kind's."""
    with storage.unit_of_work() as uow:
        uow.settlements.add(settlement(1, NOW))
        uow.payouts.add(payout(1))
        for n, sale in ((2, "sel_1"), (3, "sel_2"), (4, "sel_2"), (5, "sel_3")):  # sel_2's payout retried
            uow.payouts.add(attrs.evolve(payout(n), settlement_id=sale, merchant_id="usr_1", kind=PayoutKind.SALE))
        uow.payouts.add(attrs.evolve(payout(6), settlement_id="bil_1", merchant_id="usr_1", kind=PayoutKind.BILL))
        uow.payouts.add(attrs.evolve(payout(7), settlement_id="sel_9", merchant_id="usr_2", kind=PayoutKind.SALE))
    with storage.unit_of_work() as uow:
        assert uow.payouts.objects_of("usr_1", prefix="sel_", before=None, limit=9) == ["sel_3", "sel_2", "sel_1"]
        assert uow.payouts.objects_of("usr_1", prefix="sel_", before=None, limit=2) == ["sel_3", "sel_2"]
        assert uow.payouts.objects_of("usr_1", prefix="sel_", before="sel_2", limit=9) == ["sel_1"]
        assert uow.payouts.objects_of("usr_1", prefix="bil_", before=None, limit=9) == ["bil_1"]
        assert uow.payouts.objects_of("usr_3", prefix="sel_", before=None, limit=9) == []


def test_a_merchants_refunds_and_its_invoices_of_an_order_are_listed_newest_first(engine):
    """``refunds.list_for_merchant``: every invoice's refunds of the merchant, newest first, a page at a time, never
    another merchant's; ``invoices.list_for_merchant(order_id=)``: the order's invoices, compared without case."""
    stack = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    stack.add_merchant("m2", settlement=profile)
    paid = []
    for merchant, order in (("m1", "A-1"), ("m1", "a-1"), ("m2", "A-1"), ("m1", "B-2")):
        invoice = stack.invoicing.create_invoice(merchant, Money.of(100, KES), order_id=order)
        stack.pay(invoice.id, Money.of("10", USDT))  # more than due: something to refund
        paid.append(invoice.id)
    stack.confirm(3)
    customer = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    made = [stack.refunds.refund(i, address=customer, requested_by="ops:test").id for i in paid]
    with stack.uow() as uow:
        mine = uow.refunds.list_for_merchant("m1", before=None, limit=9)
        assert [r.id for r in mine] == sorted([made[0], made[1], made[3]], reverse=True)
        assert [r.id for r in uow.refunds.list_for_merchant("m1", before=mine[0].id, limit=1)] == [mine[1].id]
        assert [r.id for r in uow.refunds.list_for_merchant("m2", before=None, limit=9)] == [made[2]]
        assert uow.refunds.list_for_merchant("m9", before=None, limit=9) == []
        order = uow.invoices.list_for_merchant("m1", before=None, limit=9, order_id="A-1")
        assert [i.id for i in order] == [paid[1], paid[0]]
        settled = uow.invoices.list_for_merchant("m1", before=None, limit=9, order_id="b-2", state=InvoiceState.NEW)
        assert settled == []
        assert uow.invoices.list_for_merchant("m1", before=None, limit=9, order_id="C-3") == []


def test_a_held_payment_released_and_one_kept_on_sql(sql_engine):
    """The officer's decisions through the SQL repositories and ledger: a payment from a listed address is held, one
    released is the merchant's (net of the fee) and leaves the waiting list, the trial balance stays zero."""
    from cryptopay.core.payments.model import HoldDecision

    from tests.unit.payments.test_sanctioned_payers import LISTED, _paid_from, with_lists

    stack = with_lists(SqlPaymentsStack(SqlStorage(sql_engine)))
    first, second = _paid_from(stack, LISTED), _paid_from(stack, LISTED)
    waiting = stack.held_payments.waiting()
    assert sorted(c.invoice_id for c in waiting) == sorted([first, second]) and all(c.alerts for c in waiting)
    by_invoice = {c.invoice_id: c for c in waiting}
    proposed = stack.held_payments.release(by_invoice[first].id, officer="usr_ann", note="false positive")
    with stack.uow() as uow:  # the four-eyes proposal is stored with the credit
        assert uow.payment_credits.get(proposed.id) == proposed and proposed.proposed_by == "usr_ann"
    released = stack.held_payments.approve(by_invoice[first].id, officer="usr_ben")
    kept = stack.held_payments.keep(by_invoice[second].id, officer="usr_ann", note="for the FRC")
    assert (released.decision, kept.decision) == (HoldDecision.RELEASED, HoldDecision.KEPT)
    assert stack.held_payments.waiting() == [] and stack.books_balanced()
    gross = by_invoice[first].received
    assert stack.balance(flows.merchant_liability("m1", USDT)) == gross - released.fee and released.fee.is_positive()
    assert stack.balance(flows.payments_held(USDT)) == by_invoice[second].received
    with stack.uow() as uow:
        assert uow.payment_credits.get(released.id) == released


def test_custody_reads_only_the_addresses_that_may_hold_coins(engine):
    """review5 S10: ``may_hold`` leaves out an invoice's address once it expired with nothing seen paid and its
    monitoring window is over; a paid invoice's, a watched one's and a wallet's stay; alike on memory and SQL."""
    stack = PaymentsStack() if engine is None else SqlPaymentsStack(SqlStorage(engine))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    unpaid, paid = (stack.invoicing.create_invoice("m1", Money.of(100, KES)) for _ in range(2))
    stack.pay(paid.id)
    stack.confirm(3)
    network = unpaid.options[0].rail.network.name
    addresses = {i.id: i.options[0].address for i in (unpaid, paid)}
    with stack.uow() as uow:
        uow.deposit_addresses.add(
            DepositAddress(network, "TWalletUserAddressXXXXXXXXXXXXXXXX", 9_000, None, None, NOW, "usr_1")
        )
    stack.tick(hours=1)  # expired unpaid, but still watched for a late payment
    assert stack.invoice(unpaid.id).state is InvoiceState.EXPIRED
    with stack.uow() as uow:
        assert addresses[unpaid.id] in uow.deposit_addresses.may_hold(network, stack.clock.now())
    stack.tick(hours=24)  # its monitoring window is over: nothing the books know of can be there
    watched = stack.invoicing.create_invoice("m1", Money.of(100, KES))
    with stack.uow() as uow:
        held = uow.deposit_addresses.may_hold(network, stack.clock.now())
        every = uow.deposit_addresses.addresses_for(network)
    assert addresses[unpaid.id] not in held and addresses[unpaid.id] in every
    expected = {addresses[paid.id], watched.options[0].address, "TWalletUserAddressXXXXXXXXXXXXXXXX"}
    assert set(held) == expected and held == sorted(held)


def test_a_held_payment_keeps_its_invoice_processing_and_its_release_settles_it(sql_engine):
    """On SQL: a payment held for a listed payer round-trips on its invoice (``held``, then ``released``) and the
    invoice reads ``processing`` past its expiry and monitoring window (review8 R5), then settles when released."""
    from tests.unit.payments.test_sanctioned_payers import LISTED, _paid_from, with_lists

    stack = with_lists(SqlPaymentsStack(SqlStorage(sql_engine)))
    invoice_id = _paid_from(stack, LISTED)
    stack.tick(hours=25)
    invoice = stack.invoice(invoice_id)
    assert invoice.state is InvoiceState.PROCESSING and [p.awaiting_officer for p in invoice.payments] == [True]
    [credit] = stack.held_payments.waiting()
    stack.held_payments.release(credit.id, officer="usr_ann", note="delisted")
    stack.held_payments.approve(credit.id, officer="usr_ben")
    invoice = stack.invoice(invoice_id)
    assert invoice.state is InvoiceState.SETTLED and [(p.held, p.released) for p in invoice.payments] == [(True, True)]
    assert stack.books_balanced()


def test_a_settlement_read_to_be_written_back_is_locked_until_commit(sql_engine):
    """``settlements.get(lock=True)`` (a payout's conclusion finishing its settlement writes it back whole) holds
    the row: another writer waits (PostgreSQL; here it gives up after its lock timeout) instead of being overwritten,
    and goes through once the reader commits. The fake and SQLite accept ``lock`` (SQLite writers serialise)."""
    import sqlalchemy as sa

    storage = SqlStorage(sql_engine)
    with storage.unit_of_work() as uow:
        uow.settlements.add(settlement(1, NOW))
    with storage.unit_of_work() as uow:
        assert uow.settlements.get("stl_1", lock=True) == settlement(1, NOW)
        if sql_engine.dialect.name == "postgresql":
            with sql_engine.connect() as other, pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                other.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
                other.execute(sa.text("UPDATE settlements SET state = 'failed' WHERE id = 'stl_1'"))
    with storage.unit_of_work() as uow:
        assert uow.settlements.get("stl_1", lock=True) == settlement(1, NOW)
    with payments_storage().unit_of_work() as uow:
        uow.settlements.add(settlement(1, NOW))
        assert uow.settlements.get("stl_1", lock=True) == settlement(1, NOW)
