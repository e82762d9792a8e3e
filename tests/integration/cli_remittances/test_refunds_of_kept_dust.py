"""Manual refunds on remittance desk invoices against what the desk kept (G4's dust), on SQL (SQLite and PostgreSQL).

Since G4 an excess at or below ``CRYPTOPAY_REMITTANCE_EXCESS_FLOOR_USDT`` (or the network's fee) is kept as revenue
(``revenue:remittance_dust:USDT``). A refund never takes it back, whoever asks: ``cryptopay refunds create`` on the
desk's invoice is refused (exit 5, ``kept_as_revenue``) naming the amount kept, nothing held; and an order refunded
whole after keeping dust sends back what it received less the dust, so the desk's books end at zero. The API's
``POST /v1/invoices/{id}/refunds`` (an admin's) is the same refusal: a 422 ``kept_as_revenue`` problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, ready
from cryptopay.core.flows import merchant_liability, remittance_dust
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.refunds import KeptAsRevenue
from cryptopay.core.remittances import DESK, RemittanceState
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.integration.http.http_support import AuthActions, database_env, make_app
from tests.support.remittance_stack import TRON_REFUND, RemittanceStack, remittance_stack
from tests.support.services import in_memory_services
from tests.support.sql_backends import sql_backend

runner = CliRunner()
DUST = Money.of("0.4", USDT)  # below the default floor (1 USDT): kept, never refunded on chain
OTHER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


@pytest.fixture(params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RemittanceStack]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DATABASE_URL": f"sqlite:///{tmp_path / 'kept.db'}"}
    with database_env(request, env, "cryptopay_remit_kept") as settings:
        backend = sql_backend("sql", settings["CRYPTOPAY_DATABASE_URL"])
        try:
            found = remittance_stack(backend, policy=RetryPolicy(attempts=1))
            services = in_memory_services(clock=found.clock)
            services = attrs.evolve(services, remittances=ready(found.remittances), refunds=ready(found.refunds))
            previous = use_services(services)
            try:
                yield found
            finally:
                use_services(previous)
        finally:
            backend.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[AuthActions, RemittanceStack]]:
    """The real app on the root's services over the same database, its remittances and refunds the stack's."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}"}
    with database_env(request, env, "cryptopay_remit_kept_api") as settings:
        root = build(RootSettings.from_env(settings))
        backend = sql_backend("sql", settings["CRYPTOPAY_DATABASE_URL"])
        try:
            found = remittance_stack(backend)
            services = attrs.evolve(root, remittances=ready(found.remittances), refunds=ready(found.refunds))
            app = make_app(services)
            yield AuthActions(app, app.test_client()), found
        finally:
            backend.engine.dispose()
            root.close()


def _paid_with_dust(stack: RemittanceStack, *, refuse: bool = False):
    """An order paid, then dust sent to its address after it was paid: the worker keeps the dust."""
    if refuse:
        stack.refuse("254712345678")
    order = stack.order(amount="1500")
    stack.pay(order)
    stack.confirm()
    stack.run(rounds=1)
    stack.pay(order, DUST)
    stack.confirm()
    stack.remittances.refund_excess()
    kept = stack.get(order)
    assert kept.kept() == DUST and kept.excess_refund_ids == ()
    return kept


def _desk_usdt(stack: RemittanceStack) -> Money:
    return stack.ledger.balance(merchant_liability(DESK, USDT)).posted


