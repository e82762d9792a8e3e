"""Withdrawing crypto from a wallet to an outside address (USDT or BTC: what wallets hold), the use cases.

In the order a withdrawal lives (``withdrawal_model`` has the values and the states):

1. ``quote``: the address checked for its network (checksums: the deployment's validators, the ones
   ``cryptopay addresses validate`` uses) and refused if the platform controls it (a hot wallet, or a wallet's, an
   invoice's or a remittance order's deposit address, on any network sharing its key: ``InternalAddress``, 422
   ``internal_address``, ``cryptopay.core.payments.internal``; a book transfer by phone or username is the way to
   pay someone here), our fee, the network fee estimate (the chain's), the total taken from the
   wallet, the cool-off if the address is new, and whether the Travel Rule asks for the self-hosted wallet
   attestation. Nothing is written. Our fee is the larger of the schedule for the asset on that network (``FeeBook``
   data, ``withdrawal_schedule``) and the network's fee estimate x (1 + ``network_fee_margin``) valued in the asset
   at the mids of fresh quotes: the platform pays the network, and a withdrawal never costs it more than it takes.
2. ``request`` (the shells check the user's step-up first: money leaves): the KYC limits (``withdraw.single``,
   ``.daily``, ``.monthly`` and the tier's, refused by name with what remains), then screening of the address
   (a sanctioned address is blocked before anything is held or signed: monitoring's blocking rule raises the alert,
   and the refusal is audited), then in one unit of work: the wallet locked and refused if frozen, the limits and
   the platform's addresses again (one derived since the quote is caught),
   the hold of amount + fee (``flows.hold_withdrawal``), the withdrawal recorded (requested, ``send_after`` now, or
   a cool-off after the first withdrawal to a new address), the limits' usage, the Travel Rule record at or above
   its threshold (with the attestation), the audit record. Monitoring journals the movement (``Monitoring.check``).
   A fee above the ``max_fee`` the user was shown is refused (``FeeChanged``, 409 ``fee_changed``: ask a new quote).
   The withdrawal keeps the estimate and ``network_fee_cap``: the most of the network's fee its fee covers, in the
   network's coin (None while the chain or the prices could not say: the fee is then the schedule's, and the cap is
   worked out from the prices at send time).
3. ``send_due`` (the worker): each requested withdrawal past its ``send_after`` is screened again (a list may have
   changed during the cool-off), its address checked against the platform's again (an address that became ours
   during the cool-off fails it before signing, ``failure_code`` ``internal_address``, the hold voided), its
   network fee estimated again (above its ``network_fee_cap``, before anything is signed: it is not sent at a loss
   but failed with ``failure_code`` ``fee_changed``, the hold voided and audited, and the user asks a new quote;
   when the chain cannot estimate, the send's own verdict decides) and sent by the
   network's hot-wallet ``ChainSender``, idempotent on the withdrawal id, as refunds are sent. A refusal before
   signing fails it at once (hold voided: the coins stay in the wallet). While screening is required and no
   sanctions list is loaded (``ScreeningPort.must_wait``, ``CRYPTOPAY_SCREENING_REQUIRED``) nothing is sent
   unscreened: the withdrawal is held, not failed (it stays ``requested``, its coins held, ``held``
   ``screening_unavailable``, audited ``wallet.withdrawal_held`` once), and the first run after a list is imported
   screens it and sends it (audited ``wallet.withdrawal_released``) or fails it on a match. A request made then is
   recorded held at once.
4. ``check_sent`` (the worker): follows sent withdrawals; confirmed: the hold is posted, custody pays out and our
   fee is revenue (``flows.complete_withdrawal``, with the network's fee when the chain reports it); failed or
   reverted: the hold is voided. A dropped transaction is rebroadcast once (the same bytes) and then left to an
   operator, holding the coins, since it may still land: it stays ``sent`` with ``failure`` saying so (``stuck``),
   and reconciliation's ``withdrawals-in-flight`` names it.
5. ``resolve`` (an operator: ``cryptopay withdrawals resolve ID``): the chain is asked again through the hot wallet's
   sender (receipt, then the nonce or the spent coins). Mined and deep enough: posted as confirmed; reverted: failed,
   the coins back; still pending (in the mempool, or evicted with its nonce still free): the same signed bytes are
   broadcast again, after the address is screened again. Only with ``fail`` and a reason, and only when the chain
   shows the transaction can no longer be mined (dropped: its nonce or coins went to another transaction; or the
   sender never signed one), is the hold voided and the coins returned. Anything else is refused and changes
   nothing; a withdrawal already confirmed or failed is returned as it is (idempotent); every call is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.ivms101 import (
    NameIdentifier,
    NationalIdentification,
    NationalIdentifierType,
    NaturalPerson,
    Party,
)
from cryptopay.core.compliance.monitoring import Blocked, Monitoring
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.compliance.screening import SCREENING_UNAVAILABLE
from cryptopay.core.compliance.travel_rule import (
    Assessment,
    IncompleteTravelRuleData,
    SelfHostedAttestation,
    Transfer,
    TransferDirection,
    TravelRule,
)
from cryptopay.core.errors import (
    CryptopayError,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    NotFound,
    Refused,
    Unavailable,
)
from cryptopay.core.fees import FeeBook
from cryptopay.core.fx import Pair
from cryptopay.core.kyc import Product, check_wallet_movement
from cryptopay.core.kyc.applications import ApplicationState, KycApplication
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.gate import frozen_among
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Asset, Money, Rounding
from cryptopay.core.payments.internal import INTERNAL_ADDRESS, PlatformAddresses
from cryptopay.core.payments.model import address_key
from cryptopay.core.payments.refunds import AddressValidator, check_address_shape, may_be_signed, refuse_burn_address
from cryptopay.core.ports.chains import ChainSender, SentTransaction, TxState, WithdrawalRequest
from cryptopay.core.ports.compliance import ScreeningPort
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction, page_past
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.withdrawals import NetworkFeeEstimator, WithdrawalUnitOfWork, WithdrawalUowFactory
from cryptopay.core.rails import Rail
from cryptopay.core.wallets.model import FeeChanged, Usage
from cryptopay.core.wallets.service import _sender, kes_value, spending
from cryptopay.core.wallets.withdrawal_model import (
    DEFAULT_NETWORK_FEE_MARGIN,
    DEFAULT_WITHDRAWAL_FEES,
    FEE_CHANGED,
    WITHDRAWABLE,
    Withdrawal,
    WithdrawalQuote,
    WithdrawalState,
    withdrawal_schedule,
)

__all__ = ["DEFAULT_COOL_OFF", "FeeChanged", "NetworkFee", "Resolution", "Withdrawals", "network_fee"]

log = logging.getLogger(__name__)

DEFAULT_COOL_OFF = timedelta(hours=24)
SYSTEM = "system:withdrawals"
_ID_TYPES = {
    IdType.NATIONAL_ID: NationalIdentifierType.IDCD,
    IdType.PASSPORT: NationalIdentifierType.CCPT,
    IdType.ALIEN_ID: NationalIdentifierType.ARNU,
}


@attrs.frozen
class NetworkFee:
    """The network's fee estimate (in its coin), what it is worth in the asset with the margin (the fee's floor),
    and the most of the network's fee a fee covers (in the coin), once the fee is known."""

    estimate: Money
    value: Money
    coin_per_asset: Decimal

    def cap(self, fee: Money) -> Money:
        coin = self.estimate.asset
        return Money.rounded(fee.amount * self.coin_per_asset, coin, Rounding.DOWN)


