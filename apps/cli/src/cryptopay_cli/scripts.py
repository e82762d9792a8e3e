"""Starting the other shells: ``cryptopay serve`` and ``cryptopay worker`` exec their console scripts.

The CLI may not import the HTTP or worker apps (apps never import each other), so it replaces its own process
with ``cryptopay-http`` or ``cryptopay-worker``, found on ``PATH`` or next to the running interpreter.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

from cryptopay_cli.output import fail

__all__ = ["exec_script", "find_script"]


def find_script(name: str, *, search_path: str | None = None) -> str | None:
    """The console script ``name`` on ``search_path`` (default ``$PATH``), else beside the interpreter, else None."""
    found = shutil.which(name, path=search_path)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    return str(beside) if search_path is None and os.access(beside, os.X_OK) else None


def exec_script(name: str, args: list[str], *, package: str, search_path: str | None = None) -> NoReturn:
    """Replace this process with ``name args...``; exit 6 naming the package to install when it is missing."""
    path = find_script(name, search_path=search_path)
    if path is None:
        raise fail(f"{name} is not installed: install the {package} package (uv sync installs every app)", 6)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(path, [name, *args])  # noqa: S606 - the operator asked to start this program
