"""Creating invoices: lock the quotes, allocate a fresh deposit address per network, compute what is due per rail.

Quotes are locked before the transaction (the pricer asks rate sources over the network), and so are the addresses'
derivation indexes, each in a one-statement transaction of its own (``_take_indexes``): the counters are shared by every
creation (and every wallet), so their row locks are held for one statement, not until the invoice commits; an index
whose invoice then fails is a gap, which is harmless. The addresses, the invoice, its ledger accounts, the
``invoice.created`` outbox message and the audit record are one transaction.
An invoice never outlives the quotes that priced it: the pricer's quote lifetime should be at least the longest
store window (``Invoice.create`` cuts the window to the quote's expiry otherwise).

An invoice for every rail of the store (no rails named) is not refused for a rail that cannot be priced now (outside
review R8: a USDT-priced invoice on a store that also takes USDC, with no USDC/USDT price): that rail is left out of
the invoice's options, the reason logged and kept in the ``invoice.create`` audit record (``left_out``); the invoice
is refused only when no rail can be priced (with the first rail's refusal). Rails the caller names are all required.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, InvalidInput, InvalidState, NotFound, Unavailable
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.identity.model import MerchantClosed, check_not_closed
from cryptopay.core.invoices import Invoice, InvoiceReceivedPayment, InvoiceState
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Asset, Money
from cryptopay.core.payments._support import audit, load_invoice, publish_invoice_events, transaction
from cryptopay.core.payments.link_amounts import LINK_AMOUNTS, AmountBounds, check_invoice_defaults
from cryptopay.core.payments.model import DepositAddress, StoreSettings, check_payer_text, index_families
from cryptopay.core.payments.read_cache import InvoiceReadStats, RenderedInvoice, UncachedInvoiceReads
from cryptopay.core.ports.chains import AddressDeriver
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import NETWORKS, Rail
from cryptopay.core.text import checked_text

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import InvoiceReads, PaymentsUnitOfWork, PaymentsUowFactory, Quoter

__all__ = [
    "ORDER_ID_MOST",
    "Invoicing",
    "OpenStore",
    "UnpaidCancelled",
    "UnpricedRail",
    "check_order_id",
    "new_public_id",
    "refuse_unpriced_rails",
    "xpub_setting",
]

log = logging.getLogger(__name__)


def xpub_setting(network: str) -> str:
    """The setting that gives ``network`` its deposit addresses (an account-level extended public key).

    >>> xpub_setting("polygon"), xpub_setting("tron"), xpub_setting("bitcoin")
    ('CRYPTOPAY_EVM_XPUB', 'CRYPTOPAY_TRON_XPUB', 'CRYPTOPAY_BITCOIN_XPUB')
    """
    known = NETWORKS.get(network)
    return "CRYPTOPAY_EVM_XPUB" if known is not None and known.is_evm else f"CRYPTOPAY_{network.upper()}_XPUB"


def new_public_id() -> str:
    """An unguessable id for an invoice's hosted checkout page: 128 random bits, URL-safe, no timestamp.

    The invoice id is not used for it: it starts with its creation time and appears in API logs and webhooks.

    >>> len(new_public_id()), new_public_id() != new_public_id()
    (22, True)
    """
    return secrets.token_urlsafe(16)


class UnpricedRail(InvalidInput):
    """A rail whose asset nothing configured can price in shillings: its payments could never be settled."""

    code = "unpriced_rail"


def refuse_unpriced_rails(rails: Sequence[Rail], pricer: Quoter, *, skip: Sequence[Asset] = ()) -> None:
    """Refuse rails whose asset no rate source prices in KES (the settlement currency), so that no payment is ever
    accepted and then stranded unsettled. Used when a store is saved and when an invoice is created; ``skip``
    names assets a quote was just locked for. A passing outage is not a refusal (``Quoter.prices``).

    >>> from cryptopay.core.rails import rail_for
    >>> from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
    >>> from cryptopay.core.testing.system import ManualClock, SequentialIds
    >>> from cryptopay.core.pricing import Pricer
    >>> clock = ManualClock()
    >>> pricer = Pricer([FixedRateSource("m", clock, {"USDT/KES": "129"})], clock=clock, ids=SequentialIds(),
    ...                 quotes=InMemoryQuoteRepository())
    >>> try:
    ...     refuse_unpriced_rails([rail_for("bitcoin", "BTC")], pricer)
    ... except UnpricedRail as refused:
    ...     print(refused.message)
    no configured rate source prices BTC/KES, so btc-bitcoin payments could not be settled; choose other rails
    """
    for rail in rails:
        if rail.asset == KES or rail.asset in skip:
            continue
        if not pricer.prices(Pair(rail.asset, KES)):
            raise UnpricedRail(
                f"no configured rate source prices {rail.asset.code}/KES, so {rail.key} payments could not be "
                "settled; choose other rails",
                field="rails",
            )


@attrs.frozen
class OpenStore:
    """A merchant's store settings as ``Invoicing.open_store`` read them: in the statement that found the merchant
    open. ``create_invoice(store=...)`` takes only this, so no caller hands it settings read without that check."""

    settings: StoreSettings


@attrs.frozen
class UnpaidCancelled:
    """What ``Invoicing.cancel_unpaid`` did: the invoices it cancelled and the new ones it left (they received
    something)."""

    cancelled: tuple[str, ...]
    kept: tuple[str, ...]


class Invoicing:
    """The invoice use cases of a deployment: create, read, list and cancel invoices."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ids: IdGenerator,
        ledger: Ledger,
        pricer: Quoter,
        derivers: Mapping[str, AddressDeriver],
        reader: PaymentsUowFactory | None = None,
        reads: InvoiceReads | None = None,
        amounts: Mapping[str, AmountBounds] = LINK_AMOUNTS,
    ) -> None:
        """``reader``: units of work that need no transaction (default ``uow``): the reads, and taking the addresses'
        indexes (one atomic statement each; nothing else in that unit of work). ``reads``: this process's kept
        renderings for ``render_invoice`` (default: none kept). ``amounts``: an invoice's bounds per currency where
        its store sets none (``link_amounts.check_invoice_defaults``; the payment links' table by default).
        Whether an operator closed a merchant is read with its store (``StoreSettingsRepository.with_closing``)."""
        self._uow, self._clock, self._ids, self._ledger = uow, clock, ids, ledger
        self._pricer, self._derivers = pricer, dict(derivers)
        self._reader = reader or uow
        self._reads: InvoiceReads = reads or UncachedInvoiceReads()
        self._amounts = amounts

    def open_store(self, merchant_id: str) -> OpenStore | None:
        """The merchant's store settings (None before it has a store), or ``MerchantClosed`` (403 ``merchant_closed``)
        when an operator closed the merchant: no new business (an invoice through any path: the API, a payment link,
        the dashboard, the CLI; a new payment link). One read, the one a creation makes anyway (R22)."""
        store, closed_at = transaction(self._reader, lambda uow: uow.stores.with_closing(merchant_id))
        check_not_closed(merchant_id, closed_at)
        return OpenStore(store) if store is not None else None

    def check_open(self, merchant_id: str) -> None:
        """``MerchantClosed`` when an operator closed the merchant (``open_store``, its store left unused)."""
        self.open_store(merchant_id)

    def closed(self, merchant_id: str) -> bool:
        """Whether an operator closed the merchant: whether ``check_open`` refuses it."""
        try:
            self.check_open(merchant_id)
        except MerchantClosed:
            return True
        return False

    def create_invoice(
        self,
        merchant_id: str,
        price: Money,
        *,
        rails: Sequence[str] | None = None,
        order_id: str | None = None,
        actor: str | None = None,
        metadata: Mapping[str, str] | None = None,
        return_url: str | None = None,
        within: Callable[[PaymentsUnitOfWork], None] | None = None,
        then: Callable[[PaymentsUnitOfWork, Invoice], None] | None = None,
        store: OpenStore | None = None,
        default_bounds: bool = True,
        generated_order_id: bool = False,
    ) -> Invoice:
        """A new invoice for ``price`` (KES or crypto) payable on ``rails`` (rail keys; default: every store rail).

        Its price is within the store's minimum and maximum (``below_store_minimum`` / ``above_store_maximum``) and,
        for each bound the store does not set, within the deployment's default for its currency (``amounts``: 422
        ``amount_below_minimum`` / ``amount_above_maximum``). ``default_bounds=False``: a caller whose amounts have
        bounds of their own (the remittance desk's ``RemittanceRules``) skips the defaults. ``order_id`` is the shop's
        reference, checked as the merchant's words (``check_order_id``); ``generated_order_id=True`` when the platform
        made it (the remittance desk's order id), which is not checked for brands.

        ``return_url``: where the hosted checkout page sends the customer back to the shop (http or https).
        ``within`` runs in the invoice's own transaction before it is stored: if it raises, nothing is stored. ``then``
        runs in the same transaction once the invoice is stored (a remittance order records its invoice there, a
        payment link claims the use the invoice holds); if it raises, nothing is stored either. ``store``: the
        merchant's store as ``open_store`` has just read it, the merchant found open in the same read (the HTTP layer
        checks the rails against it), so neither is read twice; otherwise ``open_store`` reads both here.
        """
        if return_url is not None and not return_url.startswith(("https://", "http://")):
            raise InvalidInput("return_url must be an http or https URL", field="return_url")
        opened = store if store is not None and store.settings.merchant_id == merchant_id else None
        if opened is None:
            opened = self.open_store(merchant_id)  # a closed merchant is refused first, then one with no store
        if order_id is not None:
            check_order_id(order_id, ours=generated_order_id)
        if opened is None:
            raise NotFound(f"merchant {merchant_id} has no store settings: it cannot take payments yet")
        settings = opened.settings
        chosen = _choose(settings, rails)
        if default_bounds:
            check_invoice_defaults(self._amounts, price, settings)
        worth = self._worth_in_kes(price) if settings.bounded or settings.speed else None
        if worth is not None and settings.bounded:
            settings.check_invoice_worth(worth)
        if worth is not None and settings.speed:  # each rail waits what the store's speed policy asks at this worth
            chosen = [settings.speed_for(rail, worth.amount) for rail in chosen]
        for rail in chosen:
            if rail.network.name not in self._derivers:  # the server's gap, not the caller's input (outside review R8)
                raise Unavailable(
                    f"this server cannot make {rail.key} addresses now: no address deriver is configured for "
                    f"{rail.network.name} (the operator sets {xpub_setting(rail.network.name)}); "
                    "ask for the invoice on another rail"
                )
        quotes, left_out = self._quotes(price, chosen, optional=rails is None)
        chosen = [rail for rail in chosen if rail.key not in left_out]
        in_shillings = [q.pair.base for q in quotes if q.pair.quote == KES]
        refuse_unpriced_rails(chosen, self._pricer, skip=in_shillings)  # an invoice priced in crypto, paid in it
        indexes = transaction(self._reader, lambda uow: _take_indexes(uow, chosen))  # one statement each, alone

        def create(uow: PaymentsUnitOfWork) -> Invoice:
            if within is not None:
                within(uow)
            invoice = self._create(
                uow, settings, chosen, price, quotes, indexes, order_id, actor, metadata, return_url, left_out
            )
            if then is not None:
                then(uow, invoice)
            return invoice

        return transaction(self._uow, create)

    def get_invoice(self, invoice_id: str) -> Invoice:
        """The invoice, or ``NotFound``."""
        return transaction(self._reader, lambda uow: load_invoice(uow, invoice_id))

    def render_invoice(self, invoice_id: str, render: Callable[[Invoice], bytes]) -> RenderedInvoice:
        """The invoice as ``render`` makes it (the API's JSON) and its merchant, or ``NotFound``: kept by this
        process's ``reads`` until the invoice changes, so a repeated read loads and renders nothing. The caller
        still decides who may see it (by ``merchant_id``). One ``render`` per deployment: entries are by id only."""

        def rendered() -> RenderedInvoice:
            invoice = self.get_invoice(invoice_id)
            return RenderedInvoice(invoice.merchant_id, render(invoice))

        return self._reads.read(invoice_id, rendered)

    def read_stats(self) -> InvoiceReadStats:
        """What this process's kept renderings did (``/metrics``)."""
        return self._reads.stats()

    def cancel_invoice(
        self,
        invoice_id: str,
        *,
        actor: str,
        then: Callable[[PaymentsUnitOfWork, Invoice], None] | None = None,
    ) -> Invoice:
        """Cancel an invoice that has received nothing (``InvoiceReceivedPayment``, a 409, otherwise).

        One transaction: the invoice, its ``invoice.cancelled`` outbox message and the audit record (and ``then``,
        once it is cancelled: a remittance order refused records it there). A payment that still arrives is
        detected, credited and flagged ``paid_late`` like any late payment, and can be refunded.
        """

        def cancel(uow: PaymentsUnitOfWork) -> Invoice:
            invoice = self._cancel(uow, invoice_id=invoice_id, actor=actor)
            if then is not None:
                then(uow, invoice)
            return invoice

        cancelled = transaction(self._uow, cancel)
        self._reads.changed(invoice_id)  # this process reads its own change at once (others when it is announced)
        return cancelled

    def cancel_unpaid(self, merchant_id: str, *, actor: str, reason: str, limit: int = 200) -> UnpaidCancelled:
        """Cancel every new invoice of the merchant that has received nothing (closing a merchant), each in its own
        transaction as ``cancel_invoice`` does (``invoice.cancelled`` announced, audited ``invoice.cancel`` with
        ``reason``). An invoice that has received something (partly paid), or that is no longer new when it is
        locked, is left as it is and named in ``kept``: its payer's money is already recorded and follows the
        invoice's own path (refund). A payment arriving later on a cancelled invoice is recorded ``paid_late``."""
        cancelled: list[str] = []
        kept: list[str] = []
        before: str | None = None
        while True:
            listing = partial(_new_invoices, merchant_id=merchant_id, before=before, limit=limit)
            page = transaction(self._reader, listing)
            for invoice in page:
                try:
                    transaction(self._uow, partial(self._cancel, invoice_id=invoice.id, actor=actor, reason=reason))
                except (InvoiceReceivedPayment, InvalidState):
                    kept.append(invoice.id)
                    continue
                self._reads.changed(invoice.id)
                cancelled.append(invoice.id)
            if len(page) < limit:
                return UnpaidCancelled(tuple(cancelled), tuple(kept))
            before = page[-1].id

    def _cancel(self, uow: PaymentsUnitOfWork, *, invoice_id: str, actor: str, reason: str | None = None) -> Invoice:
        invoice, now = load_invoice(uow, invoice_id), self._clock.now()
        events = invoice.cancel(by=actor, now=now)
        if not events:
            return invoice  # cancelled before: nothing changes
        uow.invoices.update(invoice)
        publish_invoice_events(uow, self._ids, invoice, events)
        because = {} if reason is None else {"reason": reason}
        audit(uow, actor, "invoice.cancel", f"invoice:{invoice.id}", now, merchant=invoice.merchant_id, **because)
        return invoice

    def get_public_invoice(self, public_id: str) -> Invoice:
        """The invoice behind a hosted checkout page, or ``NotFound`` (the same for any unknown id)."""
        found = transaction(self._reader, lambda uow: uow.invoices.by_public_id(public_id))
        if found is None:
            raise NotFound("no such checkout page")
        return found

    def list_invoices(
        self,
        merchant_id: str,
        *,
        before: str | None = None,
        limit: int = 50,
        state: InvoiceState | None = None,
        order_id: str | None = None,
    ) -> list[Invoice]:
        """A page of the merchant's invoices, newest first, older than the invoice id ``before`` (only those in
        ``state``, and of the order ``order_id`` compared without case, when given)."""
        if order_id is not None:
            check_order_id(order_id, ours=True)  # a search, shown to no payer: any stored order id is found
        return transaction(
            self._reader,
            lambda uow: uow.invoices.list_for_merchant(
                merchant_id, before=before, limit=limit, state=state, order_id=order_id
            ),
        )

    def _worth_in_kes(self, price: Money) -> Money:
        """What ``price`` is worth in shillings, the currency a store's invoice bounds are in."""
        if price.asset == KES:
            return price
        return self._pricer.quote(Pair(price.asset, KES)).convert(price, at=self._clock.now())

    def _quotes(self, price: Money, rails: Sequence[Rail], *, optional: bool) -> tuple[list[Quote], dict[str, str]]:
        """A locked quote for each rail asset other than the price's, and the rails left out (key: why). With
        ``optional``, a rail whose asset cannot be priced now is left out, unless no rail would remain."""
        assets = {rail.asset for rail in rails if rail.asset != price.asset}
        quotes, left_out, refusals = list[Quote](), dict[str, str](), list[CryptopayError]()
        for asset in sorted(assets, key=lambda a: a.code):
            try:
                quotes.append(self._pricer.quote(Pair(asset, price.asset)))
            except CryptopayError as error:
                if not optional:
                    raise
                refusals.append(error)
                for rail in rails:
                    if rail.asset == asset:
                        left_out[rail.key] = f"no {asset.code}/{price.asset.code} price now: {error.message}"
        if refusals and len(left_out) == len(rails):
            raise refusals[0]
        for key, why in left_out.items():
            log.warning("invoice for %s leaves out %s: %s", price, key, why)
        return quotes, left_out

    def _create(
        self,
        uow: PaymentsUnitOfWork,
        store: StoreSettings,
        rails: Sequence[Rail],
        price: Money,
        quotes: Sequence[Quote],
        indexes: Mapping[str, int],
        order_id: str | None,
        actor: str | None,
        metadata: Mapping[str, str] | None = None,
        return_url: str | None = None,
        left_out: Mapping[str, str] | None = None,
    ) -> Invoice:
        now, invoice_id = self._clock.now(), self._ids.new_id("inv")
        addresses = self._addresses(uow, invoice_id, store.merchant_id, indexes)
        invoice, events = Invoice.create(
            invoice_id=invoice_id,
            merchant_id=store.merchant_id,
            price=price,
            addresses={rail: addresses[rail.network.name] for rail in rails},
            now=now,
            quotes=quotes,
            tolerance_percent=store.tolerance_percent,
            window=store.window,
            monitoring=store.monitoring,
            order_id=order_id,
            metadata=metadata,
            public_id=new_public_id(),
            return_url=return_url,
        )
        uow.invoices.add(invoice)
        for rail in rails:
            flows.open_platform_accounts(
                self._ledger, store.merchant_id, rail.network.name, rail.asset, session=uow.ledger
            )
        publish_invoice_events(uow, self._ids, invoice, events)
        audit(
            uow,
            actor or f"merchant:{store.merchant_id}",
            "invoice.create",
            f"invoice:{invoice.id}",
            now,
            price=price,
            rails=",".join(r.key for r in rails),
            quotes=",".join(invoice.quote_ids),
            **({"left_out": "; ".join(f"{k}: {v}" for k, v in left_out.items())} if left_out else {}),
        )
        return invoice

    def _addresses(
        self, uow: PaymentsUnitOfWork, invoice_id: str, merchant_id: str, indexes: Mapping[str, int]
    ) -> dict[str, str]:
        """The invoice's address on each network, derived at the index taken for it (``_take_indexes``) and stored
        as its own (``Conflict`` if the address or index were someone else's)."""
        found: dict[str, str] = {}
        now = self._clock.now()
        for network, index in indexes.items():
            address = self._derivers[network].derive(index)
            uow.deposit_addresses.add(DepositAddress(network, address, index, invoice_id, merchant_id, now))
            found[network] = address
        return found


