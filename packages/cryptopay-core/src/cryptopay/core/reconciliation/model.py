"""What reconciliation compares and what it finds: the snapshot, a difference, a check, the report.

A ``Records`` snapshot holds our own records (invoices, credits, refunds, payouts, the ledger's balances, holds and
entries) next to what the outside world says: M-Pesa's statement and Account Balance, and the chains' balances of
our addresses. Each outside source is optional; a check whose source was not read is reported as skipped, never
as clean.

>>> from datetime import UTC
>>> now = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
>>> query = BalanceQuery(id="bq_1", token_digest="d", asked_at=now)
>>> query.answered(now, available=Money.of(9000, "KES"), books=Money.of(-1000, "KES"), code="0", desc="ok")
>>> query.is_answered, str(query.available)
(True, '9000.00 KES')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.invoices import Invoice
from cryptopay.core.ledger import AccountBalance, Hold
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.model import PaymentCredit, Refund
from cryptopay.core.payments.wrong_network import WrongNetworkPayment
from cryptopay.core.payouts.answers import UnmatchedAnswer
from cryptopay.core.payouts.model import DEFAULT_RESULT_DEADLINE, DEFAULT_UNKNOWN_BOUND, Payout
from cryptopay.core.reconciliation.bank_statement import BankStatement
from cryptopay.core.reconciliation.statement import Statement
from cryptopay.core.remittances.model import RemittanceOrder
from cryptopay.core.treasury.model import BookedConversion, FloatReading, Sweep
from cryptopay.core.wallets.buys import Buy
from cryptopay.core.wallets.deposit import Deposit
from cryptopay.core.wallets.model import Transfer
from cryptopay.core.wallets.paybill import PaybillPayment
from cryptopay.core.wallets.withdrawal_model import Withdrawal

__all__ = [
    "RUN_BY",
    "BalanceQuery",
    "Check",
    "CheckRecord",
    "CheckResult",
    "DepositBooks",
    "Difference",
    "OnChain",
    "Records",
    "RemittanceBooks",
    "Report",
    "Shortcodes",
    "WalletBooks",
    "WithdrawalBooks",
]


@attrs.frozen
class Shortcodes:
    """Our M-Pesa Short Codes by what their statements hold: ``collections`` (the STK Push and C2B paybill: buys and
    paybill payments, ``Paid In``) and ``payouts`` (the B2C/B2B PartyA: payouts, ``Withdrawn``). One Short Code may
    be both; an empty one is not configured. A statement belongs to one Short Code, so each is checked only against
    the records of its own (``Reconciliation``): with separate Short Codes the payouts' statement holds no
    collections, and reading it for them would report every buy missing.

    >>> codes = Shortcodes(collections="174379", payouts="600992")
    >>> sorted(codes.all), codes.roles_of("600992"), Shortcodes("174379", "174379").roles_of("174379")
    (['174379', '600992'], ('payouts',), ('collections', 'payouts'))
    """

    collections: str
    payouts: str

    @property
    def all(self) -> frozenset[str]:
        return frozenset(code for code in (self.collections, self.payouts) if code)

    def roles_of(self, shortcode: str) -> tuple[str, ...]:
        """Which records a statement of ``shortcode`` is checked against: ``collections``, ``payouts``, both, none."""
        code = shortcode.strip()
        return tuple(
            role for role, ours in (("collections", self.collections), ("payouts", self.payouts)) if ours == code
        )


@attrs.define(kw_only=True)
class BalanceQuery:
    """One Account Balance request and, once it came, its answer with the books' float at that moment."""

    id: str
    token_digest: str
    asked_at: datetime
    answered_at: datetime | None = None
    available: Money | None = None  # the float's available funds per M-Pesa
    books: Money | None = None  # the books' float (posted) when the answer arrived
    result_code: str | None = None
    result_desc: str = ""
    failure: str = ""  # why the request could not be sent

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    def answered(self, now: datetime, *, available: Money | None, books: Money, code: str | None, desc: str) -> None:
        self.answered_at, self.available, self.books = now, available, books
        self.result_code, self.result_desc = code, desc


_PHONE = re.compile(r"\+?(?:254|0)[17][0-9*]{8}")


def shown_number(number: str) -> str:
    """A party number as a difference shows it: a phone (ours, or a statement's, whole or as the portal masked it)
    masked as phones are everywhere else (``mask_msisdn``: ``2547******49``, which still finds its statement row,
    ``2547*****149``, with the receipt and amount); a paybill, a till or a bank account whole."""
    compact = number.strip()
    if not _PHONE.fullmatch(compact):
        return number
    return mask_msisdn(try_normalize_msisdn(compact) or compact.lstrip("+"))


