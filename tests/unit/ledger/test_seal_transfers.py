"""R10-6 rest: a P2P send's seal covers its transfer's fixed fields; batches sealed before (version 1) still verify."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.ledger.seal import (
    SEAL_ACTION,
    SEAL_ACTOR,
    SEAL_SUBJECT,
    SealBatch,
    SealedEntry,
    SealedLine,
    SealedTransfer,
    SealPosition,
    entry_digest,
)

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CLAIM = SealedTransfer("trf_1", "usr_a", None, Decimal("50.00"), Decimal("0.50"), "KES", AT)


def _send(transfer: SealedTransfer | None, recipient: str = "") -> SealedEntry:
    line = SealedLine("liabilities:wallet:usr_a:KES", "KES", Decimal("-50.50"), Decimal("100"), Decimal("49.50"))
    meta = (("kind", "p2p"), ("recipient", recipient), ("sender", "usr_a"), ("transfer_id", "trf_1"))
    return SealedEntry(
        SealPosition(3, "ent_1"),
        "ent_1",
        "p2p:trf_1:send",
        "transfer trf_1",
        AT,
        None,
        None,
        None,
        meta,
        (line,),
        transfer,
    )


def test_a_changed_amount_or_sender_or_a_lost_transfer_differs_and_a_claim_s_recipient_does_not() -> None:
    """The send's batch differs when its transfer's amount or sender changed or the row is gone; a send to a number
    with no wallet stays as sealed once claimed (the claim's own entry seals the recipient)."""
    batch = SealBatch.of(None, [_send(CLAIM)])
    assert batch.version == 2 and SealBatch.from_event(batch.event(AT)) == batch
    assert batch.differs([_send(attrs.evolve(CLAIM, recipient_id="usr_b"))]) is None
    for changed in (attrs.evolve(CLAIM, amount=Decimal("5000")), attrs.evolve(CLAIM, sender_id="usr_m"), None):
        assert batch.differs([_send(changed)]) == "its entries differ from what was sealed (edited)"
    delivered = SealBatch.of(None, [_send(attrs.evolve(CLAIM, recipient_id="usr_b"), recipient="usr_b")])
    assert delivered.differs([_send(attrs.evolve(CLAIM, recipient_id="usr_c"), recipient="usr_b")]) is not None


def test_a_batch_sealed_before_transfers_were_sealed_still_verifies() -> None:
    """A ``ledger.sealed`` record without a version (sealed by version 1: entries and lines only) re-computes
    without the transfer, whatever its row holds now."""
    entry = _send(CLAIM)
    digest = hashlib.sha256(bytes.fromhex(entry_digest(entry, 1))).hexdigest()
    details = {"after": "-", "first": "3:ent_1", "last": "3:ent_1", "count": "1", "digest": digest}
    old = SealBatch.from_event(AuditEvent(SEAL_ACTOR, SEAL_ACTION, SEAL_SUBJECT, AT, details))
    assert old.version == 1 and old.differs([_send(attrs.evolve(CLAIM, amount=Decimal("5000")))]) is None
    assert SealBatch.of(None, [entry]).digest != digest  # version 2 covers the transfer
