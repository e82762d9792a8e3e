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


def _bash_blocks() -> list[str]:
    """The bash blocks of the README's section "The REST API, with curl", in order."""
    section = README.read_text().split("## The REST API, with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def walkthrough() -> str:
    """The first bash block of the section: register, merchant, store, key, webhook endpoint, invoice, ..."""
    blocks = _bash_blocks()
    assert blocks, "the README lost its curl walk-through"
    return blocks[0]


def _block(marker: str) -> str:
    """The section's bash block holding ``marker``."""
    found = [block for block in _bash_blocks() if marker in block]
    assert len(found) == 1, f"the README's curl section has {len(found)} blocks with {marker!r}"
    return found[0]


# Not in the README: the reader watches the invoice settle with the worker running; the test waits for it.
_UNTIL_SETTLED = """
for _ in $(seq 240); do
  STATE=$(curl -sS --fail-with-body $API/v1/invoices/$INVOICE -H "authorization: Bearer $KEY" | jq -r .state)
  [ "$STATE" = settled ] && break
  sleep 1
done
echo "invoice state: $STATE"
"""


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
    joins the package's running sandbox in its data dir (as it joins one started by `cryptopay sandbox up`); then,
    as the README goes on, `cryptopay sandbox pay` pays the invoice, `cryptopay worker --dev --inline --fast`
    settles it, and the refunds-and-links block answers as its comments say."""
    assert shutil.which("curl") and shutil.which("jq"), "the walk-through needs curl and jq"
    port = _free_port()
    unset = ("CRYPTOPAY_TOKEN_SECRET", "CRYPTOPAY_DATABASE_URL", "CRYPTOPAY_REDIS_URL", "CRYPTOPAY_ENV")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    # serve --dev joins the sandbox running in its data dir; the dev database there (cryptopay.db) is this test's alone
    env["CRYPTOPAY_DATA_DIR"] = str(shared_sandbox)
    # the reader's shell has the virtualenv's `cryptopay` on its PATH (`source .venv/bin/activate`)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        _cli("serve", "--dev", "--port", str(port)), env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        worker_log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            _cli("worker", "--dev", "--inline", "--fast"), env=env, cwd=tmp_path, stdout=worker_log, stderr=worker_log
        )
        script = "\n".join(
            [walkthrough(), _block("cryptopay sandbox pay"), _UNTIL_SETTLED, _block("/v1/payment-links")]
        )
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env={**env, "API": f"http://127.0.0.1:{port}"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        out = done.stdout.replace(" ", "")
        assert (tmp_path / "invoice.svg").read_text().lstrip().startswith(("<svg", "<?xml"))
        assert '"state":"new"' in out  # the invoice as created
        assert re.search(r"paid[0-9.]+USDTfrompayer#1", out), done.stdout[-2000:]
        assert "invoicestate:settled" in out, done.stdout[-2000:]
        assert '"code":"invoice_received_payment"' in out  # the cancel, once the payment arrived
        assert "refundsonethereumarenotconfigured(nohotwallet)" in out  # the refund, as its comment says
        assert '"metadata":{"payment_link":"lnk_' in out  # the payment link's invoice, no credentials
    finally:
        for process in (worker, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)  # the sandbox is the package's: shared_sandbox stops it
