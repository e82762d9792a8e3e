"""``cryptopay serve``: run the REST API (execs ``cryptopay-http`` with the same options)."""

from __future__ import annotations

import typer

from cryptopay_cli.scripts import exec_script

app = typer.Typer(help="Serve the REST API (runs cryptopay-http).", subcommand_metavar="")


@app.callback(invoke_without_command=True)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    dev: bool = typer.Option(False, "--dev", help="Allow a throw-away token secret and insecure cookies."),
) -> None:
    """Serve the REST API in the foreground until Ctrl-C."""
    exec_script(
        "cryptopay-http", ["--host", host, "--port", str(port), *(["--dev"] if dev else [])], package="cryptopay-http"
    )
