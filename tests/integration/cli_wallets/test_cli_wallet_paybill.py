"""``cryptopay wallets paybill-register|paybill-payments|paybill-release|paybill-return`` over the paybill use case
(in memory, as the shell sees it): operators decide what waits in the suspense account, audited."""

from __future__ import annotations

import json

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.identity.model import Role, User
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.identity import InMemoryUsers
from cryptopay.core.wallets.paybill import PaybillState
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.paybill import credit, pay, paybill, registered, verified
from tests.support.services import in_memory_services, with_wallets
from tests.support.wallet_stack import WalletStack, wallet_stack

app = build_app()
runner = CliRunner()


@pytest.fixture
def stack():
    wallets = wallet_stack()
    users = InMemoryUsers()
    for user_id, email, role in [
        ("usr_ann", "ann@example.co.ke", Role.ADMIN),
        ("usr_pat", "pat@example.co.ke", Role.PERSONAL),
    ]:
        users.add(User(user_id, email, "unused-hash", role, wallets.clock.now()))
    services = attrs.evolve(
        with_wallets(in_memory_services(clock=wallets.clock), wallets),
        paybill=ready(paybill(wallets)),
        users=ready(users),
    )
    previous = use_services(services)
    yield wallets
    use_services(previous)


def _wallets(*args: str):
    return runner.invoke(app, ["wallets", *args])


def test_operators_register_list_release_and_return_paybill_payments(stack: WalletStack) -> None:
    """Register the URLs; two payments naming no wallet wait in suspense; one operator may not release one to a
    wallet nor return one to its payer (exit 5: each is four-eyes, on the console or the admin API; nothing moves;
    no note: exit 2; an unknown state: exit 2)."""
    amina = stack.sign_up("0712000001")
    registered = _wallets("paybill-register")
    assert registered.exit_code == 0 and json.loads(registered.stdout)["state"] == "active"
    desk = paybill(stack)
    first = pay(stack, desk, "0799000001", 300, "acc 17")
    second = pay(stack, desk, "0799000002", 200, "acc 18")
    listed = json.loads(_wallets("paybill-payments", "--state", "suspended", "--json").stdout)["payments"]
    assert [(p["id"], p["payer"]) for p in listed] == [(second.id, "2547******02"), (first.id, "2547******01")]
    assert [p["mpesa_record"] for p in listed] == ["200.00", "300.00"]  # what a credit or a return may move
    assert _wallets("paybill-payments", "--state", "lost").exit_code == 2
    assert _wallets("paybill-release", first.id, "0712000001").exit_code == 2  # no note
    refused = _wallets("paybill-release", first.id, "0712000001", "--note", "the payer called")
    assert refused.exit_code == 5 and "/console/paybill" in refused.stderr  # one operator never credits a wallet
    credit(desk, first.id, "0712000001", note="the payer called")  # two officers, as on the console
    returned = _wallets("paybill-return", second.id, "--note", "nobody claims it")
    assert returned.exit_code == 5 and f"/console/paybill/{second.id}" in returned.stderr, returned.output
    assert desk.get(second.id).state is PaybillState.SUSPENDED and not stack.mpesa.outbox  # nothing sent
    assert stack.balance(amina, "KES") == Money.of(300, KES)
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert actions.count("paybill.credit_approved") == 1 and "paybill.reversal_requested" not in actions
    assert actions.count("paybill.shell_proposal_refused") == 2  # the shell's credit and return, by the operator


def test_operators_reverify_and_decline_credits_but_never_propose_approve_or_reverse_from_the_shell(
    stack: WalletStack,
) -> None:
    """An unverified payment is asked about again; a credit is never proposed from the shell (exit 5, the refusal
    audited by the operator, nothing proposed: revpass7 P4), only on the console, and a proposal made there is
    declined from the shell (exit 5 for an officer who is not staff, 3 for an unknown one); the shell has no approve
    or reverse command: the console does those, with a second officer and a fresh code."""
    amina = stack.sign_up("0712000001")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 400, "acc 9")
    odd = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "MSISDN": "254799999999"}), token=token)
    verified(stack, desk)
    listed = json.loads(_wallets("paybill-payments", "--state", "unverified", "--json").stdout)["payments"]
    assert [p["id"] for p in listed] == [odd.id]
    asked = _wallets("paybill-reverify", odd.id, "--note", "the payer sent a screenshot")
    assert asked.exit_code == 0 and json.loads(asked.stdout)["state"] == "verifying"
    verified(stack, desk)
    refused = _wallets(
        "paybill-propose", odd.id, "0712000001", "--officer", "ann@example.co.ke", "--note", "payer asked"
    )
    assert refused.exit_code == 5 and f"/console/paybill/{odd.id}" in refused.stderr, refused.output
    assert desk.get(odd.id).proposed_by is None  # nothing proposed
    [shell] = [r for r in stack.backend.storage.audit_records() if r.action == "paybill.shell_proposal_refused"]
    assert shell.actor.startswith("ops:") and dict(shell.details)["officer"] == "usr_ann"
    assert not any(r.action == "paybill.credit_proposed" for r in stack.backend.storage.audit_records())
    proposed = desk.propose_credit(odd.id, "0712000001", officer="usr_ann", note="payer asked")  # as the console does
    assert proposed.proposed_to == amina.id
    decline = ("paybill-decline", odd.id, "--note", "x", "--officer")
    assert _wallets(*decline, "pat@example.co.ke").exit_code == 5
    assert _wallets(*decline, "no@example.co.ke").exit_code == 3
    declined = _wallets("paybill-decline", odd.id, "--officer", "ann@example.co.ke", "--note", "wrong wallet")
    assert declined.exit_code == 0 and json.loads(declined.stdout)["proposed_to"] == ""
    proposed = desk.propose_return(odd.id, officer="usr_ann", note="the payer asked")  # as the console does
    declined = _wallets("paybill-decline", odd.id, "--officer", "ann@example.co.ke", "--note", "not yet")
    assert declined.exit_code == 0 and json.loads(declined.stdout)["proposal"] == ""
    for missing in ("paybill-approve", "paybill-reverse", "paybill-propose-return"):
        assert _wallets(missing, odd.id).exit_code == 2  # no such command
    assert stack.balance(amina, "KES") == Money.zero(KES)
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert {"paybill.reverify_requested", "paybill.credit_proposed", "paybill.credit_declined"} <= set(actions)
    assert {"paybill.return_proposed", "paybill.return_declined"} <= set(actions)
