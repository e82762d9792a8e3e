"""Where the payment commands get their services: the composition root's container unless a test installed one."""

from __future__ import annotations

from cryptopay.adapters import bootstrap
from cryptopay_cli.context import services, use_services


def test_cli_services_are_the_installed_object_else_the_container(stack):
    """`use_services` installs an object and returns the previous one; None restores the process-wide container."""
    assert services() is stack
    previous = use_services(None)
    bootstrap.container.cache_clear()
    try:
        assert previous is stack
        assert services() is bootstrap.container()
    finally:
        bootstrap.container.cache_clear()
        use_services(previous)
    assert services() is stack
