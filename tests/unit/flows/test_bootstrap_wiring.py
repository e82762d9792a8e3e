"""The composition root wires rails, derivers, watchers, senders and the worker's jobs from settings alone."""

import pytest
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.adapters.bootstrap.wiring import Parts
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.core.errors import InvalidInput, Unavailable
from cryptopay.core.system import RandomIds, SystemClock

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
MPESA = {
    "CRYPTOPAY_MPESA_CONSUMER_KEY": "key",
    "CRYPTOPAY_MPESA_CONSUMER_SECRET": "secret",
    "CRYPTOPAY_MPESA_SHORTCODE": "600000",
}


def test_settings_wire_an_ethereum_deployment(tmp_path) -> None:
    """An RPC URL, a token contract, an xpub and a hot wallet give a rail, a deriver, a watcher and a sender."""
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9",
        "CRYPTOPAY_ETHEREUM_CHAIN_ID": "31337",
        "CRYPTOPAY_ETHEREUM_USDT_CONTRACT": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "CRYPTOPAY_ETHEREUM_CONFIRMATIONS": "2",
        "CRYPTOPAY_EVM_XPUB": account_xpub(MNEMONIC),
        "CRYPTOPAY_ETHEREUM_HOT_WALLET": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    }
    parts = Parts(Settings.from_env(env), clock=SystemClock(), ids=RandomIds())
    try:
        rail = parts.rails["usdt-ethereum"]
        assert (rail.network.chain_id, rail.confirmations) == (31337, 2)
        assert rail.token.contract == env["CRYPTOPAY_ETHEREUM_USDT_CONTRACT"]
        assert parts.derivers["ethereum"].derive(0) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
        assert set(parts.watchers) == {"ethereum"} and set(parts.senders) == {"ethereum"}
        assert {"chains.scan", "settlements.run", "payouts.start", "refunds.send"} <= set(parts.jobs)
    finally:
        for close in parts.closers:
            close()


def test_production_refuses_embedded_and_sandbox_settings(tmp_path) -> None:
    """Production refuses SQLite, an open Daraja callback path, and sandbox/loopback endpoints unless allowed."""
    with pytest.raises(InvalidInput, match="PostgreSQL"):
        Settings.from_env({"CRYPTOPAY_ENV": "production", "CRYPTOPAY_DATA_DIR": str(tmp_path)})
    production = {"CRYPTOPAY_ENV": "production", "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://db/cryptopay"}
    with pytest.raises(InvalidInput, match="CRYPTOPAY_DARAJA_CALLBACK_SOURCES"):
        Settings.from_env(production)
    production["CRYPTOPAY_DARAJA_CALLBACK_SOURCES"] = "safaricom"
    with pytest.raises(InvalidInput, match="sandbox"):
        Settings.from_env({**production, "CRYPTOPAY_MPESA_BASE_URL": "https://sandbox.safaricom.co.ke"})
    assert Settings.from_env(
        {**production, **MPESA, "CRYPTOPAY_MPESA_BASE_URL": "https://api.safaricom.co.ke"}
    ).production


def test_listing_builds_no_fx_sources(tmp_path) -> None:
    """Listing invoices works without FX settings, which building the pricer (its sources) would refuse."""
    services = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path)}))
    try:
        assert services.invoicing.list_invoices("m1", before=None, limit=10) == []
        with pytest.raises(Unavailable, match="CRYPTOPAY_FX_EXCHANGERATE_KEY"):  # not configured here: exit 6
            _ = services.pricer
    finally:
        services.close()
