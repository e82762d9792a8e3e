"""The ``ChainSender`` for Tron: TRC20 (and TRX) withdrawals from the hot wallet, once per withdrawal id."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from cryptopay.adapters.tron.addresses import validate_address
from cryptopay.adapters.tron.transactions import TronTransactions
from cryptopay.adapters.tron.watcher import tron_address
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import TRX, Money
from cryptopay.core.ports.chains import SentTransaction, WithdrawalRequest
from cryptopay.core.rails import Rail, Token

__all__ = ["TronSender"]


class TronSender:
    """Sends withdrawals from ``hot_address``; fee_limit is estimated per transfer (see ``TronTransactions``)."""

    network = "tron"

    def __init__(self, transactions: TronTransactions, *, hot_address: str, rails: Sequence[Rail]) -> None:
        self._txs = transactions
        self._hot = validate_address(hot_address)
        self._tokens: dict[str, Token] = {
            tron_address(str(r.token.contract)): r.token for r in rails if r.token.contract and r.network.name == "tron"
        }
        self._native = next((r.token for r in rails if r.token.contract is None and r.network.name == "tron"), None)

    def send(self, request: WithdrawalRequest) -> SentTransaction:
        """Broadcast the withdrawal (or return the one already sent for this id)."""
        if request.network != self.network:
            raise InvalidInput(f"a Tron sender cannot send on {request.network}")
        to = validate_address(request.to_address)
        if request.token_contract is None:
            if self._native is None or request.amount.asset != self._native.asset:
                raise InvalidInput(f"{request.amount.asset.code} is not sendable as native TRX")
            sun = self._native.to_base_units(request.amount)
            return self._txs.send_trx(request.withdrawal_id, owner=self._hot, to=to, sun=sun)
        contract, token = self._rail_token(request.token_contract)
        units = token.to_base_units(request.amount)
        if units <= 0:
            raise InvalidInput("a withdrawal amount must be positive")
        return self._txs.send_trc20(request.withdrawal_id, owner=self._hot, contract=contract, to=to, base_units=units)

    def estimate_fee(self, request: WithdrawalRequest) -> Money:
        """At most what the withdrawal would burn now: a TRC20 transfer's estimated fee limit, in TRX."""
        to = validate_address(request.to_address)
        if request.token_contract is None:
            return Money.of("1.1", TRX)  # a TRX transfer to a new account costs 1 TRX plus bandwidth
        contract, token = self._rail_token(request.token_contract)
        sun = self._txs.estimate_fee_limit(self._hot, contract, to, token.to_base_units(request.amount))
        return Money.of(Decimal(sun) / 1_000_000, TRX)

    def _rail_token(self, token_contract: str) -> tuple[str, Token]:
        """The contract (base58) and its configured rail's token; ``InvalidInput`` when no rail has it."""
        contract = tron_address(token_contract)
        token = self._tokens.get(contract)
        if token is None:
            raise InvalidInput(f"token contract {contract} is not a configured Tron rail")
        return contract, token

    def status(self, withdrawal_id: str) -> SentTransaction:
        return self._txs.status(withdrawal_id)
