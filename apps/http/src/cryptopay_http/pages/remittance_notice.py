"""What a remittance order's status tells its sender about coins that reached its address but cannot pay it (USDC to
its USDT address, USDT on a network it does not list), in English and Swahili: the order still shows
``awaiting_payment``, truthfully, and this says why the sender's transfer did not count and where it goes.
The messages are the pages' catalogue's (``make translations`` extracts ``N_`` here)."""

from __future__ import annotations

from cryptopay.core.money import Money

from cryptopay_http.pages.i18n import translate

__all__ = ["wrong_payment_notice"]


def N_(message: str) -> str:
    return message


_COMING_BACK = N_(
    "%(amount)s reached this order's address on %(network)s. This order takes only the USDT payments it lists, so "
    "this does not pay it: it will be sent back whole to your refund address."
)
_SENT_BACK = N_(
    "%(amount)s reached this order's address on %(network)s. This order takes only the USDT payments it lists, so "
    "this did not pay it: it was sent back whole to your refund address."
)
_TOO_SMALL = N_(
    "%(amount)s reached this order's address on %(network)s. This order takes only the USDT payments it lists, so "
    "this does not pay it. It is too small to be sent back automatically (the network's fee would cost more): our "
    "operators decide on it."
)
_STILL_DUE = N_("The order still awaits %(usdt)s.")


def wrong_payment_notice(
    amount: Money, network: str, *, sent_back: bool, still_due: Money | None, too_small: bool = False
) -> dict[str, str]:
    """The notice in each language (``en``, ``sw``); ``still_due``: the USDT the order still awaits, if it does;
    ``too_small``: not sent back on chain, left for an operator (dust: ``Remittances.refund_strays``)."""
    facts = {"amount": f"{amount.amount} {amount.asset.code}", "network": network.capitalize()}
    message = _SENT_BACK if sent_back else _TOO_SMALL if too_small else _COMING_BACK
    texts = {}
    for lang in ("en", "sw"):
        text = translate(message, lang) % facts
        if still_due is not None:
            text += " " + translate(_STILL_DUE, lang) % {"usdt": f"{still_due.amount} {still_due.asset.code}"}
        texts[lang] = text
    return texts
