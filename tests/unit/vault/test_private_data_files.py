"""Data at rest is private in development too (#12.11): the data directory 0700, the database and keys 0600."""

from __future__ import annotations

import os
import stat

from cryptopay.adapters.bootstrap import Settings, build


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_embedded_database_and_the_dev_vault_key_are_private_whatever_the_umask(tmp_path):
    """With a permissive umask the data dir is 0700 and cryptopay.db and dev-vault-kek are 0600."""
    data = tmp_path / "data"
    previous = os.umask(0o022)
    try:
        container = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(data)}))
        try:
            container.ledger.trial_balance()  # opens (and migrates) the SQLite database
            container.users.get("usr_none")  # users seal TOTP secrets: creates the development key-encryption key
        finally:
            container.close()
    finally:
        os.umask(previous)
    assert _mode(data) == 0o700
    assert _mode(data / "cryptopay.db") == 0o600
    assert _mode(data / "dev-vault-kek") == 0o600


def test_files_left_readable_by_an_older_version_are_made_private(tmp_path):
    """A database and a key file that are 0644 from before become 0600 when the container opens them."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    for name in ("cryptopay.db", "dev-vault-kek"):
        (data / name).touch(mode=0o644)
        os.chmod(data / name, 0o644)
    from cryptopay.adapters.vault import generate_kek

    (data / "dev-vault-kek").write_text(f"dev:{generate_kek()}")
    container = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(data)}))
    try:
        container.ledger.trial_balance()
        container.users.get("usr_none")
    finally:
        container.close()
    assert (_mode(data), _mode(data / "cryptopay.db"), _mode(data / "dev-vault-kek")) == (0o700, 0o600, 0o600)


def test_the_key_store_directory_is_private_even_if_it_existed(tmp_path):
    """Hot-wallet key files are written into a 0700 directory, each 0600, even if the directory was 0755."""
    from datetime import UTC, datetime

    from cryptopay.adapters.vault import FileKeyStore
    from cryptopay.core.ports.vault import StoredKey

    keys = tmp_path / "keys"
    keys.mkdir()
    os.chmod(keys, 0o755)
    key = StoredKey("tron-hot-1", "tron", "hot", "TAddr", "pub", b"blob", datetime(2026, 1, 5, tzinfo=UTC))
    FileKeyStore(keys).add(key)
    assert _mode(keys) == 0o700 and _mode(keys / "tron-hot-1.json") == 0o600
