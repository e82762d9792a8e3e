"""Idempotency keys as a customer's client makes them for routes without credentials (a payment link's invoices,
a remittance order): unguessable UUIDs. ``customer_key(label)`` is the same UUID for the same label, so a test can
send a retry with "the same key" by naming it.

>>> customer_key("order-1") == customer_key("order-1") != customer_key("order-2")
True
"""

from __future__ import annotations

import uuid

__all__ = ["customer_key"]

_NAMESPACE = uuid.UUID("6f0b6a55-3f0e-4d8a-9d1c-2b7f4f1c9e10")


def customer_key(label: str) -> str:
    """A version-4 UUID derived from ``label`` (the server cannot tell it from a random one; it refuses other
    versions, review 3 I16)."""
    return str(uuid.UUID(bytes=uuid.uuid5(_NAMESPACE, label).bytes, version=4))
