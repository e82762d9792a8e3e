"""``cryptopay sandbox``: local simulators of the outside world, for development and demos (never production).

Each simulator is one command that serves in the foreground until Ctrl-C; add new ones as new commands here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from cryptopay_cli.output import emit_json, errors_to_exit_codes, fail, plain

app = typer.Typer(
    help=(
        "The sandbox (never production): anvil and every simulator in the background (up, status, pay, down), or one"
        " simulator in the foreground."
    ),
    no_args_is_help=True,
)

_HOST = typer.Option("127.0.0.1", "--host", help="Interface to listen on.")
_DURATION = typer.Option(0.0, "--duration", help="Stop after this many seconds (0: run until Ctrl-C).")


def serve_until_stopped(stop: Callable[[], None], url: str, duration: float) -> None:
    """Block until Ctrl-C (or ``duration`` seconds), then stop the server."""
    typer.echo(f"listening on {url} (Ctrl-C to stop)")
    try:
        deadline = time.monotonic() + duration if duration > 0 else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        typer.echo("stopped")


@app.command("daraja")
def daraja(
    host: str = _HOST,
    port: int = typer.Option(8089, "--port", help="Port to listen on (0: any free port)."),
    callback_delay: float = typer.Option(1.0, "--callback-delay", help="Seconds before a callback is posted."),
    late_delay: float = typer.Option(5.0, "--late-delay", help="Seconds a late callback is held back."),
    duration: float = _DURATION,
) -> None:
    """Serve the M-Pesa Daraja simulator (magic test numbers: see cryptopay.sandbox.daraja)."""
    from cryptopay.sandbox.daraja import DarajaSandbox, DarajaSandboxConfig

    config = DarajaSandboxConfig(callback_delay=callback_delay, late_delay=late_delay)
    sandbox = DarajaSandbox(config)
    server = sandbox.start(host, port, quiet=False)
    typer.echo(
        f"Daraja sandbox: consumer key {config.consumer_key!r}, secret {config.consumer_secret!r}, "
        f"shortcode {config.shortcode}, passkey {config.passkey!r}, payout shortcode {config.payout_shortcode}, "
        f"initiator {config.initiator_name!r} (SecurityCredential not checked)"
    )
    serve_until_stopped(sandbox.stop, server.url, duration)


@app.command("fx")
def fx(
    host: str = _HOST,
    port: int = typer.Option(8092, "--port", help="Port to listen on (0: any free port)."),
    duration: float = _DURATION,
) -> None:
    """Serve the FX simulator (ExchangeRate-API, Binance- and Kraken-style); scripted at /_sandbox/fx/..."""
    from cryptopay.sandbox._server import serve_in_thread
    from cryptopay.sandbox.fx import SANDBOX_API_KEY, create_fx_simulator

    server = serve_in_thread(create_fx_simulator(), host, port)
    typer.echo(
        f"FX sandbox: export CRYPTOPAY_FX_SANDBOX_URL={server.url} (API key {SANDBOX_API_KEY!r}); "
        f"state at {server.url}/_sandbox/fx/state"
    )
    serve_until_stopped(server.stop, server.url, duration)


@app.command("sms")
def sms(
    host: str = _HOST,
    port: int = typer.Option(8093, "--port", help="Port to listen on (0: any free port)."),
    duration: float = _DURATION,
) -> None:
    """Serve the SMS simulator (Africa's Talking's messaging API); its outbox at /_sandbox/sms/outbox."""
    from cryptopay.sandbox._server import serve_in_thread
    from cryptopay.sandbox.sms import SANDBOX_API_KEY, SANDBOX_USERNAME, create_sms_simulator

    server = serve_in_thread(create_sms_simulator(), host, port)
    typer.echo(
        f"SMS sandbox: export CRYPTOPAY_SMS_PROVIDER=africastalking CRYPTOPAY_SMS_BASE_URL={server.url} "
        f"CRYPTOPAY_SMS_USERNAME={SANDBOX_USERNAME} CRYPTOPAY_SMS_API_KEY={SANDBOX_API_KEY}; "
        f"outbox at {server.url}/_sandbox/sms/outbox"
    )
    serve_until_stopped(server.stop, server.url, duration)


def _manifest_path() -> Path:
    return Path(os.environ.get("CRYPTOPAY_DATA_DIR", ".cryptopay")).resolve() / "sandbox.json"


def _running(manifest: Path) -> dict[str, Any] | None:
    """The manifest of a live sandbox, or None (a stale manifest of a dead process is removed)."""
    if not manifest.exists():
        return None
    data: dict[str, Any] = json.loads(manifest.read_text())
    try:
        os.kill(int(data["pid"]), 0)
    except (OSError, KeyError, ValueError):
        manifest.unlink(missing_ok=True)
        return None
    return data


def _dev_api_path() -> Path:
    return _manifest_path().with_name("dev-api.json")


def publish_dev_api(public_url: str) -> None:
    """Say where ``serve --dev`` (this process, which execs the server) is reached, for ``worker --dev``."""
    path = _dev_api_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "public_url": public_url}))


def published_dev_api() -> str | None:
    """The public URL a live ``serve --dev`` published in this data dir, or None."""
    data = _running(_dev_api_path())
    return str(data["public_url"]) if data is not None else None


def sandbox_running(data_dir: Path) -> bool:
    """Whether a live sandbox's manifest is in ``data_dir`` (what ``cryptopay sandbox up`` would reuse there)."""
    return _running(data_dir.resolve() / "sandbox.json") is not None


