"""Where the payment commands get their services: the composition root's, unless a test installed its own."""

from __future__ import annotations

from cryptopay.adapters.bootstrap import Services
from cryptopay_cli.context import begin_invocation, services, use_services


def test_cli_services_are_the_installed_ones_else_built_from_the_environment(stack_services, tmp_path, monkeypatch):
    """`use_services` installs services and returns the previous ones; None restores the ones built per invocation."""
    monkeypatch.setenv("CRYPTOPAY_DATA_DIR", str(tmp_path))
    assert services() is stack_services
    previous = use_services(None)
    try:
        assert previous is stack_services
        built = services()
        assert isinstance(built, Services) and built is not stack_services and services() is built
        assert built.settings.data_dir == tmp_path
        begin_invocation()
        assert services() is not built
    finally:
        begin_invocation()
        use_services(previous)
    assert services() is stack_services
