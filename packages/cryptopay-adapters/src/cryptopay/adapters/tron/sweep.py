"""Sweeps from Tron deposit addresses to the hot wallet, topping up TRX for energy and bandwidth first.

A deposit address holds USDT but usually no TRX, and a TRC20 transfer burns TRX for energy and bandwidth.
The sweep first sends the missing TRX from the gas wallet (its own idempotent transfer), waits until that is
solidified, then sends the whole token balance to the hot wallet. Call ``sweep`` again until it reports
``swept``; every step is idempotent on ``sweep_id``.
"""

from __future__ import annotations

import enum

import attrs
from cryptopay.adapters.tron.transactions import TronTransactions
from cryptopay.core.errors import InvalidInput
from cryptopay.core.ports.chains import SentTransaction, TxState
from cryptopay.core.ports.treasury import SweepProgress
from cryptopay.core.ports.treasury import SweepStage as PortStage
from cryptopay.core.rails import Rail

__all__ = ["SweepStage", "SweepStatus", "TronRailSweeper", "TronSweeper"]

BANDWIDTH_BYTES = 345  # a TRC20 transfer's size, paid in TRX when the free daily bandwidth is used up
BANDWIDTH_SUN_PER_BYTE = 1_000


class SweepStage(enum.Enum):
    NOTHING = "nothing"  # no token balance to sweep
    TOPPING_UP = "topping_up"  # TRX top-up sent, waiting for it to solidify
    SWEEPING = "sweeping"  # token transfer sent, waiting for it to solidify
    SWEPT = "swept"
    FAILED = "failed"


@attrs.frozen
class SweepStatus:
    sweep_id: str
    stage: SweepStage
    top_up: SentTransaction | None = None
    transfer: SentTransaction | None = None
    top_up_sun: int = 0


class TronSweeper:
    """Moves a deposit address's whole TRC20 balance to the hot wallet, funding its fees from the gas wallet."""

    def __init__(self, transactions: TronTransactions, *, gas_address: str, hot_address: str) -> None:
        self._txs = transactions
        self._gas = gas_address
        self._hot = hot_address

    def trx_needed(self, deposit: str, contract: str, units: int) -> int:
        """TRX (sun) the deposit address lacks to pay fee_limit plus bandwidth for the transfer."""
        fee_limit = self._txs.estimate_fee_limit(deposit, contract, self._hot, units)
        resource = self._txs._api.post(
            "reading resources", "wallet/getaccountresource", {"address": deposit, "visible": True}
        )
        free = int(resource.get("freeNetLimit", 0)) - int(resource.get("freeNetUsed", 0))
        bandwidth = 0 if free >= BANDWIDTH_BYTES else BANDWIDTH_BYTES * BANDWIDTH_SUN_PER_BYTE
        return max(0, fee_limit + bandwidth - self._txs.trx_balance(deposit))

    def sweep(self, sweep_id: str, *, deposit: str, contract: str) -> SweepStatus:
        """Advance the sweep by one step (top up, then transfer) and report where it stands."""
        done = self._known(f"{sweep_id}:sweep")
        if done is not None:
            return self._after_transfer(sweep_id, done)
        units = self._txs.token_balance(contract, deposit)
        if units <= 0:
            return SweepStatus(sweep_id, SweepStage.NOTHING)
        top_up = self._known(f"{sweep_id}:topup")
        if top_up is None:
            needed = self.trx_needed(deposit, contract, units)
            if needed > 0:
                sent = self._txs.send_trx(f"{sweep_id}:topup", owner=self._gas, to=deposit, sun=needed)
                return SweepStatus(sweep_id, SweepStage.TOPPING_UP, top_up=sent, top_up_sun=needed)
        elif top_up.state is not TxState.CONFIRMED:
            stage = SweepStage.FAILED if top_up.state in (TxState.FAILED, TxState.DROPPED) else SweepStage.TOPPING_UP
            return SweepStatus(sweep_id, stage, top_up=top_up)
        sent = self._txs.send_trc20(
            f"{sweep_id}:sweep", owner=deposit, contract=contract, to=self._hot, base_units=units
        )
        return SweepStatus(sweep_id, SweepStage.SWEEPING, top_up=top_up, transfer=sent)

    def _after_transfer(self, sweep_id: str, transfer: SentTransaction) -> SweepStatus:
        stage = {
            TxState.CONFIRMED: SweepStage.SWEPT,
            TxState.FAILED: SweepStage.FAILED,
            TxState.DROPPED: SweepStage.FAILED,
        }.get(transfer.state, SweepStage.SWEEPING)
        return SweepStatus(sweep_id, stage, top_up=self._known(f"{sweep_id}:topup"), transfer=transfer)

    def _known(self, withdrawal_id: str) -> SentTransaction | None:
        try:
            return self._txs.status(withdrawal_id)
        except LookupError:
            return None


class TronRailSweeper:
    """The ``Sweeper`` port over ``TronSweeper`` for one TRC20 rail: TRX for the fees comes from the gas wallet
    (usually the hot wallet), each step idempotent on the sweep id, confirmed once solidified."""

    def __init__(self, transactions: TronTransactions, rail: Rail, *, hot_address: str, gas_address: str) -> None:
        native = rail.network.native
        if rail.token.contract is None or native is None:
            raise InvalidInput("Tron sweeps need a TRC20 rail")
        self.network, self.asset, self.coin, self.hot_wallet = "tron", rail.asset, native.asset, hot_address
        self._txs, self._rail, self._contract = transactions, rail, rail.token.contract
        self._sweeper = TronSweeper(transactions, gas_address=gas_address, hot_address=hot_address)

    def sweep(self, sweep_id: str, deposit_address: str) -> SweepProgress:
        held = self._txs.token_balance(self._contract, deposit_address)
        status = self._sweeper.sweep(sweep_id, deposit=deposit_address, contract=self._contract)
        stage = _STAGES[status.stage]
        amount = self._rail.token.to_money(held) if held > 0 else None
        return SweepProgress(stage=stage, amount=amount, top_up=status.top_up, transfer=status.transfer)


_STAGES = {
    SweepStage.NOTHING: PortStage.EMPTY,
    SweepStage.TOPPING_UP: PortStage.TOPPING_UP,
    SweepStage.SWEEPING: PortStage.SENT,
    SweepStage.SWEPT: PortStage.CONFIRMED,
    SweepStage.FAILED: PortStage.FAILED,
}