def _summary(data: dict[str, Any]) -> None:
    evm = data["evm"]
    typer.echo(f"anvil     {evm['rpc_url']} chain {evm['chain_id']}, USDT {evm['usdt']['address']} (6 decimals)")
    for account in evm["funded_accounts"]:
        funded = f"{account['usdt']:,} USDT" + (f", {account['usdc']:,} USDC" if "usdc" in account else "")
        typer.echo(f"          payer #{account['index']} {account['address']} (funded with {funded})")
    typer.echo("          (pay an address: cryptopay sandbox pay ADDRESS AMOUNT [--payer N] [--asset USDC])")
    typer.echo(f"daraja    {data['daraja']['base_url']} (shortcode {data['daraja']['shortcode']})")
    for name in ("fx", "sms", "trongrid", "esplora"):
        typer.echo(f"{name:<9} {data[name]['url']}")


DEV_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def start_sandbox(
    *, block_time: float = 1.0, callback_delay: float = 1.0, timeout: float = 90.0, exit_with: int | None = None
) -> dict[str, Any]:
    """The running sandbox's manifest, starting it in the background first if none runs (one it starts stops once
    process ``exit_with`` has ended, when given: a test run's own process)."""
    manifest = _manifest_path()
    data = _running(manifest)
    if data is not None:
        return data
    manifest.parent.mkdir(parents=True, exist_ok=True)
    log = (manifest.parent / "sandbox.log").open("ab")
    command = [
        sys.executable,
        "-m",
        "cryptopay.sandbox.stack",
        "--manifest",
        str(manifest),
        "--block-time",
        str(block_time),
        "--callback-delay",
        str(callback_delay),
        *(["--exit-with", str(exit_with)] if exit_with is not None else []),
    ]
    process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + timeout
    while (data := _running(manifest)) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise fail(f"the sandbox did not start; see {manifest.parent / 'sandbox.log'}", 6)
        time.sleep(0.2)
    return data


def development_env(data: dict[str, Any]) -> dict[str, str]:
    """What the API and worker need to run against the sandbox: its endpoints, a deposit xpub, loopback webhooks."""
    from cryptopay.adapters.evm.keys import account_xpub

    return {
        **data["env"],
        "CRYPTOPAY_EVM_XPUB": account_xpub(DEV_MNEMONIC),
        "CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK": "1",
        "CRYPTOPAY_COOKIE_SECURE": "false",
    }