@attrs.frozen
class _Plan:
    """A checked request, before its unit of work: the address in normal form, the rail, fee, value, assessment."""

    network: str
    address: str
    amount: Money
    fee: Money
    kes: Money
    rail: Rail
    assessment: Assessment | None
    schedule_fee: Money
    network_fee: NetworkFee | None

    @property
    def network_fee_cap(self) -> Money | None:
        return self.network_fee.cap(self.fee) if self.network_fee else None


@attrs.frozen
class Resolution:
    """What ``Withdrawals.resolve`` found on chain and did: ``outcome`` is ``confirmed``, ``failed`` (reverted on
    chain), ``returned`` (failed by the operator: the coins are back), ``rebroadcast`` (still pending: sent again),
    ``dropped`` (it will not be mined: nothing changed until ``fail`` is asked) or ``unchanged`` (already final)."""

    withdrawal: Withdrawal
    outcome: str
    chain: str  # the chain's state as the sender reported it (``pending``, ``dropped``, ``not signed`` ...)
    message: str


def network_fee(
    estimator: NetworkFeeEstimator | None,
    request: WithdrawalRequest,
    quoter: Callable[[], Quoter],
    *,
    margin: Decimal = DEFAULT_NETWORK_FEE_MARGIN,
) -> NetworkFee | None:
    """What sending ``request`` costs the platform on its network, valued in the request's asset with ``margin``
    (the withdrawal fee's floor, and what a remittance's excess refund deducts): the estimator's estimate in the
    network's coin x (1 + margin), at the mids of fresh quotes in KES, rounded up. None where no estimator is
    configured or while the chain or the prices cannot say (the send-time check still stands between the platform
    and a loss).

    >>> from cryptopay.core.testing.withdrawals import FakeFeeEstimator
    >>> from cryptopay.core.money import USDT
    >>> request = WithdrawalRequest("wdr_1", "tron", "T...", Money.of(10, USDT), None)
    >>> fee = network_fee(FakeFeeEstimator(Money.of(2, USDT)), request, lambda: NotImplemented)
    >>> str(fee.value) if fee else None
    '2.500000 USDT'
    """
    if estimator is None:
        return None
    try:
        estimate = estimator.estimate_fee(request)
        coin_per_asset = _coin_per_asset(quoter, estimate.asset, request.amount.asset)
    except Exception:  # the chain or the prices cannot say now (or a library raised)
        log.info("no %s network fee estimate for a withdrawal", request.network, exc_info=True)
        return None
    with_margin = estimate.amount * (1 + margin)
    value = Money.rounded(with_margin / coin_per_asset, request.amount.asset, Rounding.UP)
    return NetworkFee(estimate, value, coin_per_asset)


