"""``cryptopay wallets``: look at a personal wallet, its history, and freeze or unfreeze it (operators; audited:
every lookup of a wallet is a ``wallet.looked_up`` record naming the operator).

A wallet is named by its user id, its phone number (``0712…``, ``+2547…``) or its username. Exit 3 when there is
no such wallet, 2 for a bad month or asset, 2 for a freeze without a reason.
"""

from __future__ import annotations

import typer
from cryptopay.core.money import asset_by_code
from cryptopay.core.wallets.history import statement_period

from cryptopay_cli.commands import wallet_deposits, wallet_paybill
from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes

app = typer.Typer(
    help="Personal wallets: show, history, freeze and unfreeze (audited); pending STK purchases; crypto deposits.",
    no_args_is_help=True,
)

wallet_deposits.register(app)  # deposits, deposit-addresses, release-deposit
wallet_paybill.register(app)  # paybill-register, paybill-payments, paybill-release, paybill-return

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_WHO = typer.Argument(..., help="The wallet's user id, phone number or username.")


@app.command("show")
def show(who: str = _WHO, as_json: bool = _JSON) -> None:
    """The wallet, whether it is frozen, and its available balances."""
    with errors_to_exit_codes():
        wallets = services().wallets
        wallet = wallets.find(who, actor=operator())
        balances = {code: format(m.amount, "f") for code, m in wallets.balances(wallet.user_id).items()}
    view = {
        "user_id": wallet.user_id,
        "phone": wallet.phone,
        "username": wallet.username,
        "frozen": wallet.frozen,
        "frozen_reason": wallet.frozen_reason,
        "balances": balances,
    }
    if as_json:
        emit_json(view)
    else:
        fields = [k for k in view if k != "balances"]  # in the view's order (a set's put FROZEN_REASON first: R14-4)
        emit_table([{k: view[k] for k in fields} | balances], [*fields, *balances])


@app.command("history")
def history(
    who: str = _WHO,
    asset: str | None = typer.Option(None, "--asset", help="KES, USDT or BTC only."),
    month: str | None = typer.Option(None, "--month", help="One Nairobi month, YYYY-MM."),
    limit: int = typer.Option(
        50, "--limit", min=1, max=10_000, help="This many (and the rest of the last one's entry)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Movements with the balance after each, newest first."""
    with errors_to_exit_codes():
        since, until = statement_period(month) if month else (None, None)
        wallets = services().wallets
        wallet = wallets.find(who, actor=operator())
        held = asset_by_code(asset.upper()) if asset else None
        lines = wallets.history(wallet.user_id, asset=held, since=since, until=until, limit=limit)
    rows = [
        {
            "at": h.at.isoformat(timespec="seconds"),
            "asset": h.amount.asset.code,
            "amount": format(h.amount.amount, "f"),
            "balance_after": format(h.balance_after.amount, "f"),
            "kind": h.kind,
            "reference": h.transfer_id or h.entry_id,
        }
        for h in lines
    ]
    if as_json:
        emit_json({"history": rows})
    else:
        emit_table(rows, ["at", "asset", "amount", "balance_after", "kind", "reference"])


@app.command("freeze")
def freeze(who: str = _WHO, reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log).")) -> None:
    """Stop the wallet sending and receiving until it is unfrozen."""
    with errors_to_exit_codes():
        wallets = services().wallets
        wallet = wallets.freeze(wallets.find(who, actor=operator()).user_id, reason=reason, actor=operator())
    emit_json({"user_id": wallet.user_id, "frozen": wallet.frozen, "reason": wallet.frozen_reason})


@app.command("unfreeze")
def unfreeze(who: str = _WHO) -> None:
    """Let a frozen wallet send and receive again."""
    with errors_to_exit_codes():
        wallets = services().wallets
        wallet = wallets.unfreeze(wallets.find(who, actor=operator()).user_id, actor=operator())
    emit_json({"user_id": wallet.user_id, "frozen": wallet.frozen})


@app.command("stk-pending")
def stk_pending(as_json: bool = _JSON) -> None:
    """Purchases still waiting for M-Pesa's answer (their STK callback or query), the next to be asked first."""
    with errors_to_exit_codes():
        buys = services().wallet_buys.pending()
    rows = [
        {
            "id": b.id,
            "user_id": b.user_id,
            "state": b.state.value,
            "kes": format(b.kes.amount, "f"),
            "checkout_request_id": b.checkout_request_id or "",
            "queries": b.queries,
            "next_query_at": b.next_query_at.isoformat(timespec="seconds"),
        }
        for b in buys
    ]
    if as_json:
        emit_json({"pending": rows})
    else:
        emit_table(rows, ["id", "user_id", "state", "kes", "checkout_request_id", "queries", "next_query_at"])


@app.command("stk-fail")
def stk_fail(
    buy_id: str = typer.Argument(..., help="The open buy (from stk-pending)."),
    note: str = typer.Option(..., "--note", help="Why it is given up (audited)."),
) -> None:
    """Decide a purchase M-Pesa has not answered: STK Query is asked once more (paid credits it, a failure fails
    it), else it is failed with the customer's reason so they can buy again; a later success is still credited."""
    with errors_to_exit_codes():
        buy = services().wallet_buys.give_up(buy_id, actor=operator(), note=note)
    emit_json({"id": buy.id, "state": buy.state.value, "reason": buy.reason or "", "receipt": buy.receipt or ""})


@app.command("stk-query")
def stk_query() -> None:
    """Ask STK Query now about the purchases whose answer is due (what the worker's wallets.stk_query does)."""
    with errors_to_exit_codes():
        decided = services().wallet_buys.follow_up()
    emit_json({"decided": decided})
