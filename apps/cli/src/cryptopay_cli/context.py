"""Where the commands get their services: the composition root's ``Services``, or the ones a test installed.

Commands never wire adapters themselves. ``services()`` builds ``cryptopay.adapters.bootstrap.build()`` from the
environment on the first call of an invocation (each part on first use) unless ``use_services(services)``
installed other ``Services``. ``begin_invocation()`` (the CLI's root callback) starts every command afresh.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the root (and what it imports) loads when a command runs, not when the CLI starts
    from cryptopay.adapters.bootstrap import Services

__all__ = ["begin_invocation", "services", "use_services"]

_installed: Services | None = None
_built: Services | None = None


def services() -> Services:
    """The services the commands use: the installed ones, else this invocation's, built from the environment."""
    global _built
    if _installed is not None:
        return _installed
    if _built is None:
        from cryptopay.adapters.bootstrap import build

        _built = build()
    return _built


def begin_invocation() -> None:
    """Forget (and close) the last invocation's services: each command reads the environment it runs in."""
    global _built
    previous, _built = _built, None
    if previous is not None:
        previous.close()


def use_services(installed: Services | None) -> Services | None:
    """Install ``installed`` (``None`` restores the environment's); returns what was installed before."""
    global _installed
    previous, _installed = _installed, installed
    return previous


def operator() -> str:
    """Who runs the command, as the audit log names an operator: ``ops:<login>``."""
    try:
        return f"ops:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        return "ops:cli"
