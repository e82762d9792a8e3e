"""``cryptopay users create-admin|set-role``: operators appoint admins and change roles, each audited."""

from __future__ import annotations

import json

from cryptopay.core.identity import Role
from cryptopay_cli.context import operator
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
