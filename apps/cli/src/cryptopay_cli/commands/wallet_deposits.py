"""``cryptopay wallets deposits|deposit-addresses|release-deposit``: a wallet's crypto deposits, for operators.

Registered on the ``wallets`` group (``commands/wallets.py``). A wallet is named by its user id, phone number or
username. Releasing a deposit held for an ordinary reason (dust, an asset, a price, the tier) credits it to the
wallet and is audited with the operator's name; exit 3 for an unknown deposit, 4 for one that is not held, 2 for a
release without a note. A deposit held for compliance (a listed sender, a blocking rule, a frozen wallet, an alert
raised on it) is refused with exit 5, audited ``wallet.deposit_release_refused`` by the operator: two officers release
it on the API, signed in with their second factor (review8 R7).
"""

from __future__ import annotations

import typer
from cryptopay.core.wallets.deposit import Deposit

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_WHO = typer.Argument(..., help="The wallet's user id, phone number or username.")
_COLUMNS = ["id", "network", "amount", "asset", "state", "confirmations", "requirement", "reason", "tx", "seen_at"]


def _row(d: Deposit) -> dict[str, object]:
    return {
        "id": d.id,
        "network": d.network,
        "amount": format(d.amount.amount, "f"),
        "asset": d.asset.code,
        "state": d.state.value,
        "confirmations": d.confirmations,
        "requirement": d.requirement.describe(),
        "credited": str(d.credited) if d.state.value == "credited" else "",
        "reason": d.hold_reason.value if d.hold_reason else "",
        "clawback_pending": d.clawback_pending,
        "tx": f"{d.tx_hash}#{d.index}",
        "from": d.from_address or "",
        "seen_at": d.seen_at.isoformat(timespec="seconds"),
    }


def deposits(
    who: str = _WHO,
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many."),
    as_json: bool = _JSON,
) -> None:
    """The wallet's crypto deposits, newest first: seen, credited, held (and why) or withdrawn by a reorg."""
    with errors_to_exit_codes():
        root = services()
        wallet = root.wallets.find(who, actor=operator())
        found = root.wallet_deposits.deposits(wallet.user_id, limit=limit)
    rows = [_row(d) for d in found]
    if as_json:
        emit_json({"user_id": wallet.user_id, "deposits": rows})
    else:
        emit_table(rows, _COLUMNS)


def deposit_addresses(who: str = _WHO, as_json: bool = _JSON) -> None:
    """The wallet's deposit address on every network (allocated if the user never asked)."""
    with errors_to_exit_codes():
        root = services()
        wallet = root.wallets.find(who, actor=operator())
        found = root.wallet_deposits.addresses(wallet.user_id)
    rows = [
        {"network": a.network, "address": a.address, "assets": ",".join(a.assets), "requirement": a.requirement}
        for a in found
    ]
    if as_json:
        emit_json({"user_id": wallet.user_id, "addresses": rows})
    else:
        emit_table(rows, ["network", "address", "assets", "requirement"])


def release_deposit(
    deposit_id: str = typer.Argument(..., help="The held deposit's id (dep_...)."),
    note: str = typer.Option(..., "--note", help="Why it is released (kept in the audit log)."),
) -> None:
    """Credit a deposit held for dust, an asset or a price to its wallet (audited); one held for compliance or beyond
    its wallet's KYC tier is refused (exit 5): two officers release it on the console or the API."""
    with errors_to_exit_codes():
        released = services().wallet_deposits.release(deposit_id, actor=operator(), note=note)
    emit_json(_row(released))


def register(app: typer.Typer) -> None:
    """Add the deposit commands to the ``wallets`` group."""
    app.command("deposits")(deposits)
    app.command("deposit-addresses")(deposit_addresses)
    app.command("release-deposit")(release_deposit)
