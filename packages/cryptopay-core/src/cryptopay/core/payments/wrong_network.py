"""Payments on the wrong EVM network: a token we support sent to an invoice's address on an EVM network the
invoice did not ask for (USDT on Polygon to an invoice that asked for USDT on Ethereum); and payments of the wrong
asset on the right network (USDC sent to an invoice's address that asked for USDT on Ethereum, ``wrong`` is
``asset``), recorded, followed, listed and refunded the same way, but never accepted (the invoice asks for another
asset: ``WrongNetworkNotAcceptable``).

Why it can be seen at all: an EVM deposit index is taken on every EVM network's counter at once
(``model.index_families``), so an invoice's address is ours, and only that invoice's, on every EVM network. The
scan of each EVM network therefore also watches the addresses of open and recent invoices on the *other* EVM
networks (``Detection.watched_addresses``), and a transfer to one of them becomes a ``WrongNetworkPayment``
attached to the invoice.

Decision: **recorded, never credited by itself.** Nothing is booked when it is seen: the coins sit at an address
of ours that the books and the custody check do not count on that network yet, and the invoice's state does not
move. The merchant is told (webhook ``invoice.wrong_network_payment``, audit record, the gauge
``cryptopay_wrong_network_payments_pending``) and decides: ``Detection.accept_wrong_network`` offers the
network's rail on the invoice at the terms of the option in the same asset, stores the address on that network
(so the sweeps, the custody check and the scans treat it as any deposit address) and records the transfer as an
ordinary payment: it is confirmed at that rail's depth and credited like any other. A refund then goes through
``Refunds`` on that rail. Or the payer gets it all back (``Refunds.refund_wrong_network``, once it is as deep as that
network's rail asks): the coins are booked into the network's custody against ``liabilities:wrong_network:<ASSET>``
(the merchant's balance is never touched), the address is stored on that network (swept, custody-checked), and a
refund holds the amount from that suspense account and goes through the refund machinery. A pending record is
followed for reorgs: if its block leaves the chain it is withdrawn (``invoice.wrong_network_payment_withdrawn``);
mined again, it is pending again.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import Money
>>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> seen = ObservedTransfer("polygon", "0xAB", 0, "0xa1", Money.of("25", "USDT"), 7, "0xb7", now)
>>> payment = WrongNetworkPayment.seen("wnp_1", "inv_1", "m_1", seen, ("usdt-ethereum",), now=now)
>>> payment.state.value, payment.rail_key, payment.key
('pending', 'usdt-polygon', ('polygon', '0xab', 0))
>>> payment.withdraw("block reorganised away", now=now).state.value
'withdrawn'
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import InvalidState, NotFound, Refused
from cryptopay.core.invoices import Invoice, InvoiceEvent, TransferKey
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import NETWORKS

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import DepositAddressRepository, PaymentsUnitOfWork

__all__ = [
    "FOLLOW_DEPTH",
    "WrongNetworkNotAcceptable",
    "WrongNetworkPayment",
    "WrongNetworkState",
    "evm_neighbours",
    "load_wrong_network_payment",
    "store_address",
    "wrong_network_event",
]

FOLLOW_DEPTH = 256  # a pending record is re-checked for reorgs until this deep (deeper than any EVM reorg seen)


class WrongNetworkState(enum.Enum):
    PENDING = "pending"  # seen (mined), waiting for the merchant's or an operator's decision
    WITHDRAWN = "withdrawn"  # its block left the chain (a reorg); pending again if it is mined again
    ACCEPTED = "accepted"  # the network's rail was offered on the invoice and the transfer recorded as its payment
    REFUNDED = "refunded"  # booked into custody and refunded (``refund_id``; refundable again if that refund failed)


class NotThePayer(Refused):
    """A wrong-network (or wrong-asset) payment's refund to an address other than the one that paid it: the coins
    are the payer's, so a merchant (API key or user) sends them back only to the paying address; another address is
    an operator's decision with a reason (``cryptopay refunds wrong-network ID --address A --reason R``), audited
    (review R27)."""

    code = "payer_address_only"


class WrongNetworkNotAcceptable(Refused):
    """A wrong-network payment that cannot be taken into its invoice (an asset the invoice does not ask for, a
    network without that rail or without a hot wallet to sweep it)."""

    code = "wrong_network_not_acceptable"


def evm_neighbours(network: str) -> tuple[str, ...]:
    """The other EVM networks (whose invoices' addresses a scan of ``network`` also watches); none off EVM.

    >>> evm_neighbours("polygon"), evm_neighbours("tron")
    (('bsc', 'ethereum'), ())
    """
    known = NETWORKS.get(network)
    if known is None or not known.is_evm:
        return ()
    return tuple(sorted(name for name, other in NETWORKS.items() if other.is_evm and name != network))


@attrs.frozen(kw_only=True)
class WrongNetworkPayment:
    """A transfer to invoice ``invoice_id``'s address on a network it did not ask for (``invoice_rails``)."""

    id: str
    invoice_id: str
    merchant_id: str
    transfer: ObservedTransfer
    invoice_rails: tuple[str, ...]
    seen_at: datetime
    state: WrongNetworkState = WrongNetworkState.PENDING
    confirmations: int = 0
    updated_at: datetime | None = None
    reason: str = ""  # why it was withdrawn
    decided_by: str | None = None
    refund_id: str | None = None  # the refund that sends it back (``refunded``)

    @classmethod
    def seen(
        cls,
        payment_id: str,
        invoice_id: str,
        merchant_id: str,
        transfer: ObservedTransfer,
        invoice_rails: tuple[str, ...],
        *,
        now: datetime,
    ) -> WrongNetworkPayment:
        return cls(
            id=payment_id,
            invoice_id=invoice_id,
            merchant_id=merchant_id,
            transfer=transfer,
            invoice_rails=invoice_rails,
            seen_at=now,
        )

    @property
    def key(self) -> TransferKey:
        return self.transfer.key

    @property
    def network(self) -> str:
        return self.transfer.network

    @property
    def rail_key(self) -> str:
        """The rail it was paid on: the token's asset on the network it arrived on (``usdt-polygon``)."""
        return f"{self.transfer.amount.asset.code.lower()}-{self.transfer.network}"

    @property
    def wrong(self) -> str:
        """``asset`` when the invoice asked for this network and another token came (USDC to a USDT invoice on
        Ethereum), ``network`` when it asked for none of its rails on this network.

        >>> from cryptopay.core.money import Money
        >>> at = datetime(2026, 1, 5, 9, 0)
        >>> seen = ObservedTransfer("ethereum", "0xab", 0, "0xa1", Money.of("5", "USDC"), 7, "0xb7", at)
        >>> WrongNetworkPayment.seen("wnp_2", "inv_1", "m_1", seen, ("usdt-ethereum",), now=at).wrong
        'asset'
        """
        asked = {rail.split("-", 1)[-1] for rail in self.invoice_rails}
        return "asset" if self.network in asked else "network"

    @property
    def followed(self) -> bool:
        """Whether a confirmation step still checks its block (pending, or booked for a refund: not yet beyond any
        reorg), so a refund's worker never sends back coins whose transfer left the chain (``Refunds``)."""
        followed = (WrongNetworkState.PENDING, WrongNetworkState.REFUNDED)
        return self.state in followed and self.confirmations < FOLLOW_DEPTH

    def seen_again(self, transfer: ObservedTransfer, *, now: datetime) -> WrongNetworkPayment | None:
        """The record after ``transfer`` (the same key) was scanned again: None when nothing changed; pending again
        in its new block when it was withdrawn or moved."""
        if self.state in (WrongNetworkState.ACCEPTED, WrongNetworkState.REFUNDED):
            return None  # decided: the invoice's payment, or a refund, follows it from now on
        if self.state is WrongNetworkState.PENDING and self.transfer.block_hash == transfer.block_hash:
            return None
        pending = WrongNetworkState.PENDING
        return attrs.evolve(self, transfer=transfer, state=pending, confirmations=0, updated_at=now, reason="")

    def deepen(self, confirmations: int, *, now: datetime) -> WrongNetworkPayment:
        return attrs.evolve(self, confirmations=max(self.confirmations, confirmations), updated_at=now)

    def withdraw(self, reason: str, *, now: datetime) -> WrongNetworkPayment:
        """Its block left the chain: withdrawn (a refunded one too: its refund, not yet sent, is failed by the
        worker; it stays booked, and is refunded from that booking if it is mined again)."""
        if self.state not in (WrongNetworkState.PENDING, WrongNetworkState.REFUNDED):
            raise InvalidState(f"wrong-network payment {self.id} is {self.state.value}, not pending")
        return attrs.evolve(self, state=WrongNetworkState.WITHDRAWN, confirmations=0, updated_at=now, reason=reason)

    @property
    def booked(self) -> bool:
        """Whether its amount is in the books (custody against ``liabilities:wrong_network``): once a refund was
        asked (``refund_id``), whatever happened to it since."""
        return self.refund_id is not None

    def refunded_by(self, refund_id: str) -> bool:
        """Whether ``refund_id`` refunds it and its transfer still stands (not withdrawn, not refunded again)."""
        return self.state is WrongNetworkState.REFUNDED and self.refund_id == refund_id

    def refunding(self, refund_id: str, *, by: str, now: datetime) -> WrongNetworkPayment:
        """Refunded by ``refund_id`` (a pending one, or a refunded one whose refund failed: the caller checks)."""
        if self.state not in (WrongNetworkState.PENDING, WrongNetworkState.REFUNDED):
            raise InvalidState(f"wrong-network payment {self.id} is {self.state.value}: only a pending one is refunded")
        refunded = WrongNetworkState.REFUNDED
        return attrs.evolve(self, state=refunded, refund_id=refund_id, decided_by=by, updated_at=now)

    def accept(self, *, by: str, now: datetime) -> WrongNetworkPayment:
        if self.state is not WrongNetworkState.PENDING:
            raise InvalidState(f"wrong-network payment {self.id} is {self.state.value}: only a pending one is accepted")
        if self.booked:  # booked for a refund before a reorg: its coins are the suspense account's, refund it
            raise InvalidState(f"wrong-network payment {self.id} was booked for a refund: refund it again")
        return attrs.evolve(self, state=WrongNetworkState.ACCEPTED, updated_at=now, decided_by=by)


def wrong_network_event(
    invoice: Invoice, payment: WrongNetworkPayment, name: str, at: datetime, **extra: str
) -> InvoiceEvent:
    """The merchant's webhook about ``payment`` (``invoice.wrong_network_payment[_withdrawn]``): the invoice's
    state, which is unchanged by it, and the transfer with the rails the invoice asked for."""
    network, tx_hash, index = payment.key
    amount = payment.transfer.amount
    data = {
        "state": invoice.state.value,
        "exception": invoice.exception.value,
        "wrong_network_payment_id": payment.id,
        "wrong_network_state": payment.state.value,
        "network": network,
        "tx_hash": tx_hash,
        "index": str(index),
        "rail": payment.rail_key,
        "amount": str(amount.amount),
        "asset": amount.asset.code,
        "block_hash": payment.transfer.block_hash or "",
        "invoice_rails": ",".join(payment.invoice_rails),
        "wrong": payment.wrong,
        **extra,
    }
    return InvoiceEvent(name, invoice.id, at, data, order_id=invoice.order_id, metadata=invoice.metadata)


def store_address(addresses: DepositAddressRepository, payment: WrongNetworkPayment, *, now: datetime) -> None:
    """Store the invoice's address on the payment's network too (the index it holds on its own EVM networks), so
    the sweeps gather the coins there and the custody check counts them; nothing if it is stored already."""
    network, address = payment.network, payment.transfer.to_address
    if addresses.by_address(network, address) is not None:
        return
    owners = [addresses.by_address(other, address) for other in evm_neighbours(network)]
    owner = next((o for o in owners if o is not None and o.invoice_id == payment.invoice_id), None)
    if owner is None:
        raise InvalidState(f"invoice {payment.invoice_id} holds no address {address} on another EVM network")
    addresses.add(DepositAddress(network, address, owner.index, payment.invoice_id, payment.merchant_id, now))


def load_wrong_network_payment(uow: PaymentsUnitOfWork, payment_id: str) -> WrongNetworkPayment:
    """The wrong-network payment ``payment_id``, or ``NotFound`` (as ``load_invoice`` is for invoices)."""
    payment = uow.wrong_network_payments.get(payment_id)
    if payment is None:
        raise NotFound(f"no wrong-network payment {payment_id}")
    return payment
