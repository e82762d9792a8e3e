"""What a payment link may ask: its price, fixed by the merchant or entered by the customer, within bounds per
currency (data, ``LINK_AMOUNTS``; ``PaymentLinks(amounts=...)`` takes others).

Decision: an open amount is bounded by the platform as well as by the store. A store without a minimum or maximum
invoice amount (``StoreSettings.min_invoice`` / ``max_invoice``, both optional) otherwise took anything from
KES 0.01 to 10^18 from an anonymous customer. The defaults: shillings are whole (the merchant is settled by M-Pesa,
which moves whole shillings; a customer types whole shillings) from KES 10 (M-Pesa's smallest B2C payment,
``mobile_money.limits.B2C_LIMITS``) to KES 1,000,000 (the AML large-value threshold of the default rule set: one
link use is one purchase, not a treasury transfer); USDT from 1 to 10,000 (about the same range in value). A store's
own bounds narrow these (``for_store``, what the hosted page shows); its invoice check then applies as to every
invoice (``below_store_minimum`` / ``above_store_maximum``).

Decision (review H15): the same table is every invoice's default where its store sets no bound
(``check_invoice_defaults``): a merchant's invoice in KES or USDT is from KES 10 / USDT 1 (less costs the payer more
in network fees than it pays, and no M-Pesa payment settles it) to KES 1,000,000 / USDT 10,000, unless the store sets
its own minimum or maximum (in KES worth), which then replaces that default. Wholeness is the hosted pages' rule only
(a merchant's invoice may ask cents).

Decision: every asset an invoice can be priced in has a row. The API and the dashboard price in KES or USDT, but the
core's ``create_invoice`` (an SDK caller) and the CLI's payment links take any asset of ``money.ASSETS``; before,
an invoice priced in BTC, ETH or USDC had no default bound at all. The other rows are stated per asset (a rate
moves; a table of round figures does not): USD and USDC as USDT (a dollar is a dollar); each volatile asset from
about a USDT minimum's worth, above what moving one payment costs on its network at a busy hour (a Bitcoin input
at 100 sat/vB, an Ether transfer's gas at 30 gwei), to about the USDT maximum's worth, at the reference prices its
row names (``test_link_amounts`` holds every row to these ranges). A deployment whose prices drift far passes its
own table (``Invoicing(amounts=...)``, ``PaymentLinks(amounts=...)``); a store's own bounds (in KES worth, valued
at the current quote) always replace the defaults.

>>> bounds = LINK_AMOUNTS["KES"]
>>> bounds.check(Money.of("250", KES))
Money('250.00', 'KES')
>>> try:
...     bounds.check(Money.of("5", KES))
... except AmountBelowMinimum as error:
...     print(error.code, error.details["field"], error.message)
amount_below_minimum amount 5.00 KES is below this link's minimum of 10.00 KES
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.limits import B2C_LIMITS
from cryptopay.core.money import BNB, BTC, ETH, KES, POL, TRX, USD, USDC, USDT, Money
from cryptopay.core.payments.model import StoreSettings

__all__ = [
    "LINK_AMOUNTS",
    "AmountAboveMaximum",
    "AmountBelowMinimum",
    "AmountBounds",
    "AmountNotWhole",
    "check_invoice_defaults",
]


class AmountBelowMinimum(InvalidInput):
    """A link's amount (fixed or entered) below its currency's minimum."""

    code = "amount_below_minimum"


class AmountAboveMaximum(InvalidInput):
    """A link's amount (fixed or entered) above its currency's maximum."""

    code = "amount_above_maximum"


class AmountNotWhole(InvalidInput):
    """A link's amount in a currency taken in whole units only (shillings)."""

    code = "amount_not_whole"


