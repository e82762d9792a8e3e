"""Reclaiming an account whose email was never proven (account pre-hijacking).

Registration does not prove that the caller owns the email: someone may register ``owner@shop.co.ke`` first, set
up a merchant with *their* payout number, API keys and webhook endpoints, and wait for the real owner to "recover"
the account with a password reset. The reset's emailed link is the first proof that the email is the caller's
(``User.email_verified_at`` is set then); at that first proof ``Reclaim.secure`` distrusts what was set up before
it, for the merchant the account owns:

- every API key of the merchant is revoked (audited ``api_key.revoked``, reason ``account_reclaimed``);
- every enabled webhook endpoint is disabled (audited ``webhook_endpoint.disabled``, same reason);
- the payout destination is held as a new one would be (``destination_ready_at`` moves ``cool_off`` ahead:
  payouts wait), audited ``merchant.destination_held``;
- the owner is emailed what was done, the destination (masked) and the team members to review.

Sessions and refresh tokens were ended by the reset itself. A later reset (the email already proven) keeps all
of it: a forgotten password is not a hijack.

"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import NotFound
from cryptopay.core.identity.merchants import masked_destination
from cryptopay.core.identity.model import ApiKey, Merchant, MerchantChanged, User
from cryptopay.core.identity.revocation import disable_endpoints, revoke_keys
from cryptopay.core.ports.identity import ApiKeyRepository, AuditTrail, MerchantRepository, TeamRepository
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.storage import retrying
from cryptopay.core.ports.system import Clock
from cryptopay.core.webhooks import UowFactory

__all__ = ["RECLAIMED", "Reclaim"]

RECLAIMED = "account_reclaimed"  # the audit records' reason
_PAGE = 100


@attrs.define(kw_only=True)
class Reclaim:
    """Distrust what an account set up before it proved its email (see the module)."""

    merchants: MerchantRepository
    api_keys: ApiKeyRepository
    teams: TeamRepository
    # looked up only at a reclaim (building the storage is not the app's start-up's business); None: this
    # deployment keeps no webhook endpoints
    webhook_storage: Callable[[], UowFactory | None]
    notifier: Notifier
    audit: AuditTrail
    clock: Clock
    cool_off: timedelta = timedelta(hours=24)

    def secure(self, user: User) -> None:
        """Revoke, disable and hold what ``user``'s merchant set up, and tell ``user`` (its owner)."""
        merchant = self.merchants.by_owner(user.id)
        actor, now = f"user:{user.id}", self.clock.now()
        if merchant is None:
            self.audit.append(AuditEvent(actor, "account.reclaimed", f"user:{user.id}", now, {"merchant": "none"}))
            return
        keys, endpoints, held_until = self._distrust(merchant, actor, now, "account.reclaimed")
        members = len(self.teams.members(merchant.id))
        if user.email is not None:
            body = _notice(merchant, keys, endpoints, held_until, members)
            self.notifier.send(Notification(user.email, "Check your cryptopay account", body))

    def release(self, user: User, *, actor: str) -> None:
        """The same revocations and hold for the merchant of an account its email's owner released
        (``identity.email_proof``), audited ``account.released``; nobody is emailed (the account has no address)."""
        merchant = self.merchants.by_owner(user.id)
        if merchant is not None:
            self._distrust(merchant, actor, self.clock.now(), "account.released")

    def _distrust(self, merchant: Merchant, actor: str, now: datetime, action: str) -> tuple[int, int, datetime]:
        keys = self._revoke_keys(merchant, actor, now)
        endpoints = self._disable_endpoints(merchant, actor, now)
        held_until = self._hold_destination(merchant, actor, now)
        members = len(self.teams.members(merchant.id))
        details = {"keys": str(keys), "endpoints": str(endpoints), "members": str(members)}
        self.audit.append(AuditEvent(actor, action, f"merchant:{merchant.id}", now, details))
        return keys, endpoints, held_until

    def _keys(self, merchant_id: str) -> Iterator[ApiKey]:
        before: str | None = None
        while page := self.api_keys.for_merchant(merchant_id, before=before, limit=_PAGE):
            yield from page
            before = page[-1].id

    def _revoke_keys(self, merchant: Merchant, actor: str, now: datetime) -> int:
        keys = [k for k in self._keys(merchant.id) if k.revoked_at is None]
        return revoke_keys(
            self.api_keys, self.audit, keys, merchant_id=merchant.id, actor=actor, reason=RECLAIMED, now=now
        )

    def _disable_endpoints(self, merchant: Merchant, actor: str, now: datetime) -> int:
        return disable_endpoints(
            self.webhook_storage(),
            self.audit,
            merchant.id,
            lambda _: True,
            actor=actor,
            details={"merchant": merchant.id, "reason": RECLAIMED},
            now=lambda: now,
        )

    def _hold_destination(self, merchant: Merchant, actor: str, now: datetime) -> datetime:
        """Hold the payout destination for ``cool_off``, over the merchant as last read: a squatter's rename or
        destination change in flight neither undoes the hold nor slips past it (``MerchantChanged``: read it again
        and hold again; review11 R11-3)."""

        def hold() -> Merchant:
            current = self.merchants.get(merchant.id)
            if current is None:
                raise NotFound(f"merchant {merchant.id} does not exist")
            current.destination_ready_at = max(now + self.cool_off, current.destination_ready_at or now)
            current.updated_at = now
            self.merchants.update(current)
            return current

        held = retrying(hold, on=(MerchantChanged,))
        merchant.settlement, merchant.destination_ready_at, merchant.row_version = (
            held.settlement,
            held.destination_ready_at,
            held.row_version,
        )
        held_until = held.destination_ready_at
        assert held_until is not None
        details = {"ready_at": held_until.isoformat(), "reason": RECLAIMED}
        self.audit.append(AuditEvent(actor, "merchant.destination_held", f"merchant:{merchant.id}", now, details))
        return held_until


def _notice(merchant: Merchant, keys: int, endpoints: int, held_until: datetime, members: int) -> str:
    destination = masked_destination(merchant.settlement)
    return (
        f"You just proved that this email is yours by resetting the password of {merchant.business_name}.\n"
        "Whatever was set up before may not have been yours, so we made it safe:\n"
        f"- {keys} API key(s) revoked: create new ones in the dashboard;\n"
        f"- {endpoints} webhook endpoint(s) disabled: check their URLs and enable the ones you know;\n"
        f"- payouts to {destination} wait until {held_until.isoformat()}: change the destination now if it "
        "is not yours;\n"
        f"- {members} team member(s): remove anyone you do not know.\n"
        "If you did not reset your password, contact support at once."
    )
