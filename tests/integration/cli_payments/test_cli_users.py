"""``cryptopay users show|create-admin|set-role``: operators look accounts up, appoint admins and change roles, each
audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core.identity import Role
from cryptopay.core.identity.model import User
from cryptopay.core.wallets.model import Wallet
from cryptopay_cli.context import operator, use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.integration.cli_payments.cli_payments_support import OWNER

app = build_app()

runner = CliRunner()


def _users(*args: str, stdin: str | None = None):
    return runner.invoke(app, ["users", *args], input=stdin)


def test_create_admin_makes_an_audited_admin_from_a_hidden_password(stack):
    """create-admin stores an admin with a hashed password and an audit record naming the operator."""
    result = _users(
        "create-admin", "--email", "Ops@Example.co.ke", "--password-stdin", stdin="a long admin passphrase\n"
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["role"] == "admin" and created["email"] == "ops@example.co.ke"
    stored = stack.users.get(created["id"])
    assert stored.role is Role.ADMIN and "a long admin passphrase" not in stored.password_hash
    (record,) = stack.audit_trail.records()
    assert record.action == "user.admin_created" and record.actor == operator()
    assert record.actor.startswith("ops:")  # the form every other operator command records


def test_staff_accounts_are_named_for_the_strs_they_file(stack):
    """Review14 R14-5: ``create-admin --name``, ``set-name`` and ``set-role --name`` give a staff account its person's
    name (spaces collapsed; audited ``user.name_set``); a name of one word exits 2 and changes nothing."""
    made = _users(
        "create-admin", "--email", "mlro@example.co.ke", "--name", "Ann  Wambui", "--password-stdin",
        stdin="a long admin passphrase\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["name"] == "Ann Wambui"
    assert _users("set-name", OWNER, "Otieno").exit_code == 2
    assert _users("set-role", OWNER, "compliance", "--name", "Otieno").exit_code == 2
    assert stack.users.by_email(OWNER).role is Role.MERCHANT  # the bad name refused before the role changed
    named = _users("set-role", OWNER, "compliance", "--name", "Otieno Odhiambo")
    assert named.exit_code == 0, named.output
    assert (json.loads(named.stdout)["name"], stack.users.by_email(OWNER).role) == ("Otieno Odhiambo", Role.COMPLIANCE)
    renamed = _users("set-name", OWNER, "Otieno  Juma Odhiambo")
    assert renamed.exit_code == 0 and stack.users.by_email(OWNER).display_name == "Otieno Juma Odhiambo"
    assert _users("set-name", "nobody@example.co.ke", "No Body").exit_code == 3
    records = [(r.action, r.actor) for r in stack.audit_trail.records() if r.action == "user.name_set"]
    assert records == [("user.name_set", operator())] * 2
    assert all("Otieno" not in str(r.details) for r in stack.audit_trail.records())  # the name stays out of it


def test_create_admin_refuses_weak_passwords_and_taken_emails(stack):
    """A short password exits 2 and a taken email exits 4; neither writes anything."""
    assert _users("create-admin", "--email", "a@example.co.ke", "--password-stdin", stdin="short\n").exit_code == 2
    taken = _users("create-admin", "--email", OWNER, "--password-stdin", stdin="a long admin passphrase\n")
    assert taken.exit_code == 4 and stack.audit_trail.records() == []


def test_set_role_changes_the_role_and_is_audited(stack):
    """set-role gives the account the new role and records before and after; an unknown email exits 3."""
    result = _users("set-role", OWNER, "compliance")
    assert result.exit_code == 0, result.output
    assert stack.users.by_email(OWNER).role is Role.COMPLIANCE
    (record,) = stack.audit_trail.records()
    assert record.actor == operator() and record.actor.startswith("ops:")
    assert record.action == "user.role_changed" and dict(record.details) == {
        "before": "merchant",
        "after": "compliance",
    }
    assert _users("set-role", "nobody@example.co.ke", "admin").exit_code == 3


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Services]:
    """A real SQLite deployment built by the composition root, as the CLI's services."""
    built = build(Settings.for_data_dir(tmp_path))
    use_services(built)
    yield built
    use_services(None)
    built.close()


def test_show_prints_when_an_account_was_disabled_and_audits_the_lookup(deployment):
    """show (by email, id or phone) prints the account with ``disabled_at``: null while usable, the time once
    disabled (stored and read back by the SQL repository); the lookup is audited as the console's is; an unknown
    account exits 3. The person's own export carries ``disabled_at`` too."""
    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    deployment.users.add(User("usr_w", "w@example.com", "h", Role.MERCHANT, at, phone="254712000001"))
    shown = _users("show", "w@example.com")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == {
        "id": "usr_w",
        "email": "w@example.com",
        "role": "merchant",
        "name": None,
        "created_at": at.isoformat(),
        "email_verified_at": None,
        "disabled_at": None,
    }
    user = deployment.users.get("usr_w")
    user.email, user.disabled_at = None, at  # released, as EmailProofs.release leaves it
    deployment.users.update(user)
    for who in ("usr_w", "0712000001"):
        released = json.loads(_users("show", who).stdout)
        assert (released["email"], released["disabled_at"]) == (None, at.isoformat())
    with deployment.uow() as uow:
        looked_up = [r for r in uow.audit.about(["user:usr_w"]) if r.action == "privacy.subject_looked_up"]
    assert [r.actor for r in looked_up] == [operator()] * 3
    assert _users("show", "usr_nobody").exit_code == 3
    exported = deployment.subject_exports.export_own("usr_w")
    assert exported["profile"]["disabled_at"] == at.isoformat()


def test_a_wallet_holders_role_stays_and_compliance_finds_a_stranded_wallet(deployment):
    """Finding I21: set-role for an account holding a personal wallet is exit 4 (``holds_wallet``), nothing
    changed; a wallet stranded before this (its user given another role) is still found and frozen by compliance."""
    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    deployment.users.add(User("usr_w", "w@example.com", "h", Role.PERSONAL, at, phone="254712000001"))
    deployment.users.add(User("usr_off", "off@example.com", "h", Role.COMPLIANCE, at))
    with deployment.uow() as uow:
        uow.wallets.add(Wallet(user_id="usr_w", phone="254712000001", created_at=at))
    refused = _users("set-role", "w@example.com", "compliance")
    assert refused.exit_code == 4 and "wallet" in refused.output
    assert deployment.users.get("usr_w").role is Role.PERSONAL
    with deployment.uow() as uow:
        assert not [r for r in uow.audit.records() if r.action == "user.role_changed"]
    stranded = deployment.users.get("usr_w")
    stranded.role = Role.MERCHANT  # as a role change before the fix left it
    deployment.users.update(stranded)
    frozen = runner.invoke(app, ["compliance", "freeze", "usr_w", "--officer", "off@example.com", "--reason", "review"])
    assert frozen.exit_code == 0, frozen.output
    assert json.loads(frozen.stdout)["state"] == "frozen"