@attrs.frozen
class AmountBounds:
    """From ``minimum`` to ``maximum`` (one currency), in whole units when ``whole``."""

    minimum: Money
    maximum: Money
    whole: bool = False

    def __attrs_post_init__(self) -> None:
        if self.minimum.asset != self.maximum.asset or not self.minimum.is_positive() or self.minimum > self.maximum:
            raise InvalidInput("a link's amount bounds are a positive minimum up to a maximum, in one currency")

    def check(self, amount: Money, *, field: str = "amount") -> Money:
        """``amount`` if it is within the bounds, else the specific ``InvalidInput`` naming ``field``."""
        if self.whole and amount != amount.whole():
            raise AmountNotWhole(f"{amount.asset.code} amounts are whole: no cents", field=field)
        if amount < self.minimum:
            raise AmountBelowMinimum(f"{amount} is below this link's minimum of {self.minimum}", field=field)
        if amount > self.maximum:
            raise AmountAboveMaximum(f"{amount} is above this link's maximum of {self.maximum}", field=field)
        return amount

    def for_store(self, store: StoreSettings | None) -> AmountBounds:
        """These bounds narrowed by the store's own invoice bounds (shillings only: a store's are in KES)."""
        if store is None or self.minimum.asset != KES:
            return self
        low = max(self.minimum.amount, store.min_invoice) if store.min_invoice is not None else self.minimum.amount
        high = min(self.maximum.amount, store.max_invoice) if store.max_invoice is not None else self.maximum.amount
        if low > high:
            return self  # the store's bounds are outside the platform's: its invoice check refuses every amount
        return AmountBounds(Money.of(low, KES), Money.of(high, KES), self.whole)


def check_invoice_defaults(
    amounts: Mapping[str, AmountBounds], price: Money, store: StoreSettings, *, field: str = "amount"
) -> None:
    """Refuse an invoice ``price`` outside ``amounts``' bounds for its currency, each bound where ``store`` sets
    none of its own (``AmountBelowMinimum`` / ``AmountAboveMaximum``, 422, naming the bound and ``field``).

    >>> from cryptopay.core.rails import rail_for
    >>> store = StoreSettings(merchant_id="m1", rails=(rail_for("tron", "USDT"),))
    >>> try:
    ...     check_invoice_defaults(LINK_AMOUNTS, Money.of("0.01", KES), store)
    ... except AmountBelowMinimum as error:
    ...     print(error.message)
    0.01 KES is below the least an invoice may ask, 10.00 KES (the store sets no minimum invoice amount)
    """
    bounds = amounts.get(price.asset.code)
    if bounds is None:
        return
    if store.min_invoice is None and price < bounds.minimum:
        raise AmountBelowMinimum(
            f"{price} is below the least an invoice may ask, {bounds.minimum} (the store sets no minimum invoice "
            "amount)",
            field=field,
        )
    if store.max_invoice is None and price > bounds.maximum:
        raise AmountAboveMaximum(
            f"{price} is above the most an invoice may ask, {bounds.maximum} (the store sets no maximum invoice "
            "amount)",
            field=field,
        )


LINK_AMOUNTS: Mapping[str, AmountBounds] = {
    "KES": AmountBounds(Money.of(B2C_LIMITS.minimum, KES), Money.of(1_000_000, KES), whole=True),
    "USDT": AmountBounds(Money.of(1, USDT), Money.of(10_000, USDT)),
    "USDC": AmountBounds(Money.of(1, USDC), Money.of(10_000, USDC)),
    "USD": AmountBounds(Money.of(1, USD), Money.of(10_000, USD)),
    # BTC at USD 60,000 to 120,000: USD 6 to 12 (a 68-vbyte input at 100 sat/vB costs 6,800 sats) up to USD
    # 6,000 to 12,000
    "BTC": AmountBounds(Money.of("0.0001", BTC), Money.of("0.1", BTC)),
    # ETH at USD 2,000 to 4,000: USD 4 to 8 (21,000 gas at 30 gwei is 0.00063 ETH) up to USD 6,000 to 12,000
    "ETH": AmountBounds(Money.of("0.002", ETH), Money.of(3, ETH)),
    # BNB at USD 500 to 1,000: USD 2.50 to 5 (a BSC transfer costs cents) up to USD 5,000 to 10,000
    "BNB": AmountBounds(Money.of("0.005", BNB), Money.of(10, BNB)),
    # POL at USD 0.20 to 0.60: USD 1 to 3 up to USD 4,000 to 12,000
    "POL": AmountBounds(Money.of(5, POL), Money.of(20_000, POL)),
    # TRX at USD 0.20 to 0.40: USD 2 to 4 (a transfer without staked bandwidth burns about 0.3 TRX) up to USD
    # 6,000 to 12,000
    "TRX": AmountBounds(Money.of(10, TRX), Money.of(30_000, TRX)),
}
