"""The chain simulators served over HTTP on a loopback port, for the watcher, sender and contract tests: a
simulated Bitcoin chain behind its Esplora-shaped API, a simulated Tron chain behind its TronGrid-shaped API.

bitcoinlib's data directory is pointed inside the project's data dir before the sandbox (which imports bitcoinlib)
is imported.

    with served_esplora() as (chain, url):
        chain.pay(address, 150_000, mine=True)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptopay.sandbox.bitcoin_chain import BitcoinChain
    from cryptopay.sandbox.tron_chain import TronChain

__all__ = ["served_esplora", "served_trongrid"]


@contextmanager
def served_esplora() -> Iterator[tuple[BitcoinChain, str]]:
    """A fresh simulated Bitcoin chain and the URL of its Esplora-shaped API, served in a thread for the block."""
    _sandbox_imports()
    from cryptopay.sandbox.bitcoin_chain import BitcoinChain
    from cryptopay.sandbox.esplora import create_esplora_simulator

    chain = BitcoinChain()
    with _serve(create_esplora_simulator(chain)) as url:
        yield chain, url


@contextmanager
def served_trongrid() -> Iterator[tuple[TronChain, str]]:
    """A fresh simulated Tron chain and the URL of its TronGrid-shaped API, served in a thread for the block."""
    _sandbox_imports()
    from cryptopay.sandbox.tron_chain import TronChain
    from cryptopay.sandbox.trongrid import create_trongrid_simulator

    chain = TronChain()
    with _serve(create_trongrid_simulator(chain)) as url:
        yield chain, url


def _sandbox_imports() -> None:
    """bitcoinlib's data directory inside the project's, before the sandbox (which imports bitcoinlib) is imported."""
    from cryptopay.adapters._hd import bitcoinlib_home

    bitcoinlib_home()


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    from cryptopay.sandbox._server import serve_in_thread

    with serve_in_thread(app) as server:
        yield server.url
