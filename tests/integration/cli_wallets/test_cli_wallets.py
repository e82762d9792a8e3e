"""``cryptopay wallets show|history|freeze|unfreeze`` over the wallet use cases (in memory, as the shells see them)."""

from __future__ import annotations

import json

import pytest
from cryptopay.core.money import KES, Money
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.services import in_memory_services, with_wallets
from tests.support.wallet_stack import wallet_stack

app = build_app()
runner = CliRunner()


@pytest.fixture
def stack():
    wallets = wallet_stack()
    previous = use_services(with_wallets(in_memory_services(clock=wallets.clock), wallets))
    yield wallets
    use_services(previous)


def _wallets(*args: str):
    return runner.invoke(app, ["wallets", *args])


def test_show_by_phone_and_history_with_running_balances(stack):
    """An operator finds a wallet by phone and reads its movements with the balance after each."""
    amina = stack.sign_up("0712000001", tier=1, username="amina")
    stack.sign_up("0712000002")
    stack.fund(amina, "500", "KES")
    stack.clock.advance(seconds=1)
    stack.wallets.send(amina.id, "0712000002", Money.of("120", KES))
    shown = _wallets("show", "+254712000001", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["balances"]["KES"] == "380.00"
    table = _wallets("show", "+254712000001").stdout.splitlines()[0].split()
    assert table[:5] == ["USER_ID", "PHONE", "USERNAME", "FROZEN", "FROZEN_REASON"] and "KES" in table  # R14-4
    listed = json.loads(_wallets("history", "@amina", "--asset", "kes", "--json").stdout)["history"]
    assert [(h["amount"], h["balance_after"]) for h in listed] == [("-120.00", "380.00"), ("500.00", "500.00")]


def test_freeze_needs_a_reason_and_unfreeze_undoes_it(stack):
    """Freezing is audited with its reason; an unknown wallet exits 3."""
    amina = stack.sign_up("0712000001")
    assert _wallets("freeze", amina.id).exit_code == 2
    frozen = _wallets("freeze", amina.id, "--reason", "fraud report")
    assert frozen.exit_code == 0 and json.loads(frozen.stdout)["frozen"] is True
    assert json.loads(_wallets("unfreeze", "0712000001").stdout)["frozen"] is False
    assert _wallets("show", "0799999999").exit_code == 3
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert actions.count("wallet.frozen") == 1 and actions.count("wallet.unfrozen") == 1


def test_pending_stk_purchases_are_listed_and_queried(stack):
    """A buy whose callback was lost is listed as pending; stk-query settles it once its query is due."""
    user = stack.sign_up("0711000008")  # the lost-callback number
    buy = stack.buys.start(user.id, Money.of(700, KES))
    listed = json.loads(_wallets("stk-pending", "--json").stdout)["pending"]
    assert [(b["id"], b["state"]) for b in listed] == [(buy.id, "prompted")]
    stack.clock.advance(minutes=3)
    assert json.loads(_wallets("stk-query").stdout) == {"decided": 1}
    assert json.loads(_wallets("stk-pending", "--json").stdout)["pending"] == []


def test_an_unanswered_stk_purchase_is_given_up_by_an_operator(stack):
    """R10-12: `wallets stk-fail BUY --note` fails a buy M-Pesa keeps "still processing" (audited), so it can buy again."""
    user = stack.sign_up("0711000011")  # M-Pesa keeps the prompt open
    buy = stack.buys.start(user.id, Money.of(700, KES))
    out = json.loads(_wallets("stk-fail", buy.id, "--note", "prompt never shown").stdout)
    assert out["state"] == "failed" and "no final answer" in out["reason"]
    assert "wallet.buy_unanswered" in [r.action for r in stack.backend.storage.audit_records()]
    assert stack.buys.start(user.id, Money.of(500, KES)).state.value == "prompted"
