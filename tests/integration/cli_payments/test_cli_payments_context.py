"""Where the payment commands get their services: the composition root's, unless a test installed its own."""

from __future__ import annotations

from cryptopay.adapters import bootstrap
from cryptopay_cli.context import services, use_services


def test_cli_services_are_the_installed_ones_else_the_roots(stack_services):
    """`use_services` installs services and returns the previous ones; None restores the process-wide root."""
    assert services() is stack_services
    previous = use_services(None)
    bootstrap.load.cache_clear()
    try:
        assert previous is stack_services
        assert services() is bootstrap.load()
    finally:
        bootstrap.load.cache_clear()
        use_services(previous)
    assert services() is stack_services
