"""The README's curl walk-through, executed as pasted against ``cryptopay serve --dev`` (#18: a README that works)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    """The first bash block of the README's section "The REST API, with curl"."""
    section = README.read_text().split("## The REST API, with curl", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found is not None, "the README lost its curl walk-through"
    return found.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cryptopay_cli.main", *args]


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180  # the sandbox (anvil, contracts, simulators) starts first
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None, "cryptopay serve --dev exited"
        assert time.monotonic() < deadline, "cryptopay serve --dev did not get ready"
        time.sleep(0.5)


def test_the_readme_walkthrough_runs_as_pasted_against_serve_dev(tmp_path: Path, shared_sandbox: Path) -> None:
    """Every command of the walk-through succeeds (curl --fail-with-body) against `cryptopay serve --dev`, which
    joins the package's running sandbox in its data dir (as it joins one started by `cryptopay sandbox up`)."""
    assert shutil.which("curl") and shutil.which("jq"), "the walk-through needs curl and jq"
    port = _free_port()
    unset = ("CRYPTOPAY_TOKEN_SECRET", "CRYPTOPAY_DATABASE_URL", "CRYPTOPAY_REDIS_URL", "CRYPTOPAY_ENV")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    # serve --dev joins the sandbox running in its data dir; the dev database there (cryptopay.db) is this test's alone
    env["CRYPTOPAY_DATA_DIR"] = str(shared_sandbox)
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        _cli("serve", "--dev", "--port", str(port)), env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", walkthrough()],
            env={**env, "API": f"http://127.0.0.1:{port}"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert (tmp_path / "invoice.svg").read_text().lstrip().startswith(("<svg", "<?xml"))
        assert '"state":"new"' in done.stdout.replace(" ", "") or '"state": "new"' in done.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)  # the sandbox is the package's: shared_sandbox stops it
