"""The portal's deposit page ``/app/deposit`` on the root's real SQL services (SQLite): the address per network
with its QR code and copy button, in the navigation, in English and Swahili; a deposit shows as confirming, then
credited."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.http.test_http_wallet_deposits import NODE, XPUB, DepositApi, _api, _confirm, _pay
from tests.integration.web.test_portal_pages import _sign_up
from tests.support.sql_backends import migrated_sqlite


@pytest.fixture
def api(tmp_path: Path) -> Iterator[DepositApi]:
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_EVM_XPUB": XPUB,
        "CRYPTOPAY_ETHEREUM_RPC_URL": NODE,
        "CRYPTOPAY_POLYGON_RPC_URL": NODE,
        "CRYPTOPAY_WALLET_CONFIRMATIONS": "polygon=3",
    }
    migrated_sqlite(env)
    yield from _api(env, tmp_path)


def test_the_deposit_page_shows_my_address_its_qr_code_and_a_network_picker(api: DepositApi):
    """Polygon first (the preferred order), a picker link to Ethereum, the address with a copy button, the QR code
    of the bare address inline, the EIP-681 link, the requirement and the minimum; the nav marks Deposit."""
    client = _sign_up(api.api)
    page = client.get("/app/deposit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    found = re.search(r'<output id="address" class="address">(0x[0-9a-fA-F]{40})</output>', html)
    assert found, html
    assert 'href="/app/deposit" aria-current="page"' in html and 'href="?network=ethereum"' in html
    assert 'data-copy="address"' in html and "Credited after 3 confirmations." in html
    assert "Minimum deposit: 1 USDT" in html and "Send only USDT on the Polygon network" in html
    image = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert image and base64.b64decode(image.group(1)).startswith(b"<?xml")
    assert f"ethereum:0xc2132D05D31c914a87C6611C10748AEb04B58e8F@137/transfer?address={found.group(1)}" in html
    ethereum = client.get("/app/deposit?network=ethereum").get_data(as_text=True)
    assert "Send only USDT on the Ethereum network" in ethereum and found.group(1) in ethereum  # one EVM address


def test_a_deposit_shows_confirming_then_credited_and_the_page_speaks_swahili(api: DepositApi):
    """The recent deposits list follows the deposit; Swahili from the browser's language."""
    client = _sign_up(api.api)
    html = client.get("/app/deposit").get_data(as_text=True)
    address = re.search(r'<output id="address" class="address">([^<]+)</output>', html).group(1)
    _pay(api, address, "20")
    _confirm(api)
    assert "Confirming (1)" in client.get("/app/deposit").get_data(as_text=True)
    api.chain.mine()
    api.chain.mine()
    _confirm(api)
    assert "Credited" in client.get("/app/deposit").get_data(as_text=True)
    swahili = client.get("/app/deposit", headers={"Accept-Language": "sw-KE"}).get_data(as_text=True)
    assert "Weka sarafu za kidijitali" in swahili and "Tuma USDT pekee" in swahili


def test_the_deposit_page_needs_a_login(api: DepositApi):
    """Without a session the page sends the visitor to the login page, coming back here after."""
    answer = api.api.client.get("/app/deposit?network=tron")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/app/login?next=/app/deposit")
