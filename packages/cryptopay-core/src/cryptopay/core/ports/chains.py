"""Chain ports: deriving deposit addresses, watching for transfers, and sending withdrawals.

One implementation per network family (EVM via web3, Tron via tronpy, Bitcoin via bitcoinlib + Esplora).
Transfers are identified by ``(network, tx_hash, index)`` (log index on account chains, output index on
Bitcoin) and are matched to invoices only by the receiving address, never by sender or amount.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import attrs
from cryptopay.core.money import Asset, Money
from cryptopay.core.rails import Finality

__all__ = [
    "AddressDeriver",
    "BalanceReader",
    "ChainSender",
    "ChainWatcher",
    "FinalitySource",
    "KeyProvider",
    "ObservedTransfer",
    "PrivateKey",
    "ScanCursor",
    "ScanCursorStore",
    "SentTransaction",
    "TxState",
    "WithdrawalRecord",
    "WithdrawalRequest",
    "WithdrawalStore",
    "one_by_one",
]


@attrs.frozen
class ObservedTransfer:
    """A transfer of value to one of our addresses, as seen on chain (or in the mempool: ``block_number`` None)."""

    network: str
    tx_hash: str
    index: int
    to_address: str
    amount: Money
    block_number: int | None
    block_hash: str | None
    block_time: datetime | None
    from_address: str | None = None
    token_contract: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.network, self.tx_hash.lower(), self.index)


class TxState(enum.Enum):
    PENDING = "pending"  # broadcast, not yet in a block (or in a block that is not deep enough)
    CONFIRMED = "confirmed"  # in a canonical block with the required depth
    FAILED = "failed"  # mined but reverted, or definitively rejected
    DROPPED = "dropped"  # no longer known to the network (replaced, double-spent, or reorganised away)


@attrs.frozen
class WithdrawalRequest:
    """Send ``amount`` to ``to_address``; ``withdrawal_id`` makes the send idempotent."""

    withdrawal_id: str
    network: str
    to_address: str
    amount: Money
    token_contract: str | None = None


@attrs.frozen
class SentTransaction:
    withdrawal_id: str
    tx_hash: str
    state: TxState
    fee: Money | None = None
    block_number: int | None = None
    confirmations: int = 0


class AddressDeriver(Protocol):
    """Derives receive addresses from an account-level extended public key (no private keys needed)."""

    def derive(self, index: int) -> str: ...


class ChainWatcher(Protocol):
    """Read side of a chain: the head, transfers to our addresses in a block range, canonical block hashes."""

    network: str

    def head(self) -> int: ...

    def scan(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[ObservedTransfer]: ...

    def block_hash(self, number: int) -> str | None: ...

    def confirmations(self, transfer: ObservedTransfer) -> int:
        """0 if unmined or no longer on the canonical chain, else head - block + 1."""
        ...


class MempoolWatcher(Protocol):
    """A chain whose unconfirmed transactions we can see (Bitcoin's mempool): payments shown as seen at once,
    and dropped ones (replaced, double-spent, evicted) told apart from ones still waiting."""

    def pending(self, addresses: Sequence[str]) -> list[ObservedTransfer]: ...

    def transfer_state(self, transfer: ObservedTransfer) -> TxState: ...


class FinalitySource(Protocol):
    """A network's own finality signal: the highest block carrying ``finality`` now (EVM's ``safe``/``finalized``
    block tags, Tron's solidified head), or None where the network has no such signal."""

    def final_block(self, finality: Finality) -> int | None: ...


class BalanceReader(Protocol):
    """What the chain holds now at one address, for reconciling custody with the chain."""

    network: str

    def balance(self, address: str, asset: Asset) -> Money:
        """The address's balance of ``asset`` (a token by its rail's contract, or the network's coin)."""
        ...

    def total(self, addresses: Sequence[str], asset: Asset) -> Money:
        """What ``addresses`` hold of ``asset`` together, in as few node calls as the node allows (EVM: JSON-RPC
        batches; a node with no batch reads one address a call: ``one_by_one``)."""
        ...


def one_by_one(balance: Callable[[str, Asset], Money], addresses: Sequence[str], asset: Asset) -> Money:
    """``BalanceReader.total`` for a node that answers one address a call (TronGrid, Esplora): the sum of each."""
    return sum((balance(a, asset) for a in addresses), Money.zero(asset))


class ChainSender(Protocol):
    """Write side: broadcast a withdrawal once (idempotent on ``withdrawal_id``) and follow it to a final state."""

    network: str

    def send(self, request: WithdrawalRequest) -> SentTransaction: ...

    def status(self, withdrawal_id: str) -> SentTransaction: ...


@attrs.frozen
class ScanCursor:
    """How far a watcher has scanned: the last block fully processed, its hash and its time.

    Invoice expiry compares deadlines with ``block_time`` (chain time), so a stalled node never expires a paid invoice.
    """

    network: str
    block_number: int
    block_hash: str
    block_time: datetime


class ScanCursorStore(Protocol):
    """Persists one scan cursor per network (and scanner name)."""

    def load(self, network: str) -> ScanCursor | None: ...

    def save(self, cursor: ScanCursor) -> None: ...


@attrs.frozen(repr=False)
class PrivateKey:
    """A private key held in memory; its repr and str never show the secret."""

    _secret: bytes = attrs.field(repr=False)

    def reveal(self) -> bytes:
        """The raw key bytes, for the signing call only; never log or return them."""
        return self._secret

    def __repr__(self) -> str:
        return "PrivateKey(<redacted>)"

    __str__ = __repr__


class KeyProvider(Protocol):
    """Hands a signer the private key of one of our addresses (the composition root decrypts them from the vault)."""

    def private_key_for(self, address: str) -> PrivateKey:
        """The key for ``address``; raises NotFound when we do not hold it."""
        ...


@attrs.frozen
class WithdrawalRecord:
    """A withdrawal's durable state: the nonce it owns and, once signed, the exact transaction broadcast.

    The nonce is bound to the withdrawal when it is claimed, so however often it is retried at most one
    transaction for it can ever be mined; the signed transaction is stored before it is broadcast and a retry
    rebroadcasts the same bytes.
    """

    withdrawal_id: str
    network: str
    from_address: str
    request_hash: str
    nonce: int
    tx_hash: str | None = None
    raw_tx: str | None = None
    fee_cap: Money | None = None


class WithdrawalStore(Protocol):
    """Durable, concurrency-safe withdrawal and nonce bookkeeping for account-based chains.

    Both writes are atomic: on SQL, ``claim`` runs in one transaction that locks the (network, address) nonce row.
    """

    def get(self, withdrawal_id: str) -> WithdrawalRecord | None: ...

    def claim(
        self, withdrawal_id: str, *, network: str, from_address: str, request_hash: str, chain_nonce: int
    ) -> WithdrawalRecord:
        """Return the existing record, or create one owning nonce max(chain_nonce, next stored nonce) and bump it."""
        ...

    def attach_signed(
        self, withdrawal_id: str, *, tx_hash: str, raw_tx: str, fee_cap: Money | None
    ) -> WithdrawalRecord:
        """Store the signed transaction unless one is stored already; return the record as stored (first wins)."""
        ...
