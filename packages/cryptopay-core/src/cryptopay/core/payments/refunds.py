"""Refunds of overpayments and of late or expired payments, to an address the customer gives.

What can be refunded on a rail: for a settled invoice, the confirmed excess over what was due plus every late
payment; for an expired or invalid one, everything confirmed; less what earlier refunds (not failed) took. The
refund holds the amount from the merchant's balance towards ``liabilities:withdrawals_in_flight:<ASSET>`` and is
sent by the network's ``ChainSender`` (idempotent on the refund id). On confirmation the hold is posted and custody
pays out (Dr in flight / Cr custody); a definitive failure voids the hold. The network fee is the platform's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING

from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, InsufficientFunds, InvalidInput, NotFound, Refused, Unavailable
from cryptopay.core.invoices import Invoice, InvoiceState, PaymentOption, is_confirmed
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, HoldRequest, Ledger, Posting
from cryptopay.core.money import Asset, Money
from cryptopay.core.payments._support import audit, load_invoice, transaction
from cryptopay.core.payments.model import Refund, RefundState
from cryptopay.core.ports.chains import ChainSender, SentTransaction, TxState, WithdrawalRequest
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import NETWORKS, AddressFormat

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["Refunds", "withdrawals_in_flight"]

_ADDRESS = {
    AddressFormat.EVM: re.compile(r"0x[0-9a-fA-F]{40}"),
    AddressFormat.TRON: re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}"),
    AddressFormat.BITCOIN: re.compile(r"(bc1|tb1|bcrt1)[02-9ac-hj-np-z]{8,87}|[13mn2][1-9A-HJ-NP-Za-km-z]{25,34}"),
}
_CLOSED = (InvoiceState.SETTLED, InvoiceState.EXPIRED, InvoiceState.INVALID)


def withdrawals_in_flight(asset: Asset) -> str:
    return f"liabilities:withdrawals_in_flight:{asset.code}"


class Refunds:
    """The refund use cases."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ids: IdGenerator,
        ledger: Ledger,
        senders: Mapping[str, ChainSender],
    ) -> None:
        self._uow, self._clock, self._ids, self._ledger, self._senders = uow, clock, ids, ledger, dict(senders)

    def refundable(self, invoice_id: str, rail: str) -> Money:
        """What can still be refunded on ``rail`` (a rail key such as ``usdt-tron``)."""
        return transaction(self._uow, lambda uow: _refundable(uow, load_invoice(uow, invoice_id), rail))

    def refund(
        self, invoice_id: str, *, address: str, requested_by: str, rail: str | None = None, amount: Money | None = None
    ) -> Refund:
        """Hold and record a refund to ``address`` (default: all that is refundable on the invoice's paid rail)."""
        return transaction(self._uow, lambda uow: self._request(uow, invoice_id, address, requested_by, rail, amount))

    def send_refunds(self, *, limit: int = 100) -> list[Refund]:
        """Broadcast every requested refund (the sender is idempotent on the refund id)."""
        requested = transaction(self._uow, lambda uow: uow.refunds.by_state(RefundState.REQUESTED, limit=limit))
        return [self._follow(r, send=True) for r in requested]

    def check_refunds(self, *, limit: int = 100) -> list[Refund]:
        """Follow every sent refund to its end: post the hold when confirmed, void it when failed."""
        sent = transaction(self._uow, lambda uow: uow.refunds.by_state(RefundState.SENT, limit=limit))
        return [self._follow(r, send=False) for r in sent]

    def _request(
        self,
        uow: PaymentsUnitOfWork,
        invoice_id: str,
        address: str,
        requested_by: str,
        rail_key: str | None,
        amount: Money | None,
    ) -> Refund:
        invoice, now = load_invoice(uow, invoice_id), self._clock.now()
        option = invoice.option(rail_key) if rail_key else _paid_option(invoice)
        if option.rail.network.name not in self._senders:
            raise InvalidInput(f"refunds on {option.rail.network.name} are not configured")
        _check_address(option, address)
        most = _refundable(uow, invoice, option.rail.key)
        wanted = amount or most
        if wanted.asset != option.rail.asset or not wanted.is_positive():
            raise InvalidInput(f"a refund on {option.rail.key} is a positive {option.rail.asset.code} amount")
        if wanted > most:
            raise Refused(f"at most {most} can be refunded on invoice {invoice.id}, not {wanted}")
        refund_id = self._ids.new_id("rfd")
        hold_id = self._hold(uow, invoice, refund_id, wanted)
        refund = Refund(
            id=refund_id,
            invoice_id=invoice.id,
            merchant_id=invoice.merchant_id,
            rail_key=option.rail.key,
            network=option.rail.network.name,
            address=address.strip(),
            amount=wanted,
            hold_id=hold_id,
            requested_by=requested_by,
            created_at=now,
            reason=_reason(invoice),
            token_contract=option.rail.token.contract,
        )
        uow.refunds.add(refund)
        audit(
            uow,
            requested_by,
            "refund.request",
            f"refund:{refund.id}",
            now,
            invoice=invoice.id,
            amount=wanted,
            address=refund.address,
            hold=hold_id,
        )
        return refund

    def _hold(self, uow: PaymentsUnitOfWork, invoice: Invoice, refund_id: str, amount: Money) -> str:
        in_flight = withdrawals_in_flight(amount.asset)
        self._ledger.open_account(Account(in_flight, AccountKind.LIABILITY, amount.asset), session=uow.ledger)
        source = flows.merchant_liability(invoice.merchant_id, amount.asset)
        request = HoldRequest(f"refund:{refund_id}:hold", source, in_flight, amount, None, f"refund {refund_id}")
        try:
            return self._ledger.hold(request, session=uow.ledger).id
        except InsufficientFunds:
            raise Refused(
                f"the merchant's {amount.asset.code} balance no longer covers {amount} (already settled): "
                "refund it from the merchant's side"
            ) from None

    def _follow(self, refund: Refund, *, send: bool) -> Refund:
        sender = self._senders[refund.network]
        try:
            sent = sender.send(_withdrawal(refund)) if send else sender.status(refund.id)
            if sent.state is TxState.DROPPED:
                sent = sender.send(_withdrawal(refund))  # rebroadcast the same withdrawal
        except Unavailable:
            return refund  # try again on the next run
        except CryptopayError as error:
            if send and _signed(sender, refund.id):
                return refund  # its transaction exists and may still land: keep the hold, resend the same one later
            return transaction(self._uow, partial(self._settle, refund_id=refund.id, sent=None, error=error.message))
        return transaction(self._uow, lambda uow: self._settle(uow, refund.id, sent, None))

    def _settle(
        self, uow: PaymentsUnitOfWork, refund_id: str, sent: SentTransaction | None, error: str | None
    ) -> Refund:
        refund, now = _refund(uow, refund_id), self._clock.now()
        if not refund.is_open:
            return refund
        if sent is None or sent.state is TxState.FAILED:
            self._ledger.void_hold(refund.hold_id, session=uow.ledger)
            refund.state, refund.failure = RefundState.FAILED, error or f"transaction {sent and sent.tx_hash} failed"
            action = "refund.failed"
        elif sent.state is TxState.CONFIRMED:
            self._pay_out(uow, refund)
            refund.state, action = RefundState.CONFIRMED, "refund.confirmed"
        elif sent.state is TxState.DROPPED:
            # Still unknown to the network after rebroadcasting the same bytes (its nonce or inputs spent elsewhere?):
            # it might yet land, so the hold stays and nothing is re-signed; an operator decides.
            refund.state, action = RefundState.SENT, "refund.needs_operator"
            refund.failure = f"transaction {sent.tx_hash} dropped by the network after a rebroadcast"
        else:
            refund.state, action = RefundState.SENT, "refund.sent"
        refund.tx_hash, refund.updated_at = (sent.tx_hash if sent else refund.tx_hash), now
        uow.refunds.update(refund)
        audit(uow, "system:refunds", action, f"refund:{refund.id}", now, tx=refund.tx_hash or "", amount=refund.amount)
        return refund

    def _pay_out(self, uow: PaymentsUnitOfWork, refund: Refund) -> None:
        self._ledger.post_hold(refund.hold_id, f"refund:{refund.id}:post", session=uow.ledger)
        postings = [
            Posting.debit(withdrawals_in_flight(refund.amount.asset), refund.amount),
            Posting.credit(flows.custody(refund.network, refund.amount.asset), refund.amount),
        ]
        request = EntryRequest(f"refund:{refund.id}:send", postings, f"refund {refund.id} sent from custody")
        self._ledger.post(request, session=uow.ledger)


