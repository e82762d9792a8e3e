"""The NetworkFeeEstimator contract (what a withdrawal would cost the platform on the network now: the floor of its fee,
and the check before a withdrawal is signed), held by the in-memory ``FakeFeeEstimator`` and by the real hot-wallet
senders over HTTP to the sandbox: Tron on the TronGrid simulator (a TRC20 transfer's fee limit, in TRX) and Bitcoin on
the Esplora simulator (the rate x a 1-in-2-out vsize, in BTC). The EVM sender's estimate on anvil is checked by
tests/integration/evm/test_evm_withdrawal_fees_anvil.py. An estimate is positive money in the network's own coin
(not the token withdrawn), and asking signs and records nothing."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from cryptopay.core.money import BTC, POL, TRX, Asset, Money
from cryptopay.core.ports.chains import WithdrawalRequest
from cryptopay.core.ports.withdrawals import NetworkFeeEstimator


@attrs.frozen
class Kit:
    estimator: NetworkFeeEstimator
    coin: Asset
    request: WithdrawalRequest
    signed: Callable[[], int]  # 1 once the hot wallet recorded a signed withdrawal for the request, else 0


@pytest.fixture
def fake_kit() -> Kit:
    from cryptopay.core.testing.withdrawals import FakeFeeEstimator

    request = WithdrawalRequest("wdr_1", "polygon", "0x52908400098527886E0F7030069857D2E4169EE7", Money.of(10, "USDT"))
    return Kit(FakeFeeEstimator(Money.of("0.02", "POL")), POL, request, lambda: 0)


@pytest.fixture
def tron_kit(trongrid) -> Kit:
    from cryptopay.adapters.tron.client import TronApi
    from cryptopay.adapters.tron.keys import new_hot_key
    from cryptopay.adapters.tron.sender import TronSender
    from cryptopay.adapters.tron.transactions import TronTransactions
    from cryptopay.core.rails import rail_for
    from cryptopay.core.retry import Backoff
    from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys

    chain, url = trongrid
    chain.reset()
    usdt = chain.deploy_token("USDT")
    hot = new_hot_key()
    store = InMemoryWithdrawalStore()
    api = TronApi(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None)
    txs = TronTransactions(api, keys=StaticKeys({hot.address: hot.private_key.reveal()}), store=store)
    sender = TronSender(txs, hot_address=hot.address, rails=[rail_for("tron", "USDT", contract=usdt)])
    request = WithdrawalRequest("wdr_1", "tron", "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", Money.of(25, "USDT"), usdt)
    return Kit(sender, TRX, request, lambda: 0 if store.get("wdr_1") is None else 1)


@pytest.fixture
def bitcoin_kit(esplora) -> Kit:
    from cryptopay.adapters.bitcoin.esplora import EsploraClient
    from cryptopay.adapters.bitcoin.keys import new_hot_key
    from cryptopay.adapters.bitcoin.sender import BitcoinSender
    from cryptopay.core.retry import Backoff
    from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys

    chain, url = esplora
    chain.reset()
    hot = new_hot_key()
    store = InMemoryWithdrawalStore()
    api = EsploraClient(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None)
    keys = StaticKeys({hot.address: hot.private_key.reveal()})
    sender = BitcoinSender(api, hot_address=hot.address, keys=keys, store=store, confirmations=2)
    to = "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
    request = WithdrawalRequest("wdr_1", "bitcoin", to, Money.of("0.001", "BTC"))
    return Kit(sender, BTC, request, lambda: 0 if store.get("wdr_1") is None else 1)


@pytest.fixture(params=["fake", "tron", "bitcoin"])
def kit(request: pytest.FixtureRequest) -> Kit:
    found: Kit = request.getfixturevalue(f"{request.param}_kit")
    return found


def test_an_estimate_is_positive_money_in_the_networks_coin(kit: Kit) -> None:
    fee = kit.estimator.estimate_fee(kit.request)
    assert fee.asset == kit.coin  # the network's coin: TRX for a USDT withdrawal on Tron, BTC on Bitcoin
    assert fee.is_positive()


def test_asking_signs_nothing_and_asking_again_gives_a_comparable_answer(kit: Kit) -> None:
    first = kit.estimator.estimate_fee(kit.request)
    again = kit.estimator.estimate_fee(kit.request)
    assert again.asset == first.asset
    assert kit.signed() == 0