def _new_invoices(uow: PaymentsUnitOfWork, *, merchant_id: str, before: str | None, limit: int) -> list[Invoice]:
    return uow.invoices.list_for_merchant(merchant_id, before=before, limit=limit, state=InvoiceState.NEW)


def _take_indexes(uow: PaymentsUnitOfWork, rails: Sequence[Rail]) -> dict[str, int]:
    """A fresh derivation index per network of ``rails`` (rails on one network share it: the asset tells the payments
    apart). On the EVM networks one index is taken on every EVM counter at once (``index_families``): the invoice's
    address is the same on each of its EVM networks and nobody else's on any EVM network."""
    found: dict[str, int] = {}
    for counters, networks in index_families(rail.network.name for rail in rails).items():
        index = uow.deposit_addresses.allocate_shared_index(counters)
        found.update(dict.fromkeys(networks, index))
    return found


def _choose(store: StoreSettings, keys: Sequence[str] | None) -> list[Rail]:
    if keys is None:
        return list(store.rails)
    if not keys:
        raise InvalidInput("choose at least one rail for the invoice")
    return [store.rail(key.strip().lower()) for key in dict.fromkeys(keys)]


ORDER_ID_MOST = 100  # an invoice's order_id, the shop's reference: 1 to 100 characters of identifier text


