"""Webhook repositories on SQL: endpoints (secrets sealed by the key vault) and deliveries with their attempts.

They join a unit of work's transaction (``uow.webhook_endpoints``, ``uow.webhook_deliveries``). The composition
root passes the vault's encrypt/decrypt so secrets are never stored in the clear::

    SqlStorage(engine, cipher=SecretCipher.from_vault(vault))

Without a cipher the endpoints repository refuses to work unless ``allow_plaintext=True`` (tests only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from cryptopay.adapters.sql.repositories._base import (
    Bind,
    advisory_locks,
    increment,
    insert_new,
    reading,
    update_or_insert,
    update_versioned,
    writing,
)
from cryptopay.adapters.sql.tables_webhooks import (
    webhook_attempts,
    webhook_counters,
    webhook_deliveries,
    webhook_endpoints,
)
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState
from cryptopay.core.ports.vault import KeyVault
from cryptopay.core.webhooks.model import (
    DeliveryStatus,
    EndpointChanged,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = ["SecretCipher", "SqlWebhookDeliveries", "SqlWebhookEndpoints"]


@attrs.frozen
class SecretCipher:
    """Seals secrets at rest: ``encrypt(plaintext, context) -> blob`` and ``decrypt(blob, context) -> plaintext``."""

    encrypt: Callable[[bytes, str], bytes]
    decrypt: Callable[[bytes, str], bytes]

    @classmethod
    def from_vault(cls, vault: KeyVault) -> SecretCipher:
        """Envelope encryption by the key vault, each blob bound to its record by the vault context."""
        return cls(
            lambda plaintext, context: vault.encrypt(plaintext, context=context),
            lambda blob, context: vault.decrypt(blob, context=context),
        )


def _context(endpoint_id: str, merchant_id: str) -> str:
    return f"webhook-endpoint:{merchant_id}:{endpoint_id}"


_ENDPOINT_LOCKS = 0x57484550  # "WHEP": a merchant's webhook endpoints, while one is added or its URL changed


class SqlWebhookEndpoints:
    """``WebhookEndpoints``; the secret column holds a vault blob."""

    def __init__(self, bind: Bind, *, cipher: SecretCipher | None = None, allow_plaintext: bool = False) -> None:
        if cipher is None and not allow_plaintext:
            raise InvalidInput(
                "webhook endpoint secrets are stored encrypted: pass cipher=SecretCipher.from_vault(vault) "
                "(allow_plaintext=True is for tests only)"
            )
        self._bind = bind
        self._cipher = cipher

    def add(self, endpoint: WebhookEndpoint) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, webhook_endpoints, self._row(endpoint)):
                raise Conflict(f"webhook endpoint {endpoint.id} exists")

    def lock_merchant(self, merchant_id: str) -> None:
        """PostgreSQL: a transaction-level advisory lock on the merchant; SQLite serialises writers already."""
        with writing(self._bind) as conn:
            if conn.dialect.name == "postgresql":
                advisory_locks(conn, _ENDPOINT_LOCKS, merchant_id)

    def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        with reading(self._bind) as conn:
            row = conn.execute(sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)).first()
        return self._endpoint(row) if row else None

    def save(self, endpoint: WebhookEndpoint) -> None:
        version = endpoint.row_version
        values = self._row(endpoint) | {"row_version": version + 1}
        with writing(self._bind) as conn:
            if update_versioned(conn, webhook_endpoints, endpoint.id, version, values):
                return
            if conn.execute(sa.select(webhook_endpoints.c.id).where(webhook_endpoints.c.id == endpoint.id)).first():
                raise EndpointChanged(endpoint.id)
            insert_new(conn, webhook_endpoints, values)

    def for_merchant(self, merchant_id: str) -> list[WebhookEndpoint]:
        query = (
            sa.select(webhook_endpoints)
            .where(webhook_endpoints.c.merchant_id == merchant_id)
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
        with reading(self._bind) as conn:
            return [self._endpoint(row) for row in conn.execute(query)]

    def enabled_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[WebhookEndpoint]:
        c = webhook_endpoints.c
        query = sa.select(webhook_endpoints).where(c.merchant_id == merchant_id, c.enabled)
        if before is not None:
            query = query.where(c.id < before)
        with reading(self._bind) as conn:
            return [self._endpoint(row) for row in conn.execute(query.order_by(c.id.desc()).limit(limit))]

    def _seal(self, secret: str, context: str) -> bytes:
        plain = secret.encode()
        return plain if self._cipher is None else self._cipher.encrypt(plain, context)

    def _unseal(self, blob: Any, context: str) -> str:
        sealed = bytes(blob)
        return (sealed if self._cipher is None else self._cipher.decrypt(sealed, context)).decode()

    def _row(self, endpoint: WebhookEndpoint) -> dict[str, Any]:
        context = _context(endpoint.id, endpoint.merchant_id)
        secret = self._seal(endpoint.secret, context)
        previous = endpoint.previous_secret
        return {
            "previous_secret": None if previous is None else self._seal(previous, context + ":previous"),
            "previous_secret_until": endpoint.previous_secret_until,
            "id": endpoint.id,
            "merchant_id": endpoint.merchant_id,
            "url": endpoint.url,
            "secret": secret,
            "secret_encrypted": self._cipher is not None,
            "events": sorted(endpoint.events),
            "enabled": endpoint.enabled,
            "description": endpoint.description,
            "created_at": endpoint.created_at,
            "created_by": endpoint.created_by,
            "payload_version": endpoint.payload_version,
        }

    def _endpoint(self, row: Any) -> WebhookEndpoint:
        m = row._mapping
        if m["secret_encrypted"] != (self._cipher is not None):
            stored = "encrypted" if m["secret_encrypted"] else "in the clear"
            raise InvalidState(
                f"webhook endpoint {m['id']} has its secret stored {stored}; this repository cannot read it"
            )
        context = _context(m["id"], m["merchant_id"])
        previous = m["previous_secret"]
        return WebhookEndpoint(
            id=m["id"],
            merchant_id=m["merchant_id"],
            url=m["url"],
            secret=self._unseal(m["secret"], context),
            created_at=m["created_at"],
            events=frozenset(m["events"]),
            enabled=m["enabled"],
            description=m["description"],
            previous_secret=None if previous is None else self._unseal(previous, context + ":previous"),
            previous_secret_until=m["previous_secret_until"],
            created_by=m["created_by"],
            payload_version=m["payload_version"],
            row_version=m["row_version"],
        )


_DELIVERY_FIELDS = [field.name for field in attrs.fields(WebhookDelivery)]
_ATTEMPT_FIELDS = [field.name for field in attrs.fields(WebhookAttempt)]


class SqlWebhookDeliveries:
    """``WebhookDeliveries``: unique per (event, endpoint); ``get`` locks the row (``FOR UPDATE`` on PostgreSQL).

    Saving a delivery as dead reads (and locks) the stored row's status first: if it was not dead, the
    ``dead_lettered`` row of ``webhook_counters`` is incremented in the same transaction, so the count survives any
    process restart and a rolled-back attempt counts nothing. The increment is an upsert (the row appears with the
    first dead letter); on PostgreSQL its row lock serializes only transactions dead-lettering at the same moment.
    """

    def __init__(self, bind: Bind) -> None:
        self._bind = bind

    def add(self, delivery: WebhookDelivery) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, webhook_deliveries, _delivery_row(delivery)):
                raise Conflict(f"event {delivery.event_id} already has a delivery to endpoint {delivery.endpoint_id}")
            if delivery.status is DeliveryStatus.DEAD:
                _count_dead_letter(conn)

    def get(self, delivery_id: str) -> WebhookDelivery | None:
        query = sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).with_for_update()
        with writing(self._bind) as conn:
            row = conn.execute(query).first()
        return _delivery(row) if row else None

    def save(self, delivery: WebhookDelivery) -> None:
        values = _delivery_row(delivery)
        with writing(self._bind) as conn:
            if delivery.status is DeliveryStatus.DEAD:
                c = webhook_deliveries.c
                before = conn.execute(sa.select(c.status).where(c.id == delivery.id).with_for_update()).scalar()
                if before != DeliveryStatus.DEAD.value:
                    _count_dead_letter(conn)
            update_or_insert(conn, webhook_deliveries, values)

    def due(self, now: datetime, *, limit: int = 100) -> list[WebhookDelivery]:
        c = webhook_deliveries.c
        waiting = c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value])
        unclaimed = sa.or_(c.locked_until.is_(None), c.locked_until <= now)
        query = sa.select(webhook_deliveries).where(waiting, c.next_attempt_at <= now, unclaimed)
        with reading(self._bind) as conn:
            return [_delivery(row) for row in conn.execute(query.order_by(c.next_attempt_at, c.id).limit(limit))]

    def add_attempt(self, attempt: WebhookAttempt) -> None:
        with writing(self._bind) as conn:
            conn.execute(webhook_attempts.insert(), {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS})

    def attempts(self, delivery_id: str) -> list[WebhookAttempt]:
        columns = [webhook_attempts.c[name] for name in _ATTEMPT_FIELDS]
        query = sa.select(*columns).where(webhook_attempts.c.delivery_id == delivery_id).order_by(webhook_attempts.c.id)
        with reading(self._bind) as conn:
            return [WebhookAttempt(**row._mapping) for row in conn.execute(query)]

    def for_merchant(
        self,
        merchant_id: str,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[WebhookDelivery]:
        c = webhook_deliveries.c
        query = sa.select(webhook_deliveries).where(c.merchant_id == merchant_id)
        if before is not None:  # keyset on (created_at, id), newest first: the rows older than the cursor's
            cursor = sa.select(c.created_at).where(c.id == before).scalar_subquery()
            query = query.where(sa.tuple_(c.created_at, c.id) < sa.tuple_(cursor, sa.literal(before)))
        if endpoint_id is not None:
            query = query.where(c.endpoint_id == endpoint_id)
        if status is not None:
            query = query.where(c.status == status.value)
        with reading(self._bind) as conn:
            return [
                _delivery(row) for row in conn.execute(query.order_by(c.created_at.desc(), c.id.desc()).limit(limit))
            ]

    def count(self, status: DeliveryStatus) -> int:
        query = sa.select(sa.func.count()).select_from(webhook_deliveries)
        with reading(self._bind) as conn:
            return int(conn.execute(query.where(webhook_deliveries.c.status == status.value)).scalar_one())

    def dead_lettered(self) -> int:
        query = sa.select(webhook_counters.c.value).where(webhook_counters.c.name == _DEAD_LETTERED)
        with reading(self._bind) as conn:
            return int(conn.execute(query).scalar() or 0)


_DEAD_LETTERED = "dead_lettered"


def _count_dead_letter(conn: sa.Connection) -> None:
    increment(conn, webhook_counters, {"name": _DEAD_LETTERED}, "value")


def _delivery_row(delivery: WebhookDelivery) -> dict[str, Any]:
    return {name: getattr(delivery, name) for name in _DELIVERY_FIELDS} | {"status": delivery.status.value}


def _delivery(row: Any) -> WebhookDelivery:
    values = {name: row._mapping[name] for name in _DELIVERY_FIELDS}
    return WebhookDelivery(**(values | {"status": DeliveryStatus(values["status"])}))