def shown_name(name: str) -> str:
    """A statement's name (Other Party Info after the number) as a difference shows it: each word's first letter
    and a star for each other one (``John Doe`` as ``J*** D**``), masked like a phone (personal data; the receipt,
    amount and masked number still find the row)."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in name.split())


def shown_party(other_party: str) -> str:
    """A statement's Other Party Info (``<number> - <name>``) with its number as ``shown_number`` and its name as
    ``shown_name``; ``?`` when the row has none."""
    if not other_party.strip():
        return "?"
    number, sep, name = other_party.partition(" - ")
    return shown_number(number) + sep + shown_name(name)


def shown_details(details: str) -> str:
    """A statement's free-text Details (``Business Payment to 254708374149 - John Doe``) with every phone in it as
    ``shown_number`` and the name after its `` - `` as ``shown_name``."""
    head, sep, name = details.partition(" - ")
    return _PHONE.sub(lambda m: shown_number(m.group(0)), head) + sep + shown_name(name)


def shown_destination(destination: str) -> str:
    """A payout's destination (``party`` or ``paybill#account``) with its party shown as ``shown_number``."""
    party, sep, rest = destination.partition("#")
    return shown_number(party) + sep + rest


@attrs.frozen
class Difference:
    """One thing that does not agree: what it is about, what was expected and what was found."""

    subject: str
    expected: str
    actual: str
    detail: str = ""


@attrs.frozen(kw_only=True)
class OnChain:
    """A custody account's on-chain side: the summed balance of the addresses read, and how many were read.
    ``owed_to_payers``: what the wrong-network or wrong-asset payments pending a decision hold at those addresses
    (on the chain, not in the books: owed to their payers, aged by ``wrong-payments-owed``; review R24)."""

    balance: Money
    addresses: int
    owed_to_payers: Money | None = None


@attrs.frozen(kw_only=True)
class WalletBooks:
    """The wallets' side of a snapshot: their ledger accounts, the claims, the buys and what the books say of them."""

    wallets: int  # how many wallets were read
    balances: Mapping[str, AccountBalance]  # every wallet account of every wallet read (absent: never opened)
    claims: Mapping[str, Money]  # asset code -> posted balance of liabilities:wallet_claims:<ASSET>
    waiting: tuple[Transfer, ...]  # every transfer awaiting a claim
    overdue: tuple[Transfer, ...]  # transfers awaiting a claim whose window ended more than ``wallets.CLAIM_GRACE`` ago
    buys: tuple[Buy, ...]
    buy_entries: Mapping[str, bool]  # a buy's id -> its credit entry exists in the ledger
    collections: Money  # posted balance of assets:mpesa_collections:KES (zero when never opened)
    paybill: tuple[PaybillPayment, ...] = ()  # every payment to the paybill outside an STK prompt (C2B)
    suspense: Money = attrs.field(factory=lambda: Money.zero(KES))  # posted liabilities:paybill_suspense:KES
    held: tuple[Transfer, ...] = ()  # every send held for a frozen recipient (review4 R6)
    held_balances: Mapping[str, Money] = attrs.field(factory=dict)  # asset code -> posted liabilities:p2p_held:<ASSET>