@app.command("up")
def up(
    block_time: float = typer.Option(1.0, "--block-time", help="Seconds per anvil block (0: instant mining)."),
    callback_delay: float = typer.Option(1.0, "--callback-delay", help="Seconds before Daraja posts a callback."),
    timeout: float = typer.Option(90.0, "--timeout", help="Seconds to wait for everything to start."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    exit_with: int | None = typer.Option(
        None, "--exit-with", help="Stop the sandbox once this process id has ended (a test run's process)."
    ),
) -> None:
    """Start anvil (test USDT deployed, payers funded) and every simulator in the background; write the manifest."""
    data = start_sandbox(block_time=block_time, callback_delay=callback_delay, timeout=timeout, exit_with=exit_with)
    if as_json:
        emit_json(data)
    else:
        _summary(data)
        typer.echo(f"manifest  {_manifest_path()}")


@app.command("down")
def down(
    timeout: float = typer.Option(15.0, "--timeout", help="Seconds to wait for it to stop (exit 6 past them)."),
) -> None:
    """Stop the background sandbox (nothing to do if none runs)."""
    manifest = _manifest_path()
    data = _running(manifest)
    if data is None:
        typer.echo("the sandbox is not running")
        return
    os.kill(int(data["pid"]), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running(manifest) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if _running(manifest) is not None:
        raise fail(f"the sandbox (pid {data['pid']}) did not stop within {timeout:g} s", 6)
    typer.echo("the sandbox stopped")


@app.command("pay")
def pay(
    address: str = typer.Argument(..., help="Where to send: an invoice's payment address, a wallet's deposit address."),
    amount: str = typer.Argument(..., help="How much, e.g. 38.853657 (an invoice's payment option `amount`)."),
    asset: str = typer.Option("USDT", "--asset", help="USDT or USDC (the sandbox's test tokens, 6 decimals)."),
    payer: int = typer.Option(1, "--payer", min=1, help="Which funded payer sends (`cryptopay sandbox status`)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Pay from a funded payer on the sandbox's anvil, as a customer's wallet would (a signed ERC-20 transfer);
    prints the transaction once mined. Exit 2 for a bad address, amount or payer, 1 when no sandbox runs."""
    from cryptopay.adapters.evm.addresses import validate_address
    from cryptopay.core.errors import InvalidInput
    from cryptopay.core.money import Money
    from cryptopay.sandbox.anvil import send_token

    data = _running(_manifest_path())
    if data is None:
        raise fail("the sandbox is not running (start it with `cryptopay sandbox up`)", 1)
    evm = data["evm"]
    token = evm.get(asset.strip().lower())
    accounts = {int(account["index"]): account for account in evm["funded_accounts"]}
    with errors_to_exit_codes():
        if token is None or asset.strip().upper() not in ("USDT", "USDC"):
            raise InvalidInput(f"the sandbox's tokens are USDT and USDC, not {asset!r}", field="--asset")
        if payer not in accounts:
            raise InvalidInput(f"the sandbox's payers are {sorted(accounts)}, not {payer}", field="--payer")
        to = validate_address(address)
        money = Money.of(amount, asset.strip().upper())
        if not money.is_positive():
            raise InvalidInput("the amount must be positive", field="AMOUNT")
        account = accounts[payer]
        units = int(money.amount.scaleb(int(token["decimals"])))
        tx_hash, block = send_token(evm["rpc_url"], token["address"], to, units, private_key=account["private_key"])
    paid = {"from": account["address"], "to": to, "amount": plain(money.amount), "asset": money.asset.code}
    if as_json:
        emit_json({**paid, "tx_hash": tx_hash, "block": block})
    else:
        typer.echo(f"paid {money} from payer #{payer} {account['address']} to {to} in block {block} (tx {tx_hash})")


@app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON (the payers' keys too)."),
) -> None:
    """Show the running sandbox's endpoints; exit 1 when none runs."""
    data = _running(_manifest_path())
    if data is None:
        raise fail("the sandbox is not running (start it with `cryptopay sandbox up`)", 1)
    emit_json(data) if as_json else _summary(data)
