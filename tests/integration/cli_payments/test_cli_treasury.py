"""``cryptopay treasury`` on the composition root over SQLite: status, idempotent top-ups and conversions, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core import flows
from cryptopay.core.ledger import EntryRequest, Posting
from cryptopay.core.ledger.service import trading_account
from cryptopay.core.money import KES, USDT, Money
from cryptopay_cli.context import use_services

from tests.integration.cli_payments.cli_payments_support import cli, cli_json


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:
    """The real root on an embedded SQLite database, installed as the CLI's services."""
    built = build(Settings.for_data_dir(tmp_path))
    previous = use_services(built)
    yield built
    use_services(previous)
    built.close()


def settled_usdt(services: Services, usdt: str, kes: str) -> None:
    """Books in which ``usdt`` USDT on tron was bought from a merchant for ``kes`` KES at customers' quotes."""
    ledger = services.ledger
    flows.open_platform_accounts(ledger, "m1", "tron", USDT)
    amount, paid = Money.of(usdt, USDT), Money.of(kes, KES)
    postings = [
        Posting.debit(flows.custody("tron", USDT), amount),
        Posting.credit(trading_account("USDT"), amount),
        Posting.debit(trading_account("KES"), paid),
        Posting.credit(flows.merchant_liability("m1", KES), paid),
    ]
    ledger.post(EntryRequest("seed", postings, "settled"))


def test_cli_treasury_top_up_is_booked_once_and_shows_in_the_status(services):
    """A top-up is one balanced entry, audited once; again with the same reference it is the same entry."""
    first = cli_json("treasury", "record-topup", "--amount", "250000", "--reference", "bank-0042")
    again = cli_json("treasury", "record-topup", "--amount", "250000", "--reference", "bank-0042")
    assert first == again and first["amount"] == "250000.00" and first["released"] == []
    conflict = cli("treasury", "record-topup", "--amount", "1", "--reference", "bank-0042")
    assert conflict.exit_code == 4
    status = cli_json("treasury", "status", "--books-only")
    assert status["float"]["books"] == "250000.00" and status["float"]["known"] is None
    assert "unknown" in status["float"]["source"]
    assert services.ledger.balance(flows.BANK).posted == Money.of("-250000", KES)
    table = cli("treasury", "status", "--books-only")
    assert table.exit_code == 0 and "M-Pesa float" in table.stdout


def test_cli_treasury_conversion_books_the_realised_gain(services):
    """1,000 USDT bought at 129 sold in two fills averaging 130.40: KES 1,400 gain, into the float, books balanced."""
    settled_usdt(services, "1000", "129000")
    view = cli_json(
        "treasury",
        "record-conversion",
        "--reference",
        "otc-7",
        "--network",
        "tron",
        "--venue",
        "OTC desk",
        "--fill",
        "600@130",
        "--fill",
        "400@131",
        "--fee",
        "250",
        "--into",
        "float",
    )
    assert (view["proceeds"], view["cost"], view["gain"]) == ("130400.00", "129000.00", "1400.00")
    assert services.ledger.balance(flows.FLOAT).posted == Money.of("130150", KES)
    assert services.ledger.balance(flows.FX_GAIN).posted == Money.of("1400", KES)
    assert all(total == 0 for total in services.ledger.trial_balance().values())
    actions = [r.action for r in _audit(services)]
    assert actions.count("treasury.conversion") == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--fill", "600"], 2),  # no price
        (["--fill", "600@130", "--into", "wallet"], 2),
        (["--fill", "600@130", "--fee", "lots"], 2),
        (["--fill", "2000@130"], 5),  # more than was bought at customers' quotes
    ],
)
def test_cli_treasury_bad_conversions_exit_with_their_code_and_change_nothing(services, args, code):
    """Each bad record gets its exit code and a message; the books are as they were."""
    settled_usdt(services, "1000", "129000")
    before = services.ledger.trial_balance()
    result = cli("treasury", "record-conversion", "--reference", "x", "--network", "tron", "--venue", "d", *args)
    assert result.exit_code == code and result.stderr.startswith("error:")
    assert services.ledger.trial_balance() == before
    assert services.ledger.balance(flows.custody("tron", USDT)).posted == Money.of("1000", USDT)


def test_cli_treasury_sweeps_list_is_empty_without_sweepers(services):
    """With no sweep key configured nothing is swept, and the list says so as JSON."""
    assert cli_json("treasury", "sweep") == {"sweeps": []}
    assert json.loads(cli("treasury", "sweeps", "--json").stdout) == {"sweeps": []}


def _audit(services: Services) -> list:
    with services.uow() as uow:
        return list(uow.audit.records())
