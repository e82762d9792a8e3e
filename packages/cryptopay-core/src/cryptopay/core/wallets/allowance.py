"""The step-up allowance a send or a bill payment is checked against inside its own unit of work (review5 S4).

``StepUp`` is what the shell knows: the allowance (``CRYPTOPAY_WALLET_STEP_UP_KES``) and whether the request carries
a fresh step-up of the caller's login. The use case (``Wallets.send``, ``WalletBills.pay``) decides with the day's
usage it reads under the sender's wallet lock, so concurrent sends each under the allowance cannot all pass: the
second reads the first's usage once the first commits. Past it without a fresh step-up: ``StepUpRequired`` (403
``step_up_required``), nothing moved. ``cryptopay.core.wallets.step_up.needs_step_up`` is the early read the shells
ask before (to show the password field, to refuse at once); this one is the one that counts.
"""

from __future__ import annotations

import attrs
from cryptopay.core.identity.model import StepUpRequired
from cryptopay.core.kyc import Product, Spending
from cryptopay.core.money import KES, Money

__all__ = ["LEAVING", "StepUp", "leaving"]

LEAVING = (Product.P2P, Product.BILL)
"""The products whose day's total counts against the step-up allowance."""


def leaving(spent: Spending) -> Money:
    """What the wallet sent by P2P and paid in bills today, in KES at the limits' values.

    >>> leaving(Spending(Money.zero(KES), Money.zero(KES), {Product.P2P: Money.of(300, KES)}, {}))
    Money('300.00', 'KES')
    """
    total = Money.zero(KES)
    for product in LEAVING:
        total = total + spent.of(product)[0]
    return total


@attrs.frozen
class StepUp:
    """The step-up allowance (KES) and whether the caller stepped up (a fresh password or code) for this request.

    >>> spent = Spending(Money.zero(KES), Money.zero(KES), {Product.BILL: Money.of(900, KES)}, {})
    >>> StepUp(Money.of(1000, KES), fresh=False).needed(spent, Money.of(100, KES))
    False
    >>> StepUp(Money.of(1000, KES), fresh=False).needed(spent, Money.of("100.01", KES))
    True
    """

    allowance: Money
    fresh: bool = False

    def needed(self, spent: Spending, value: Money) -> bool:
        """Whether today's sends and bills (``spent``) plus this one (``value``, KES) are past the allowance."""
        return leaving(spent) + value > self.allowance

    def enforce(self, spent: Spending, value: Money) -> None:
        """``StepUpRequired`` when past the allowance without a fresh step-up."""
        if not self.fresh and self.needed(spent, value):
            raise StepUpRequired(
                "your sends and bills today are past the step-up allowance: step up (POST /v1/auth/step-up, "
                "X-Step-Up-Token header) and try again"
            )
