"""Who did it, from the shell (reviewer10 R10-5): the actor of every shell record is the OS account running the
command (``ops:<login>`` from the password database), never ``$LOGNAME``/``$USER`` nor ``--actor``; ``--actor`` is
kept apart, an ``ops.on_behalf_of`` record by the real operator naming the one given."""

from __future__ import annotations

import os
import pwd

from cryptopay_cli.context import operator

from tests.integration.cli_payments.cli_payments_support import cli, cli_json, create_merchant, paid_invoice

ME = f"ops:{pwd.getpwuid(os.getuid()).pw_name}"


def test_the_environment_does_not_name_the_operator(stack, monkeypatch):
    """``LOGNAME=bob USER=bob cryptopay links create ...`` is recorded as the OS account, not as bob."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "bob")
    assert operator() == ME != "ops:bob"
    cli_json("links", "create", "--merchant", create_merchant(), "--description", "y")
    created = [r for r in stack.storage.audit_records() if r.action == "payment_link.create"]
    assert [r.actor for r in created] == [ME]


def test_actor_is_recorded_on_whose_behalf_never_as_the_actor(stack):
    """``--actor alice``: the link's record is the OS operator's; a separate ``ops.on_behalf_of`` record (by the OS
    operator, the command, ``ops:alice``) keeps the name given, once per invocation."""
    merchant_id = create_merchant()
    cli_json("links", "create", "--merchant", merchant_id, "--description", "x", "--actor", "alice")
    created = [r for r in stack.storage.audit_records() if r.action == "payment_link.create"]
    assert [r.actor for r in created] == [ME]
    behalf = [
        (r.actor, r.subject, dict(r.details)) for r in stack.audit_trail.records() if r.action == "ops.on_behalf_of"
    ]
    assert behalf == [(ME, "ops:alice", {"command": "cryptopay links create", "on_behalf_of": "ops:alice"})]
    assert cli("links", "create", "--merchant", merchant_id, "--description", "x", "--actor", "user:x").exit_code == 2


def test_merchants_create_is_the_operators_with_the_owner_a_detail(stack, monkeypatch):
    """reviewer10 R10-3: ``merchants create`` was audited as if the owner did it, and its store settings not at all.
    Now ``merchant.created`` is the OS operator's, naming the owner; ``store.settings_created`` records what was set."""
    monkeypatch.setenv("LOGNAME", "kamau")
    merchant_id = create_merchant("--fee-percent", "0.1")
    records = [(r.actor, r.action, dict(r.details)) for r in stack.audit_trail.records() if merchant_id in r.subject]
    created = [(a, d) for a, action, d in records if action == "merchant.created"]
    assert created == [(ME, {"destination": "mpesa_b2c ending 678", "owner": "user:usr_owner"})]
    (settings,) = [(a, d) for a, action, d in records if action == "store.settings_created"]
    assert settings[0] == ME and settings[1]["rails"] == "usdt-tron" and "0.1" in settings[1]["fees"]


def test_a_settlement_run_from_the_shell_names_the_operator(stack):
    """reviewer10 R10-3: a shell run was ``system:settlement``'s only, like the worker's; it now also leaves
    ``settlements.run_triggered`` by the OS operator, naming the settlements it made (a dry run writes nothing)."""
    merchant_id = create_merchant()
    paid_invoice(stack, merchant_id)
    cli_json("settlements", "run", "--merchant", merchant_id, "--dry-run")
    assert not [r for r in stack.audit_trail.records() if r.action == "settlements.run_triggered"]
    (ran,) = cli_json("settlements", "run", "--merchant", merchant_id)["runs"]
    (record,) = [r for r in stack.audit_trail.records() if r.action == "settlements.run_triggered"]
    assert (record.actor, record.subject) == (ME, f"merchant:{merchant_id}")
    assert dict(record.details) == {"merchant": merchant_id, "settlements": ran["settlement_id"], "count": "1"}
