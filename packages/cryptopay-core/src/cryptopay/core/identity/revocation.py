"""Taking back what someone set up for a merchant: its API keys revoked, its webhook endpoints disabled, each audited.

A team member removed or demoted below admin loses the keys and endpoints they made (``identity.teams``); an account
reclaimed at its email's first proof loses every key and endpoint (``identity.reclaim``). Both go through here, so a
revocation is the same wherever it comes from: through the key repository's ``update`` (the cached repository bumps
its epoch, so every API process drops the key at once) and one unit of work for the endpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.identity.model import ApiKey
from cryptopay.core.ports.identity import ApiKeyRepository, AuditTrail
from cryptopay.core.ports.storage import retrying
from cryptopay.core.webhooks import EndpointChanged, UowFactory, WebhookEndpoint

__all__ = ["disable_endpoints", "revoke_keys"]


def revoke_keys(
    api_keys: ApiKeyRepository,
    audit: AuditTrail,
    keys: Iterable[ApiKey],
    *,
    merchant_id: str,
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Revoke each of ``keys`` (the merchant's, not revoked yet) at ``now``, each audited ``api_key.revoked`` by
    ``actor`` with the merchant, the key's creator and ``reason``; how many."""
    revoked = 0
    for key in keys:
        key.revoked_at = now
        api_keys.update(key)  # the cached repository bumps its epoch: every API process drops the key
        details = {"merchant": merchant_id, "creator": key.created_by, "reason": reason}
        audit.append(AuditEvent(actor, "api_key.revoked", f"api_key:{key.id}", now, details))
        revoked += 1
    return revoked


def disable_endpoints(
    storage: UowFactory | None,
    audit: AuditTrail,
    merchant_id: str,
    which: Callable[[WebhookEndpoint], bool],
    *,
    actor: str,
    details: Mapping[str, str],
    now: Callable[[], datetime],
) -> int:
    """Disable the merchant's enabled webhook endpoints that ``which`` picks, in one unit of work, then audit each
    ``webhook_endpoint.disabled`` by ``actor`` with ``details`` at ``now()``; how many (0 where the deployment keeps
    no webhook endpoints: ``storage`` None)."""
    if storage is None:
        return 0
    unit_of_work = storage

    def disable() -> list[WebhookEndpoint]:
        with unit_of_work() as uow:
            picked = [e for e in uow.webhook_endpoints.for_merchant(merchant_id) if e.enabled and which(e)]
            for endpoint in picked:
                uow.webhook_endpoints.save(attrs.evolve(endpoint, enabled=False))
        return picked

    # An edit of one of them landing between the read and the write (``EndpointChanged``: nothing was written) is
    # read again and disabled again: it never re-enables what this disables (review11 R11-3).
    picked = retrying(disable, on=(EndpointChanged,))
    at = now()
    for endpoint in picked:
        event = AuditEvent(actor, "webhook_endpoint.disabled", f"webhook_endpoint:{endpoint.id}", at, dict(details))
        audit.append(event)
    return len(picked)
