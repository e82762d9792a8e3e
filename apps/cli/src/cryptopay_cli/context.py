"""Where the commands get their services: the composition root's ``Services``, or the one a test installed.

Commands never wire adapters themselves. ``services()`` is ``cryptopay.adapters.bootstrap.load()`` (built once from
the environment, each part on first use) unless ``use_services(services)`` installed another ``Services``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the root (and what it imports) loads when a command runs, not when the CLI starts
    from cryptopay.adapters.bootstrap import Services

__all__ = ["services", "use_services"]

_installed: Services | None = None


def services() -> Services:
    """The services the commands use: the installed ones, else the process-wide ones from the environment."""
    if _installed is not None:
        return _installed
    from cryptopay.adapters.bootstrap import load

    return load()


def use_services(installed: Services | None) -> Services | None:
    """Install ``installed`` (``None`` restores the environment's); returns what was installed before."""
    global _installed
    previous, _installed = _installed, installed
    return previous
