"""reviewer10 R10-1 through the shell: a remittance held for a sanctions match is not paid out on one person's say.

One operator could open the alert's case and close it with no action in an officer's name (``compliance cases open``
/ ``cases move ... closed_no_action --officer``, the name typed, not proven), then ``remittances retry`` it: exit 0,
``paying_out``, and the next worker round paid the listed name. A closed case is no release: the retry exits 5
(``under_compliance_review``), audited ``remittance.release_refused`` by the operator, and the order stays held; its
release is two officers' decision on the admin API."""

from __future__ import annotations

import json

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.compliance.cases import CaseStatus
from cryptopay.core.identity.model import Role, User
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay.core.testing.identity import InMemoryUsers
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.remittance_stack import RemittanceStack, remittance_stack
from tests.support.services import in_memory_services

runner = CliRunner()
LISTED = "Viktor Anatolyevich Bout"


def cli(*args: str):
    return runner.invoke(build_app(), list(args))


@pytest.fixture
def stack():
    found = remittance_stack(policy=RetryPolicy(attempts=1))
    users = InMemoryUsers()
    users.add(User("usr_ann", "ann@example.co.ke", "unused-hash", Role.COMPLIANCE, found.clock.now()))
    services = attrs.evolve(
        in_memory_services(clock=found.clock),
        remittances=ready(found.remittances),
        monitoring=ready(found.monitoring),
        users=ready(users),
    )
    previous = use_services(services)
    yield found
    use_services(previous)


def _held(stack: RemittanceStack):
    stack.list_sanctioned(LISTED)
    held = stack.order(amount="1600", name=LISTED)
    stack.pay(held)
    stack.confirm()
    stack.run()
    assert json.loads(cli("remittances", "show", held.id, "--json").stdout)["state"] == "held"
    return held


def _trail(stack: RemittanceStack, order_id: str) -> list[tuple[str, str]]:
    with stack.wallet.backend.uow() as uow:
        return [(r.actor, r.action) for r in uow.audit.about([f"remittance:{order_id}"])]


def test_one_officer_closing_the_case_then_a_retry_pays_nothing(stack):
    held = _held(stack)
    case = stack.monitoring.open_case("usr_ann", [a.id for a in stack.monitoring.alerts()])
    stack.monitoring.move("usr_ann", case.id, CaseStatus.CLOSED_NO_ACTION, "looks fine to me")
    done = cli("remittances", "retry", held.id, "--json")
    assert done.exit_code == 5 and "closed by one officer, not released by two" in done.output
    stack.run()
    shown = json.loads(cli("remittances", "show", held.id, "--json").stdout)
    assert (shown["state"], shown["payout"]) == ("held", "")
    trail = _trail(stack, held.id)
    assert [a for _, a in trail if a in ("remittance.released", "remittance.payout")] == []
    assert [action for _, action in trail].count("remittance.release_refused") == 1


def test_one_shell_three_commands_pays_nothing(stack, monkeypatch):
    held = _held(stack)
    [alert] = stack.monitoring.alerts()
    monkeypatch.setenv("LOGNAME", "someone_else")
    opened = cli("compliance", "cases", "open", alert.id, "--officer", "ann@example.co.ke")
    assert opened.exit_code == 0, opened.output
    case_id = json.loads(opened.stdout)["id"]
    moved = cli(
        "compliance",
        "cases",
        "move",
        case_id,
        "closed_no_action",
        "--officer",
        "ann@example.co.ke",
        "--note",
        "namesake",
    )
    assert moved.exit_code == 0, moved.output
    retried = cli("remittances", "retry", held.id, "--actor", "bob")
    assert retried.exit_code == 5 and "two compliance officers' decision" in retried.output
    stack.run()
    shown = json.loads(cli("remittances", "show", held.id, "--json").stdout)
    assert (shown["state"], shown["payout_state"]) == ("held", "")
    refused = [actor for actor, action in _trail(stack, held.id) if action == "remittance.release_refused"]
    assert len(refused) == 1 and refused[0].startswith("ops:")  # the operator at the keyboard (R10-5: not --actor)
