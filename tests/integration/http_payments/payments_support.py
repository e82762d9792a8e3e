"""Helpers for the payment resources over HTTP: the deployment's rails, webhooks, merchants.

The app's ``Services`` carry the ``PaymentsStack`` use cases (``tests.support.services.with_stack``). The webhook
rig keeps its own in-memory storage; ``relay`` copies the stack's new outbox messages into it, standing in for the
one shared database.
"""

from __future__ import annotations

import uuid
from typing import Any

from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.rails import rail_for
from cryptopay.core.relay import relay_outbox
from cryptopay.core.testing.payments_stack import CALLBACK_BASE, PaymentsStack
from cryptopay.core.testing.queue import FakeQueue
from cryptopay.core.testing.webhooks import RecordingSender, deliveries_of, webhook_storage
from cryptopay.core.webhooks import DELIVER_JOB, deliver_webhook
from cryptopay.sandbox._wire import dumps
from flask.testing import FlaskClient

from tests.integration.http.http_support import AuthActions

RAILS = {
    "usdt-tron": rail_for("tron", "USDT", confirmations=3),
    "usdt-ethereum": rail_for("ethereum", "USDT", confirmations=3),
}
INSTANT = {"schedule": "instant", "method": "mpesa_b2c", "destination": "0712345678"}


class WebhookRig:
    """The webhook ports: an in-memory webhook storage, a fake queue running deliveries, a recording sender."""

    def __init__(self, stack: PaymentsStack) -> None:
        self.storage = webhook_storage()
        self.uow = self.storage.unit_of_work
        self.clock, self.ids = stack.clock, stack.ids
        self.answer = 200  # the status every endpoint answers with; tests change it
        self.sender = RecordingSender(lambda url: self.answer)
        registry = JobRegistry()
        registry.register(DELIVER_JOB, self._deliver)
        self.queue = FakeQueue(registry, self.clock)
        self._stack = stack
        self._copied: set[str] = set()

    def _deliver(self, payload: Any) -> None:
        deliver_webhook(
            payload["delivery_id"], uow_factory=self.uow, sender=self.sender, queue=self.queue, clock=self.clock
        )

    def relay(self) -> list[str]:
        """Publish the stack's new outbox messages to webhook deliveries; the ids of the deliveries created."""
        fresh: list[OutboxMessage] = [m for m in self._stack.outbox() if m.id not in self._copied]
        with self.uow() as uow:
            for message in fresh:
                uow.outbox.add(message)
        self._copied |= {m.id for m in fresh}
        report = relay_outbox(uow_factory=self.uow, queue=self.queue, clock=self.clock, ids=self.ids)
        return list(report.deliveries)

    def run_jobs(self) -> int:
        return self.queue.run_pending()

    def deliveries(self) -> list[Any]:
        return deliveries_of(self.storage).all()


class Shop:
    """One merchant over HTTP: its user's headers, its id, and helpers that go through the API."""

    def __init__(self, auth: AuthActions, client: FlaskClient, name: str, settlement: dict[str, str]) -> None:
        self.client, self.auth = client, auth
        self.headers = auth.user("merchant")
        created = client.post(
            "/v1/merchants", json={"business_name": name, "settlement": settlement}, headers=self.headers
        )
        assert created.status_code == 201, created.json
        self.id: str = created.json["id"]

    @property
    def stepped(self) -> dict[str, str]:
        """The merchant user's headers with a fresh step-up token (for endpoints, keys, destinations)."""
        return self.auth.stepped_up(self.headers)

    def store(self, rails: list[str], headers: dict[str, str] | None = None, **settings: Any) -> dict[str, Any]:
        body = {"rails": rails, **settings}
        response = self.client.put(f"/v1/merchants/{self.id}/store", json=body, headers=headers or self.headers)
        assert response.status_code == 200, response.json
        return response.json

    def set_fee(self, percent: str) -> dict[str, Any]:
        """An admin sets the merchant fee through its own step-up operation (reviewer9 R9-9); the store's view."""
        admin, codes = self.auth.staff("admin")
        path = f"/v1/merchants/{self.id}/store/merchant-fee"
        headers = self.auth.stepped_up(admin, code=codes[0])
        response = self.client.put(path, json={"percent": percent}, headers=headers)
        assert response.status_code == 200, response.json
        return response.json

    def invoice(self, amount: str = "5000", currency: str = "KES", **extra: Any) -> dict[str, Any]:
        body = {"amount": amount, "currency": currency, **extra}
        response = self.client.post("/v1/invoices", json=body, headers=self.headers)
        assert response.status_code == 201, response.json
        return response.json


def submit_a_payout(client: FlaskClient, stack: PaymentsStack, shop: Shop) -> None:
    """One invoice of ``shop`` paid and confirmed, settled over HTTP, and its payout submitted to M-Pesa (the fake,
    whose outbox then holds the result callback)."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    client.post("/v1/settlements/run", json={}, headers=idem(shop.headers))
    stack.payouts.submit_payouts()


def refused_payout(client: FlaskClient, stack: PaymentsStack, shop: Shop, admin: dict[str, str]) -> str:
    """The id of ``shop``'s payout that M-Pesa (the fake) refused with result 1 and its real text, settled by
    ``admin`` over HTTP and its callback delivered."""
    from cryptopay.core.mobile_money import normalize_msisdn
    from cryptopay.core.testing.mobile_money import Scenario

    stack.mpesa.set_scenario(normalize_msisdn("0712345678"), Scenario.INSUFFICIENT_FUNDS)
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    run = client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin)).json
    payout_id: str = run["runs"][0]["payouts"][0]["id"]
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    return payout_id


def key_headers(secret: str) -> dict[str, str]:
    return {"X-Api-Key": secret}


def idem(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    """``headers`` with an ``Idempotency-Key`` (a fresh one unless given)."""
    return {**headers, "Idempotency-Key": key or uuid.uuid4().hex}


def hook_path(url: str) -> str:
    """The path on our app of a callback URL the fake M-Pesa was given (``PaymentsStack``'s callback base)."""
    assert url.startswith(CALLBACK_BASE), url
    return "/hooks/daraja" + url[len(CALLBACK_BASE) :]


def daraja_body(payload: Any) -> str:
    """The payload as Daraja writes it: amounts as exact JSON numbers (the sandbox's own encoder)."""
    return dumps(payload)


def bank_transfer(client: FlaskClient, stack: PaymentsStack, auth: AuthActions) -> str:
    """A merchant settled instantly to a Citibank account (no paybill): its payout awaits a bank transfer."""
    shop = Shop(auth, client, "Benki Ltd", {"schedule": "instant", "method": "bank", "destination": "CITI:12345678"})
    shop.store(["usdt-tron"])
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    run = client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(auth.user("admin"))).json
    payout_id: str = run["runs"][0]["payouts"][0]["id"]
    assert stack.payouts.get_payout(payout_id).state.value == "submitted"
    return payout_id
