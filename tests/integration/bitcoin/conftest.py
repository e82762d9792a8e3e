"""Point bitcoinlib's data directory inside the project's data dir before any test module imports bitcoinlib.

Also serves the Esplora-shaped simulator, once per test module, for the watcher and sender tests.
"""

from cryptopay.adapters._hd import bitcoinlib_home

bitcoinlib_home()

import pytest  # noqa: E402

from tests.support.chain_simulators import served_esplora  # noqa: E402


@pytest.fixture(scope="module")
def served():
    """A simulated Bitcoin chain and the URL of its Esplora-shaped API, served in a thread."""
    with served_esplora() as chain_and_url:
        yield chain_and_url
