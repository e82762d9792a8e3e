"""Payment links: a reusable request to be paid; each use creates an invoice.

A link asks a fixed ``amount``, or lets the customer enter one in ``currency``; either is within the currency's
bounds (``link_amounts.LINK_AMOUNTS``, data with a row per asset: whole shillings from KES 10 to 1,000,000, USDT 1 to
10,000), and the store's minimum and maximum invoice amounts apply, as to every invoice. It may expire and may cap
its uses. Invariants:
- a use is claimed in the same transaction that stores its invoice (``PaymentLinkRepository.claim_use``, one
  conditional update), so a capped link never has more open or paid invoices than its cap, however many customers
  press at once, and a refused invoice (bad amount, no quote) uses nothing;
- the cap counts paid invoices plus open reservations (``link_uses``): an invoice that ends unpaid (expired,
  cancelled) gives its use back in the transaction that ends it; a payment that arrives after all takes it again,
  past the cap if need be (money is never refused; audited ``over_cap``);
- on a capped link an unpaid invoice's use is a short reservation, and open reservations are capped per link and
  per client (``link_uses.reservation_for``): a stranger cannot hold a link sold out (``PaymentLinkBusy``, 429);
- a link is found publicly by ``public_id`` only (unguessable; the internal ``id`` is the merchant's handle);
- a deactivated link never opens again;
- its description, which payers read on the hosted page and the till poster (under the merchant's name), never speaks
  as the platform, M-Pesa, a biller or another reserved brand (``usernames.payer_text_impersonates``: a mixed-script
  word, a brand in look-alike letters, a brand beside "official", "agent", "support" ...; ``ImpersonatingText``,
  422, review6 F2).

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import KES
>>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> link = PaymentLink(id="lnk_1", public_id="pl_x", merchant_id="m1", currency=KES, amount=Money.of("500", KES),
...                    description="Mandazi", created_at=now, created_by="user:u1", max_uses=1)
>>> link.price_for(None), link.closed_reason(now)
(Money('500.00', 'KES'), None)
>>> link.uses = 1; link.closed_reason(now)
'it has been used 1 times, its limit'
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.invoices import Invoice
from cryptopay.core.money import KES, Asset, Money
from cryptopay.core.payments._support import audit, transaction
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.payments.link_amounts import LINK_AMOUNTS, AmountBounds
from cryptopay.core.payments.link_uses import LINK_METADATA_KEY, free_lapsed_reservations, reservation_for
from cryptopay.core.payments.model import (
    PaymentLink,
    PaymentLinkBusy,
    PaymentLinkClosed,
    PaymentLinkCurrency,
    PaymentLinkTerms,
    check_payer_text,
)
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.text import TextKind, checked_text

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = [
    "PUBLIC_ID_PATTERN",
    "PaymentLink",
    "PaymentLinkBusy",
    "PaymentLinkClosed",
    "PaymentLinkCurrency",
    "PaymentLinkTerms",
    "PaymentLinks",
    "new_public_id",
]

MAX_DESCRIPTION = 200


PUBLIC_ID_PATTERN = r"pl_[A-Za-z0-9_-]{22}"  # what new_public_id makes (the API's path parameter accepts only this)


def new_public_id() -> str:
    """An unguessable public id (128 random bits), safe in a URL."""
    return "pl_" + secrets.token_urlsafe(16)


class PaymentLinks:
    """The payment-link use cases: the merchant's (create, list, show, deactivate) and the customer's (use one)."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ids: IdGenerator,
        invoicing: Invoicing,
        public_ids: Callable[[], str] = new_public_id,
        amounts: Mapping[str, AmountBounds] = LINK_AMOUNTS,
    ) -> None:
        self._uow, self._clock, self._ids, self._invoicing = uow, clock, ids, invoicing
        self._public_ids, self._amounts = public_ids, amounts

    def create_link(
        self,
        merchant_id: str,
        *,
        actor: str,
        description: str,
        amount: Money | None = None,
        currency: Asset = KES,
        rails: Sequence[str] | None = None,
        expires_at: datetime | None = None,
        max_uses: int | None = None,
    ) -> PaymentLink:
        """A new link; ``amount`` fixes the price (within its currency's bounds), else the customer enters one in
        ``currency``.

        >>> # links.create_link("mer_1", actor="user:u1", description="Mandazi", amount=Money.of("50", "KES"))
        """
        self._invoicing.check_open(merchant_id)  # a closed merchant opens no new links (``MerchantClosed``)
        return transaction(
            self._uow,
            lambda uow: self._create(
                uow, merchant_id, actor, description, amount, currency, rails, expires_at, max_uses
            ),
        )

    def amount_bounds(self, link: PaymentLink) -> AmountBounds | None:
        """What a customer may enter on ``link`` (None: a fixed price, or a currency without bounds): its currency's
        bounds narrowed by the store's invoice bounds."""
        bounds = self._amounts.get(link.currency.code) if link.amount is None else None
        if bounds is None:
            return None
        return bounds.for_store(transaction(self._uow, lambda uow: uow.stores.get(link.merchant_id)))

    def busy_until(self, link: PaymentLink) -> datetime | None:
        """When a capped link that unpaid checkouts hold full (its cap reached counting their reservations) frees a
        use as they lapse; None when it is open, or closed for good (deactivated, expired, paid uses alone reach the
        cap). Review6 F11: such a link is busy, not "used up"."""
        now = self._clock.now()
        if not _full_by_uses(link, now):
            return None
        lapses = transaction(self._uow, lambda uow: uow.payment_links.reservation_lapses(link.id, now))
        return _frees_a_use(link, lapses)

    def closed_reason(self, link: PaymentLink) -> str | None:
        """Why ``link`` makes no invoice now, as its merchant reads it (API, dashboard): ``PaymentLink.closed_reason``,
        but a cap that unpaid checkouts fill says so and when a use may free up, never "used N times" (review6 F11:
        the merchant sold nothing yet, and may still deactivate it)."""
        reason = link.closed_reason(self._clock.now())
        until = self.busy_until(link) if reason is not None else None
        if until is None:
            return reason
        return f"its uses are held by checkouts in progress, not paid yet: one may free up at {until.isoformat()}"

    def _busy(self, link: PaymentLink, now: datetime) -> PaymentLinkBusy | None:
        return _held_by_checkouts(link, self.busy_until(link), now)

    def get_link(self, link_id: str) -> PaymentLink:
        """The link by its id, or ``NotFound``."""
        return transaction(self._uow, lambda uow: _found(uow.payment_links.get(link_id), link_id))

    def load_public(self, public_id: str) -> PaymentLink:
        """The link a customer opened (hosted pages, the public API), open or not; ``NotFound`` if none. A closed
        merchant's links answer as deactivated (``active`` false: they make no invoice), whatever is stored."""
        link = transaction(self._uow, lambda uow: _found(uow.payment_links.by_public_id(public_id), public_id))
        if link.active and link.max_uses is not None and link.uses >= link.max_uses:
            link = transaction(self._uow, lambda uow: self._freed(uow, link.id))  # reservations lapsed give uses back
        return attrs.evolve(link, active=False) if link.active and self._invoicing.closed(link.merchant_id) else link

    def list_links(self, merchant_id: str, *, before: str | None = None, limit: int = 50) -> list[PaymentLink]:
        """A page of the merchant's links, newest first, older than the link id ``before``."""
        return transaction(
            self._uow, lambda uow: uow.payment_links.list_for_merchant(merchant_id, before=before, limit=limit)
        )

    def deactivate_link(self, link_id: str, *, actor: str) -> PaymentLink:
        """Close the link for good (deactivating it again changes nothing); audited."""
        return transaction(self._uow, lambda uow: self._deactivate(uow, link_id, actor))

    def create_invoice(
        self,
        public_id: str,
        *,
        amount: Money | Decimal | None = None,
        rail: str | None = None,
        currency: Asset | None = None,
        client: str = "",
    ) -> Invoice:
        """Use the link: an invoice for its price (or the amount entered), counted against its cap atomically.

        ``amount`` (links without a fixed price) is in the link's currency; ``currency``, when the customer names
        one (as on every money route), must be the link's: ``PaymentLinkCurrency`` (422, field ``currency``)
        otherwise, as for an ``amount`` in another currency. ``PaymentLinkTerms`` (409) when the amount or
        ``rail`` does not fit the link, ``PaymentLinkClosed`` (409) once the link is closed; outside its currency's
        bounds ``AmountBelowMinimum``, ``AmountAboveMaximum`` or ``AmountNotWhole`` (422, field ``amount``).
        """
        link, now = self.load_public(public_id), self._clock.now()
        if (busy := self._busy(link, now)) is not None:
            raise busy
        link.check_open(now)
        for named in (currency, amount.asset if isinstance(amount, Money) else None):
            if named is not None and named != link.currency:
                raise PaymentLinkCurrency(
                    f"this link is paid in {link.currency.code}, not {named.code}", field="currency"
                )
        price = link.price_for(amount.amount if isinstance(amount, Money) else amount)
        if link.amount is None and (bounds := self._amounts.get(link.currency.code)) is not None:
            bounds.check(price)
        rails = link.rails_for(rail)
        return self._invoicing.create_invoice(
            link.merchant_id,
            price,
            rails=rails,
            actor=f"payment_link:{link.id}",
            metadata={LINK_METADATA_KEY: link.id},
            then=lambda uow, invoice: self._claim(uow, link, invoice, client),
        )

    def _claim(self, uow: PaymentsUnitOfWork, link: PaymentLink, invoice: Invoice, client: str) -> None:
        now = self._clock.now()
        reservation = reservation_for(link, invoice, client, now)
        if reservation is not None:
            free_lapsed_reservations(uow, link.id, now)  # and the link's row stays locked until the claim commits
        if not uow.payment_links.claim_use(link.id, invoice.id, now, reservation=reservation):
            stored = _found(uow.payment_links.get(link.id), link.id)
            lapses = uow.payment_links.reservation_lapses(link.id, now)
            if (busy := _held_by_checkouts(stored, _frees_a_use(stored, lapses), now)) is not None:
                raise busy
            reason = stored.closed_reason(now) or "in use"
            raise PaymentLinkClosed(f"payment link {stored.public_id} is closed: {reason}")

    def _freed(self, uow: PaymentsUnitOfWork, link_id: str) -> PaymentLink:
        free_lapsed_reservations(uow, link_id, self._clock.now())
        return _found(uow.payment_links.get(link_id), link_id)

    def _create(
        self,
        uow: PaymentsUnitOfWork,
        merchant_id: str,
        actor: str,
        description: str,
        amount: Money | None,
        currency: Asset,
        rails: Sequence[str] | None,
        expires_at: datetime | None,
        max_uses: int | None,
    ) -> PaymentLink:
        now = self._clock.now()
        store = uow.stores.get(merchant_id)
        if store is None:
            raise NotFound(f"merchant {merchant_id} has no store settings: it cannot take payments yet")
        chosen = None if rails is None else tuple(store.rail(key.strip().lower()).key for key in dict.fromkeys(rails))
        _check_terms(description, amount, currency, chosen, expires_at, max_uses, now)
        if amount is not None and (bounds := self._amounts.get(amount.asset.code)) is not None:
            bounds.check(amount)
        if amount is not None and amount.asset == KES and store.bounded:
            store.check_invoice_worth(amount)
        link = PaymentLink(
            id=self._ids.new_id("lnk"),
            public_id=self._public_ids(),
            merchant_id=merchant_id,
            currency=amount.asset if amount is not None else currency,
            description=description,
            created_at=now,
            created_by=actor,
            amount=amount,
            rails=chosen,
            expires_at=expires_at,
            max_uses=max_uses,
        )
        uow.payment_links.add(link)
        audit(
            uow,
            actor,
            "payment_link.create",
            f"payment_link:{link.id}",
            now,
            merchant=merchant_id,
            amount=amount or f"entered in {link.currency.code}",
            max_uses=max_uses or "",
            expires_at=expires_at.isoformat() if expires_at else "",
        )
        return link

    def _deactivate(self, uow: PaymentsUnitOfWork, link_id: str, actor: str) -> PaymentLink:
        link, now = _found(uow.payment_links.get(link_id), link_id), self._clock.now()
        if not link.active:
            return link
        link.active, link.deactivated_at = False, now
        uow.payment_links.update(link)
        audit(uow, actor, "payment_link.deactivate", f"payment_link:{link.id}", now, merchant=link.merchant_id)
        return link


