"""``cryptopay demo``: end to end over the sandbox, the REST API and the worker (``cryptopay_cli.demo_e2e``): USDT
on anvil (the default) or ``btc-tron`` (BTC on the Esplora simulator and USDT on the TronGrid simulator); or
``tour``, a narrated walk of a merchant payment through the core with no servers (``cryptopay.sandbox.tour``).

The tour imports the sandbox inside the command; the end-to-end demo starts it as a process (`cryptopay sandbox up`).
"""

from __future__ import annotations

import json

import typer

app = typer.Typer(
    help="Demos on the sandbox: end to end (default), BTC and Tron, a personal wallet; the core tour without servers."
)


def _say(step: str, text: str) -> None:
    typer.echo(f"[{step}] {text}")


@app.callback(invoke_without_command=True)
def end_to_end(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="print only the summary JSON"),
    workdir: str = typer.Option(".cryptopay/demo", "--workdir", help="where the demo's database and logs go"),
) -> None:
    """End to end: sandbox, API and worker; a merchant paid in USDT on anvil receives shillings over M-Pesa."""
    if ctx.invoked_subcommand is not None:
        return
    from pathlib import Path

    from cryptopay_cli.demo_e2e import Demo

    say = (lambda _text: None) if as_json else typer.echo
    try:
        summary = Demo(Path(workdir).resolve(), say).run()
    except (RuntimeError, TimeoutError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(summary))
    if not (summary["invoice"] == "settled" and summary["payout"] == "completed" and summary["trial_balance_zero"]):
        raise typer.Exit(1)


@app.command("btc-tron")
def btc_tron(
    as_json: bool = typer.Option(False, "--json", help="print only the summary JSON"),
    workdir: str = typer.Option(".cryptopay/demo-btc-tron", "--workdir", help="where its database and logs go"),
) -> None:
    """The second flow: one invoice paid in BTC (Esplora simulator), one in USDT on Tron (TronGrid simulator), each
    settled to KES over M-Pesa; the books balance."""
    from pathlib import Path

    from cryptopay_cli.demo_e2e import Demo

    say = (lambda _text: None) if as_json else typer.echo
    try:
        summary = Demo(Path(workdir).resolve(), say).run_btc_tron()
    except (RuntimeError, TimeoutError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(summary))
    settled = set(summary["invoices"].values()) == {"settled"} and summary["payouts"] == ["completed"] * 2
    if not (settled and summary["trial_balance_zero"]):
        raise typer.Exit(1)


@app.command("wallet")
def wallet(
    as_json: bool = typer.Option(False, "--json", help="print only the summary JSON"),
    workdir: str = typer.Option(".cryptopay/demo-wallet", "--workdir", help="where its database and logs go"),
) -> None:
    """A personal wallet: sign up by phone, buy USDT by STK Push, send some to a friend by phone number, pay a KPLC
    prepaid bill by M-Pesa B2B, sell the rest to M-Pesa; a remittance from abroad is paid out by M-Pesa B2C; the
    books balance."""
    from pathlib import Path

    from cryptopay_cli.demo_wallet import WalletDemo

    say = (lambda _text: None) if as_json else typer.echo
    try:
        summary = WalletDemo(Path(workdir).resolve(), say).run_wallet()
    except (RuntimeError, TimeoutError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(summary))
    delivered = summary["p2p"] == "delivered" and summary["bill"] == "paid" and summary["remittance"] == "paid_out"
    books = summary["trial_balance_zero"] and summary["wallets_reconciled"]
    if not (summary["wallet"] == "ok" and delivered and books):
        raise typer.Exit(1)


@app.command("tour")
def demo(as_json: bool = typer.Option(False, "--json", help="print only the summary JSON")) -> None:
    """Run the core tour: quote, invoice, payment, fees, ledger, settlement, payouts, trial balance."""
    from cryptopay.sandbox.tour import run_tour

    summary = run_tour((lambda *_: None) if as_json else _say)
    typer.echo(json.dumps(summary))
    if not summary["trial_balance_zero"]:
        raise typer.Exit(1)