def _coin_per_asset(quoter: Callable[[], Quoter], coin: Asset, asset: Asset) -> Decimal:
    """How much of the network's coin one unit of ``asset`` is worth, at the mids of fresh quotes in KES."""
    if coin == asset:
        return Decimal(1)
    prices = quoter()
    return prices.quote(Pair(asset, KES)).mid / prices.quote(Pair(coin, KES)).mid


@attrs.define(kw_only=True)
class Withdrawals:
    uow: WithdrawalUowFactory
    ledger: Ledger
    clock: Clock
    ids: IdGenerator
    quoter: Callable[[], Quoter]  # KES values for the limits (and the Travel Rule's USD, through ``travel_rule``)
    rails: Callable[[], Mapping[str, Rail]]  # the deployment's rails by key (``usdt-polygon``): token contracts
    senders: Callable[[], Mapping[str, ChainSender]]  # the hot-wallet senders per network
    validators: Mapping[str, AddressValidator] = attrs.Factory(dict)
    estimators: Callable[[], Mapping[str, NetworkFeeEstimator]] = lambda: {}
    screening: ScreeningPort | None = None
    monitoring: Monitoring | None = None
    travel_rule: TravelRule | None = None
    fees: FeeBook = DEFAULT_WITHDRAWAL_FEES
    network_fee_margin: Decimal = DEFAULT_NETWORK_FEE_MARGIN
    cool_off: timedelta = DEFAULT_COOL_OFF
    platform: PlatformAddresses = attrs.Factory(PlatformAddresses)  # the hot wallets (the registry is the uow's)

    # -- before confirming ---------------------------------------------------------------------------------------
    def quote(self, user_id: str, network: str, address: str, amount: Money) -> WithdrawalQuote:
        """What withdrawing ``amount`` to ``address`` on ``network`` would take and cost; nothing is written."""
        plan = self._plan(network, address, amount)
        send_after, first = in_transaction(self.uow, lambda uow: self._quoted(uow, user_id, plan))
        assessment = plan.assessment
        return WithdrawalQuote(
            network=plan.network,
            address=plan.address,
            amount=plan.amount,
            fee=plan.fee,
            total=plan.amount + plan.fee,
            network_fee=plan.network_fee.estimate if plan.network_fee else None,
            first_time_address=first,
            send_after=send_after,
            travel_rule=bool(assessment and assessment.applies),
            usd_equivalent=assessment.equivalent if assessment else None,
            schedule_fee=plan.schedule_fee,
            network_fee_value=plan.network_fee.value if plan.network_fee else None,
        )

    # -- confirming ----------------------------------------------------------------------------------------------
    def request(
        self,
        user_id: str,
        network: str,
        address: str,
        amount: Money,
        *,
        self_hosted: bool = False,
        max_fee: Money | None = None,
    ) -> Withdrawal:
        """Hold and record the withdrawal (the shell checked the step-up). ``self_hosted``: the user attests the
        address is a wallet of their own (needed at or above the Travel Rule's threshold). ``max_fee``: the fee the
        user was shown; ``FeeChanged`` if the fee is above it now."""
        plan = self._plan(network, address, amount)
        if max_fee is not None and (max_fee.asset != plan.fee.asset or plan.fee > max_fee):
            raise FeeChanged(
                f"the fee is {plan.fee} now (the {plan.network} network's fee changed), above the {max_fee} you were "
                "shown: ask for a new quote",
                field="max_fee",
                fee=str(plan.fee),
            )
        withdrawal_id = self.ids.new_id("wdr")
        if plan.assessment is not None and plan.assessment.applies and not self_hosted:
            raise IncompleteTravelRuleData(
                f"a withdrawal worth {plan.assessment.equivalent} or more needs your confirmation that the address "
                "is a wallet you own and control",
                field="self_hosted",
            )
        in_transaction(self.uow, lambda uow: self._checks(uow, user_id, plan))  # refused by name before screening
        self._screen(user_id, withdrawal_id, plan)
        attested = self_hosted and plan.assessment is not None and plan.assessment.applies
        held = SCREENING_UNAVAILABLE if self._must_wait() else None  # screened against no list: it waits for one
        return in_transaction(self.uow, lambda uow: self._record(uow, withdrawal_id, user_id, plan, attested, held))

    def _must_wait(self) -> bool:
        """Whether money screened now must wait for a sanctions list (``ScreeningPort.must_wait``)."""
        return self.screening is not None and self.screening.must_wait()

    def _plan(self, network: str, address: str, amount: Money) -> _Plan:
        network = network.strip().lower()
        if amount.asset not in WITHDRAWABLE:
            codes = " or ".join(a.code for a in WITHDRAWABLE)
            raise InvalidAmount(
                f"withdrawals are in {codes} (what wallets hold), not {amount.asset.code}", field="amount"
            )
        if not amount.is_positive():
            raise InvalidAmount("the amount must be positive", field="amount")
        rail = self.rails().get(f"{amount.asset.code.lower()}-{network}")
        if rail is None:
            raise InvalidInput(f"{amount.asset.code} cannot be withdrawn on {network!r} here", field="network")
        if network not in self.senders():
            raise Refused(f"withdrawals on {network} are not configured (no hot wallet)")
        checked = self._check_address(network, address)
        refuse_burn_address(checked, self.rails().values())
        scheduled = withdrawal_schedule(self.fees, amount, network, at=self.clock.now()).quote(amount).fee
        kes = kes_value(amount, self.quoter())
        assessment = self.travel_rule.assess(amount) if self.travel_rule is not None else None
        request = WithdrawalRequest("wdr_estimate", network, checked, amount, rail.token.contract)
        network_fee = self._network_fee(request)
        fee = max(scheduled, network_fee.value) if network_fee else scheduled
        return _Plan(network, checked, amount, fee, kes, rail, assessment, scheduled, network_fee)

    def _check_address(self, network: str, address: str) -> str:
        validate = self.validators.get(network)
        try:
            return validate(address.strip()) if validate else check_address_shape(network, address)
        except InvalidInput as error:
            raise InvalidInput(f"not a {network} address: {error.message}", field="address") from None

    def _network_fee(self, request: WithdrawalRequest) -> NetworkFee | None:
        """The network's estimate valued in the asset, with the margin (``network_fee``)."""
        return network_fee(self.estimators().get(request.network), request, self.quoter, margin=self.network_fee_margin)

    def _quoted(self, uow: WithdrawalUnitOfWork, user_id: str, plan: _Plan) -> tuple[datetime, bool]:
        self._refuse_internal(uow, plan.network, plan.address)
        return self._send_after(uow, user_id, plan)

    def _checks(self, uow: WithdrawalUnitOfWork, user_id: str, plan: _Plan) -> None:
        self._refuse_internal(uow, plan.network, plan.address)
        self._limits(uow, user_id, plan)

    def _refuse_internal(self, uow: WithdrawalUnitOfWork, network: str, address: str) -> None:
        """``InternalAddress`` for an address the platform controls on ``network`` (see the module docstring)."""
        self.platform.refuse(uow.deposit_addresses, network, address)

    def _send_after(self, uow: WithdrawalUnitOfWork, user_id: str, plan: _Plan) -> tuple[datetime, bool]:
        """Now, for an address the user withdrew to before; else the end of its cool-off (which began with the
        first withdrawal to it, so a second one waits no longer than the first)."""
        now = self.clock.now()
        earlier = [
            w
            for w in uow.withdrawals.to_address(user_id, plan.network, address_key(plan.network, plan.address))
            if w.state is not WithdrawalState.FAILED
        ]
        if not earlier:
            return now + self.cool_off, True
        return max(now, earlier[0].created_at + self.cool_off), False

    def _limits(self, uow: WithdrawalUnitOfWork, user_id: str, plan: _Plan) -> None:
        now = self.clock.now()
        _, profile = _sender(uow, user_id)
        decision = check_wallet_movement(profile, Product.WITHDRAW, plan.kes, spent=spending(uow, user_id, now), at=now)
        decision.enforce()

    def _screen(self, user_id: str, withdrawal_id: str, plan: _Plan) -> None:
        """Refuse (``Blocked``) a listed address before anything is held or signed; monitoring journals the rest."""
        matches = self.screening.screen_address(plan.network, plan.address) if self.screening else []
        movement = self._movement(withdrawal_id, user_id, plan)
        if matches:
            refs = ",".join(sorted({m.ref for m in matches}))
            self._audit(f"user:{user_id}", "wallet.withdrawal_blocked", f"withdrawal:{withdrawal_id}", lists=refs)
        if self.monitoring is not None:
            self.monitoring.check(movement)  # raises Blocked (its alert committed) on the sanctions rule
        if matches:
            raise Blocked("the destination address is on a sanctions list: the withdrawal was not made")

    def _movement(self, withdrawal_id: str, user_id: str, plan: _Plan) -> Movement:
        return Movement(
            id=withdrawal_id,
            party_id=user_id,
            product=Product.WITHDRAW.value,
            direction=Direction.OUT,
            amount=plan.kes,
            at=self.clock.now(),
            counterparty=plan.address,
            network=plan.network,
            asset=plan.amount.asset.code,
        )

    def _record(
        self,
        uow: WithdrawalUnitOfWork,
        withdrawal_id: str,
        user_id: str,
        plan: _Plan,
        attested: bool,
        held: str | None = None,
    ) -> Withdrawal:
        now = self.clock.now()
        self._refuse_internal(uow, plan.network, plan.address)  # again, in the transaction that holds the coins
        self._limits(uow, user_id, plan)  # again, on the locked wallet: two requests cannot both fit one limit
        send_after, first = self._send_after(uow, user_id, plan)
        try:
            hold = flows.hold_withdrawal(
                self.ledger,
                withdrawal_id=withdrawal_id,
                user_id=user_id,
                total=plan.amount + plan.fee,
                session=uow.ledger,
            )
        except InsufficientFunds:
            raise InsufficientFunds(
                f"your {plan.amount.asset.code} balance does not cover {plan.amount + plan.fee} (amount and fee)",
                field="amount",
            ) from None
        withdrawal = Withdrawal(
            id=withdrawal_id,
            user_id=user_id,
            network=plan.network,
            address=plan.address,
            amount=plan.amount,
            fee=plan.fee,
            kes_value=plan.kes,
            hold_id=hold.id,
            created_at=now,
            send_after=send_after,
            first_time_address=first,
            token_contract=plan.rail.token.contract,
            network_fee_estimate=plan.network_fee.estimate if plan.network_fee else None,
            network_fee_cap=plan.network_fee_cap,
            held=held,
        )
        uow.withdrawals.add(withdrawal)
        uow.wallet_usage.add(
            Usage(self.ids.new_id("use"), user_id, Product.WITHDRAW.value, plan.kes, now, withdrawal_id)
        )
        if self.travel_rule is not None and plan.assessment is not None:
            withdrawal.travel_rule_id = self._travel_record(uow, withdrawal, plan.assessment, attested)
            uow.withdrawals.update(withdrawal)
        details = {
            "amount": str(withdrawal.amount),
            "fee": str(withdrawal.fee),
            "kes_value": str(plan.kes),
            "network": withdrawal.network,
            "address": withdrawal.address,
            "send_after": send_after.isoformat(),
            "network_fee_estimate": str(withdrawal.network_fee_estimate or ""),
            "network_fee_cap": str(withdrawal.network_fee_cap or ""),
        }
        if held is not None:
            details["held"] = held
        uow.audit.append(AuditEvent(f"user:{user_id}", "wallet.withdraw", f"withdrawal:{withdrawal_id}", now, details))
        if held is not None:
            uow.audit.append(
                AuditEvent(SYSTEM, "wallet.withdrawal_held", f"withdrawal:{withdrawal_id}", now, {"reason": held})
            )
        return withdrawal

    def _travel_record(
        self, uow: WithdrawalUnitOfWork, withdrawal: Withdrawal, assessment: Assessment, attested: bool
    ) -> str | None:
        assert self.travel_rule is not None
        if not assessment.applies:
            return None
        transfer = Transfer(
            TransferDirection.OUT, withdrawal.network, withdrawal.amount, withdrawal.id, withdrawal.user_id
        )
        person = _originator(uow.kyc_applications.for_party(withdrawal.user_id), withdrawal.user_id)
        attestation = (
            SelfHostedAttestation(withdrawal.user_id, withdrawal.network, withdrawal.address, withdrawal.created_at)
            if attested
            else None
        )
        record = self.travel_rule.keep(
            uow,
            transfer,
            assessment,
            originator=Party(persons=(person,), account_numbers=(withdrawal.user_id,)),
            beneficiary=Party(persons=(person,), account_numbers=(withdrawal.address,)),
            attestation=attestation,
            actor=f"user:{withdrawal.user_id}",
        )
        return record.id if record else None

    # -- the worker ----------------------------------------------------------------------------------------------
    def send_due(self, *, limit: int = 100) -> list[Withdrawal]:
        """Screen again and send up to ``limit`` requested withdrawals whose ``send_after`` has passed; one whose
        owner compliance froze since it was asked (a first-time address's cool-off) stays requested, its coins held,
        until the freeze is lifted, as a frozen merchant's planned payout does (review6 F8/F9: checked when money
        leaves), and the run reads past it (``page_past``: a frozen user's many never hold up the others')."""
        now = self.clock.now()

        def due(after: tuple[datetime, str] | None) -> list[Withdrawal]:
            return in_transaction(self.uow, lambda uow: uow.withdrawals.due(now, limit=limit, after=after))

        def not_frozen(page: list[Withdrawal]) -> list[Withdrawal]:
            frozen = in_transaction(self.uow, lambda uow: frozen_among(uow.kyc, (w.user_id for w in page)))
            return [w for w in page if w.user_id not in frozen]

        ready = page_past(due, not_frozen, lambda w: (w.send_after, w.id), limit=limit)
        return [self._send_one(w) for w in ready]

    def check_sent(self, *, limit: int = 100) -> list[Withdrawal]:
        """Follow every sent withdrawal: post on confirmation, refund on failure."""
        sent = in_transaction(self.uow, lambda uow: uow.withdrawals.list(state=WithdrawalState.SENT, limit=limit))
        return [self._follow(w) for w in sent]

    def _send_one(self, withdrawal: Withdrawal) -> Withdrawal:
        if self._must_wait():  # no list to screen the address against: held, never sent unscreened
            return in_transaction(self.uow, partial(self._hold, withdrawal_id=withdrawal.id))
        if withdrawal.held is not None:  # a list is loaded now: screened below like any other
            withdrawal = in_transaction(self.uow, partial(self._release, withdrawal_id=withdrawal.id))
        matches = self.screening.screen_address(withdrawal.network, withdrawal.address) if self.screening else []
        if matches:
            refs = ",".join(sorted({m.ref for m in matches}))
            return self._settle_later(withdrawal.id, None, f"the address was listed before sending ({refs})")
        sender = self.senders().get(withdrawal.network)
        if sender is None:
            return withdrawal  # the hot wallet is not configured in this process: another will send it
        ours = in_transaction(
            self.uow, lambda uow: self.platform.owner(uow.deposit_addresses, withdrawal.network, withdrawal.address)
        )
        if ours is not None and not may_be_signed(sender, withdrawal.id):
            why = "the address belongs to cryptopay now: it was not sent (send by phone or username instead)"
            return self._settle_later(withdrawal.id, None, why, code=INTERNAL_ADDRESS)
        try:
            risen = self._fee_risen(withdrawal)
        except CryptopayError:
            log.warning("withdrawal %s waits: its network fee cannot be valued now", withdrawal.id, exc_info=True)
            return withdrawal  # the prices cannot say now: the next run asks again
        if risen is not None and not may_be_signed(sender, withdrawal.id):
            return self._settle_later(withdrawal.id, None, risen, code=FEE_CHANGED)
        try:
            sent = sender.send(_request(withdrawal))
        except Unavailable:
            return withdrawal  # the next run tries again (the sender is idempotent on the withdrawal id)
        except CryptopayError as error:
            if may_be_signed(sender, withdrawal.id):
                return withdrawal  # a signed transaction exists and may land: keep the hold, send the same later
            return self._settle_later(withdrawal.id, None, error.message)
        return self._settle_later(withdrawal.id, sent, None)

    def _hold(self, uow: WithdrawalUnitOfWork, withdrawal_id: str) -> Withdrawal:
        """Hold a requested withdrawal until a sanctions list is loaded (audited ``wallet.withdrawal_held`` once)."""
        withdrawal, now = _load(uow, withdrawal_id, lock=True), self.clock.now()
        if withdrawal.state is not WithdrawalState.REQUESTED or withdrawal.held == SCREENING_UNAVAILABLE:
            return withdrawal
        withdrawal.held, withdrawal.updated_at = SCREENING_UNAVAILABLE, now
        uow.withdrawals.update(withdrawal)
        details = {"reason": SCREENING_UNAVAILABLE}
        uow.audit.append(AuditEvent(SYSTEM, "wallet.withdrawal_held", f"withdrawal:{withdrawal.id}", now, details))
        return withdrawal

    def _release(self, uow: WithdrawalUnitOfWork, withdrawal_id: str) -> Withdrawal:
        """A list is loaded: the hold's reason is gone (audited ``wallet.withdrawal_released``); screened next."""
        withdrawal, now = _load(uow, withdrawal_id, lock=True), self.clock.now()
        if withdrawal.held is None:
            return withdrawal
        details = {"reason": withdrawal.held}
        withdrawal.held, withdrawal.updated_at = None, now
        uow.withdrawals.update(withdrawal)
        uow.audit.append(AuditEvent(SYSTEM, "wallet.withdrawal_released", f"withdrawal:{withdrawal.id}", now, details))
        return withdrawal

    def _fee_risen(self, withdrawal: Withdrawal) -> str | None:
        """Why the withdrawal would be sent at a loss now (the network's estimate above its ``network_fee_cap``, or
        above its fee at today's prices when it was taken without an estimate); None when within, or when the chain
        cannot estimate (an empty hot wallet, a node down: the send's own verdict decides). Raises what pricing
        raises when a cap must be worked out and cannot be."""
        estimator = self.estimators().get(withdrawal.network)
        if estimator is None:
            return None
        try:
            now = estimator.estimate_fee(_request(withdrawal))
        except Exception:
            log.warning("no %s fee estimate before sending %s", withdrawal.network, withdrawal.id, exc_info=True)
            return None
        cap = withdrawal.network_fee_cap
        if cap is None or cap.asset != now.asset:
            per_asset = _coin_per_asset(self.quoter, now.asset, withdrawal.asset)
            cap = Money.rounded(withdrawal.fee.amount * per_asset, now.asset, Rounding.DOWN)
        if now <= cap:
            return None
        return f"the {withdrawal.network} network fee estimate {now} is above the {cap} its fee {withdrawal.fee} covers"

    def _follow(self, withdrawal: Withdrawal) -> Withdrawal:
        sender = self.senders().get(withdrawal.network)
        if sender is None:
            return withdrawal
        try:
            sent = sender.status(withdrawal.id)
            if sent.state is TxState.DROPPED:
                sent = sender.send(_request(withdrawal))  # rebroadcast the same bytes
        except CryptopayError:
            return withdrawal  # ask again on the next run
        return self._settle_later(withdrawal.id, sent, None)

    # -- an operator -----------------------------------------------------------------------------------------------
    def resolve(self, withdrawal_id: str, *, actor: str, fail: bool = False, reason: str | None = None) -> Resolution:
        """Settle a sent withdrawal by what the chain says now (see the module docstring, step 5).

        >>> # withdrawals.resolve("wdr_1", actor="ops:amina")                       -> confirmed / rebroadcast / ...
        >>> # withdrawals.resolve("wdr_1", actor="ops:amina", fail=True, reason="nonce replaced")  -> returned

        ``InvalidInput`` for ``fail`` without a reason (or a reason without ``fail``); ``Refused`` when the chain
        does not justify the action (failing a transaction that may still be mined, confirming nothing, sending to
        an address listed since); ``Unavailable`` when the chain cannot be asked now. Audited whatever it finds.
        """
        why = (reason or "").strip()
        if fail and not why:
            raise InvalidInput("failing a withdrawal needs a reason (what the chain showed)", field="reason")
        if why and not fail:
            raise InvalidInput("a reason goes with --fail", field="reason")
        withdrawal = self.show(withdrawal_id)
        if withdrawal.state is WithdrawalState.REQUESTED:
            raise Refused(f"withdrawal {withdrawal.id} was not sent yet: nothing on chain to resolve")
        if not withdrawal.state.open:
            if fail and withdrawal.state is WithdrawalState.CONFIRMED:
                raise Refused(
                    f"withdrawal {withdrawal.id} is confirmed on chain ({withdrawal.tx_hash}): its coins left"
                )
            done = f"withdrawal {withdrawal.id} is {withdrawal.state.value} already: nothing changed"
            return self._resolved(actor, Resolution(withdrawal, "unchanged", withdrawal.state.value, done), why)
        sender = self.senders().get(withdrawal.network)
        if sender is None:
            raise Unavailable(f"no {withdrawal.network} hot-wallet sender is configured in this process")
        try:
            sent: SentTransaction | None = sender.status(withdrawal.id)
        except NotFound:
            sent = None  # the sender holds no signed transaction for it: nothing can be mined
        chain = "not signed" if sent is None else sent.state.value
        if fail:
            return self._resolve_fail(withdrawal, sent, chain, actor, why)
        if sent is None or sent.state is TxState.DROPPED:
            settled = self._settle_later(withdrawal.id, sent, None) if sent is not None else withdrawal
            message = (
                f"the chain shows {withdrawal.id} will not be mined ({chain}); its coins are held: "
                "`--fail --reason ...` returns them to the wallet"
            )
            return self._resolved(actor, Resolution(settled, "dropped", chain, message), why)
        if sent.state is TxState.PENDING:
            return self._rebroadcast(withdrawal, sender, actor)
        settled = self._settle_later(withdrawal.id, sent, None)
        outcome = "confirmed" if settled.state is WithdrawalState.CONFIRMED else "failed"
        message = f"withdrawal {withdrawal.id} is {settled.state.value} ({sent.tx_hash})"
        return self._resolved(actor, Resolution(settled, outcome, chain, message), why)

    def _resolve_fail(
        self, withdrawal: Withdrawal, sent: SentTransaction | None, chain: str, actor: str, why: str
    ) -> Resolution:
        if sent is not None and sent.state in (TxState.PENDING, TxState.CONFIRMED):
            may = "is confirmed: post it" if sent.state is TxState.CONFIRMED else "may still be mined"
            raise Refused(
                f"withdrawal {withdrawal.id}'s transaction {sent.tx_hash} {may} (chain: {chain}); "
                "run `resolve` without --fail"
            )
        if sent is not None and sent.state is TxState.FAILED:
            settled = self._settle_later(withdrawal.id, sent, None)  # reverted on chain: the chain's own verdict
            message = f"withdrawal {withdrawal.id} reverted on chain ({sent.tx_hash}): the coins are back"
            return self._resolved(actor, Resolution(settled, "failed", chain, message), why)
        error = f"returned by {actor}: {why} (the chain: {chain})"
        settled = in_transaction(
            self.uow, partial(self._settle, withdrawal_id=withdrawal.id, sent=None, error=error, actor=actor)
        )
        if settled.failure != error:  # settled meanwhile by the worker (or another operator): left as it is
            message = f"withdrawal {withdrawal.id} became {settled.state.value} meanwhile: nothing changed"
            return self._resolved(actor, Resolution(settled, "unchanged", chain, message), why)
        message = f"withdrawal {withdrawal.id} failed: {settled.total} is back in the wallet"
        return self._resolved(actor, Resolution(settled, "returned", chain, message), why)

    def _rebroadcast(self, withdrawal: Withdrawal, sender: ChainSender, actor: str) -> Resolution:
        """Still pending: the same signed bytes again, unless the address was listed since it was signed."""
        matches = self.screening.screen_address(withdrawal.network, withdrawal.address) if self.screening else []
        if matches:
            refs = ",".join(sorted({m.ref for m in matches}))
            raise Refused(f"the address of {withdrawal.id} is listed now ({refs}): it is not broadcast again")
        sent = sender.send(_request(withdrawal))
        settled = self._settle_later(withdrawal.id, sent, None)
        message = f"withdrawal {withdrawal.id} broadcast again ({sent.tx_hash}, {sent.state.value})"
        return self._resolved(actor, Resolution(settled, "rebroadcast", sent.state.value, message), "")

    def _resolved(self, actor: str, resolution: Resolution, reason: str) -> Resolution:
        w = resolution.withdrawal
        details = {"outcome": resolution.outcome, "chain": resolution.chain, "state": w.state.value}
        self._audit(actor, "wallet.withdrawal_resolve", f"withdrawal:{w.id}", reason=reason, **details)
        return resolution

    def _settle_later(
        self, withdrawal_id: str, sent: SentTransaction | None, error: str | None, *, code: str | None = None
    ) -> Withdrawal:
        settle = partial(self._settle, withdrawal_id=withdrawal_id, sent=sent, error=error, code=code)
        return in_transaction(self.uow, settle)

    def _settle(
        self,
        uow: WithdrawalUnitOfWork,
        withdrawal_id: str,
        sent: SentTransaction | None,
        error: str | None,
        actor: str = SYSTEM,
        code: str | None = None,
    ) -> Withdrawal:
        withdrawal, now = _load(uow, withdrawal_id, lock=True), self.clock.now()
        if not withdrawal.state.open:
            return withdrawal
        before = withdrawal.state
        if sent is None or sent.state is TxState.FAILED:
            self.ledger.void_hold(withdrawal.hold_id, session=uow.ledger)
            withdrawal.state = WithdrawalState.FAILED
            withdrawal.failure = error or f"transaction {sent and sent.tx_hash} failed on chain"
            withdrawal.failure_code = code
        elif sent.state is TxState.CONFIRMED:
            flows.complete_withdrawal(
                self.ledger,
                withdrawal_id=withdrawal.id,
                hold_id=withdrawal.hold_id,
                network=withdrawal.network,
                amount=withdrawal.amount,
                fee=withdrawal.fee,
                network_fee=sent.fee,
                session=uow.ledger,
            )
            withdrawal.state, withdrawal.network_fee = WithdrawalState.CONFIRMED, sent.fee
        elif sent.state is TxState.DROPPED:
            withdrawal.state = WithdrawalState.SENT
            withdrawal.failure = f"transaction {sent.tx_hash} dropped by the network after a rebroadcast"
        else:
            withdrawal.state, withdrawal.failure = WithdrawalState.SENT, None  # pending (again)
        withdrawal.tx_hash = sent.tx_hash if sent else withdrawal.tx_hash
        withdrawal.updated_at = now
        uow.withdrawals.update(withdrawal)
        if withdrawal.state is not before or withdrawal.failure:
            details = {
                "state": withdrawal.state.value,
                "tx": withdrawal.tx_hash or "",
                "failure": withdrawal.failure or "",
                "failure_code": withdrawal.failure_code or "",
            }
            action = f"wallet.withdrawal_{withdrawal.state.value}"
            uow.audit.append(AuditEvent(actor, action, f"withdrawal:{withdrawal.id}", now, details))
        return withdrawal

    # -- reading -------------------------------------------------------------------------------------------------
    def get(self, user_id: str, withdrawal_id: str) -> Withdrawal:
        """One of the user's withdrawals (``NotFound`` for anyone else's)."""
        found = self.show(withdrawal_id)
        if found.user_id != user_id:
            raise NotFound(f"no withdrawal {withdrawal_id!r}")
        return found

    def show(self, withdrawal_id: str) -> Withdrawal:
        """Any withdrawal, for operators."""
        return in_transaction(self.uow, lambda uow: _load(uow, withdrawal_id))

    def for_user(self, user_id: str, *, after: str | None = None, limit: int = 50) -> list[Withdrawal]:
        return in_transaction(self.uow, lambda uow: uow.withdrawals.for_user(user_id, after=after, limit=limit))

    def list_all(
        self, *, state: WithdrawalState | None = None, after: str | None = None, limit: int = 100
    ) -> list[Withdrawal]:
        """Every user's withdrawals (for operators), by id, strictly after ``after``."""
        return in_transaction(self.uow, lambda uow: uow.withdrawals.list(state=state, after=after, limit=limit))

    def pending(self, *, limit: int = 100) -> list[Withdrawal]:
        """What is still open (requested, cooling off or sent), oldest first."""
        found = [
            *self.list_all(state=WithdrawalState.REQUESTED, limit=limit),
            *self.list_all(state=WithdrawalState.SENT, limit=limit),
        ]
        return sorted(found, key=lambda w: (w.created_at, w.id))[:limit]

    def _audit(self, actor: str, action: str, subject: str, **details: str) -> None:
        event = AuditEvent(actor, action, subject, self.clock.now(), details)
        in_transaction(self.uow, lambda uow: uow.audit.append(event))


