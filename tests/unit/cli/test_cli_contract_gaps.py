"""Review R21: the CLI's exit-code contract is in its help, a rate source not configured is exit 6 (a dependency
unavailable), and ``serve --dev`` under ``CRYPTOPAY_ENV=production`` is refused in one line before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptopay_cli.main import build_app
from typer.testing import CliRunner

runner = CliRunner()
CLI = str(Path(sys.executable).with_name("cryptopay"))


def test_the_help_states_the_exit_code_contract():
    shown = " ".join(runner.invoke(build_app(stand_ins=True), ["--help"]).stdout.split())
    assert "Exit codes: 0 ok, 1 unexpected, 2 invalid input, 3 not found, 4 conflict, 5 refused" in shown
    assert "6 a dependency unavailable" in shown


def test_a_quote_without_a_configured_rate_source_exits_6(tmp_path):
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_FX_SANDBOX_URL": None, "CRYPTOPAY_ENV": None}
    env |= {name: None for name in os.environ if name.startswith("CRYPTOPAY_FX_")}
    result = runner.invoke(build_app(), ["fx", "quote", "USDT/KES"], env=env)
    assert result.exit_code == 6, result.output
    assert "CRYPTOPAY_FX_EXCHANGERATE_KEY is required" in result.stderr


def test_serve_dev_under_production_is_refused_before_anything_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOPAY_")}
    env |= {"CRYPTOPAY_ENV": "production", "CRYPTOPAY_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [CLI, "serve", "--dev", "--no-sandbox", "--port", "1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1 and "--dev" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # nothing published, no sandbox, no server
