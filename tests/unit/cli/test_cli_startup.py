"""The CLI starts light: its entry point, ``--help`` and every group's module import no I/O library (issue 11 #9).

Timings are not asserted (the suite runs on loaded machines); what makes ``--help`` fast is asserted instead: the
libraries that take most of the start-up time are not imported until a command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cryptopay_cli.main import GROUPS

# Imported only by a command that needs them (each takes from tens to hundreds of milliseconds to import).
HEAVY = {
    "alembic",
    "bitcoinlib",
    "cryptography",
    "eth_account",
    "flask",
    "granian",
    "httpx",
    "psycopg",
    "redis",
    "rq",
    "sqlalchemy",
    "tronpy",
    "web3",
    "werkzeug",
}

_PROBE = """
import json, sys
{action}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


def _imported(action: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after ``action``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(action=action)], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_cli_entry_point_imports_no_io_library():
    """Importing the console entry point loads neither an I/O library nor rich (help is plain)."""
    assert _imported("from cryptopay_cli.main import run") & (HEAVY | {"rich"}) == set()


def test_top_level_help_imports_no_command_group():
    """`cryptopay --help` lists every group without importing any group's module or the composition root."""
    action = (
        "sys.argv = ['cryptopay', '--help']\n"
        "from cryptopay_cli.main import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "assert not [m for m in sys.modules if m.startswith(('cryptopay_cli.commands.', 'cryptopay.adapters'))]"
    )
    assert _imported(action) & (HEAVY | {"rich"}) == set()


def test_every_command_group_module_imports_no_io_library():
    """Building the whole CLI (every group's module, so every sub-`--help`) still imports no I/O library."""
    assert _imported("from cryptopay_cli.main import build_app\nbuild_app()") & HEAVY == set()


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_the_listed_help_line_is_the_groups_own(group):
    """The help line `cryptopay --help` shows for a group is the one its module declares."""
    assert group.load().info.help == group.help