@attrs.frozen(kw_only=True)
class Records:
    """A snapshot of the records the checks compare (outside sources are None when not read)."""

    invoices: tuple[Invoice, ...]
    credits: tuple[PaymentCredit, ...]
    refunds: tuple[Refund, ...]
    payouts: tuple[Payout, ...]
    custody: Mapping[str, Money]  # custody account -> posted balance (zero when the account was never opened)
    in_flight: AccountBalance | None
    float_balance: AccountBalance | None  # the books' M-Pesa float
    holds: Mapping[str, Hold | None]  # a payout's hold id -> the hold, None if the ledger has none
    credit_entries: Mapping[str, tuple[bool, bool]]  # a credit's entry id -> (the entry exists, it has a reversal)
    trial_balance: Mapping[str, Decimal]
    at: datetime  # when the snapshot was read
    answers: tuple[UnmatchedAnswer, ...] = ()  # M-Pesa answers kept because no request of ours named them yet
    # M-Pesa's own record of what moved (the org portal's statement export), one per Short Code: the payouts'
    # (B2C/B2B PartyA) and the collections' (STK Push, C2B paybill); the same statement when one Short Code is both
    payout_statement: Statement | None = None
    collection_statement: Statement | None = None
    statement_shortcodes: tuple[str, ...] = ()  # the Short Codes of every statement given (to say why one is missing)
    bank_statement: BankStatement | None = None  # the settlement bank account's statement (the bank transfers')
    mpesa_balance: Money | None = None  # M-Pesa's Account Balance answer (the float's available funds)
    books_float: Money | None = None  # the books' float when that answer came (None: compare with the books now)
    float_baseline: Money | None = None  # float funded outside the books: opening balance, unbooked top-ups
    on_chain: Mapping[str, OnChain] | None = None  # custody account -> what the chain holds at our addresses
    # network -> why its balances could not be read (node down): its custody accounts are absent from on_chain
    chains_unread: Mapping[str, str] = attrs.field(factory=dict)
    sweeps: tuple[Sweep, ...] | None = None  # the treasury's sweeps (None: no treasury store)
    network_fees: Mapping[str, Money] = attrs.Factory(dict)  # network-fee expense account -> posted
    float_reading: FloatReading | None = None  # the float the latest B2C result reported
    wallets: WalletBooks | None = None  # the personal wallets' side (None: no wallet store)
    deposits: DepositBooks | None = None  # the wallets' crypto deposits (None: no deposit store)
    withdrawals: WithdrawalBooks | None = None  # the wallets' crypto withdrawals (None: no withdrawal store)
    conversions: tuple[BookedConversion, ...] = ()  # crypto the treasury sold (it left custody), from the ledger
    wrong_network: tuple[WrongNetworkPayment, ...] = ()  # wrong-network payments booked into custody to be refunded
    wrong_pending: tuple[WrongNetworkPayment, ...] = ()  # wrong-network or wrong-asset payments awaiting a decision
    remittances: RemittanceBooks | None = None  # the remittance desk's orders (None: no remittance store)
    # how long a payout may stay without a final result before it is a difference (``payouts-unresolved``): the
    # payouts' unknown bound, and their result deadline for one still ``submitted``
    unknown_bound: timedelta = DEFAULT_UNKNOWN_BOUND
    result_deadline: timedelta = DEFAULT_RESULT_DEADLINE


@attrs.frozen(kw_only=True)
class RemittanceBooks:
    """The remittance desk's side of a snapshot: every order, those whose conversion was reversed, and the desk's
    USDT liability less the refunds holding part of it (``available``)."""

    orders: tuple[RemittanceOrder, ...]
    unconverted: frozenset[str]  # order ids whose conversion has its reversal entry
    liability: Money


@attrs.frozen(kw_only=True)
class DepositBooks:
    """The wallet deposits' side of a snapshot: every deposit, its entries, the suspense account of held ones."""

    deposits: tuple[Deposit, ...]
    entries: Mapping[str, tuple[bool, bool]]  # deposit id -> (its generation's credit entry exists, its reversal)
    held: Mapping[str, Money]  # asset code -> posted balance of liabilities:deposits_held:<ASSET> (absent: never)


@attrs.frozen(kw_only=True)
class WithdrawalBooks:
    """The wallet withdrawals' side of a snapshot: every withdrawal, its hold and entry, the in-flight accounts."""

    withdrawals: tuple[Withdrawal, ...]
    holds: Mapping[str, Hold | None]  # a withdrawal's hold id -> the hold (None: the ledger has none)
    sent: Mapping[str, bool]  # a withdrawal's id -> its custody entry (withdrawal:<id>:send) exists
    in_flight: Mapping[str, AccountBalance]  # asset code -> liabilities:wallet_withdrawals_in_flight:<ASSET>


@attrs.frozen
class Check:
    """One named check of an area; ``about`` is its rule; ``needs`` says why it cannot run on a snapshot;
    ``partly`` why it ran on part of its outside source only (a chain of several could not be read): the check runs
    on the rest, and its result is skipped, saying why, with whatever differences the rest showed."""

    name: str
    area: str
    run: Callable[[Records], list[Difference]]
    needs: Callable[[Records], str] = lambda _records: ""
    partly: Callable[[Records], str] = lambda _records: ""

    @property
    def about(self) -> str:
        return (self.run.__doc__ or "").strip()


@attrs.frozen
class CheckResult:
    """A check's differences, or the reason it was skipped (an outside source was not read)."""

    check: Check
    differences: tuple[Difference, ...]
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.differences


