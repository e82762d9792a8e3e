"""``cryptopay serve`` and ``cryptopay worker`` replace the CLI process with the other shells' console scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from cryptopay_cli.scripts import exec_script, find_script
from typer import Exit


def fake_script(directory, name):
    """A stand-in console script on PATH that prints the arguments it was started with."""
    path = directory / name
    path.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent("""
        import os, sys
        print("started", os.path.basename(sys.argv[0]), *sys.argv[1:])
    """)
    )
    path.chmod(0o755)


def run_cli(tmp_path, *args):
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-c", "from cryptopay_cli.main import run; run()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_cli_serve_execs_cryptopay_http_with_the_same_options(tmp_path):
    """`cryptopay serve --host --port --workers --dev` becomes `cryptopay-http --host H --port P --workers W --dev`."""
    fake_script(tmp_path, "cryptopay-http")
    done = run_cli(tmp_path, "serve", "--host", "0.0.0.0", "--port", "9123", "--workers", "3", "--dev", "--no-sandbox")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started cryptopay-http --host 0.0.0.0 --port 9123 --workers 3 --dev"


def test_cli_worker_inline_is_the_documented_embedded_mode(tmp_path):
    """`cryptopay worker --inline --fast` (as the README documents) becomes `cryptopay-worker --inline --fast`."""
    fake_script(tmp_path, "cryptopay-worker")
    done = run_cli(tmp_path, "worker", "--inline", "--fast")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started cryptopay-worker --inline --fast"


def test_cli_worker_execs_cryptopay_worker_with_its_queues(tmp_path):
    """`cryptopay worker --queue a --queue b --burst` becomes `cryptopay-worker --queue a --queue b --burst`."""
    fake_script(tmp_path, "cryptopay-worker")
    done = run_cli(tmp_path, "worker", "--queue", "default", "--queue", "payouts", "--burst")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started cryptopay-worker --queue default --queue payouts --burst"


def test_cli_a_missing_console_script_exits_6_naming_the_package(tmp_path, capsys):
    """Without the script on the search path the command exits 6 and says which package to install."""
    assert find_script("cryptopay-http", search_path=str(tmp_path)) is None
    with pytest.raises(Exit) as stopped:
        exec_script("cryptopay-http", ["--port", "1"], package="cryptopay-http", search_path=str(tmp_path))
    assert stopped.value.exit_code == 6
    assert "install the cryptopay-http package" in capsys.readouterr().err
