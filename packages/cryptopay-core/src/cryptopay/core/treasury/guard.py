"""The float guard: holds the payouts the M-Pesa float cannot cover, releases them once it can, keeps M-Pesa's word.

``Payouts.submit_payouts`` asks ``admit`` before it sends; a payout that does not fit stays ``planned`` with
``held`` saying why, an audit record ``payout.held``, a warning in the log, an email to the treasury's alert
address (when one is configured) and the ``cryptopay_payouts_held`` gauge. Every run asks again, so a top-up (or a
fresh Account Balance answer) releases held payouts by itself; ``release_covered`` does it at once.
``can_cover`` is the same rule for any other KES payment from the float (a wallet's sale of crypto).

>>> from cryptopay.core.testing.treasury import guard_stack
>>> stack = guard_stack(float_says="1000", reserve="200")
>>> stack.guard.can_cover(Money.of(800, "KES")).ok, stack.guard.can_cover(Money.of(801, "KES")).ok
(True, False)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING

from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, NotFound
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import MpesaResult, net_of_charges
from cryptopay.core.money import KES, Money
from cryptopay.core.payments._support import audit, transaction
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.ports.monitoring import Metrics
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.system import Clock
from cryptopay.core.ports.treasury import TreasuryStore
from cryptopay.core.treasury.cover import Cover, FloatPosition, Word, estimate
from cryptopay.core.treasury.model import FloatReading

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory
    from cryptopay.core.ports.reconciliation import BalanceQueryStore

__all__ = ["FloatGuard"]

log = logging.getLogger("cryptopay.treasury")
_ACTOR = "system:treasury"
_IN_FLIGHT = (PayoutState.SUBMITTED, PayoutState.UNKNOWN)
_LIMIT = 10_000
_LOOK = 50  # payouts read per state to learn whether another M-Pesa payout is in flight (lastread A3)


class FloatGuard:
    """``PayoutGuard`` over the float: M-Pesa's latest word, the books, payouts in flight and the reserve."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        ledger: Ledger,
        store: TreasuryStore,
        clock: Clock,
        answers: BalanceQueryStore | None = None,
        reserve: Money = Money.zero(KES),
        baseline: Money | None = None,
        low_alert: Money | None = None,
        notifier: Notifier | None = None,
        alert_to: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._uow, self._ledger, self._store, self._clock, self._answers = uow, ledger, store, clock, answers
        self._reserve, self._baseline, self._low = reserve, baseline, low_alert
        self._notifier, self._alert_to, self._metrics = notifier, alert_to, metrics

    # --- the position -----------------------------------------------------------------------------------------

    def position(self) -> FloatPosition:
        """The float now, as the guard sees it."""
        books = self._books()
        word = self.latest_word()
        known, source = estimate(word, books=books, baseline=self._baseline)
        # Bank transfers are paid from the bank by an operator, never from the M-Pesa float.
        in_flight = [p for state in _IN_FLIGHT for p in self._payouts(state) if not p.is_bank_transfer]
        held = sum(1 for p in self._payouts(PayoutState.PLANNED) if p.held)
        return FloatPosition(
            at=self._clock.now(),
            books=books,
            known=known,
            source=source,
            as_of=word.at if word else None,
            in_flight=sum((p.amount for p in in_flight), Money.zero(KES)),
            reserve=self._reserve,
            working=word.working if word else None,
            low_alert=self._low,
            held=held,
        )

    def latest_word(self) -> Word | None:
        """M-Pesa's latest word: an Account Balance answer or a B2C result's balances, whichever is newer."""
        words = []
        answer = self._answers.latest_answered() if self._answers is not None else None
        if answer is not None and answer.available is not None and answer.books is not None and answer.answered_at:
            words.append(
                Word(utility=answer.available, books=answer.books, at=answer.answered_at, source="Account Balance")
            )
        if (reading := self._store.latest_reading()) is not None:
            source = "a B2C result" if reading.source == "b2c_result" else "Account Balance"
            words.append(
                Word(
                    utility=reading.utility, books=reading.books, at=reading.at, source=source, working=reading.working
                )
            )
        return max(words, key=lambda w: w.at, default=None)

    def can_cover(self, amount: Money) -> Cover:
        """Whether the float can pay ``amount`` now (KES), keeping the reserve; the reason when it cannot."""
        return self.position().covers(amount)

    # --- payouts ----------------------------------------------------------------------------------------------

    def admit(self, planned: Sequence[Payout]) -> list[Payout]:
        """The planned payouts the float covers, oldest first; the others are held with the reason."""
        position = self.position()
        taken, admitted, held = Money.zero(KES), [], 0
        for payout in planned:
            if payout.is_bank_transfer:
                admitted.append(payout)  # paid from the bank, not the float
                continue
            cover = position.covers(payout.amount, taken=taken)
            if cover.ok:
                taken += payout.amount
                admitted.append(self._released(payout) if payout.held else payout)
            else:
                held += 1
                self._hold(payout, cover.reason)
        self._gauge_held(held)
        return admitted

    def release_covered(self) -> list[Payout]:
        """Release at once the held payouts the float covers now (after a top-up); the next run sends them."""
        planned = self._payouts(PayoutState.PLANNED)
        admitted = self.admit([p for p in planned if p.held])
        return [p for p in admitted if p.held is None]

    def reported(self, payout: Payout, result: MpesaResult) -> None:
        """Keep the utility (net of M-Pesa's charges so far: ``net_of_charges``) and working balances a B2C result
        carries, with the books' float now, when the two describe one moment: M-Pesa's float right after this
        payout, and the books after exactly the payouts M-Pesa had made by then.

        Not when another payout from the float is in flight (submitted or unknown: M-Pesa may have paid it, and
        the books do not know yet), nor when the float moved in the books since this payout was sent (a payout
        booked meanwhile may have been paid by M-Pesa after this one, whose result came late). Such a reading is
        dropped (logged): kept, it was M-Pesa's latest word and off by the other payouts for good, a ``float-b2c``
        difference in every reconciliation and a wrong float position for the guard (``make chaos``: a result
        handled while two lost-callback payouts waited for Transaction Status). The latest settled reading, or an
        Account Balance answer, stays M-Pesa's word."""
        utility = _shillings(result.param("B2CUtilityAccountAvailableFunds"))
        if utility is None:
            return
        utility = net_of_charges(utility, _shillings(result.param("B2CChargesPaidAccountAvailableFunds")))
        books = self._books()  # before the look at what moved: a payout booked after it is seen below
        unsettled = self._unsettled(payout)
        if unsettled:
            log.info("the float reading of payout %s is not kept: %s", payout.id, unsettled)
            return
        reading = FloatReading(
            id=f"b2c:{payout.id}",
            source="b2c_result",
            reference=payout.id,
            at=self._clock.now(),
            utility=utility,
            working=_shillings(result.param("B2CWorkingAccountAvailableFunds")),
            books=books,
        )
        try:
            self._store.add_reading(reading)
        except CryptopayError as error:  # the payout is settled already; a lost reading only makes the float older
            log.warning("could not keep the float reading of payout %s: %s", payout.id, error.message)

    def alert_low(self, position: FloatPosition) -> None:
        """Tell operators the float fell below its alert level (a warning, and an email when an address is set)."""
        text = f"M-Pesa float {position.known} (per {position.source}) is below its alert level {position.low_alert}"
        log.warning("the %s", text)
        self._alert("cryptopay: the M-Pesa float is low", f"The {text}.\nTop it up and record the top-up.")

    def _alert(self, subject: str, body: str) -> None:
        if self._notifier is None or not self._alert_to:
            return
        try:
            self._notifier.send(Notification(self._alert_to, subject, body))
        except CryptopayError as error:
            log.error("a treasury alert could not be sent: %s", error.message)

    def _hold(self, payout: Payout, reason: str) -> None:
        fresh = transaction(self._uow, partial(self._hold_in, payout_id=payout.id, reason=reason))
        if not fresh:
            return
        log.warning("payout %s held: %s", payout.id, reason)
        body = f"Payout {payout.id} ({payout.amount}) is held and will not be sent: {reason}.\n"
        body += "Top the float up and record it with `cryptopay treasury record-topup`; it is sent once covered."
        self._alert(f"cryptopay: payout {payout.id} held", body)

    def _hold_in(self, uow: PaymentsUnitOfWork, *, payout_id: str, reason: str) -> bool:
        payout = uow.payouts.get(payout_id)
        if payout is None or payout.state is not PayoutState.PLANNED:
            return False
        fresh = payout.hold_back(self._clock.now(), reason)
        uow.payouts.update(payout)
        if fresh:
            audit(uow, _ACTOR, "payout.held", f"payout:{payout.id}", self._clock.now(), reason=reason)
        return fresh

    def _released(self, payout: Payout) -> Payout:
        def work(uow: PaymentsUnitOfWork) -> Payout:
            current = uow.payouts.get(payout.id)
            if current is None or current.held is None:
                return current or payout
            held_since = current.held_since
            current.release()
            uow.payouts.update(current)
            audit(
                uow,
                _ACTOR,
                "payout.released",
                f"payout:{current.id}",
                self._clock.now(),
                held_since=held_since.isoformat() if held_since else "",
            )
            return current

        released = transaction(self._uow, work)
        log.info("payout %s released: the float covers it", payout.id)
        return released

    def _gauge_held(self, held: int) -> None:
        if self._metrics is not None:
            self._metrics.gauge(
                "cryptopay_payouts_held", held, about="planned payouts held: the float cannot cover them"
            )

    def _unsettled(self, payout: Payout) -> str:
        """Why the books' float may not match M-Pesa's after ``payout`` (``reported``); empty when it does."""
        for state in _IN_FLIGHT:  # a bounded look: this payout and one other M-Pesa one are all that matter
            found = self._payouts(state, limit=_LOOK)
            for other in found:
                if other.id != payout.id and not other.is_bank_transfer:
                    return f"payout {other.id} is {state.value}"
            if len(found) == _LOOK:  # only bank transfers (and this payout) in the look: more may be in flight
                return f"more than {_LOOK - 1} payouts are {state.value}"
        if payout.submitted_at is None:
            return "when it was sent is not known"
        own = f"payout:{payout.id}:"
        for entry in self._ledger.entries(account=flows.FLOAT, since=payout.submitted_at, limit=20):
            if not entry.idempotency_key.startswith(own):
                return f"the float moved since it was sent ({entry.idempotency_key})"
        return ""

    def _payouts(self, state: PayoutState, *, limit: int = 0) -> list[Payout]:
        return transaction(self._uow, lambda uow: uow.payouts.by_state(state, limit=limit or _LIMIT))

    def _books(self) -> Money:
        try:
            return self._ledger.balance(flows.FLOAT).posted
        except NotFound:
            return Money.zero(KES)


def _shillings(text: str | None) -> Money | None:
    if text is None or not text.strip():
        return None
    try:
        return Money.of(Decimal(text.strip()), KES)
    except (InvalidOperation, CryptopayError, ValueError):
        return None
