"""The root gives refunds each configured network's address check, checksums included."""

import pytest
from cryptopay.adapters.bootstrap import Settings
from cryptopay.adapters.bootstrap.chains import address_validators
from cryptopay.core.errors import InvalidInput

GOOD = {
    "ethereum": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "tron": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
    "bitcoin": "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
}
BAD = {
    "ethereum": "0x70997970c51812dc3A010C7d01b50e0d17dc79C8",  # one letter's case changed: the EIP-55 checksum fails
    "tron": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv9",  # last character changed: base58check fails
    "bitcoin": "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv",  # bech32 checksum fails
}


def test_each_configured_network_checks_its_addresses_checksums(tmp_path) -> None:
    """Good addresses come back in normal form; a one-character slip is refused on every network."""
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9",
        "CRYPTOPAY_TRON_API_URL": "http://127.0.0.1:9",
        "CRYPTOPAY_ESPLORA_URL": "http://127.0.0.1:9",
    }
    validators = address_validators(Settings.from_env(env))
    assert set(validators) == {"ethereum", "tron", "bitcoin"}
    for network, address in GOOD.items():
        assert validators[network](address) == address
    for network, address in BAD.items():
        with pytest.raises(InvalidInput):
            validators[network](address)
    with pytest.raises(InvalidInput):
        validators["tron"](GOOD["ethereum"])
