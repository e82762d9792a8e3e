"""Steps for features/ledger_idempotency.feature, over the real ledger service."""

import pytest
from cryptopay.core.errors import CryptopayError, IdempotencyConflict, InsufficientFunds
from cryptopay.core.ledger import Account, AccountKind, Ledger
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("ledger_idempotency.feature")

FLOAT = "assets:mpesa_float:KES"


def wallet(name: str) -> str:
    return f"liabilities:user:{name.lower()}:KES"


@pytest.fixture
def books() -> dict:
    ledger = Ledger(InMemoryLedgerStore())
    ledger.open_account(Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True))
    return {"ledger": ledger, "answers": [], "errors": []}


@given(parsers.parse("{name} has KES {value} in {whose} cryptopay wallet"))
def has_balance(books: dict, name: str, value: str, whose: str) -> None:
    ledger: Ledger = books["ledger"]
    ledger.open_account(Account(wallet(name), AccountKind.LIABILITY, KES))
    amount = Money.of(value, KES)
    if amount.is_positive():
        ledger.transfer(f"topup-{name}", debit=FLOAT, credit=wallet(name), amount=amount)


def send(books: dict, payer: str, payee: str, value: str, key: str) -> None:
    try:
        entry = books["ledger"].transfer(key, debit=wallet(payer), credit=wallet(payee), amount=Money.of(value, KES))
        books["answers"].append(entry)
    except CryptopayError as error:
        books["errors"].append(error)


@when(parsers.parse('{payer} sends {payee} KES {value} with request key "{key}"'))
def sends(books: dict, payer: str, payee: str, value: str, key: str) -> None:
    send(books, payer, payee, value, key)
    assert not books["errors"], books["errors"]


@when(parsers.parse('the app retries the same payment with request key "{key}"'))
def retries(books: dict, key: str) -> None:
    first = books["answers"][0]
    debit = next(line for line in first.lines if line.amount.is_positive())
    credit = next(line for line in first.lines if line.amount.is_negative())
    payer, payee = (line.account.split(":")[2].capitalize() for line in (debit, credit))
    send(books, payer, payee, str(debit.amount.amount), key)


@when(parsers.parse('{payer} tries to send {payee} KES {value} with request key "{key}"'))
def tries(books: dict, payer: str, payee: str, value: str, key: str) -> None:
    send(books, payer, payee, value, key)


@then("both answers name the same ledger entry")
def same_entry(books: dict) -> None:
    first, second = books["answers"]
    assert first.id == second.id


@then("the second request is refused as a conflicting reuse of the key")
def conflict(books: dict) -> None:
    assert len(books["errors"]) == 1 and isinstance(books["errors"][0], IdempotencyConflict)


@then("the request is refused for insufficient funds")
def insufficient(books: dict) -> None:
    assert len(books["errors"]) == 1 and isinstance(books["errors"][0], InsufficientFunds)


@then(parsers.parse("{name} has KES {value}"))
def balance(books: dict, name: str, value: str) -> None:
    assert books["ledger"].balance(wallet(name)).posted == Money.of(value, KES)


@then("the books balance")
def balanced(books: dict) -> None:
    assert all(total == 0 for total in books["ledger"].trial_balance().values())
