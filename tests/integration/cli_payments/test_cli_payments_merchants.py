"""``cryptopay merchants create|list`` over the in-memory deployment: the merchant, its store, and bad input."""

from __future__ import annotations

import pytest
from cryptopay.core.identity import Role, User

from tests.integration.cli_payments.cli_payments_support import OWNER, cli, cli_json, create_merchant

BASE = [
    "merchants",
    "create",
    "--name",
    "Duka La Mama",
    "--settlement",
    "daily",
    "--method",
    "mpesa_b2c",
    "--destination",
    "0712345678",
    "--rails",
    "usdt-tron",
]


def test_cli_create_merchant_stores_its_profile_and_store_settings(stack):
    """`merchants create --json` creates the merchant (phone normalised) and a store with its rails, fee and tolerance."""
    view = cli_json(*BASE, "--owner", OWNER, "--minimum", "500", "--fee-percent", "1.5", "--tolerance", "2")
    assert view["id"].startswith("mer") and view["owner_user_id"] == "usr_owner"
    assert view["settlement"] == "daily" and view["method"] == "mpesa_b2c" and view["destination"] == "254712345678"
    assert view["minimum"] == {"amount": "500.00", "asset": "KES"}
    assert view["rails"] == ["usdt-tron"] and view["tolerance_percent"] == "2"
    with stack.uow() as uow:
        store = uow.stores.get(view["id"])
    assert store.rails[0].confirmations == 3  # the deployment's rail, not the network default
    assert str(store.merchant_fee(store.rails[0].asset, stack.clock.now()).percent) == "1.5"


def test_cli_list_merchants_as_json_and_as_a_table(stack):
    """`merchants list` shows every merchant with its method, destination and rails."""
    merchant_id = create_merchant()
    listed = cli_json("merchants", "list")["merchants"]
    assert [(m["id"], m["rails"]) for m in listed] == [(merchant_id, ["usdt-tron"])]
    table = cli("merchants", "list")
    assert table.exit_code == 0 and "Duka La Mama" in table.stdout and "254712345678" in table.stdout


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (["--destination", "12345"], 2, "Kenyan mobile number"),
        (["--rails", "usdt-mars"], 2, "unknown network"),
        (["--rails", "tron"], 2, "not a rail key"),
        (["--fee-percent", "150"], 2, "--fee-percent"),
        (["--tolerance", "abc"], 2, "not a number"),
        (["--minimum", "-5"], 2, "minimum"),
        (["--owner", "nobody@example.com"], 3, "no user with the email nobody@example.com"),
        (["--owner", "pat@example.com"], 5, "merchant role"),
    ],
)
def test_cli_create_merchant_refuses_bad_input_and_changes_nothing(stack, change, code, message):
    """Bad input exits with its family's code and a specific message, and creates neither merchant nor store."""
    args = [*BASE, "--owner", OWNER]
    for i in range(0, len(change), 2):
        if change[i] in args:
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i : i + 2]
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert cli_json("merchants", "list") == {"merchants": []}
    with stack.uow() as uow:
        assert uow.stores.list(after=None, limit=10) == []


def test_cli_create_merchant_rejects_an_unknown_choice_with_usage_exit_2(stack):
    """A settlement schedule outside instant/daily/weekly is a usage error (exit 2) naming the choices."""
    result = cli(*BASE, "--owner", OWNER, "--settlement", "hourly")
    assert result.exit_code == 2
    assert "instant" in result.output and "weekly" in result.output


def test_cli_create_merchant_twice_for_one_owner_is_a_conflict(stack):
    """An owner has one merchant: a second create exits 4 and leaves one merchant."""
    create_merchant()
    result = cli(*BASE, "--owner", OWNER)
    assert result.exit_code == 4 and "already has a merchant" in result.stderr
    assert len(cli_json("merchants", "list")["merchants"]) == 1


def test_cli_create_merchant_for_an_owner_without_a_proven_email_is_refused(stack):
    """A merchant sets a payout destination: an owner whose email is not proven yet is refused (exit 5, naming
    why) and nothing is created (review G11)."""
    stack.users.add(User("usr_new", "new@duka.co.ke", "unused-hash", Role.MERCHANT, stack.clock.now()))
    result = cli(*BASE, "--owner", "new@duka.co.ke")
    assert result.exit_code == 5 and "prove your email first" in result.stderr
    assert cli_json("merchants", "list") == {"merchants": []}