def _check_terms(
    description: str,
    amount: Money | None,
    currency: Asset,
    rails: tuple[str, ...] | None,
    expires_at: datetime | None,
    max_uses: int | None,
    now: datetime,
) -> None:
    if not description.strip() or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"a link's description is 1 to {MAX_DESCRIPTION} characters, not blank", field="description")
    checked_text(description, field="description", kind=TextKind.PROSE)
    check_payer_text(description, field="description")  # review6 F2: payers read it on the checkout
    if amount is not None and not amount.is_positive():
        raise InvalidInput("a link's amount must be positive", field="amount")
    if rails is not None and not rails:
        raise InvalidInput("choose at least one rail, or leave rails out for every rail of the store", field="rails")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("a link's expiry must be in the future", field="expires_at")
    if max_uses is not None and max_uses < 1:
        raise InvalidInput("a link's use limit is at least 1", field="max_uses")


def _full_by_uses(link: PaymentLink, now: datetime) -> bool:
    """Whether ``link`` is closed only because its uses reached its cap (active, not expired)."""
    reason = link.closed_reason(now)
    return reason is not None and attrs.evolve(link, max_uses=None).closed_reason(now) is None


def _frees_a_use(link: PaymentLink, lapses: list[datetime]) -> datetime | None:
    """When the reservations lapsing at ``lapses`` (earliest first) bring ``link``'s uses under its cap, if ever.

    >>> from datetime import timezone
    >>> at = [datetime(2026, 1, 5, 9, minute, tzinfo=timezone.utc) for minute in (3, 4)]
    >>> link = PaymentLink(id="lnk_1", public_id="pl_x", merchant_id="m_1", currency=KES, description="Tickets",
    ...                    created_at=at[0], created_by="user:u1", max_uses=4, uses=4)
    >>> _frees_a_use(link, at).minute, _frees_a_use(attrs.evolve(link, uses=5), at).minute, _frees_a_use(link, [])
    (3, 4, None)
    """
    if link.max_uses is None:
        return None
    needed = link.uses - link.max_uses  # lapses before the one that brings the count under the cap
    return lapses[needed] if 0 <= needed < len(lapses) else None


def _held_by_checkouts(link: PaymentLink, lapse: datetime | None, now: datetime) -> PaymentLinkBusy | None:
    """The refusal of a link whose cap is reached while some of its uses are only reserved by unpaid checkouts
    (the first lapsing at ``lapse``): busy, retry then (429), never "used up" (review6 F11); None otherwise."""
    if lapse is None or not _full_by_uses(link, now):
        return None
    retry_after = max(1, math.ceil((lapse - now).total_seconds()))
    minutes = math.ceil(retry_after / 60)
    return PaymentLinkBusy(
        f"every use of payment link {link.public_id} is held by a checkout in progress, not yet paid: one may free "
        f"up in {minutes} minute{'s' if minutes != 1 else ''}; retry then",
        retry_after=retry_after,
        limit="payment_link.uses_reserved",
    )


def _found(link: PaymentLink | None, key: str) -> PaymentLink:
    if link is None:
        raise NotFound(f"no payment link {key}")
    return link