@attrs.frozen
class Report:
    """Every check's result on one snapshot, taken at ``at``."""

    at: datetime
    results: tuple[CheckResult, ...]
    unread: Mapping[str, str] = attrs.field(factory=dict)  # an outside source configured but unreadable -> why
    # what the run compared with (R10-13): the Account Balance and its source (M-Pesa's answer or typed), the float
    # baseline and its source (typed or configured), each statement's Short Code, period and digest; and who ran it
    inputs: Mapping[str, str] = attrs.field(factory=dict)
    operator: str = ""

    @property
    def skipped(self) -> list[str]:
        """The checks skipped (wholly or in part), by name."""
        return [r.check.name for r in self.results if r.skipped]

    @property
    def differences(self) -> int:
        return sum(len(r.differences) for r in self.results)

    @property
    def clean(self) -> bool:
        return self.differences == 0

    def by_check(self) -> dict[str, int]:
        """How many differences each check found."""
        return {r.check.name: len(r.differences) for r in self.results}

    def records(self, run_id: str, by: str) -> tuple[CheckRecord, ...]:
        """Each check's result as kept by the run store: at most ``KEPT_DIFFERENCES`` differences of a check, with
        how many it found.

        >>> from datetime import UTC
        >>> check = Check("float", "mpesa", lambda _records: [])
        >>> report = Report(datetime(2026, 1, 5, tzinfo=UTC), (CheckResult(check, (Difference("p_1", "1", "2"),)),))
        >>> [(r.name, r.area, r.found, r.by) for r in report.records("rcn_1", "cli")]
        [('float', 'mpesa', 1, 'cli')]
        """
        if by not in RUN_BY:
            raise ValueError(f"a reconciliation is run by one of {', '.join(RUN_BY)}, not {by!r}")
        return tuple(
            CheckRecord(
                run_id=run_id,
                at=self.at,
                by=by,
                name=r.check.name,
                area=r.check.area,
                about=r.check.about,
                skipped=r.skipped,
                found=len(r.differences),
                differences=r.differences[:KEPT_DIFFERENCES],
                operator=self.operator,
                inputs=dict(self.inputs),
            )
            for r in self.results
        )


RUN_BY = ("schedule", "cli", "console", "api")  # who runs a reconciliation: the worker, the CLI, the console, REST
KEPT_DIFFERENCES = 200  # a stored check result keeps this many of its differences (and how many it found)


@attrs.frozen(kw_only=True)
class RunRetention:
    """How long stored reconciliation results are kept (data; the worker's daily ``reconciliation.prune``).

    A result with differences is evidence: kept ``with_differences`` (by default the 7 years, 2,557 days, the
    privacy retention rules keep financial records for under POCAMLA s.46). A clean or skipped one only lets runs be
    compared: kept ``clean`` (30 days: about 1,300 rows a day on the 30-minute schedule). Each check's latest result
    (what ``latest_per_check`` shows) is never pruned, however old.

    >>> RunRetention().cutoffs(datetime(2026, 12, 6))
    (datetime.datetime(2026, 11, 6, 0, 0), datetime.datetime(2019, 12, 6, 0, 0))
    """

    clean: timedelta = timedelta(days=30)
    with_differences: timedelta = timedelta(days=2557)

    def __attrs_post_init__(self) -> None:
        if self.clean < timedelta(days=1) or self.with_differences < self.clean:
            raise ValueError("reconciliation results are kept a day at least, and differences no shorter than clean")

    def cutoffs(self, now: datetime) -> tuple[datetime, datetime]:
        """(clean results before this go, results with differences before this go)."""
        return now - self.clean, now - self.with_differences


@attrs.frozen(kw_only=True)
class CheckRecord:
    """One check's result in one stored reconciliation run: who ran it and when, and what it found."""

    run_id: str
    at: datetime  # when the run read its snapshot
    by: str  # one of RUN_BY
    name: str
    area: str
    about: str
    skipped: str  # why it did not run (an outside source was not given); "" when it ran
    found: int  # how many differences it found
    differences: tuple[Difference, ...]  # the first KEPT_DIFFERENCES of them
    operator: str = ""  # who ran it: ops:<login> from the CLI, user:<id> from the console or API ("" before R10-13)
    inputs: Mapping[str, str] = attrs.field(factory=dict)  # what it compared with (``Report.inputs``)

    @property
    def typed_balance(self) -> bool:
        """The float was compared with an Account Balance someone typed, not M-Pesa's own answer."""
        return self.inputs.get("mpesa_balance_source") == "typed"

    @property
    def ok(self) -> bool:
        return not self.skipped and self.found == 0
