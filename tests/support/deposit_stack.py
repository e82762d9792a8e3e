"""Wallet deposits for tests and features: a wallet stack, fake chains, the real screening and monitoring.

``DepositStack`` signs people up through the real sign-up (``wallet_stack``), gives them deposit addresses from
``Deposits`` (sequential derivers over the fake chains), lets senders pay them in new blocks, and ``sync``s: each
chain scanned from its cursor (the wallet addresses watched) and every deposit followed. The backend is in memory
by default, or SQLite / PostgreSQL (``tests.support.sql_backends``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from cryptopay.adapters.sanctions import RapidfuzzMatcher
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import load_rules
from cryptopay.core.compliance.screening import ListEntry, Screening
from cryptopay.core.identity import User
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.pricing import Pricer
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.chains import InMemoryScanCursorStore
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.deposits import InMemoryWalletDeposits
from cryptopay.core.testing.payments_stack import FakeChain, SequentialDeriver
from cryptopay.core.testing.system import ManualClock
from cryptopay.core.wallets.deposit import Deposit, WalletSpeed
from cryptopay.core.wallets.deposits import Deposits

from tests.support.sql_backends import Backend
from tests.support.wallet_stack import WalletStack, memory_wallet_storage, wallet_stack

NETWORKS = ("ethereum", "polygon", "bsc", "tron", "bitcoin")
SPEED = "ethereum=3,polygon=3,bsc=3,tron=3,bitcoin=2"  # short, so a scenario mines a few blocks
RULES = """{"version": 1, "rules": [
  {"id": "large-value", "kind": "large_transaction", "threshold_kes": "1000000"},
  {"id": "huge-deposit", "kind": "large_transaction", "threshold_kes": "5000000", "blocking": true,
   "products": ["wallet_deposit"], "directions": ["in"]}
]}"""


def memory_deposit_backend() -> Backend:
    """In memory: the wallet repositories, every payment repository (the deposit addresses) and monitoring."""
    return Backend(
        "memory", memory_wallet_storage(wallet_deposits=InMemoryWalletDeposits(), **monitoring_repositories())
    )


@attrs.define
class DepositStack:
    wallet: WalletStack
    chains: dict[str, FakeChain]
    cursors: InMemoryScanCursorStore
    deposits: Deposits
    monitoring: Monitoring
    screening: Screening
    scanners: dict[str, ChainScanner] = attrs.Factory(dict)
    derivers: dict[str, Any] = attrs.Factory(dict)
    watchers: dict[str, Any] = attrs.Factory(dict)  # what ``sync`` reads: the fake chains, or real watchers

    @property
    def clock(self) -> ManualClock:
        return self.wallet.clock

    @property
    def uow(self) -> Any:
        return self.wallet.backend.uow

    def sign_up(self, phone: str, **kwargs: Any) -> User:
        return self.wallet.sign_up(phone, **kwargs)

    def address(self, user: User, network: str) -> str:
        return self.deposits.address(user.id, network).address

    def pay(self, user: User, network: str, amount: str, *, sender: str = "0xsender") -> ObservedTransfer:
        """Someone sends ``amount`` (USDT, or BTC on bitcoin) to the user's address on ``network``, in a new block."""
        asset = "BTC" if network == "bitcoin" else "USDT"
        return self.send(self.address(user, network), network, Money.of(amount, asset_by_code(asset)), sender)

    def send(self, address: str, network: str, amount: Money, sender: str = "0xsender") -> ObservedTransfer:
        chain = self.chains[network]
        transfer = ObservedTransfer(network, _tx(chain, address), 0, address, amount, None, None, None, sender)
        return chain.mine([transfer])[0]

    def mine(self, network: str, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.clock.advance(seconds=12)
            self.chains[network].mine()
        self.sync()

    def sync(self) -> None:
        """Scan every chain to its head (wallet addresses watched), then follow every deposit."""
        for network, chain in self.watchers.items():
            scanner = self.scanners[network]
            while True:
                step = scanner.step(self.deposits.watched_addresses(network), self._sink(network))
                if step.to_block >= chain.head():
                    break
            self.deposits.confirm(network, chain, chain if hasattr(chain, "final_block") else None)

    def _sink(self, network: str) -> Any:
        def record(transfers: Sequence[ObservedTransfer]) -> None:
            self.deposits.record(network, transfers)

        return record

    def list_address(self, network: str, address: str, *, ref: str = "ofac:99001") -> None:
        """Sanctions: a list naming ``address`` on ``network`` is imported."""
        entry = ListEntry(ref=ref, kind="entity", names=("Listed Exchange",), addresses=((network, address),))
        self.screening.import_list("ofac_sdn", f"v-{ref}", [entry], actor="operator:test")

    def deposit_of(self, user: User) -> Deposit:
        return self.deposits.deposits(user.id, limit=1)[0]

    def balance(self, user: User, asset: str) -> Money:
        return self.wallet.balance(user, asset)


def _tx(chain: FakeChain, address: str) -> str:
    return "0x" + secrets.token_hex(32)


def deposit_stack(
    backend: Backend | None = None,
    *,
    speed: str = SPEED,
    derivers: dict[str, Any] | None = None,
    watchers: dict[str, Any] | None = None,
    rails: list[Rail] | None = None,
    quotes: QuoteRepository | None = None,
    monitored: bool = True,
) -> DepositStack:
    """Over fake chains on every network by default; ``watchers`` (with their ``derivers`` and ``rails``) replace
    them with real ones (anvil, the TronGrid and Esplora simulators) on the networks they name. ``quotes``: where
    the deposits' pricer stores the quotes it locks (as wired: the database's own table; default the wallets').
    ``monitored``: False for a deployment without transaction monitoring (the deposits' ``monitoring`` is None)."""
    the_backend = backend or memory_deposit_backend()
    wallets = wallet_stack(the_backend)
    clock, ids = wallets.clock, RandomIds()
    chains = {n: FakeChain(n, clock) for n in NETWORKS if n not in (watchers or {})}
    for chain in chains.values():
        chain.mine()
    reading: dict[str, Any] = {**chains, **(watchers or {})}
    screening = Screening(uow=the_backend.uow, matcher=RapidfuzzMatcher(), clock=clock, ids=ids)
    monitoring = Monitoring(
        uow=the_backend.uow,
        rules=load_rules(RULES),
        clock=clock,
        ids=ids,
        screen=lambda m: screening.sanctioned_counterparty(m.network, m.counterparty),
    )
    own = {r.network.name for r in rails or ()}
    the_rails = [rail_for(n, "BTC" if n == "bitcoin" else "USDT") for n in NETWORKS if n not in own]
    the_rails += [rail_for(n, "USDC") for n in ("ethereum", "polygon", "bsc") if n not in own] + list(rails or ())
    derivers = {n: SequentialDeriver(n) for n in NETWORKS} | (derivers or {})
    wallets.rates.set("BTC/KES", "13000000")
    deposits = Deposits(
        uow=the_backend.uow,
        ledger=wallets.ledger,
        clock=clock,
        ids=ids,
        derivers=derivers,
        rails=the_rails,
        speed=WalletSpeed.parse(speed),
        screening=lambda: screening,
        monitoring=(lambda: monitoring) if monitored else (lambda: None),
        quoter=wallets.wallets.quoter if quotes is None else _pricer(wallets, quotes),
    )
    cursors = InMemoryScanCursorStore()
    scanners = {n: ChainScanner(c, cursors, start_block=c.head() + 1) for n, c in reading.items()}
    return DepositStack(wallets, chains, cursors, deposits, monitoring, screening, scanners, derivers, reading)


def _pricer(wallets: WalletStack, quotes: QuoteRepository) -> Callable[[], Pricer]:
    pricer = Pricer([wallets.rates], clock=wallets.clock, ids=RandomIds(), quotes=quotes)
    return lambda: pricer


__all__ = ["DepositStack", "deposit_stack", "memory_deposit_backend"]