def check_order_id(order_id: str, *, ours: bool = False) -> str:
    """``order_id`` if it is a shop's reference every shell accepts alike (review3 I17: the dashboard stored what the
    API refuses): 1 to 100 characters of identifier text (``TextKind.IDENTIFIER``: no control, bidi override or
    invisible character) that does not speak as a reserved brand (``check_payer_text(reference=True)``: the checkout
    shows it, "Order ...", to the payer; review6 F2, review7 F7), else ``InvalidInput`` naming ``order_id``.

    ``ours=True`` for an id the platform generated itself (a remittance order's) or a search for one: no merchant
    speaks through it, so it is not checked for brands (its random letters and digits fold into one by chance).

    >>> check_order_id("ORD-1001")
    'ORD-1001'
    >>> try:
    ...     check_order_id("ORD\u202egnp.exe")
    ... except InvalidInput as error:
    ...     error.details["field"], error.message[:39]
    ('order_id', 'order_id must not contain bidirectional')
    """
    if not 0 < len(order_id) <= ORDER_ID_MOST:
        raise InvalidInput(f"must be 1 to {ORDER_ID_MOST} characters", field="order_id")
    checked = checked_text(order_id, field="order_id")
    return checked if ours else check_payer_text(checked, field="order_id", reference=True)
