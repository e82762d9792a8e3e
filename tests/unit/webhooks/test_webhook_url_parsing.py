"""Issue 18 #6: webhook URLs are parsed strictly and capped in length, before any host vetting."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.webhooks.model import MAX_URL_LENGTH, check_endpoint_url

REFUSED = [
    "https://shop.example:99999/h",
    "https://shop.example:0/h",
    "https://shop.example:-1/h",
    "https://shop.example:http/h",
    "https://shop.example:/h",
    "https://sh op.example/h",
    "https://shop.example/a b",
    "https://shop.example/h\r\nX-Injected: 1",
    "https://shop.example/h\n",
    " https://shop.example/h",
    "https://shop.example/h\t",
    "https://shop.example/\x00",
    "https://shöp.example/h",
    "https://shop.example/h#frag",
    "https://[::1/h",
    "https://shop.example/" + "a" * MAX_URL_LENGTH,
    "",
]


@pytest.mark.parametrize("url", REFUSED)
def test_malformed_or_over_long_webhook_urls_are_refused(url):
    """Ports out of range, spaces, CR/LF, non-ASCII, fragments and URLs over the cap are invalid input."""
    with pytest.raises(InvalidInput):
        check_endpoint_url(url)


@pytest.mark.parametrize("url", ["https://shop.example/h", "https://shop.example:8443/hooks?x=1", "https://a.b/c:d"])
def test_well_formed_public_https_urls_are_kept_verbatim(url):
    """A strict, well-formed URL is accepted unchanged."""
    assert check_endpoint_url(url) == url


@pytest.mark.parametrize("url", ["https://shop.example:22/h", "https://shop.example:6379/h", "https://1.1.1.1:25/"])
def test_a_webhook_url_on_a_port_other_than_https_s_is_refused(url):
    """review R17: only 443 (the default) and 8443, so an endpoint is no port scanner from our egress address; the
    sandbox (``allow_insecure``) keeps any port for its local receivers."""
    with pytest.raises(InvalidInput, match="port 443 or 8443"):
        check_endpoint_url(url)
    assert check_endpoint_url("https://shop.example:443/h") == "https://shop.example:443/h"
    assert check_endpoint_url("http://localhost:8089/h", allow_insecure=True) == "http://localhost:8089/h"
