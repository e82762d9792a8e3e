"""``cryptopay keys``: create prints only public parts, rotate re-wraps under the new KEK, show lists them."""

from __future__ import annotations

import json

from cryptopay.adapters.vault import EnvelopeVault, FileKeyStore, generate_kek
from cryptopay.core.hotkeys import VaultKeyProvider
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

app = build_app()

runner = CliRunner()


def _run(args, env):
    return runner.invoke(app, ["keys", *args], env=env)


def test_keys_cli_create_rotate_show_round_trip(tmp_path):
    """A created key is stored encrypted; after rotation every key names the new KEK and still unlocks."""
    k1, k2 = f"k1:{generate_kek()}", f"k2:{generate_kek()}"
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_VAULT_KEKS": k1}
    tron = _run(["create", "--network", "tron", "--label", "payouts", "--key-id", "tron-1", "--json"], env)
    assert tron.exit_code == 0, tron.output
    created = json.loads(tron.output)
    assert created["address"].startswith("T") and created["kek_id"] == "k1"
    btc = _run(["create", "--network", "bitcoin", "--label", "payouts", "--json"], env)
    assert json.loads(btc.output)["address"].startswith("bc1q")

    rotated = _run(["rotate", "--json"], {**env, "CRYPTOPAY_VAULT_KEKS": f"{k2},{k1}"})
    assert json.loads(rotated.output) == {"rewrapped": 2, "kek_id": "k2"}
    shown = json.loads(_run(["show", "--json"], {"CRYPTOPAY_DATA_DIR": str(tmp_path)}).output)["keys"]
    assert {row["kek_id"] for row in shown} == {"k2"}

    store = FileKeyStore(tmp_path / "keys")
    secret = VaultKeyProvider(EnvelopeVault.from_spec(k2), store).private_key_for(created["address"]).reveal()
    assert len(secret) == 32
    for text in (tron.output, btc.output, rotated.output):
        assert secret.hex() not in text and k1.split(":")[1] not in text


PRODUCTION = {
    "CRYPTOPAY_ENV": "production",
    "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://app@db.example.com/cryptopay",
    "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": "safaricom",
}


def test_keys_cli_refuses_without_keks_in_production_and_for_unknown_networks(tmp_path):
    """In production no CRYPTOPAY_VAULT_KEKS is 'unavailable' (exit 6), and no development key is made; an
    unsupported network is invalid input (exit 2)."""
    env = {**PRODUCTION, "CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_VAULT_KEKS": ""}
    assert _run(["create", "--network", "tron", "--label", "x"], env).exit_code == 6
    assert not (tmp_path / "dev-vault-kek").exists() and not (tmp_path / "keys").exists()
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_VAULT_KEKS": f"k1:{generate_kek()}"}
    result = _run(["create", "--network", "dogecoin", "--label", "x"], env)
    assert result.exit_code == 2 and "dogecoin" in result.output


def test_keys_cli_in_development_uses_the_vault_serve_dev_uses(tmp_path):
    """Outside review H21: without CRYPTOPAY_VAULT_KEKS, outside production, the CLI stores the key under the data
    dir's development key (as ``serve --dev`` and the worker do), and the composition root's key provider, the one
    the chain senders get, unlocks it; before, the CLI refused (exit 6) and refunds could not be tried locally."""
    from cryptopay.adapters.bootstrap import Settings, build

    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_VAULT_KEKS": ""}
    created = _run(["create", "--network", "ethereum", "--label", "refunds", "--json"], env)
    assert created.exit_code == 0, created.output
    row = json.loads(created.output)
    assert row["kek_id"] == "dev" and (tmp_path / "dev-vault-kek").exists()
    services = build(Settings.from_env(env))
    try:
        provider = VaultKeyProvider(services.vault, services.hot_key_store)
        assert len(provider.private_key_for(row["address"]).reveal()) == 32
    finally:
        services.close()
    shown = json.loads(_run(["show", "--json"], env).output)["keys"]
    assert [key["address"] for key in shown] == [row["address"]]


def test_keys_cli_creates_an_evm_hot_key_the_sender_can_unlock(tmp_path):
    """An ethereum hot key is stored encrypted; the vault-backed key provider gives back the key of that address."""
    from cryptopay.adapters.vault import EnvelopeVault, FileKeyStore
    from cryptopay.core.hotkeys import VaultKeyProvider
    from eth_keys import keys as eth_keys

    kek = f"k1:{generate_kek()}"
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_VAULT_KEKS": kek}
    created = _run(["create", "--network", "ethereum", "--label", "refunds", "--json"], env)
    assert created.exit_code == 0, created.output
    row = json.loads(created.output)
    assert row["address"].startswith("0x") and "private" not in created.output.lower()
    provider = VaultKeyProvider(EnvelopeVault.from_spec(kek), FileKeyStore(tmp_path / "keys"))
    secret = provider.private_key_for(row["address"]).reveal()
    assert eth_keys.PrivateKey(secret).public_key.to_checksum_address() == row["address"]


def test_keys_create_and_rotate_are_audited_by_the_os_operator(tmp_path, monkeypatch):
    """reviewer10 R10-3: a new signing key and a re-wrap of every key left no record. Each is now audited by the OS
    operator (``hot_key.created`` with its network, label, address and KEK; ``hot_keys.rotated`` with the count)."""
    from cryptopay.adapters.sql import make_engine
    from cryptopay.adapters.sql.audit import SqlAuditLog
    from cryptopay_cli.context import operator

    k1, k2 = f"k1:{generate_kek()}", f"k2:{generate_kek()}"
    monkeypatch.setenv("CRYPTOPAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CRYPTOPAY_DATABASE_URL", raising=False)
    monkeypatch.setenv("CRYPTOPAY_VAULT_KEKS", k1)
    monkeypatch.setenv("LOGNAME", "somebody-else")
    created = _run(["create", "--network", "tron", "--label", "payouts", "--key-id", "tron-1", "--json"], {})
    assert created.exit_code == 0, created.output
    monkeypatch.setenv("CRYPTOPAY_VAULT_KEKS", f"{k2},{k1}")
    assert _run(["rotate", "--json"], {}).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'cryptopay.db'}")  # the data dir's database (no DATABASE_URL)
    try:
        with engine.connect() as conn:
            stored = SqlAuditLog(conn).records()
    finally:
        engine.dispose()
    records = [(r.actor, r.action, r.subject, dict(r.details)) for r in stored]
    address = json.loads(created.output)["address"]
    assert records[-2:] == [
        (
            operator(),
            "hot_key.created",
            "hot_key:tron-1",
            {"network": "tron", "label": "payouts", "address": address, "kek_id": "k1"},
        ),
        (operator(), "hot_keys.rotated", "hot_keys", {"rewrapped": "1", "kek_id": "k2"}),
    ]
