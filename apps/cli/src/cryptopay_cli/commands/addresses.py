"""``cryptopay addresses``: derive deposit addresses from an account xpub, and validate addresses per network.

``derive`` prints the address on its last line; ``validate`` exits 0 for a valid address of the network and
with code 2 and the reason otherwise (a testnet address is invalid unless ``--testnet`` says the deployment is).
"""

from __future__ import annotations

from collections.abc import Callable

import typer
from cryptopay.core.errors import InvalidInput
from cryptopay.core.rails import network_by_name

from cryptopay_cli.output import emit_json, errors_to_exit_codes

app = typer.Typer(help="Deposit addresses: derive from an account xpub, validate for a network.", no_args_is_help=True)

_PATHS = {"ethereum": "m/44'/60'/0'", "polygon": "m/44'/60'/0'", "bsc": "m/44'/60'/0'", "tron": "m/44'/195'/0'"}
_NETWORK_HELP = "ethereum, polygon, bsc, tron or bitcoin"


def _chain_network(name: str) -> str:
    network = network_by_name(name)
    if network.name == "mpesa":
        raise InvalidInput("M-Pesa has no addresses; use ethereum, polygon, bsc, tron or bitcoin")
    return network.name


def _deriver(network: str) -> Callable[[str, int], str]:
    if network == "tron":
        from cryptopay.adapters.tron.addresses import derive_address as tron_derive

        return tron_derive
    if network == "bitcoin":
        from cryptopay.adapters.bitcoin.addresses import derive_address as bitcoin_derive

        return bitcoin_derive
    from cryptopay.adapters.evm.addresses import derive_address as evm_derive

    return evm_derive


def _validator(network: str, testnet: bool) -> Callable[[str], str]:
    if network == "tron":
        from cryptopay.adapters.tron.addresses import validate_address as tron_validate

        return tron_validate
    if network == "bitcoin":
        from cryptopay.adapters.bitcoin.addresses import validate_address as bitcoin_validate

        return lambda address: bitcoin_validate(address, testnet=testnet)
    from cryptopay.adapters.evm.addresses import validate_address as evm_validate

    return evm_validate


@app.command()
def derive(
    network: str = typer.Option(..., "--network", help=_NETWORK_HELP),
    xpub: str = typer.Option(..., "--xpub", help="the account-level extended public key (e.g. m/44'/60'/0')"),
    index: int = typer.Option(..., "--index", min=0, help="the address index on the external chain (0, 1, ...)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Derive the deposit address at index N; the address is printed on the last line."""
    with errors_to_exit_codes():
        name = _chain_network(network)
        address = _deriver(name)(xpub, index)
    path = f"{_PATHS[name]}/0/{index}" if name in _PATHS else f"<account>/0/{index}"
    if as_json:
        emit_json({"network": name, "index": index, "path": path, "address": address})
        return
    typer.echo(f"network {name}, path {path}")
    typer.echo(address)


@app.command()
def validate(
    address: str = typer.Argument(..., help="the address to check"),
    network: str = typer.Option(..., "--network", help=_NETWORK_HELP),
    testnet: bool = typer.Option(False, "--testnet", help="accept Bitcoin testnet addresses (testnet deployments)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Exit 0 and print the normalized address if it is valid for the network; else exit 2 with the reason."""
    with errors_to_exit_codes():
        name = _chain_network(network)
        normalized = _validator(name, testnet)(address)
    if as_json:
        emit_json({"network": name, "address": normalized, "valid": True})
        return
    typer.echo(normalized)
