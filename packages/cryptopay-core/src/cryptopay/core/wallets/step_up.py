"""When a send or a bill payment needs a fresh step-up (review5 S4): past the day's allowance of money leaving by
P2P and bills.

A stolen access token (or an unlocked phone's portal session) must not drain a wallet by P2P to the thief's
wallet or through bills, where a crypto withdrawal already needs a step-up. The rule: a send or a bill payment
needs a fresh step-up (password, or a one-time code with two-factor) when what the wallet sent and paid in bills
today (Nairobi), plus this one, is worth more than ``allowance`` (``CRYPTOPAY_WALLET_STEP_UP_KES``, KES 1,000 by
default). Everyday small sends never ask; a thief without the password takes at most the allowance a day, however
they split it. The check that counts is the use case's own (``Wallets.send(..., step_up=StepUp(...))``,
``WalletBills.pay``; ``cryptopay.core.wallets.allowance``), with the usage read under the sender's wallet lock, so
concurrent sends each under the allowance cannot all pass. ``needs_step_up`` here is the shells' early read, before
the movement: it shows the password field on a confirmation form and refuses at once when the step-up is missing.
"""

from __future__ import annotations

from cryptopay.core.errors import CryptopayError
from cryptopay.core.money import Money
from cryptopay.core.wallets.allowance import LEAVING, StepUp, leaving
from cryptopay.core.wallets.service import Wallets, kes_value, spending

__all__ = ["LEAVING", "StepUp", "leaving_today", "needs_step_up"]


def leaving_today(wallets: Wallets, user_id: str) -> Money:
    """What the wallet sent by P2P and paid in bills today (Nairobi), in KES at the limits' values."""
    with wallets.uow() as uow:
        return leaving(spending(uow, user_id, wallets.clock.now()))


def needs_step_up(wallets: Wallets, user_id: str, amount: Money, allowance: Money) -> bool:
    """Whether moving ``amount`` out of the wallet (a send, a bill) now needs a fresh step-up: today's sends and bills
    plus this one worth more than ``allowance``. An amount the send would refuse anyway (not positive, an asset that
    cannot be valued now) needs none here: the send's own refusal follows."""
    if not amount.is_positive():
        return False
    try:
        value = kes_value(amount, wallets.quoter())
    except CryptopayError:  # no price now: the send refuses it itself, with its own problem
        return False
    if value > allowance:
        return True
    return leaving_today(wallets, user_id) + value > allowance
