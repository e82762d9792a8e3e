"""The refund endpoint under a race, on PostgreSQL: the loser gets a specific 4xx, never a 5xx, and nothing extra moves.

The payment use cases run on PostgreSQL here (``SqlPaymentsStack``; identity stays in memory), and each request
runs on a thread of its own with its own test client, released together by a barrier.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.repositories.identity import SqlIdempotency
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import flows
from cryptopay.core.money import USDT, Money
from cryptopay_http import Services
from flask import Flask
from flask.testing import FlaskClient

from tests.contract.test_payments_repository_contract import SqlPaymentsStack
from tests.integration.http.http_support import AuthActions, fast_hasher
from tests.integration.http_payments.payments_support import INSTANT, RAILS, Shop, WebhookRig, idem, key_headers
from tests.support.services import in_memory_services, ready, with_stack
from tests.support.sql_backends import postgres_database
from tests.support.sql_engines import race

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
ROUNDS = 8


@pytest.fixture
def stack(postgres_admin_url: str) -> Iterator[SqlPaymentsStack]:
    """The payment use cases over a fresh PostgreSQL database."""
    with postgres_database(postgres_admin_url, "cryptopay_http_races") as url:
        engine = make_engine(url, pool_size=10)
        yield SqlPaymentsStack(SqlStorage(engine))
        engine.dispose()


@pytest.fixture
def services(stack: SqlPaymentsStack, hooks: WebhookRig) -> Services:
    """The API over the stack, its Idempotency-Key claims on the same PostgreSQL database: a claim is the commit
    fence of its request's transactions (``cryptopay.core.fencing``), checked in them."""
    services = in_memory_services(clock=stack.clock, ids=stack.ids, hasher=fast_hasher())
    services = with_stack(services, stack, rails=RAILS, webhooks_uow=hooks.uow, queue=hooks.queue)
    return attrs.evolve(services, idempotency=ready(SqlIdempotency(stack.storage.engine)))


@pytest.fixture
def tron_shop(auth: AuthActions, client: FlaskClient) -> Shop:
    merchant = Shop(auth, client, "Duka Ltd", INSTANT)
    merchant.store(["usdt-tron"])
    return merchant


SCOPES = ["invoices:write", "refunds:write", "refunds:read", "settlements:write"]


def paid(app: Flask, key: dict[str, str], stack: SqlPaymentsStack, amount: str) -> str:
    """A new invoice of ``amount`` USDT, paid and confirmed (the manual clock moves on: keys, not user tokens)."""
    invoice = app.test_client().post("/v1/invoices", json={"amount": amount, "currency": "USDT"}, headers=key).json
    stack.pay(invoice["id"])
    stack.confirm(3)
    return str(invoice["id"])


