"""One sandbox (anvil with test USDT, the Daraja, FX, SMS, TronGrid and Esplora simulators) for every demo here.

Starting a sandbox costs seconds of CPU (anvil, the contracts, six simulators), and each demo used to start its own.
The demos now run in directories inside ``shared_sandbox``, where ``Demo`` finds it running and leaves it running.
Nothing else is shared: each demo has its own database, API and worker processes, deposit keys (``demo_mnemonic``: a
new seed per demo, so no demo's addresses hold another's payments) and M-Pesa count (``Demo`` counts only the B2C
payments the simulator made after the demo started). Package-scoped: the sandbox stops after the last demo here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="package")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The data directory of a running sandbox; a demo's workdir is a new directory inside it."""
    home = tmp_path_factory.mktemp("e2e-sandbox")
    env = {**os.environ, "CRYPTOPAY_DATA_DIR": str(home)}
    sandbox = [sys.executable, "-m", "cryptopay_cli.main", "sandbox"]
    up = [*sandbox, "up", "--block-time", "1", "--json", "--exit-with", str(os.getpid())]  # a stopped run stops it
    started = subprocess.run(up, env=env, capture_output=True, timeout=180)
    assert started.returncode == 0, f"the sandbox did not start: {started.stderr[-2000:]!r}"
    try:
        yield home
    finally:
        subprocess.run([*sandbox, "down"], env=env, capture_output=True, timeout=60)


@pytest.fixture
def demo_mnemonic() -> str:
    """A new BIP39 seed for one demo's deposit keys."""
    from eth_account.hdaccount import Language, generate_mnemonic

    return generate_mnemonic(12, Language.ENGLISH)
