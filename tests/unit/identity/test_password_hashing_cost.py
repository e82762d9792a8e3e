"""Production hashes passwords at Argon2id's full cost (RFC 9106's low-memory profile: 64 MiB, three passes, four
lanes); the test processes hash at the cheapest (the root ``conftest.py``: ``cheap_password_hashing``), so this is
checked in a process of its own, through the deployment's wiring, as a server or the CLI builds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptopay.adapters.passwords import Argon2Hasher

PRODUCTION = "$argon2id$v=19$m=65536,t=3,p=4$"

WIRED = """
from cryptopay.adapters.bootstrap import build
hasher = build().password_hasher
stored = hasher.hash("a long passphrase")
assert hasher.verify(stored, "a long passphrase") and not hasher.verify(stored, "a long passphrase!")
print(stored)
"""


def test_the_deployment_hashes_passwords_at_argon2id_s_full_cost(tmp_path: Path) -> None:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", WIRED], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(PRODUCTION), done.stdout


def test_the_suite_s_cheap_hashes_verify_and_are_rehashed_at_production_s_cost() -> None:
    cheap = Argon2Hasher().hash("a long passphrase")
    assert cheap.startswith("$argon2id$v=19$m=1024,t=1,p=4$"), cheap
    assert Argon2Hasher().verify(cheap, "a long passphrase")
    assert Argon2Hasher(time_cost=3, memory_cost=65536).needs_rehash(cheap)