def posted(app: Flask, path: str, body: dict[str, object], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST on a client of the calling thread's own: the status and the JSON body (with its Retry-After header)."""
    response = app.test_client().post(path, json=body, headers=headers)
    return response.status_code, {**(response.json or {}), "retry_after": response.headers.get("Retry-After")}


def test_a_refund_racing_the_settlement_of_the_same_balance_is_201_or_a_422_refusal(
    app: Flask, auth: AuthActions, stack: SqlPaymentsStack, tron_shop: Shop
) -> None:
    """POST a refund of 60 USDT and POST /v1/settlements/run at once, 8 times: the refund is 201 (and the settlement
    sells the rest of what the invoice credited), or 201 after the settlement sold it all, funded by the merchant
    (R25: the 60 USDT sold to it on credit), or a 422 ``refused`` saying the balance no longer covers it; the
    settlement is 200 either way, and the merchant's USDT is then empty."""
    key = key_headers(auth.api_key(tron_shop.headers, tron_shop.id, SCOPES))
    balance = flows.merchant_liability(tron_shop.id, USDT)
    for _ in range(ROUNDS):
        invoice_id = paid(app, key, stack, "100")
        credited = stack.ledger.balance(balance).available
        body = {"address": CUSTOMER, "amount": "60", "currency": "USDT"}
        refund, run = race(
            2,
            lambda n: (
                posted(app, f"/v1/invoices/{invoice_id}/refunds", body, idem(key))
                if n == 0
                else posted(app, "/v1/settlements/run", {}, idem(key))
            ),
        )
        assert run[0] == 200, run
        [settled] = run[1]["runs"]  # type: ignore[misc]
        sold = Money.of(settled["settlement"]["converted"]["amount"], USDT)  # type: ignore[index]
        if refund[0] == 201 and refund[1]["funded_by_merchant"] is not None:  # after the settlement (R25)
            assert sold == credited, settled
            assert refund[1]["funded_by_merchant"] == {"amount": "60.000000", "asset": "USDT"}, refund
        elif refund[0] == 201:
            assert sold == credited - Money.of("60", USDT), settled
        else:
            assert refund[0] == 422 and refund[1]["code"] == "refused", refund
            assert "no longer covers" in str(refund[1]["detail"]) and sold == credited
        assert stack.ledger.balance(balance).available == Money.of("0", USDT)
        assert stack.books_balanced()


def test_two_refunds_of_one_invoice_at_once_are_one_201_and_one_422(
    app: Flask, auth: AuthActions, stack: SqlPaymentsStack, tron_shop: Shop
) -> None:
    """Two POSTs refunding 6 of an invoice's 10 USDT at once (different Idempotency-Keys), 8 times: one 201, one 422
    ``refused`` naming what is left; and the same Idempotency-Key twice at once: one refund, the other request
    replays it (201) or is a 409 ``idempotency_in_flight``."""
    key = key_headers(auth.api_key(tron_shop.headers, tron_shop.id, SCOPES))
    paid(app, key, stack, "1000")
    body = {"address": CUSTOMER, "amount": "6", "currency": "USDT"}
    for n in range(ROUNDS):
        path = f"/v1/invoices/{paid(app, key, stack, '10')}/refunds"
        results = race(2, lambda _: posted(app, path, body, idem(key)))
        assert sorted(status for status, _ in results) == [201, 422], results
        [(_, refused)] = [r for r in results if r[0] == 422]
        assert refused["code"] == "refused" and "at most 4.000000" in str(refused["detail"]), refused

        path = f"/v1/invoices/{paid(app, key, stack, '10')}/refunds"
        same = idem(key, f"twice-{n}")
        results = race(2, lambda _: posted(app, path, body, same))
        statuses = sorted(status for status, _ in results)
        assert statuses in ([201, 201], [201, 409]), results
        if statuses == [201, 409]:
            [(_, busy)] = [r for r in results if r[0] == 409]
            assert busy["code"] == "idempotency_in_flight", busy
        listed = app.test_client().get(path, headers=key).json
        assert len(listed["data"]) == 1, listed
    assert stack.books_balanced()


def test_a_refund_that_cannot_get_its_locks_is_a_503_that_changes_nothing_and_keeps_its_key(
    app: Flask, auth: AuthActions, stack: SqlPaymentsStack, tron_shop: Shop
) -> None:
    """While another transaction holds the merchant's balance row past the lock timeout on every retry, the refund is
    a 503 ``transient_conflict`` with Retry-After: nothing held, no refund recorded, and its Idempotency-Key not used
    up (not a 409 a retry would replay forever), so the same request with the same key is a 201 once the lock is
    gone."""
    key = key_headers(auth.api_key(tron_shop.headers, tron_shop.id, SCOPES))
    invoice_id = paid(app, key, stack, "10")
    engine, balance = stack.storage.engine, flows.merchant_liability(tron_shop.id, USDT)
    before = stack.ledger.balance(balance)

    def short_lock_waits(connection: Any, _: object) -> None:
        connection.autocommit = True
        connection.execute("SET lock_timeout = '20ms'")
        connection.autocommit = False

    sa.event.listen(engine, "connect", short_lock_waits)
    engine.dispose()  # the request's thread connects anew
    path, body = f"/v1/invoices/{invoice_id}/refunds", {"address": CUSTOMER, "amount": "1", "currency": "USDT"}
    headers = idem(key, "locked-out")
    try:
        with engine.connect() as holder, holder.begin():
            holder.execute(sa.text("SELECT 1 FROM ledger_accounts WHERE code = :c FOR UPDATE"), {"c": balance})
            [(status, problem)] = race(1, lambda _: posted(app, path, body, headers))
    finally:
        sa.event.remove(engine, "connect", short_lock_waits)
        engine.dispose()
    assert status == 503 and problem["code"] == "transient_conflict" and problem["retry_after"] == "1", problem
    assert stack.ledger.balance(balance) == before
    assert app.test_client().get(path, headers=key).json["data"] == []
    again = app.test_client().post(path, json=body, headers=headers)
    assert again.status_code == 201, again.json
