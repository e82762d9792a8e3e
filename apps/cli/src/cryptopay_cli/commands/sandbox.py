"""``cryptopay sandbox``: local simulators of the outside world, for development and demos (never production).

Each simulator is one command that serves in the foreground until Ctrl-C; add new ones as new commands here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import typer
from cryptopay.adapters.sandbox.daraja import DarajaSandbox, DarajaSandboxConfig

app = typer.Typer(help="Run local simulators (Daraja, ...) that speak the real wire formats.", no_args_is_help=True)

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
    """Serve the M-Pesa Daraja simulator (magic test numbers: see cryptopay.adapters.sandbox.daraja)."""
    config = DarajaSandboxConfig(callback_delay=callback_delay, late_delay=late_delay)
    sandbox = DarajaSandbox(config)
    server = sandbox.start(host, port, quiet=False)
    typer.echo(f"Daraja sandbox: consumer key {config.consumer_key!r}, secret {config.consumer_secret!r}, "
               f"shortcode {config.shortcode}, passkey {config.passkey!r}, payout shortcode {config.payout_shortcode}, "
               f"initiator {config.initiator_name!r} (SecurityCredential not checked)")  # fmt: skip
    serve_until_stopped(sandbox.stop, server.url, duration)


@app.command("fx")
def fx(
    host: str = _HOST,
    port: int = typer.Option(8092, "--port", help="Port to listen on (0: any free port)."),
    duration: float = _DURATION,
) -> None:
    """Serve the FX simulator (ExchangeRate-API, Binance- and Kraken-style); scripted at /_sandbox/fx/..."""
    from cryptopay.adapters.sandbox._server import serve_in_thread
    from cryptopay.adapters.sandbox.fx import SANDBOX_API_KEY, create_fx_simulator

    server = serve_in_thread(create_fx_simulator(), host, port)
    typer.echo(f"FX sandbox: export CRYPTOPAY_FX_SANDBOX_URL={server.url} (API key {SANDBOX_API_KEY!r}); "
               f"state at {server.url}/_sandbox/fx/state")  # fmt: skip
    serve_until_stopped(server.stop, server.url, duration)
