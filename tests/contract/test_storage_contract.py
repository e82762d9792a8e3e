"""The unit of work, audit log and outbox contracts: the same behaviour from memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.audit import GENESIS_HASH, AuditEvent, verify_chain
from cryptopay.core.errors import InsufficientFunds, TransientConflict
from cryptopay.core.ledger import Account, AccountKind, Ledger
from cryptopay.core.money import KES, Money
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.testing.system import ManualClock, SequentialIds

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def event(action: str, **details: str) -> AuditEvent:
    return AuditEvent("admin:a1", action, "user:u1", NOW, details)


def message(n: int, *, at: datetime = NOW) -> OutboxMessage:
    return OutboxMessage.new(f"out_{n:03d}", "invoice.settled", {"invoice_id": f"inv_{n}", "amount": "10.00"}, at=at)


def test_audit_appends_chain_and_verify(backend):
    """Appended records chain by hash in order; the stored chain verifies, and the head names the last record."""
    with backend.uow() as uow:
        assert uow.audit.head() is None
        first = uow.audit.append(event("kyc.approve", tier="1"))
        second = uow.audit.append(event("kyc.approve", tier="2"))
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    with backend.uow() as uow:
        records = uow.audit.records()
        assert records == [first, second]
        assert uow.audit.head() == (2, second.hash)
        assert uow.audit.records(after_seq=1, limit=5) == [second]
        assert verify_chain(records, head=uow.audit.head()) == []


def test_outbox_due_save_and_order(backend):
    """Messages are due oldest first once available; a failed one waits for its retry time; published ones are gone."""
    with backend.uow() as uow:
        for n in range(3):
            uow.outbox.add(message(n, at=NOW + timedelta(seconds=n)))
    with backend.uow() as uow:
        due = uow.outbox.due(NOW + timedelta(minutes=1), limit=2)
        assert [m.id for m in due] == ["out_000", "out_001"]
        assert due[0].payload == {"invoice_id": "inv_0", "amount": "10.00"}
        uow.outbox.save(due[0].published(NOW + timedelta(minutes=1)))
        uow.outbox.save(due[1].failed("queue down", retry_at=NOW + timedelta(hours=1)))
    with backend.uow() as uow:
        assert [m.id for m in uow.outbox.due(NOW + timedelta(minutes=2))] == ["out_002"]
        failed = uow.outbox.get("out_001")
        assert failed is not None and failed.attempts == 1 and failed.last_error == "queue down"
        assert [m.id for m in uow.outbox.due(NOW + timedelta(hours=2))] == ["out_002", "out_001"]
        assert uow.outbox.get("out_000").published_at == NOW + timedelta(minutes=1)
        assert uow.outbox.get("nope") is None


def _open_books(backend) -> Ledger:
    ledger = Ledger(backend.ledger_store, clock=ManualClock(), ids=SequentialIds(), sleep=lambda _s: None)
    ledger.open_account(Account("assets:bank:KES", AccountKind.ASSET, KES, allow_negative=True))
    ledger.open_account(Account("liabilities:user:u1:KES", AccountKind.LIABILITY, KES))
    return ledger


def test_unit_of_work_commits_ledger_audit_and_outbox_together(backend):
    """A use case's ledger entry, audit record and outbox message are committed in one transaction."""
    ledger = _open_books(backend)
    with backend.uow() as uow:
        entry = ledger.transfer(
            "topup-1",
            debit="assets:bank:KES",
            credit="liabilities:user:u1:KES",
            amount=Money.of("100", KES),
            session=uow.ledger,
        )
        uow.audit.append(event("wallet.topup", entry=entry.id))
        uow.outbox.add(message(1))
    assert ledger.balance("liabilities:user:u1:KES").posted == Money.of("100", KES)
    with backend.uow() as uow:
        assert [r.action for r in uow.audit.records()] == ["wallet.topup"]
        assert uow.outbox.get("out_001") is not None


def test_unit_of_work_rolls_everything_back_on_error(backend):
    """If the use case fails after writing, none of its ledger entry, audit record or outbox message remains."""
    ledger = _open_books(backend)
    with pytest.raises(InsufficientFunds), backend.uow() as uow:
        uow.audit.append(event("wallet.withdraw"))
        uow.outbox.add(message(2))
        ledger.transfer(
            "w-1",
            debit="liabilities:user:u1:KES",
            credit="assets:bank:KES",
            amount=Money.of("1", KES),
            session=uow.ledger,
        )
    with pytest.raises(RuntimeError), backend.uow() as uow:
        ledger.transfer(
            "t-1",
            debit="assets:bank:KES",
            credit="liabilities:user:u1:KES",
            amount=Money.of("5", KES),
            session=uow.ledger,
        )
        uow.audit.append(event("wallet.topup"))
        raise RuntimeError("the use case failed after writing")
    assert ledger.balance("liabilities:user:u1:KES").posted == Money.of("0", KES)
    assert backend.ledger_store.entries() == []
    with backend.uow() as uow:
        assert uow.audit.records() == [] and uow.audit.head() is None
        assert uow.outbox.get("out_002") is None


def test_in_transaction_retries_transient_conflicts(backend):
    """``in_transaction`` retries a unit of work that lost a race and returns the successful attempt's result."""
    attempts = []

    def work(uow):
        attempts.append(1)
        uow.audit.append(event("retry.me"))
        if len(attempts) < 3:
            raise TransientConflict("lost a race")
        return len(attempts)

    assert in_transaction(backend.uow, work, sleep=lambda _s: None) == 3
    with backend.uow() as uow:
        assert [r.seq for r in uow.audit.records()] == [1]
