"""``cryptopay worker``: run the background jobs (execs ``cryptopay-worker`` with the same options)."""

from __future__ import annotations

import os

import typer

from cryptopay_cli.scripts import exec_script

app = typer.Typer(help="Run the background jobs (runs cryptopay-worker).", subcommand_metavar="")


@app.callback(invoke_without_command=True)
def worker(
    queue: list[str] = typer.Option([], "--queue", help="A queue to work (repeatable; default: every queue)."),
    redis_url: str | None = typer.Option(
        None,
        "--redis-url",
        help="Redis (default: $CRYPTOPAY_REDIS_URL, else $REDIS_URL, else redis://127.0.0.1:6379/0).",
    ),
    burst: bool = typer.Option(False, "--burst", help="Quit when the queues are empty."),
    no_scheduler: bool = typer.Option(
        False, "--no-scheduler", help="Do not enqueue the repeating jobs here (delayed jobs and retries still run)."
    ),
    inline: bool = typer.Option(False, "--inline", help="No Redis: run the jobs in this process (embedded mode)."),
    fast: bool = typer.Option(False, "--fast", help="Payment jobs each second, the rest less (demo, sandbox)."),
    dev: bool = typer.Option(
        False, "--dev", help="Wire the sandbox, as `cryptopay serve --dev` does, and call back the API it serves."
    ),
) -> None:
    """Work the job queues in the foreground until Ctrl-C."""
    if dev:
        from cryptopay_cli.commands.sandbox import development_env, published_dev_api, start_sandbox

        os.environ.update(development_env(start_sandbox()))
        served = published_dev_api()  # Daraja's callbacks go to the port `serve --dev` serves
        if served is not None:
            os.environ.setdefault("CRYPTOPAY_PUBLIC_URL", served)
    args = [arg for name in queue for arg in ("--queue", name)]
    args += (["--inline"] if inline else []) + (["--fast"] if fast else [])
    args += ["--redis-url", redis_url] if redis_url else []
    args += (["--burst"] if burst else []) + (["--no-scheduler"] if no_scheduler else [])
    exec_script("cryptopay-worker", args, package="cryptopay-worker")
