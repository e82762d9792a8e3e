"""USDC on Ethereum, Polygon and BSC through the one EVM code path, on a real anvil node with test tokens.

The rails come from the composition root's ``rails_of`` exactly as a deployment builds them (each network with the
local chain id and the locally deployed contracts); the watcher is the production ``EvmWatcher``.
"""

from __future__ import annotations

import pytest
from cryptopay.adapters.bootstrap.chains import rails_of
from cryptopay.adapters.bootstrap.settings import ChainSettings
from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core.money import Money

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil


def _network(evm: EvmEnv, network: str, *, decimals: int) -> ChainSettings:
    usdt, usdc = (evm.usdt18, evm.usdc18) if decimals == 18 else (evm.usdt6, evm.usdc6)
    return ChainSettings(
        network=network,
        url=evm.node.url,
        chain_id=evm.node.chain_id,
        usdt_contract=usdt,
        usdc_contract=usdc,
        confirmations=2,
    )


@pytest.mark.parametrize(("network", "decimals"), [("ethereum", 6), ("polygon", 6), ("bsc", 18)])
def test_usdc_payments_are_seen_as_usdc_with_the_network_s_decimals(
    evm: EvmEnv, fresh_index: int, network: str, decimals: int
) -> None:
    """A USDC and a USDT payment to one deposit address are told apart by contract, each with its own decimals."""
    rails = rails_of(_network(evm, network, decimals=decimals))
    assert [r.key for r in rails] == [f"usdt-{network}", f"usdc-{network}"]
    assert {r.token.chain_decimals for r in rails} == {decimals}
    ours = derive_address(evm.xpub, fresh_index)
    start = evm.w3.eth.block_number + 1
    usdt, usdc = (evm.usdt18, evm.usdc18) if decimals == 18 else (evm.usdt6, evm.usdc6)
    evm.pay(usdc, ours, 25 * 10**decimals + 5 * 10 ** (decimals - 1))
    evm.pay(usdt, ours, 3 * 10**decimals)
    watcher = EvmWatcher(evm.w3, rails, backoff=FAST)
    found = watcher.scan(start, evm.w3.eth.block_number, [ours])
    assert [t.amount for t in found] == [Money.of("25.5", "USDC"), Money.of("3", "USDT")]
    assert found[0].token_contract.lower() == usdc.lower()
    evm.mine(1)
    assert watcher.confirmations(found[0]) >= 2
    assert watcher.balance(ours, Money.of("0", "USDC").asset) == Money.of("25.5", "USDC")


def test_a_test_chain_without_a_usdc_contract_offers_no_usdc_rail(evm: EvmEnv) -> None:
    """On a chain of its own id, the mainnet USDC address would watch nothing: no USDC rail is offered then."""
    settings = ChainSettings(network="ethereum", url=evm.node.url, chain_id=evm.node.chain_id, usdt_contract=evm.usdt6)
    assert [r.key for r in rails_of(settings)] == ["usdt-ethereum"]
    mainnet = ChainSettings(network="polygon", url=evm.node.url)
    usdc = rails_of(mainnet)[1]
    assert (usdc.key, usdc.token.contract) == ("usdc-polygon", "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359")