def test_refunds_create_on_a_desk_invoice_never_takes_back_the_kept_dust(stack: RemittanceStack):
    """A paid-out order kept 0.4 USDT of dust: ``refunds create`` (what is owed, the dust named, or any part of it)
    is refused with exit 5 naming the kept 0.4 USDT; nothing is held (not even from the desk's other orders' USDT),
    the dust stays revenue."""
    order = _paid_with_dust(stack)
    stack.run()
    assert stack.get(order).state is RemittanceState.PAID_OUT
    late = stack.order(amount="1500")  # another order's USDT in the desk: expired, then paid (its refund not yet asked)
    stack.clock.advance(minutes=31)
    stack.confirm(2)
    stack.run()
    stack.pay(late)
    stack.confirm()
    invoice, desk = order.invoice_id, _desk_usdt(stack)
    assert desk == late.usdt
    assert stack.refunds.refundable(invoice, "usdt-tron") == order.usdt  # its price, which it took: not the dust
    for extra in ([], ["--amount", "0.4", "--currency", "USDT"], ["--amount", "0.1", "--currency", "USDT"]):
        done = runner.invoke(
            build_app(), ["refunds", "create", "--reason", "late payment", invoice, "--address", TRON_REFUND, *extra]
        )
        assert done.exit_code == 5, done.output
        assert "0.400000 USDT" in done.output and "kept" in done.output and "not refunded" in done.output, done.output
    with pytest.raises(KeptAsRevenue) as refused:
        stack.refunds.refund(invoice, address=OTHER, requested_by="ops:test")
    assert refused.value.code == "kept_as_revenue"
    assert stack.refunds.list_refunds(invoice) == [] and _desk_usdt(stack) == desk
    assert stack.ledger.balance(remittance_dust(USDT)).posted == DUST
    assert stack.books_balanced()


def test_a_manual_refund_of_a_late_payment_takes_only_what_was_not_kept(stack: RemittanceStack):
    """Beside the kept dust, 5 USDT more arrive: the default refund is what is owed beyond the price and the dust,
    and asking for more than that is refused naming the dust (the refund machinery's own excess refund aside)."""
    order = _paid_with_dust(stack)
    stack.run()
    invoice = order.invoice_id
    stack.pay(order, Money.of("5", USDT))
    stack.confirm()
    assert stack.refunds.refundable(invoice, "usdt-tron") == order.usdt + Money.of("5", USDT)  # not the dust
    too_much = runner.invoke(
        build_app(),
        [
            "refunds",
            "create",
            "--reason",
            "late payment",
            invoice,
            "--address",
            TRON_REFUND,
            "--amount",
            "5.4",
            "--currency",
            "USDT",
        ],
    )
    assert too_much.exit_code == 5 and "at most 5.000000 USDT" in too_much.output and "0.400000 USDT" in too_much.output
    done = runner.invoke(
        build_app(), ["refunds", "create", "--reason", "late payment", invoice, "--address", TRON_REFUND, "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["amount"] == {"amount": "5.000000", "asset": "USDT"}


def test_an_order_refunded_whole_after_keeping_dust_sends_back_all_but_the_dust(stack: RemittanceStack):
    """The payout fails after the dust was kept: the whole refund is the price (what the desk still holds), never the
    dust already booked as revenue; refunded, the desk holds nothing and the books balance."""
    order = _paid_with_dust(stack, refuse=True)
    stack.run()
    refunding = stack.get(order)
    assert refunding.state is RemittanceState.REFUNDING and refunding.refund_id, refunding.note
    refund = stack.refunds.get_refund(refunding.refund_id)
    assert (refund.address, refund.amount) == (TRON_REFUND, order.usdt)
    stack.confirm_refunds()
    stack.run()
    assert stack.get(order).state is RemittanceState.REFUNDED
    assert _desk_usdt(stack).is_zero() and stack.ledger.balance(remittance_dust(USDT)).posted == DUST
    assert stack.books_balanced()


def test_the_api_refuses_a_refund_of_kept_dust_with_a_specific_problem(api: tuple[AuthActions, RemittanceStack]):
    """An admin's ``POST /v1/invoices/{id}/refunds`` for the dust of a paid-out order: 422 ``kept_as_revenue``
    naming the 0.4 USDT kept; no refund recorded."""
    auth, stack = api
    order = _paid_with_dust(stack)
    stack.run()
    headers, codes = auth.staff("admin")
    body = {"address": OTHER, "amount": "0.4", "currency": "USDT", "rail": "usdt-tron"}
    answer = auth.client.post(
        f"/v1/invoices/{order.invoice_id}/refunds",
        json=body,
        headers={**auth.stepped_up(headers, code=codes[0]), "Idempotency-Key": "dust-1"},
    )
    problem = answer.get_json()
    assert answer.status_code == 422 and problem["code"] == "kept_as_revenue", problem
    assert "0.400000 USDT" in problem["detail"] and "kept" in problem["detail"]
    assert stack.refunds.list_refunds(order.invoice_id) == []
