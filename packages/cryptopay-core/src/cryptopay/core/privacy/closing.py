"""Closing a merchant (outside review R22): the relationship ends and the merchant takes no new business.

``MerchantClosing.close`` is what an operator's close does (``POST /v1/admin/merchants/<id>/close``, the console's
account page, ``cryptopay merchants close``):

1. the merchant is closed (``close_merchant``: ``Merchant.closed_at``, audited ``merchant.closed`` with the reason);
   from then on every write of its logins and keys is refused (403 ``merchant_closed``) and its retention period runs;
2. every API key it still has is revoked (audited ``api_key.revoked``, reason ``merchant_closed``): a key is not
   merely refused while the merchant is closed, it is dead, and nothing brings it back (there is no reopening; a
   revoked key is never un-revoked anywhere);
3. every new invoice that has received nothing is cancelled (audited ``invoice.cancel``, reason
   ``merchant_closed``, announced ``invoice.cancelled``): its payer's checkout page says so at once. A payment still
   made to its address is recorded ``paid_late`` as on any cancelled invoice (``Invoice.cancel``), never lost: the
   merchant's balance is no longer settled by the run over every merchant (``Settling``), so an operator refunds it
   (``cryptopay refunds create --closed-merchant REASON``) or names the merchant to settle it. A new invoice that has
   already received something (partly paid) is left to its own path and counted as ``kept``.

The whole is audited once more as ``merchant.wound_down`` with what was revoked, cancelled and kept. Closing again
keeps the first date and does the rest again, so anything that slipped in while the first close ran (an invoice
created by a request that passed the door just before it) is caught by repeating the command.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.identity.model import ApiKey, Merchant
from cryptopay.core.identity.revocation import revoke_keys
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.ports.identity import ApiKeyRepository, AuditTrail
from cryptopay.core.ports.system import Clock
from cryptopay.core.privacy.retention import RetentionPurge

__all__ = ["CLOSED", "MerchantClosing", "WoundDown"]

CLOSED = "merchant_closed"  # the reason on the audit records of what a close revokes and cancels
_PAGE = 100


@attrs.frozen
class WoundDown:
    """What closing a merchant did: the merchant, how many keys it revoked, the invoices it cancelled and kept."""

    merchant: Merchant
    keys_revoked: int
    invoices_cancelled: tuple[str, ...]
    invoices_kept: tuple[str, ...]


@attrs.frozen
class MerchantClosing:
    """Close a merchant and wind down what it still has open (see the module)."""

    retention: RetentionPurge
    api_keys: ApiKeyRepository
    audit: AuditTrail
    clock: Clock
    invoicing: Invoicing | None = None  # None: this deployment keeps no invoices (nothing to cancel)

    def close(self, merchant_id: str, *, actor: str, reason: str) -> WoundDown:
        """Close the merchant (``InvalidInput`` without a reason, ``NotFound`` for an unknown one), revoke its keys
        and cancel its unpaid invoices, each audited."""
        merchant = self.retention.close_merchant(merchant_id, actor=actor, reason=reason)
        now = self.clock.now()
        keys = [k for k in self._keys(merchant.id) if k.revoked_at is None]
        revoked = revoke_keys(
            self.api_keys, self.audit, keys, merchant_id=merchant.id, actor=actor, reason=CLOSED, now=now
        )
        cancelled: tuple[str, ...] = ()
        kept: tuple[str, ...] = ()
        if self.invoicing is not None:
            done = self.invoicing.cancel_unpaid(merchant.id, actor=actor, reason=CLOSED)
            cancelled, kept = done.cancelled, done.kept
        details = {"keys": str(revoked), "invoices_cancelled": str(len(cancelled)), "invoices_kept": str(len(kept))}
        self.audit.append(AuditEvent(actor, "merchant.wound_down", f"merchant:{merchant.id}", now, details))
        return WoundDown(merchant, revoked, cancelled, kept)

    def _keys(self, merchant_id: str) -> Iterator[ApiKey]:
        before: str | None = None
        while page := self.api_keys.for_merchant(merchant_id, before=before, limit=_PAGE):
            yield from page
            before = page[-1].id
