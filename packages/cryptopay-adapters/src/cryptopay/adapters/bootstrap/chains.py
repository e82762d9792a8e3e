"""How the root builds each network's parts from its ``ChainSettings``: rail, deposit-address deriver, watcher, sender.

Each chain library (web3, tronpy, bitcoinlib) is imported inside the function that needs it, so a deployment
without that network never loads it. ``chain_jobs`` are the worker's scan, confirm and expiry steps over them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from cryptopay.adapters.bootstrap.settings import EVM_NETWORKS, ChainSettings, Settings
from cryptopay.core.payments.detection import Detection
from cryptopay.core.ports.chains import (
    AddressDeriver,
    BalanceReader,
    FinalitySource,
    KeyProvider,
    MempoolWatcher,
    ObservedTransfer,
    WithdrawalStore,
)
from cryptopay.core.ports.withdrawals import HotWalletSender
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.scanning import ChainScanner, HeaderWatcher
from cryptopay.core.wallets.deposits import Deposits

__all__ = ["ChainReader", "address_validators", "deriver_map", "rails_of", "scan_chains", "sender_for", "watcher_for"]


class ChainReader(HeaderWatcher, BalanceReader, FinalitySource, Protocol):
    """What each network's watcher is: it scans and confirms transfers, reads our addresses' balances and tells
    the network's own finality signal (EVM safe/finalized tags, Tron's solidified head; Bitcoin none)."""


def rails_of(chain: ChainSettings) -> list[Rail]:
    """The network's rails with the deployment's contracts, chain id and depth: BTC on bitcoin, USDT on Tron, USDT
    and USDC on the EVM networks, one code path. USDC is offered on mainnet (the issuers' contracts in
    ``core.rails``) or wherever ``CRYPTOPAY_<NETWORK>_USDC_CONTRACT`` names one; a test chain (its own chain id)
    without it has no USDC rail rather than one watching a mainnet address nothing pays on."""
    depth = chain.confirmations
    if chain.network == "bitcoin":
        return [rail_for("bitcoin", "BTC", confirmations=depth)]
    chain_id = chain.chain_id if chain.network in EVM_NETWORKS else None
    rails = [rail_for(chain.network, "USDT", contract=chain.usdt_contract, chain_id=chain_id, confirmations=depth)]
    if chain.network in EVM_NETWORKS and (chain.usdc_contract or chain.chain_id is None):
        usdc = chain.usdc_contract
        rails.append(rail_for(chain.network, "USDC", contract=usdc, chain_id=chain_id, confirmations=depth))
    return rails


def deriver_map(settings: Settings) -> dict[str, AddressDeriver]:
    """Deposit-address derivers per network, from account-level extended public keys (no private keys)."""
    networks = {chain.network for chain in settings.chains}
    derivers: dict[str, AddressDeriver] = {}
    if xpub := settings.evm_xpub:
        from cryptopay.adapters.evm.addresses import EvmAddressDeriver

        derivers.update({n: EvmAddressDeriver(xpub) for n in networks & set(EVM_NETWORKS)})
    if "tron" in networks and (xpub := settings.tron_xpub):
        from cryptopay.adapters.tron.addresses import TronAddressDeriver

        derivers["tron"] = TronAddressDeriver(xpub)
    if "bitcoin" in networks and (xpub := settings.bitcoin_xpub):
        from cryptopay.adapters.bitcoin.addresses import BitcoinAddressDeriver

        derivers["bitcoin"] = BitcoinAddressDeriver(xpub)
    return derivers


def address_validators(settings: Settings) -> dict[str, Callable[[str], str]]:
    """Each configured network's address check with its checksum (refund addresses): EIP-55, Tron base58check,
    Bitcoin base58/bech32 of the deployment's own network (testnet when its xpub is a tpub/vpub)."""
    return {chain.network: _validator(chain.network, settings) for chain in settings.chains}


def _validator(network: str, settings: Settings) -> Callable[[str], str]:
    """The network's check; its chain library is imported at the first address checked, not when refunds are built
    (the worker builds them for every ``refunds.send`` run, and bitcoinlib takes seconds to import)."""
    testnet = (settings.bitcoin_xpub or "")[:4] in ("tpub", "vpub")

    def check(address: str) -> str:
        if network in EVM_NETWORKS:
            from cryptopay.adapters.evm.addresses import validate_address as evm

            return evm(address)
        if network == "tron":
            from cryptopay.adapters.tron.addresses import validate_address as tron

            return tron(address)
        from cryptopay.adapters.bitcoin.addresses import validate_address as bitcoin

        return bitcoin(address, testnet=testnet)

    return check


def watcher_for(chain: ChainSettings, rails: Sequence[Rail]) -> ChainReader:
    """The network's watcher over its node or API (``rails``: the network's own; an EVM watcher reads every token
    rail's ``Transfer`` logs in one filter, so USDC costs no extra request)."""
    if chain.network in EVM_NETWORKS:
        from cryptopay.adapters.evm.watcher import EvmWatcher

        return EvmWatcher(chain.url, rails)
    if chain.network == "tron":
        from cryptopay.adapters.tron.watcher import TronWatcher

        return TronWatcher(chain.url, rails)
    from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher

    return BitcoinWatcher(chain.url)


def sender_for(
    chain: ChainSettings, rails: Sequence[Rail], *, hot: str, keys: KeyProvider, store: WithdrawalStore
) -> HotWalletSender:
    """The network's sender from its hot wallet ``hot`` (keys from the vault, withdrawals recorded in ``store``)."""
    if chain.network in EVM_NETWORKS:
        from cryptopay.adapters.evm.sender import EvmSender

        return EvmSender(chain.url, rails, hot_wallet=hot, keys=keys, store=store)
    if chain.network == "tron":
        from cryptopay.adapters.tron.client import TronApi
        from cryptopay.adapters.tron.sender import TronSender
        from cryptopay.adapters.tron.transactions import TronTransactions

        txs = TronTransactions(TronApi(chain.url), keys=keys, store=store)
        return TronSender(txs, hot_address=hot, rails=rails)
    from cryptopay.adapters.bitcoin.esplora import EsploraClient
    from cryptopay.adapters.bitcoin.sender import BitcoinSender

    return BitcoinSender(EsploraClient(chain.url), hot_address=hot, keys=keys, store=store)


def scan_chains(
    scanners: Mapping[str, ChainScanner],
    detection: Detection,
    mempools: Mapping[str, MempoolWatcher] | None = None,
    deposits: Deposits | None = None,
) -> int:
    """Scan every network from its cursor towards its head, recording transfers to our addresses (invoices' and,
    with ``deposits``, the personal wallets', always watched); then the mempools we can see (Bitcoin), so an
    unconfirmed payment shows as seen within a scan."""
    recorded = 0
    for network, scanner in scanners.items():
        watched = detection.watched_addresses(network)
        if deposits is not None:
            watched = sorted({*watched, *deposits.watched_addresses(network)})
        step = scanner.step(watched, _recorder(detection, network, deposits))
        recorded += len(step.transfers)
    for network, mempool in (mempools or {}).items():
        detection.record_mempool(network, mempool)
        if deposits is not None:
            deposits.record_mempool(network, mempool)
    return recorded


def _recorder(
    detection: Detection, network: str, deposits: Deposits | None
) -> Callable[[Sequence[ObservedTransfer]], None]:
    def record(transfers: Sequence[ObservedTransfer]) -> None:
        report = detection.record_chain_transfers(network, transfers)
        if deposits is not None and report.ignored:  # what pays no invoice may pay a wallet
            deposits.record(network, report.ignored)

    return record
