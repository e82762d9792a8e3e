"""What a wallet's history says of each movement, as words a shell can put in its reader's language.

Decision (webpolish): a history line's words are derived from the movement's kind and data (the ledger entry's
``kind`` and ids in its metadata, its idempotency key, the payout it paid), never from the ledger's stored English
text: a ``Wording`` is a fixed English message with named values (``"transfer %(transfer)s"``, the transfer's id).
The pages translate the message through their Babel catalogues (``make translations`` extracts ``MESSAGES``) and then
fill the values in, an amount by their one money formatter; in English the message reads as the ledger's own words,
which the REST API and the CSV in English keep (``HistoryLine.description``).

>>> str(Wording("transfer %(transfer)s claimed", (("transfer", "trf_1"),)))
'transfer trf_1 claimed'
>>> swahili = {"transfer %(transfer)s claimed": "uhamisho %(transfer)s umepokelewa"}
>>> Wording("transfer %(transfer)s claimed", (("transfer", "trf_1"),)).text(swahili.__getitem__)
'uhamisho trf_1 umepokelewa'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import attrs
from cryptopay.core.money import Money
from cryptopay.core.payouts import Payout, PayoutKind

__all__ = [
    "CLOSING_BALANCE",
    "MESSAGES",
    "OPENING_BALANCE",
    "REVERSAL_REASONS",
    "Wording",
    "entry_wording",
    "payout_wording",
]


def _same(message: str) -> str:
    return message


@attrs.frozen
class Wording:
    """A fixed English ``message`` with ``%(name)s`` values: an id or a network (as it is), an amount (``Money``) or
    another wording (a reason, translated in its turn)."""

    message: str
    values: tuple[tuple[str, str | Money | Wording], ...] = ()

    def text(self, translate: Callable[[str], str] = _same, amount: Callable[[Money], str] = str) -> str:
        """The words in a language: ``translate`` the message, then fill in its values (amounts by ``amount``)."""
        filled = {name: _filled(value, translate, amount) for name, value in self.values}
        return translate(self.message) % filled

    def __str__(self) -> str:
        return self.text()


def _filled(value: str | Money | Wording, translate: Callable[[str], str], amount: Callable[[Money], str]) -> str:
    if isinstance(value, Wording):
        return value.text(translate, amount)
    return amount(value) if isinstance(value, Money) else value


# A bill's id begins so (``wallets.bills.BILL_PREFIX``): a sale under such an id is a bill's conversion of USDT to its
# shillings (``flows.sell_for_kes`` for a bill), whenever it was written.
_BILL_ID = "bil_"

# Why a deposit's block left the chain (``deposits``: the reading's ``why``), by the code its reversal keeps.
REVERSAL_REASONS: Mapping[str, str] = {
    "reorg": "its block was reorganised away",
    "dropped": "dropped from the mempool (replaced, double-spent or evicted)",
}

# Each kind's words, with the metadata each one names (``flows``: the entry's ``kind`` and its ids).
_WORDS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "p2p": ("transfer %(transfer)s", ("transfer_id",)),
    "p2p_claim": ("transfer %(transfer)s claimed", ("transfer_id",)),
    "p2p_return": ("transfer %(transfer)s returned to its sender", ("transfer_id",)),
    # a send held for a frozen recipient, decided: as any send's words (review7 F6: neither party is told of it)
    "p2p_held_release": ("transfer %(transfer)s", ("transfer_id",)),
    "p2p_held_return": ("transfer %(transfer)s returned to its sender", ("transfer_id",)),
    "buy": ("buy %(buy)s paid by M-Pesa", ("buy_id",)),
    "sell": ("sale %(sale)s at the bid", ("sale_id",)),
    # a bill paid from USDT sells just enough under the bill's id (``flows.sell_for_kes``): its conversion, not a sale
    "bill_converted": ("converted for bill %(bill)s", ("sale_id",)),
    "paybill": ("paybill payment %(payment)s to wallet %(user)s", ("payment_id", "user")),
    "paybill_release": ("paybill payment %(payment)s released", ("payment_id",)),
    "remittance": ("remittance %(order)s to a wallet", ("order_id",)),
    "deposit_released": ("deposit %(deposit)s released", ("deposit_id",)),
    "deposit": ("deposit %(deposit)s on %(network)s credited", ("deposit_id", "network")),
    "deposit_converted": ("deposit %(deposit)s on %(network)s credited as %(credited)s", ("deposit_id", "network")),
    "deposit_reversed": ("deposit %(deposit)s on %(network)s reversed: %(why)s", ("deposit_id", "network")),
    "withdrawal": ("withdrawal %(withdrawal)s", ()),
}
# A sale's or cash-out's payout takes what M-Pesa sent to the phone and the charge from the wallet, in one line that
# names both (review12 R12-2: "paid to your M-Pesa number" for the sum of the two read as more than M-Pesa's SMS said)
_SALE_SENT = "sale %(sale)s: %(sent)s sent to your M-Pesa number, M-Pesa charge %(charge)s"
_SALE_SENT_FREE = "sale %(sale)s: %(sent)s sent to your M-Pesa number"
_BILL = "bill %(bill)s"
_BILL_PAID = "bill %(bill)s paid to paybill %(paybill)s, account %(account)s"

# A statement's balance at the month's start and end (``history.StatementBalance``)
OPENING_BALANCE = "opening balance"
CLOSING_BALANCE = "closing balance"

MESSAGES: tuple[str, ...] = (
    *(words for words, _ in _WORDS.values()),
    *REVERSAL_REASONS.values(),
    _SALE_SENT,
    _SALE_SENT_FREE,
    _BILL,
    _BILL_PAID,
    OPENING_BALANCE,
    CLOSING_BALANCE,
)
"""Every message a history line can say (``make translations`` adds them to the pages' catalogues)."""

# A withdrawal's line is its hold posted (no metadata of its own: ``flows.complete_withdrawal``).
_WITHDRAWAL_POSTED = re.compile(r"^withdrawal:([^:]+):post$")


def entry_wording(metadata: Mapping[str, str], key: str, credited: Money) -> tuple[str, Wording] | None:
    """The kind and words of a wallet's line of a ledger entry (its ``metadata``, ``kind`` among them, its ``key``;
    ``credited``: the line's amount into the wallet), or None for an entry no product of ours wrote (and a deposit's
    reversal written before its reason's code was kept: its ``description`` says the reason in English).

    >>> entry_wording({"kind": "p2p", "transfer_id": "trf_1"}, "p2p:trf_1:send", Money.of("-5", "KES"))
    ('p2p', Wording(message='transfer %(transfer)s', values=(('transfer', 'trf_1'),)))
    >>> entry_wording({}, "withdrawal:wdr_1:post", Money.of("-5", "USDT"))[1].text()
    'withdrawal wdr_1'
    """
    if "kind" not in metadata:
        if (posted := _WITHDRAWAL_POSTED.match(key)) is None:
            return None
        return "withdrawal", Wording(_WORDS["withdrawal"][0], (("withdrawal", posted.group(1)),))
    words = _variant(metadata)
    if words not in _WORDS or (words == "deposit_reversed" and metadata.get("reason") not in REVERSAL_REASONS):
        return None
    message, names = _WORDS[words]
    values: list[tuple[str, str | Money | Wording]] = [(_name(n), metadata.get(n, "")) for n in names]
    if words == "bill_converted":
        return "bill", Wording(message, (("bill", metadata.get("sale_id", "")),))
    if words == "deposit_converted":
        values.append(("credited", credited))
    if words == "deposit_reversed":
        values.append(("why", Wording(REVERSAL_REASONS[metadata["reason"]])))
    return metadata["kind"], Wording(message, tuple(values))


def _variant(metadata: Mapping[str, str]) -> str:
    """Which words of a kind: a deposit credited, converted on its way in, or released after a hold."""
    kind = metadata["kind"]
    if kind == "sell" and metadata.get("sale_id", "").startswith(_BILL_ID):
        return "bill_converted"
    if kind == "deposit":
        if "network" not in metadata:
            return "deposit_released"
        return "deposit_converted" if "converted_from" in metadata else "deposit"
    return kind


def _name(field: str) -> str:
    """A metadata field's value name in the messages: ``transfer_id`` -> ``transfer``, ``order_id`` -> ``order``."""
    return field.removesuffix("_id")


def payout_wording(payout: Payout) -> tuple[str, Wording] | None:
    """What a payout from a wallet was for (kind, words); None for another kind: a sale's or cash-out's B2C
    (``settlement_id`` is the ``sel_`` id) is ``sell``, naming what M-Pesa sent and the charge the wallet paid on
    it (the line's amount is their sum), a bill's B2B (the ``bil_`` id) is ``bill``."""
    if payout.kind is PayoutKind.SALE:
        sent: tuple[tuple[str, str | Money | Wording], ...] = (("sale", payout.settlement_id), ("sent", payout.amount))
        if payout.charge.is_zero():
            return "sell", Wording(_SALE_SENT_FREE, sent)
        return "sell", Wording(_SALE_SENT, (*sent, ("charge", payout.charge)))
    if payout.kind is PayoutKind.BILL:
        if payout.b2b is None:
            return "bill", Wording(_BILL, (("bill", payout.settlement_id),))
        to = (("paybill", payout.b2b.party), ("account", payout.b2b.account_reference))
        return "bill", Wording(_BILL_PAID, (("bill", payout.settlement_id), *to))
    return None