def _originator(applications: list[KycApplication], user_id: str) -> NaturalPerson:
    """The user as the Travel Rule names them: the legal name and identity document of their approved KYC."""
    approved = [a for a in applications if a.state is ApplicationState.APPROVED and a.person is not None]
    if not approved:
        raise IncompleteTravelRuleData(
            "a withdrawal this large needs your verified identity (name and ID document): complete your KYC first"
        )
    person = approved[-1].person
    assert person is not None
    *given, family = person.legal_name.split()
    return NaturalPerson(
        names=(NameIdentifier(family, " ".join(given)),),
        national_identification=NationalIdentification(
            person.id_number, _ID_TYPES[person.id_type], country_of_issue="KE"
        ),
        customer_identification=user_id,
        country_of_residence="KE",
    )


def _request(withdrawal: Withdrawal) -> WithdrawalRequest:
    return WithdrawalRequest(
        withdrawal.id, withdrawal.network, withdrawal.address, withdrawal.amount, withdrawal.token_contract
    )


def _load(uow: WithdrawalUnitOfWork, withdrawal_id: str, *, lock: bool = False) -> Withdrawal:
    found = uow.withdrawals.get(withdrawal_id, lock=lock)
    if found is None:
        raise NotFound(f"no withdrawal {withdrawal_id!r}")
    return found
