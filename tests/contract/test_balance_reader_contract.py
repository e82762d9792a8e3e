"""The BalanceReader contract (what the chain holds at one of our addresses, for custody and inventory checks), held
by the in-memory ``FakeBalances`` and by the real watchers over HTTP to the sandbox: Bitcoin on the Esplora
simulator (mined, unspent outputs), Tron on the TronGrid simulator (``balanceOf`` on the rail's TRC20 contract).
The EVM watcher's balance on anvil is checked by tests/integration/evm/test_evm_treasury_sweeps_anvil.py."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.money import BTC, USDT, Asset, Money
from cryptopay.core.ports.chains import BalanceReader

OURS = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
OTHER = "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


@attrs.frozen
class Kit:
    reader: BalanceReader
    asset: Asset
    addresses: tuple[str, str]  # two addresses nobody has paid yet
    pay: Callable[[str, Decimal], object]  # a payment of that many whole units, mined


@pytest.fixture
def fake_kit() -> Kit:
    from cryptopay.core.testing.payments_stack import FakeChain
    from cryptopay.core.testing.system import ManualClock
    from cryptopay.core.testing.treasury import FakeBalances

    chain = FakeChain("tron", ManualClock())
    return Kit(
        FakeBalances(chain),
        USDT,
        ("TOurs", "TOther"),
        lambda address, units: chain.pay(address, Money.of(units, USDT)),
    )


@pytest.fixture
def bitcoin_kit(esplora) -> Kit:
    from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher

    chain, url = esplora
    chain.reset()

    def pay(address: str, units: Decimal) -> None:
        chain.pay(address, int(units.scaleb(8)), mine=True)

    return Kit(BitcoinWatcher(url), BTC, (OURS, OTHER), pay)


@pytest.fixture
def tron_kit(trongrid) -> Kit:
    from cryptopay.adapters.tron.addresses import derive_address
    from cryptopay.adapters.tron.keys import TronHdKeyring
    from cryptopay.adapters.tron.watcher import TronWatcher
    from cryptopay.core.rails import rail_for

    chain, url = trongrid
    chain.reset()
    usdt = chain.deploy_token("USDT")
    xpub = TronHdKeyring("abandon " * 11 + "about").account_xpub()
    watcher = TronWatcher(url, [rail_for("tron", "USDT", contract=usdt)])

    def pay(address: str, units: Decimal) -> None:
        chain.fund(address, token=usdt, amount=int(units.scaleb(6)))
        chain.mine()

    return Kit(watcher, USDT, (derive_address(xpub, 1), derive_address(xpub, 2)), pay)


@pytest.fixture(params=["fake", "bitcoin", "tron"])
def kit(request) -> Kit:
    return request.getfixturevalue(f"{request.param}_kit")


def test_an_address_nobody_paid_holds_zero_of_the_asset(kit: Kit) -> None:
    """Zero, as Money in the asked asset (never None, never a float)."""
    held = kit.reader.balance(kit.addresses[0], kit.asset)
    assert held == Money.zero(kit.asset) and isinstance(held.amount, Decimal)


def test_payments_to_an_address_add_up_exactly_and_stay_at_that_address(kit: Kit) -> None:
    """Two payments sum to the unit; another address's payment is not counted."""
    ours, other = kit.addresses
    kit.pay(ours, Decimal("1.25"))
    kit.pay(ours, Decimal("0.005"))
    kit.pay(other, Decimal("3"))
    assert kit.reader.balance(ours, kit.asset) == Money.of("1.255", kit.asset)
    assert kit.reader.balance(other, kit.asset) == Money.of("3", kit.asset)