def _refundable(uow: PaymentsUnitOfWork, invoice: Invoice, rail_key: str) -> Money:
    option = invoice.option(rail_key)
    if invoice.state not in _CLOSED:
        raise Refused(f"invoice {invoice.id} is {invoice.state.value}: refunds wait until it is settled or expired")
    confirmed = [p for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))]
    on_time = [p for p in confirmed if not p.is_late(invoice.expires_at)]
    mine = [p for p in confirmed if p.rail_key == rail_key]
    late = sum((p.amount for p in mine if p.is_late(invoice.expires_at)), Money.zero(option.due.asset))
    timely = sum((p.amount for p in mine if not p.is_late(invoice.expires_at)), Money.zero(option.due.asset))
    if invoice.state is InvoiceState.SETTLED:
        share = sum(
            (Fraction(p.amount.amount) / Fraction(invoice.option(p.rail_key).due.amount) for p in on_time), Fraction(0)
        )
        excess = max(Fraction(0), share - 1) * Fraction(option.due.amount)
        over = Decimal(excess.numerator) / Decimal(excess.denominator)
        timely = min(timely, Money(over.quantize(option.due.asset.quantum, rounding=ROUND_DOWN), option.due.asset))
    refunds = uow.refunds.for_invoice(invoice.id)
    taken = [r.amount for r in refunds if r.rail_key == rail_key and r.state is not RefundState.FAILED]
    refunded = sum(taken, Money.zero(option.due.asset))
    return max(timely + late - refunded, Money.zero(option.due.asset))


