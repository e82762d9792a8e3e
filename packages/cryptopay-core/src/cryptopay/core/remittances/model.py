"""A remittance order: a sender abroad, with no account, pays USDT so that a person in Kenya receives shillings.

The order's states follow the money: ``awaiting_payment`` (its invoice is open) -> ``paying_out`` (paid and
confirmed, converted at the order's locked quote; a B2C payout in flight) -> ``paid_out`` (the recipient has the
shillings, by M-Pesa or in their wallet). A payout that keeps failing ends in ``refunding`` -> ``refunded`` (the USDT
goes back on chain to the sender's refund address); ``expired`` (nothing arrived in time), ``refused`` (no longer
set: a sanctions list updated while it awaited payment refused it and cancelled its invoice, which told its sender a
list matched; such an order keeps the alerts now and is held once paid; one refused then is shown ``expired``,
``shown_state``) and ``held`` (an operator must decide: a frozen wallet, a refund that failed, a compliance review)
stop the automatic path.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
>>> sender = Sender(name="Grace Otieno", country="GB", address="12 Acacia Road, London")
>>> sender.country, RemittanceState.PAYING_OUT.is_final
('GB', False)
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.compliance.screening import normalize_name
from cryptopay.core.compliance.travel_rule import Assessment
from cryptopay.core.countries import UNINHABITED, is_assigned_country
from cryptopay.core.errors import InvalidInput
from cryptopay.core.flows import REMITTANCE_DESK
from cryptopay.core.kyc.checks import check_birth_date
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.text import TextKind, text_problem

__all__ = [
    "DESK",
    "ImplausibleSender",
    "RefundProposal",
    "ReleaseProposal",
    "RemittanceOrder",
    "RemittanceRoute",
    "RemittanceState",
    "Sender",
    "check_sender",
    "remittance_unconvert_key",
]

DESK = REMITTANCE_DESK  # the remittance desk: the invoices' merchant id, the owner of the orders' funds and payouts
_COUNTRY = re.compile(r"[A-Z]{2}")


def remittance_unconvert_key(order_id: str) -> str:
    """The ledger key of the reversal of an order's conversion (an order refunded instead of paid out).

    >>> remittance_unconvert_key("rmt_1")
    'remittance:rmt_1:unconvert'
    """
    return f"remittance:{order_id}:unconvert"


class RemittanceState(enum.Enum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAYING_OUT = "paying_out"
    PAID_OUT = "paid_out"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    EXPIRED = "expired"
    HELD = "held"
    REFUSED = "refused"

    @property
    def is_final(self) -> bool:
        return self in (
            RemittanceState.PAID_OUT,
            RemittanceState.REFUNDED,
            RemittanceState.EXPIRED,
            RemittanceState.REFUSED,
        )


# How long an order credited to a wallet is shown to its sender as ``paying_out`` (R9-2): as long as M-Pesa's B2C
# result plausibly takes, so the public status does not tell which route paid (the wallet route means the recipient's
# verified legal name matched the name the sender typed: a name-guess oracle otherwise).
WALLET_ROUTE_SHOWN_AFTER = timedelta(minutes=3)


class RemittanceRoute(enum.Enum):
    MPESA = "mpesa"  # B2C to the recipient's phone
    WALLET = "wallet"  # credited to the recipient's cryptopay wallet


def _check_text(
    field: str, value: str | None, *, required: bool, most: int = 140, kind: TextKind = TextKind.IDENTIFIER
) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"the sender's {field.replace('_', ' ')} is required", field=f"sender.{field}")
        return None
    problem = text_problem(value, kind)
    if problem is not None or len(value.strip()) > most:
        raise InvalidInput(problem or f"at most {most} characters", field=f"sender.{field}")
    return value.strip()


@attrs.frozen(kw_only=True)
class Sender:
    """Who sends (the originator, in Travel Rule terms): a name and a country always; an address, a date and place of
    birth or an identity number make the data full (needed at or above the Travel Rule threshold)."""

    name: str
    country: str  # ISO 3166 alpha-2
    address: str | None = None
    date_of_birth: date | None = None
    place_of_birth: str | None = None
    id_number: str | None = None

    def __attrs_post_init__(self) -> None:
        _check_text("name", self.name, required=True, most=100, kind=TextKind.NAME)
        if not _COUNTRY.fullmatch(self.country):
            raise InvalidInput("the sender's country is an ISO 3166 code such as GB or US", field="sender.country")
        if self.country == "KE":
            raise InvalidInput("a remittance comes from abroad: the sender's country is not KE", field="sender.country")
        _check_text("address", self.address, required=False, most=200, kind=TextKind.PROSE)
        _check_text("place_of_birth", self.place_of_birth, required=False, most=100, kind=TextKind.NAME)
        _check_text("id_number", self.id_number, required=False, most=35)
        if (self.date_of_birth is None) != (self.place_of_birth is None):
            raise InvalidInput("a date of birth goes with a place of birth", field="sender.place_of_birth")


class ImplausibleSender(InvalidInput):
    """A sender field that cannot be true (review3 I22): the originator record (IVMS101, goAML) must identify a
    person, so a country no ISO code assigns, a birth date in the future or 200 years ago, a one-character address or
    identity number is refused, naming the field."""

    code = "implausible_sender"


_ADDRESS_LEAST, _ADDRESS_LETTERS, _PLACE_LETTERS, _ID_LEAST = 5, 3, 2, 4


def check_sender(sender: Sender, *, today: date) -> None:
    """``ImplausibleSender`` (422 ``implausible_sender`` naming ``sender.<field>``) unless every given field of
    ``sender`` can be true: an assigned ISO 3166-1 country where people live; a name with at least two letters; an
    address of at least 5 characters with 3 letters; a place of birth with 2 letters; an identity number of at least
    4 letters or digits; a date of birth of an adult (the KYC rule: 18 to 120 years ago). The text rules
    (``TextKind``) and lengths are ``Sender``'s own. Checked when an order opens, whatever the amount.

    >>> check_sender(Sender(name="Grace Otieno", country="GB", address="12 Acacia Road"), today=date(2026, 12, 6))
    >>> try:
    ...     check_sender(Sender(name="Grace Otieno", country="XX"), today=date(2026, 12, 6))
    ... except ImplausibleSender as refused:
    ...     print(refused.details["field"], "-", refused.message)
    sender.country - XX is no country (ISO 3166-1 assigns it to none)
    """

    def refuse(field: str, message: str) -> None:
        raise ImplausibleSender(message, field=f"sender.{field}")

    if not is_assigned_country(sender.country):
        refuse("country", f"{sender.country} is no country (ISO 3166-1 assigns it to none)")
    if sender.country in UNINHABITED:
        refuse("country", f"nobody lives in {sender.country}: give the country the sender lives in")
    if _letters(sender.name) < 2:
        refuse("name", "the sender's name has at least two letters")
    if sender.address is not None:
        address = sender.address.strip()
        if len(address) < _ADDRESS_LEAST or _letters(address) < _ADDRESS_LETTERS:
            refuse("address", "the sender's address is a street address (at least 5 characters, with a street's name)")
    if sender.place_of_birth is not None and _letters(sender.place_of_birth) < _PLACE_LETTERS:
        refuse("place_of_birth", "the sender's place of birth is a town's name")
    if sender.id_number is not None and sum(c.isalnum() for c in sender.id_number) < _ID_LEAST:
        refuse("id_number", "the sender's identity number has at least 4 letters or digits")
    if sender.date_of_birth is not None:
        if sender.date_of_birth >= today:
            refuse("date_of_birth", "the sender's date of birth is in the past")
        try:
            check_birth_date(sender.date_of_birth, today=today)
        except InvalidInput:
            refuse("date_of_birth", "the sender's date of birth is an adult's: 18 to 120 years ago")


def _letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


@attrs.frozen(kw_only=True)
class RefundProposal:
    """A compliance officer's proposal to refund an order held for compliance (review8 R8): who, when, why, and the
    address it would go to (the sender's, or another the officer names); a second officer approves it."""

    officer: str
    at: datetime
    note: str
    address: str


@attrs.frozen(kw_only=True)
class ReleaseProposal:
    """A compliance officer's proposal to release an order held for compliance (reviewer10 R10-1): who, when and
    why; a second officer approves it, and only then is it paid out (or, not held, its held excess refunded)."""

    officer: str
    at: datetime
    note: str


@attrs.define(kw_only=True)
class RemittanceOrder:
    """One order. ``usdt`` is what the sender pays (the invoice's price), ``kes`` what the recipient receives
    (whole shillings) and ``charge`` M-Pesa's B2C charge on it, both bought at the locked quote's bid; ``payout_id``
    is the first payout (retries follow ``Payout.retried_by``)."""

    id: str
    public_id: str
    created_at: datetime
    recipient_phone: str
    recipient_name: str
    sender: Sender
    refund_address: str
    requested: Money  # as the sender asked: KES (what arrives) or USDT (what is sent)
    usdt: Money
    kes: Money
    charge: Money
    quote_id: str
    bid: Decimal
    mid: Decimal
    invoice_id: str
    state: RemittanceState = RemittanceState.AWAITING_PAYMENT
    route: RemittanceRoute | None = None  # decided when it is paid out
    recipient_id: str | None = None  # the wallet credited
    network: str | None = None  # where the USDT arrived
    # The addresses that paid it, in the order they came, each once (recorded when it is funded): the Travel Rule
    # originator's account numbers (FATF R.16, IVMS101 ``accountNumber``) ahead of the refund address
    paid_from: tuple[str, ...] = ()
    payout_id: str | None = None
    attempts: int = 0  # payouts tried
    next_attempt_at: datetime | None = None
    conversion_entry_id: str | None = None
    refund_id: str | None = None
    assessment: Assessment | None = None  # the Travel Rule's valuation when the order was opened (None: not assessed)
    travel_rule_id: str | None = None  # the record kept once the USDT arrived (at or above the threshold)
    note: str | None = None  # why it is held, or what happened last
    review_alerts: tuple[str, ...] = ()  # possible sanctions matches when opened: the payout is held for compliance
    paid_out_at: datetime | None = None
    notified_at: datetime | None = None  # when the recipient's SMS went
    excess_refund_ids: tuple[str, ...] = ()  # refunds of what arrived beyond the order (paid over, late, underpaid)
    excess_note: str | None = None  # why an excess could not be refunded automatically (an operator refunds it)
    # The wrong-asset or wrong-network payments too small to send back on chain (at most the floor or the network's
    # fee), left pending for an operator (``Remittances.refund_strays``): the public status says so (lastread A2/B1)
    strays_held: tuple[str, ...] = ()
    # What arrived beyond the order and was kept, per rail: dust below the refund floor, and the network fee each
    # excess refund deducted (booked to ``revenue:remittance_dust:USDT``; not owed to the sender)
    excess_kept: dict[str, Money] = attrs.Factory(dict)
    finished_at: datetime | None = None
    refund_proposal: RefundProposal | None = None  # an officer's refund of a held order, awaiting a second officer
    release_proposal: ReleaseProposal | None = None  # an officer's release of a held order, awaiting a second one
    # The compliance alerts two officers decided (a release or a refund approved, reviewer10 R10-1): only these count
    # as cleared; a case one officer closed with no action never releases money on its own
    cleared_alerts: tuple[str, ...] = ()
    # Opened while screening was required and no sanctions list was loaded (R12-3): its parties were screened against
    # nothing, so once paid it waits (``paying_out``, no route) and is screened before it is paid out
    screening_pending: bool = False

    def __attrs_post_init__(self) -> None:
        if self.usdt.asset != USDT or self.kes.asset != KES or self.charge.asset != KES:
            raise InvalidInput("an order is paid in USDT and paid out in KES")

    @property
    def took_price(self) -> bool:
        """Whether the order's price left its USDT (converted for its payout, not reversed): paying or paid out."""
        return self.state in (RemittanceState.PAYING_OUT, RemittanceState.PAID_OUT)

    @property
    def keeps_price(self) -> bool:
        """Whether the order's price is spoken for once its invoice is settled: taken (``took_price``), or still to
        be taken by the worker's next advance (awaiting funding, or held by compliance before it: its own payout or
        whole refund decides it), so no manual refund may take it meanwhile."""
        return self.took_price or self.state in (RemittanceState.AWAITING_PAYMENT, RemittanceState.HELD)

    @property
    def shown_state(self) -> RemittanceState:
        """The state its sender (anyone with the public id) is shown (review7 F5): a hold reads as the payout under
        way (``paying_out``), or the refund under way once one was asked (``refunding``), whatever held it; a
        refusal (an unpaid order the sanctions rescreen refused and whose invoice it cancelled, before it kept the
        alerts instead) reads ``expired``, as any order whose invoice closed unpaid.
        ``held`` or ``refused`` told a stranger that compliance froze the recipient or that a sanctions list matched
        a party, for the price of the smallest order (tipping-off); operators, the console and the CLI read
        ``state``."""
        if self.state is RemittanceState.REFUSED:
            return RemittanceState.EXPIRED
        if self.state is not RemittanceState.HELD:
            return self.state
        return RemittanceState.REFUNDING if self.refund_id is not None else RemittanceState.PAYING_OUT

    def public_status(self, now: datetime) -> tuple[RemittanceState, datetime | None, datetime | None]:
        """The state, ``paid_out_at`` and ``finished_at`` its sender is shown at ``now`` (``shown_state``, and R9-2):
        an order credited to a wallet reads ``paying_out`` until ``WALLET_ROUTE_SHOWN_AFTER`` after the credit, then
        ``paid_out`` as of then, so both routes show the same sequence (``paying_out``, then ``paid_out`` some time
        later) and the route stays untold."""
        state, paid_out_at, finished_at = self.shown_state, self.paid_out_at, self.finished_at
        if self.route is RemittanceRoute.WALLET and paid_out_at is not None:
            published = paid_out_at + WALLET_ROUTE_SHOWN_AFTER
            if now < published:
                return (RemittanceState.PAYING_OUT if state is RemittanceState.PAID_OUT else state), None, None
            return state, published, (max(finished_at, published) if finished_at is not None else None)
        return state, paid_out_at, finished_at

    def kept(self, rail_key: str | None = None) -> Money:
        """What the order kept of its excess on ``rail_key`` (every rail: None)."""
        kept = [amount for rail, amount in self.excess_kept.items() if rail_key in (None, rail)]
        return sum(kept, Money.zero(USDT))

    @property
    def is_active(self) -> bool:
        """Whether the worker still has something to do: move its money, or tell the recipient it arrived."""
        if self.state is RemittanceState.PAID_OUT:
            return self.notified_at is None
        return not self.state.is_final and self.state is not RemittanceState.HELD

    @property
    def value(self) -> Money:
        """What the order is worth in shillings (for limits and monitoring): the payout and its charge."""
        return self.kes + self.charge

    @property
    def originator(self) -> tuple[str, str]:
        """The keys an order's originator is aggregated by (the Travel Rule over 24 hours): its refund address (an
        EVM one lower-cased) and the sender's name as name matching compares it (``originator_keys``)."""
        return originator_keys(self.refund_address, self.sender.name)

    def hold(self, note: str) -> None:
        """Stop the automatic path: an operator decides (``retry`` or ``refund``)."""
        self.state, self.note, self.next_attempt_at = RemittanceState.HELD, note, None

    def finish(self, state: RemittanceState, now: datetime, note: str | None = None) -> None:
        self.state, self.finished_at, self.next_attempt_at = state, now, None
        self.note = note or self.note


def originator_keys(refund_address: str, sender_name: str) -> tuple[str, str]:
    """(refund address, sender name) as orders of one originator are found by: an EVM address lower-cased (its
    checksum case is not part of it), the name without accents, case or punctuation.

    >>> originator_keys(" 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 ", "JOHN  smith.")
    ('0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 'john smith')
    """
    address = refund_address.strip()
    return (address.lower() if address.startswith("0x") else address), normalize_name(sender_name)
