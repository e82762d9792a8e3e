"""The audit hash chain: any edit, deletion or reordering of records is detected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from cryptopay.core.audit import GENESIS_HASH, AuditEvent, chain_next, verify_chain
from hypothesis import given
from hypothesis import strategies as st

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
texts = st.text(min_size=1, max_size=12)
events = st.builds(
    lambda actor, action, subject, minutes, details: AuditEvent(
        actor, action, subject, START + timedelta(minutes=minutes), details
    ),
    texts,
    texts,
    texts,
    st.integers(0, 10_000),
    st.dictionaries(texts, texts, max_size=3),
)


def _chain(items: list[AuditEvent]):
    records, previous = [], None
    for n, event in enumerate(items):
        previous = chain_next(previous, event, f"aud_{n}")
        records.append(previous)
    return records


@given(st.lists(events, min_size=1, max_size=8))
def test_an_untouched_chain_verifies(items):
    """A chain built by chain_next verifies with its head, starting from the genesis hash."""
    records = _chain(items)
    assert records[0].prev_hash == GENESIS_HASH
    assert verify_chain(records, head=(records[-1].seq, records[-1].hash)) == []


@given(st.lists(events, min_size=2, max_size=8), st.data())
def test_any_edit_is_detected(items, data):
    """Changing any field of any record is reported at that record."""
    records = _chain(items)
    index = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.sampled_from(["actor", "action", "subject", "details", "at"]))
    value = {"details": (("tampered", "yes"),), "at": START - timedelta(days=1)}.get(field, "tampered-value")
    edited = attrs.evolve(records[index], **{field: value})
    if edited == records[index]:
        return
    records[index] = edited
    problems = verify_chain(records)
    assert problems and problems[0].seq == index + 1


@given(st.lists(events, min_size=2, max_size=8), st.data())
def test_any_deletion_is_detected(items, data):
    """Removing any record, including the last, is reported (the last one through the head)."""
    records = _chain(items)
    head = (records[-1].seq, records[-1].hash)
    del records[data.draw(st.integers(0, len(records) - 1))]
    assert verify_chain(records, head=head) != []


def test_an_empty_log_with_no_head_is_intact():
    """No records and no head is an intact, empty log."""
    assert verify_chain([]) == []
