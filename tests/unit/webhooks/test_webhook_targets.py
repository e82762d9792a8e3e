"""Webhook endpoint registration reads hosts as a resolver does and caps endpoints per merchant (#12.3)."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.webhooks import webhook_storage
from cryptopay.core.webhooks import check_endpoint_url, create_endpoint
from cryptopay.core.webhooks.targets import numeric_ipv4

INWARD = [
    "2130706433",  # 127.0.0.1 as one integer
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",  # octal
    "127.1",  # short form
    "10.1",
    "0",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",  # IPv4-mapped metadata address
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[64:ff9b:1::a9fe:a9fe]",  # the local-use NAT64 prefix (RFC 8215), review6 F4
    "[64:ff9b:1:7f00:1::]",  # the same prefix, IPv4 embedded as a /48 translator places it
    "[2002:7f00:1::]",  # 6to4 of loopback
    "[fd00::1]",
    "[fe80::1]",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "169.254.169.254",  # cloud metadata
    "192.168.1.1",
    "224.0.0.1",  # multicast
    "0.0.0.0",
    "metadata",
    "metadata.google.internal",
    "instance-data",
    "redis",  # single label: completed by search domains
    "postgres.internal",
    "printer.local",
    "api.localhost",
    "LOCALHOST.",
    "1.2.3.4.5",
    "xn--80ak6aa92e.xn--p1ai.123",
    "ⅼocalhost",  # non-ASCII that IDNA maps onto localhost
]


@pytest.mark.parametrize("host", INWARD)
def test_inward_hosts_in_any_spelling_are_refused(host: str) -> None:
    """Every numeric form, embedded IPv4, internal range and internal name is refused in production mode."""
    with pytest.raises(InvalidInput):
        check_endpoint_url(f"https://{host}/hook")


@pytest.mark.parametrize("host", ["hooks.duka.co.ke", "8.8.8.8", "[2606:4700:4700::1111]", "xn--80ak6aa92e.com"])
def test_public_hosts_are_accepted(host: str) -> None:
    """Public names and public addresses written canonically pass registration."""
    assert check_endpoint_url(f"https://{host}/hook") == f"https://{host}/hook"


def test_non_canonical_public_addresses_are_refused() -> None:
    """A public address in integer or hex form is refused too: only a.b.c.d is a written address."""
    assert str(numeric_ipv4("134744072")) == "8.8.8.8"
    with pytest.raises(InvalidInput, match="four decimal numbers"):
        check_endpoint_url("https://134744072/hook")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_the_sandbox_setting_admits_loopback_only(host: str) -> None:
    """Outside production, the explicit setting admits loopback hosts over http, but never private ranges."""
    assert check_endpoint_url(f"http://{host}:9000/hook", allow_insecure=True)
    for inward in ("10.0.0.1", "169.254.169.254", "100.64.0.1", "metadata", "[::ffff:10.0.0.1]"):
        with pytest.raises(InvalidInput):
            check_endpoint_url(f"http://{inward}/hook", allow_insecure=True)


def test_a_merchant_has_a_bounded_number_of_endpoints() -> None:
    """Past the cap a new endpoint is refused and nothing is stored; another merchant is unaffected."""
    storage, ids, clock = webhook_storage(), RandomIds(), SystemClock()

    def add(merchant: str, n: int) -> None:
        url = f"https://hooks{n}.duka.co.ke/hook"
        create_endpoint(merchant, url, uow_factory=storage.unit_of_work, ids=ids, clock=clock, max_endpoints=3)

    for n in range(3):
        add("m1", n)
    with pytest.raises(InvalidInput, match="at most 3"):
        add("m1", 3)
    add("m2", 0)
    with storage.unit_of_work() as uow:
        assert len(uow.webhook_endpoints.for_merchant("m1")) == 3
