"""Review 3 (D, E): a data subject's export held at most 10,000 audit records about the person and their latest
100,000 ledger movements, and cut the rest silently. It now reads both in keyset pages: every one is in it."""

from __future__ import annotations

from cryptopay.core.audit import AuditEvent
from cryptopay.core.flows import FLOAT, wallet_account
from cryptopay.core.ledger import EntryRequest, Posting
from cryptopay.core.money import KES, Money
from cryptopay.core.privacy.export import subject_export

from tests.support.privacy_stack import privacy_storage
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import wallet_stack


def test_an_export_holds_every_audit_record_and_every_movement_of_a_busy_person() -> None:
    """10,001 audit records about Amina's wallet (past the old cut) and 1,201 movements: all of them exported."""
    stack = wallet_stack(Backend("memory", privacy_storage()))
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    stack.fund(amina, "1", "KES")
    mine, one = wallet_account(amina.id, KES), Money.of(1, KES)
    stack.ledger.post_many(
        [EntryRequest(f"busy:{n}", (Posting.debit(FLOAT, one), Posting.credit(mine, one))) for n in range(1200)]
    )
    with stack.backend.uow() as uow:
        before = len(uow.audit.about([f"wallet:{amina.id}", f"user:{amina.id}"], actor=f"user:{amina.id}"))
        for _ in range(10_001):
            uow.audit.append(AuditEvent("ops:alice", "wallet.seen", f"wallet:{amina.id}", stack.clock.now()))
        user = uow.users.get(amina.id)
        assert user is not None
        exported = subject_export(uow, stack.ledger, user, at=stack.clock.now())
    seen = [r for r in exported["audit"] if r["action"] == "wallet.seen"]
    assert len(seen) == 10_001 and len(exported["audit"]) >= before + 10_001
    kes = [m for m in exported["movements"] if m["amount"]["asset"] == "KES"]
    assert len(kes) == 1201
