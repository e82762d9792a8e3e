"""``cryptopay keys``: hot-wallet keys encrypted by the key vault. Only public parts are ever printed.

The vault and the key storage are the composition root's (``services().vault``, ``services().hot_key_store``), the
very ones the API and the worker unlock keys with: key-encryption keys from ``CRYPTOPAY_VAULT_KEKS``
(``id:base64,...``, current first; outside production, without it, the data dir's development key that
``serve --dev`` uses), the encrypted keys under ``<data dir>/keys`` (``CRYPTOPAY_DATA_DIR``, default ``.cryptopay``).
"""

from __future__ import annotations

from typing import Any

import typer
from cryptopay.core.errors import InvalidInput
from cryptopay.core.hotkeys import rotate_hot_keys, store_hot_key
from cryptopay.core.ports.vault import StoredKey
from cryptopay.core.system import RandomIds, SystemClock

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes

app = typer.Typer(help="Hot-wallet keys: create, rotate the vault's key-encryption key, show public parts.")

_COLUMNS = ["key_id", "network", "label", "address", "public_key", "kek_id", "created_at"]


# The vault (and the cryptography library) loads when a command runs, never for `--help`.


def _public(key: StoredKey) -> dict[str, Any]:
    from cryptopay.adapters.vault import blob_key_id

    return {
        "key_id": key.key_id,
        "network": key.network,
        "label": key.label,
        "address": key.address,
        "public_key": key.public_key,
        "kek_id": blob_key_id(key.blob),
        "created_at": key.created_at,
    }


def _new_key(network: str, testnet: bool) -> Any:
    # bitcoinlib and tronpy take seconds to import: load them only for the command that needs them.
    from cryptopay.adapters.bitcoin import keys as bitcoin_keys
    from cryptopay.adapters.tron import keys as tron_keys

    if network in {"ethereum", "polygon", "bsc"}:
        from cryptopay.adapters.evm import keys as evm_keys

        return evm_keys.new_hot_key()
    if network == "tron":
        return tron_keys.new_hot_key()
    if network == "bitcoin":
        return bitcoin_keys.new_hot_key(testnet=testnet)
    raise InvalidInput(f"hot keys are created for ethereum, polygon, bsc, tron and bitcoin, not {network!r}")


@app.command()
def create(
    network: str = typer.Option(..., "--network", help="ethereum, polygon, bsc, tron or bitcoin"),
    label: str = typer.Option(..., "--label", help="what the key is for, e.g. payouts"),
    key_id: str | None = typer.Option(None, "--key-id", help="an id (default: a new random id)"),
    testnet: bool = typer.Option(False, "--testnet", help="a Bitcoin testnet key"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Create a hot-wallet key, store it encrypted by the vault, and print its public parts (audited
    ``hot_key.created`` by the operator)."""
    with errors_to_exit_codes():
        vault, store = services().vault, services().hot_key_store
        fresh = _new_key(network.strip().lower(), testnet)
        stored = store_hot_key(
            vault,
            store,
            SystemClock(),
            key_id=key_id or RandomIds().new_id("key"),
            network=network.strip().lower(),
            label=label,
            private_key=fresh.private_key,
            address=fresh.address,
            public_key=fresh.public_key,
            audit=services().audit,
            actor=operator(),
        )
        row = _public(stored)
    if as_json:
        emit_json(row)
    else:
        emit_table([row], _COLUMNS)


@app.command()
def rotate(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Re-wrap every stored key under the current key-encryption key (the first in CRYPTOPAY_VAULT_KEKS); audited
    ``hot_keys.rotated`` by the operator."""
    with errors_to_exit_codes():
        vault = services().vault
        count = rotate_hot_keys(
            vault, services().hot_key_store, audit=services().audit, clock=SystemClock(), actor=operator()
        )
        kek_id = vault.current_key_id
    result = {"rewrapped": count, "kek_id": kek_id}
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"re-wrapped {count} key(s) under key-encryption key {kek_id!r}")


@app.command()
def show(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List the stored keys' public parts and the key-encryption key each is wrapped under."""
    with errors_to_exit_codes():
        rows = [_public(key) for key in services().hot_key_store.list()]
    if as_json:
        emit_json({"keys": rows})
    else:
        emit_table(rows, _COLUMNS)


@app.command("generate-kek")
def generate_kek_command(key_id: str = typer.Argument(..., help="the new key-encryption key's id")) -> None:
    """Print a new random key-encryption key as 'id:base64' to prepend to CRYPTOPAY_VAULT_KEKS (keep it secret)."""
    from cryptopay.adapters.vault import generate_kek, parse_keks

    spec = f"{key_id}:{generate_kek()}"
    with errors_to_exit_codes():
        parse_keks(spec)  # checks the id
    typer.echo(spec)