def _paid_option(invoice: Invoice) -> PaymentOption:
    paid = {p.rail_key for p in invoice.payments if not p.withdrawn}
    if len(paid) != 1:
        raise InvalidInput(f"invoice {invoice.id} was paid on {len(paid)} rails: name the rail to refund on")
    return invoice.option(paid.pop())


def _check_address(option: PaymentOption, address: str) -> None:
    network = NETWORKS.get(option.rail.network.name)
    pattern = _ADDRESS.get(network.address_format) if network else None
    if pattern is not None and not pattern.fullmatch(address.strip()):
        raise InvalidInput(f"{address!r} is not a {option.rail.network.name} address")
    if address.strip() == option.address:
        raise InvalidInput("a refund cannot go to the invoice's own deposit address")


def _reason(invoice: Invoice) -> str:
    return f"{invoice.state.value}/{invoice.exception.value}"


def _signed(sender: ChainSender, withdrawal_id: str) -> bool:
    """Whether the sender may hold a signed transaction for the withdrawal (only NotFound says it does not)."""
    try:
        sender.status(withdrawal_id)
    except NotFound:
        return False
    except CryptopayError:
        return True
    return True


def _withdrawal(refund: Refund) -> WithdrawalRequest:
    return WithdrawalRequest(refund.id, refund.network, refund.address, refund.amount, refund.token_contract)


def _refund(uow: PaymentsUnitOfWork, refund_id: str) -> Refund:
    refund = uow.refunds.get(refund_id)
    if refund is None:
        raise NotFound(f"no refund {refund_id}")
    return refund
