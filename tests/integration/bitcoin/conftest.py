"""Point bitcoinlib's data directory inside the project's data dir before any test module imports bitcoinlib.

Also serves the Esplora-shaped simulator, once per test module, for the watcher and sender tests.
"""

from cryptopay.adapters._hd import bitcoinlib_home

bitcoinlib_home()

import pytest  # noqa: E402
from cryptopay.sandbox._server import serve_in_thread  # noqa: E402
from cryptopay.sandbox.bitcoin_chain import BitcoinChain  # noqa: E402
from cryptopay.sandbox.esplora import create_esplora_simulator  # noqa: E402


@pytest.fixture(scope="module")
def served():
    """A simulated Bitcoin chain and the URL of its Esplora-shaped API, served in a thread."""
    chain = BitcoinChain()
    with serve_in_thread(create_esplora_simulator(chain)) as server:
        yield chain, server.url
