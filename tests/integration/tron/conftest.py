"""Point bitcoinlib's data directory inside the project's data dir before any test module imports bitcoinlib.

Also serves the TronGrid-shaped simulator, once per test module, for the watcher and sender tests.
"""

from cryptopay.adapters._hd import bitcoinlib_home

bitcoinlib_home()

import pytest  # noqa: E402
from cryptopay.sandbox._server import serve_in_thread  # noqa: E402
from cryptopay.sandbox.tron_chain import TronChain  # noqa: E402
from cryptopay.sandbox.trongrid import create_trongrid_simulator  # noqa: E402


@pytest.fixture(scope="module")
def served():
    """A simulated Tron chain and the URL of its TronGrid-shaped API, served in a thread."""
    chain = TronChain()
    with serve_in_thread(create_trongrid_simulator(chain)) as server:
        yield chain, server.url
