"""``cryptopay serve``: run the REST API (execs ``cryptopay-http`` with the same options).

Without ``--dev``: the production server (granian, bounded workers and threads from ``CRYPTOPAY_WEB_*``).
With ``--dev``: werkzeug's development server, and the sandbox started (or joined) and wired by itself, so the
README's curl walk-through works as pasted; ``--no-sandbox`` keeps the environment as it is. Unless
``CRYPTOPAY_PUBLIC_URL`` is set, the development API's public URL (Daraja's callbacks, reset and payment links) is
the host and port it serves, published in the data dir's ``dev-api.json`` for ``cryptopay worker --dev``.
"""

from __future__ import annotations

import os

import typer

from cryptopay_cli.scripts import exec_script

app = typer.Typer(help="Serve the REST API (runs cryptopay-http).", subcommand_metavar="")


@app.callback(invoke_without_command=True)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(
        0,
        "--workers",
        show_default=False,
        help="Worker processes (default: $CRYPTOPAY_WEB_WORKERS, else one per CPU, 2 to 8, with Redis; 1 without).",
    ),
    threads: int = typer.Option(
        0, "--threads", show_default=False, help="Threads per worker (default: $CRYPTOPAY_WEB_THREADS, else 8)."
    ),
    dev: bool = typer.Option(False, "--dev", help="Development server wired to the sandbox (never production)."),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="With --dev: do not start or wire the sandbox."),
) -> None:
    """Serve the REST API in the foreground until Ctrl-C (SIGTERM drains in-flight requests first)."""
    args = ["--host", host, "--port", str(port)]
    args += (["--workers", str(workers)] if workers else []) + (["--threads", str(threads)] if threads else [])
    if dev:
        from cryptopay.adapters._env import deployment_is_production

        from cryptopay_cli.output import errors_to_exit_codes, fail

        with errors_to_exit_codes():
            production = deployment_is_production(os.environ)
        if production:  # before anything starts: no sandbox left running, no traceback
            raise fail("--dev is refused with CRYPTOPAY_ENV=production: serve production without --dev", 2)
        args.append("--dev")
        from cryptopay.adapters.bootstrap.web_settings import reachable_url

        from cryptopay_cli.commands.sandbox import publish_dev_api

        os.environ.setdefault("CRYPTOPAY_PUBLIC_URL", reachable_url(host, port))
        publish_dev_api(os.environ["CRYPTOPAY_PUBLIC_URL"])
        if not no_sandbox:
            from cryptopay_cli.commands.sandbox import development_env, start_sandbox

            manifest = start_sandbox()
            os.environ.update(development_env(manifest))
            typer.echo(f"sandbox wired: Daraja {manifest['daraja']['base_url']}, anvil {manifest['evm']['rpc_url']}")
    exec_script("cryptopay-http", args, package="cryptopay-http")
