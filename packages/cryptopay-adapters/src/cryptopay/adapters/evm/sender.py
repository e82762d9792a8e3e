"""The ``ChainSender`` for EVM chains: ERC20 and native withdrawals from the hot wallet, idempotent by id.

>>> request_hash(WithdrawalRequest("wd_1", "ethereum", "0xAb", Money.of("1", "USDT"), "0xC0"))[:12]
'081c45f88ec5'
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence

from cryptopay.adapters.evm.addresses import validate_address
from cryptopay.adapters.evm.rpc import Backoff, connect
from cryptopay.adapters.evm.transactions import EvmTransactions, Fees, UnsignedCall
from cryptopay.core.errors import InsufficientFunds, InvalidInput
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import KeyProvider, SentTransaction, WithdrawalRequest, WithdrawalStore
from cryptopay.core.rails import Rail, Token
from eth_abi.abi import encode
from eth_typing import HexStr
from web3 import Web3

__all__ = ["EvmSender", "erc20_balance", "erc20_transfer_call", "request_hash"]

_TRANSFER_SELECTOR = "a9059cbb"  # transfer(address,uint256)
_BALANCE_OF_SELECTOR = "70a08231"  # balanceOf(address)


def request_hash(request: WithdrawalRequest) -> str:
    """A fingerprint of what a withdrawal asks for, so an id reused for another request is a conflict."""
    fields = [request.network, request.to_address.lower(), str(request.amount), (request.token_contract or "").lower()]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def erc20_transfer_call(token_contract: str, to: str, base_units: int) -> UnsignedCall:
    """The call ``token.transfer(to, base_units)``."""
    data = "0x" + _TRANSFER_SELECTOR + encode(["address", "uint256"], [to, base_units]).hex()
    return UnsignedCall(to=token_contract, data=data)


def balance_of_call(token_contract: str, holder: str) -> dict[str, str]:
    """The ``eth_call`` transaction of ``token.balanceOf(holder)``."""
    data = "0x" + _BALANCE_OF_SELECTOR + encode(["address"], [holder]).hex()
    return {"to": Web3.to_checksum_address(token_contract), "data": data}


def erc20_balance(w3: Web3, token_contract: str, holder: str) -> int:
    """``token.balanceOf(holder)`` in on-chain units."""
    call = balance_of_call(token_contract, holder)
    result = w3.eth.call({"to": Web3.to_checksum_address(call["to"]), "data": HexStr(call["data"])})
    return int.from_bytes(bytes(result), "big")


class EvmSender:
    """Sends withdrawals from ``hot_wallet``; ``send`` twice with one ``withdrawal_id`` is one transaction."""

    def __init__(
        self,
        rpc: str | Web3,
        rails: Sequence[Rail],
        *,
        hot_wallet: str,
        keys: KeyProvider,
        store: WithdrawalStore,
        confirmations: int | None = None,
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rails or len({r.network.name for r in rails}) != 1:
            raise InvalidInput("an EVM sender needs rails of exactly one network")
        network = rails[0].network
        self.network = network.name
        self.w3 = connect(rpc) if isinstance(rpc, str) else rpc
        self.hot_wallet = validate_address(hot_wallet)
        self._tokens = {str(r.token.contract).lower(): r.token for r in rails if r.token.contract}
        depth = max(r.confirmations for r in rails) if confirmations is None else confirmations
        self.transactions = EvmTransactions(
            self.w3, network, store=store, keys=keys, confirmations=depth, backoff=backoff, sleep=sleep
        )

    def fees(self) -> Fees:
        """Current EIP-1559 fee estimate."""
        return self.transactions.fees()

    def estimate_fee(self, request: WithdrawalRequest) -> Money:
        """The network fee the withdrawal would cost now (gas with its margin x the EIP-1559 fee cap), in the coin."""
        token = self._token(request)
        to = validate_address(request.to_address)
        units = token.to_base_units(request.amount)
        if token.contract is None:
            call = UnsignedCall(to=to, value=units)
        else:
            call = erc20_transfer_call(str(token.contract), to, units)
        gas = self.transactions.estimate_gas(self.hot_wallet, call)
        return self.transactions.native_money(gas * self.transactions.fees().max_fee)

    def _token(self, request: WithdrawalRequest) -> Token:
        if request.network != self.network:
            raise InvalidInput(f"this sender sends on {self.network}, not {request.network}")
        if request.token_contract is None:
            native = self.transactions.network.native
            assert native is not None
            token = native
        else:
            found = self._tokens.get(request.token_contract.lower())
            if found is None:
                raise InvalidInput(f"{request.token_contract} is not a configured token on {self.network}")
            token = found
        if request.amount.asset != token.asset:
            raise InvalidInput(f"{request.amount.asset.code} cannot be sent as {token.asset.code}")
        if not request.amount.is_positive():
            raise InvalidInput("a withdrawal amount must be positive")
        return token

    def _call(self, request: WithdrawalRequest, token: Token) -> UnsignedCall:
        to = validate_address(request.to_address)
        units = token.to_base_units(request.amount)
        if token.contract is None:
            return UnsignedCall(to=to, value=units)
        held = self.transactions.call(
            "reading a balance", lambda: erc20_balance(self.w3, str(token.contract), self.hot_wallet)
        )
        if held < units:
            raise InsufficientFunds(
                f"the {self.network} hot wallet holds {token.to_money(held)}, needs {request.amount}"
            )
        return erc20_transfer_call(str(token.contract), to, units)

    def send(self, request: WithdrawalRequest) -> SentTransaction:
        """Broadcast the withdrawal once; a retry with the same id rebroadcasts the same signed transaction."""
        token = self._token(request)
        validate_address(request.to_address)
        self.transactions.submit(
            request.withdrawal_id,
            from_address=self.hot_wallet,
            request_hash=request_hash(request),
            build=lambda: self._call(request, token),
        )
        return self.status(request.withdrawal_id)

    def status(self, withdrawal_id: str) -> SentTransaction:
        """The withdrawal's transaction state and, once mined, its fee and confirmations."""
        return self.transactions.state(withdrawal_id)

    def native_balance(self, address: str) -> Money:
        """The native coin balance of an address."""
        wei = self.transactions.call(
            "reading a balance", lambda: self.w3.eth.get_balance(Web3.to_checksum_address(address))
        )
        return self.transactions.native_money(int(wei))
