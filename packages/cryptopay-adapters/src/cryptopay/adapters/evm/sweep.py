"""Sweeps: move a deposit address's tokens to the hot wallet, topping up its gas from the hot wallet first.

A deposit address receives only tokens, so it usually has no native coin to pay gas with. The sweeper sends it
just enough (a native withdrawal from the hot wallet, idempotent on ``<sweep_id>:gas``), then sends the whole
token balance to the hot wallet (idempotent on ``<sweep_id>:sweep``). Calling ``sweep`` again with the same id
resumes where it stopped, so a crash or a slow top-up never strands tokens and never sends twice.
"""

from __future__ import annotations

import enum
import hashlib
from typing import NoReturn

import attrs
from cryptopay.adapters.evm.addresses import validate_address
from cryptopay.adapters.evm.sender import EvmSender, erc20_balance, erc20_transfer_call
from cryptopay.adapters.evm.transactions import EvmTransactions
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import KeyProvider, SentTransaction, TxState, WithdrawalRequest, WithdrawalStore
from cryptopay.core.ports.treasury import SweepProgress, SweepStage
from cryptopay.core.rails import Rail
from web3 import Web3

__all__ = ["EvmRailSweeper", "EvmSweeper", "SweepResult", "SweepState"]


class SweepState(enum.Enum):
    EMPTY = "empty"  # nothing to sweep
    GAS_PENDING = "gas_pending"  # the gas top-up is broadcast but not mined yet: call sweep again later
    SENT = "sent"  # the sweep transaction is broadcast (follow it with ``status``)


@attrs.frozen
class SweepResult:
    """What a sweep call did for one deposit address."""

    address: str
    state: SweepState
    amount: Money | None = None
    gas_topup: SentTransaction | None = None
    sweep: SentTransaction | None = None


class EvmSweeper:
    """Sweeps one token rail's deposit addresses into the sender's hot wallet."""

    def __init__(self, sender: EvmSender, rail: Rail, *, deposit_keys: KeyProvider, store: WithdrawalStore) -> None:
        if rail.network.name != sender.network or rail.token.contract is None:
            raise InvalidInput(f"sweeps need a token rail on {sender.network}")
        self._sender = sender
        self._rail = rail
        self._contract = Web3.to_checksum_address(rail.token.contract)
        self._tx = EvmTransactions(
            sender.w3, rail.network, store=store, keys=deposit_keys, confirmations=rail.confirmations
        )
        self._store = store

    def sweep(self, deposit_address: str, *, sweep_id: str) -> SweepResult:
        """Top up gas if needed, then move the whole token balance to the hot wallet (resumable by ``sweep_id``)."""
        address = validate_address(deposit_address)
        sweep_tx = f"{sweep_id}:sweep"
        fingerprint = hashlib.sha256(
            f"{address}|{self._contract}|{self._sender.hot_wallet}".lower().encode()
        ).hexdigest()
        existing = self._store.get(sweep_tx)
        if existing is not None and existing.raw_tx is not None:
            self._tx.submit(sweep_tx, from_address=address, request_hash=fingerprint, build=_never)
            return SweepResult(address, SweepState.SENT, sweep=self._tx.state(sweep_tx))
        units = self._tx.call("reading a balance", lambda: erc20_balance(self._sender.w3, self._contract, address))
        if units == 0:
            return SweepResult(address, SweepState.EMPTY)
        call = erc20_transfer_call(self._contract, self._sender.hot_wallet, units)
        need = self._tx.estimate_gas(address, call) * self._tx.fees().max_fee
        have = self._native_balance(address)
        topup = None
        if have < need:
            topup = self._top_up(address, 2 * need - have, f"{sweep_id}:gas")
            if topup.block_number is None:
                return SweepResult(address, SweepState.GAS_PENDING, self._rail.token.to_money(units), topup)
            have = self._native_balance(address)
        self._tx.submit(sweep_tx, from_address=address, request_hash=fingerprint, build=lambda: call, fee_budget=have)
        amount = self._rail.token.to_money(units)
        return SweepResult(address, SweepState.SENT, amount, topup, self._tx.state(sweep_tx))

    def _native_balance(self, address: str) -> int:
        checksummed = Web3.to_checksum_address(address)
        return int(self._tx.call("reading a balance", lambda: self._sender.w3.eth.get_balance(checksummed)))

    def _top_up(self, address: str, wei: int, topup_id: str) -> SentTransaction:
        native = self._rail.network.native
        assert native is not None
        request = WithdrawalRequest(topup_id, self._sender.network, address, native.to_money(wei))
        return self._sender.send(request)

    def status(self, sweep_id: str) -> SentTransaction:
        """The sweep transaction's state."""
        return self._tx.state(f"{sweep_id}:sweep")


def _never() -> NoReturn:
    raise AssertionError("a stored sweep is never rebuilt")


class EvmRailSweeper:
    """The ``Sweeper`` port over ``EvmSweeper``: each call advances a sweep by a step and says where it stands.

    The gas top-up is the hot wallet's own withdrawal (``<sweep_id>:gas``), its fee read from its receipt; the
    transfer is confirmed at the rail's depth, when its fee (from its receipt) is known too.
    """

    def __init__(self, sender: EvmSender, rail: Rail, *, deposit_keys: KeyProvider, store: WithdrawalStore) -> None:
        native = rail.network.native
        assert native is not None
        self.network, self.asset, self.coin = rail.network.name, rail.asset, native.asset
        self.hot_wallet = sender.hot_wallet
        self._sender = sender
        self._sweeper = EvmSweeper(sender, rail, deposit_keys=deposit_keys, store=store)

    def sweep(self, sweep_id: str, deposit_address: str) -> SweepProgress:
        result = self._sweeper.sweep(deposit_address, sweep_id=sweep_id)
        if result.state is SweepState.EMPTY:
            return SweepProgress(stage=SweepStage.EMPTY)
        top_up = self._top_up(sweep_id)
        if result.state is SweepState.GAS_PENDING:
            return SweepProgress(stage=SweepStage.TOPPING_UP, amount=result.amount, top_up=top_up)
        transfer = result.sweep
        assert transfer is not None
        stage = {
            TxState.CONFIRMED: SweepStage.CONFIRMED,
            TxState.FAILED: SweepStage.FAILED,
            TxState.DROPPED: SweepStage.FAILED,
        }.get(transfer.state, SweepStage.SENT)
        return SweepProgress(stage=stage, amount=result.amount, top_up=top_up, transfer=transfer)

    def _top_up(self, sweep_id: str) -> SentTransaction | None:
        try:
            return self._sender.status(f"{sweep_id}:gas")
        except NotFound:
            return None  # the deposit address had its gas already
