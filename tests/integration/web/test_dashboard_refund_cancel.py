"""The invoice page's refund and cancel buttons: a confirmation box, the password for money leaving (a step-up),
a form key so a double press refunds once, refusals shown on the page, and the team roles of the REST API."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.http.test_http_teams import join
from tests.integration.http_review.test_outside_review_dashboard import _page_login as page_login
from tests.integration.web.test_dashboard_pages import EMAIL, _csrf, _keyed, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _hidden(html: str, form_action: str) -> dict[str, str]:
    """The hidden fields (CSRF token, form key) of the form posting to ``form_action``."""
    start = html.index(f'action="{form_action}"')
    form = html[start : html.index("</form>", start)]
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))


def _invoice(client: FlaskClient, amount: str = "1300", *, currency: str = "KES") -> str:
    form = client.get("/dashboard/invoices/new").text
    body = {**_keyed(form), "amount": amount, "currency": currency, "rails": ["usdt-tron"], "order_id": "R-1"}
    made = client.post("/dashboard/invoices/new", data=body)
    assert made.status_code == 303, made.text
    return str(made.headers["Location"].rsplit("/", 1)[1])


def _settled(client: FlaskClient, stack) -> str:
    invoice_id = _invoice(client)
    stack.pay(invoice_id)
    stack.confirm(3)
    return invoice_id


def _refund_form(client: FlaskClient, invoice_id: str, **fields: str) -> dict[str, str]:
    page = client.get(f"/dashboard/invoices/{invoice_id}").text
    action = f"/dashboard/invoices/{invoice_id}/refunds"
    return {**_hidden(page, action), "rail": "usdt-tron", "address": CUSTOMER, "confirm": "yes", **fields}


def test_a_refund_needs_the_password_and_a_double_press_sends_it_once(client, owner, stack):
    """Without the password the refund is refused on the page (403) and nothing is held; with it, the refund is
    requested; the same form posted again replays the first answer instead of refunding twice."""
    _log_in(client)
    invoice_id = _settled(client, stack)
    page = client.get(f"/dashboard/invoices/{invoice_id}").text
    assert "Refund the customer" in page and "Cancel invoice" not in page
    action = f"/dashboard/invoices/{invoice_id}/refunds"
    refused = client.post(action, data=_refund_form(client, invoice_id, amount="1", currency="USDT", password="x"))
    assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert stack.refunds.list_refunds(invoice_id) == []
    form = _refund_form(client, invoice_id, amount="1", currency="USDT", password=PASSWORD)
    done = client.post(action, data=form)
    assert done.status_code == 303 and "refunded=" in done.headers["Location"]
    again = client.post(action, data=form)
    assert again.status_code == 303 and again.headers["Location"] == done.headers["Location"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    (refund,) = stack.refunds.list_refunds(invoice_id)
    assert str(refund.amount) == "USDT 1.000000" or refund.amount.amount == 1
    shown = client.get(done.headers["Location"]).text
    assert refund.id in shown and CUSTOMER in shown and "requested" in shown


def test_a_refund_without_the_confirmation_or_beyond_what_was_received_changes_nothing(client, owner, stack):
    """An unticked box is a 422; more than the invoice received is the use case's refusal, shown on the page."""
    _log_in(client)
    invoice_id = _settled(client, stack)
    action = f"/dashboard/invoices/{invoice_id}/refunds"
    unconfirmed = _refund_form(client, invoice_id, amount="1", currency="USDT", password=PASSWORD, confirm="")
    answer = client.post(action, data=unconfirmed)
    assert answer.status_code == 422 and "tick the box" in answer.text
    too_much = _refund_form(client, invoice_id, amount="5000", currency="USDT", password=PASSWORD)
    refused = client.post(action, data=too_much)
    assert refused.status_code in (409, 422) and 'role="alert"' in refused.text
    bad = client.post(action, data=_refund_form(client, invoice_id, amount="lots", currency="USDT", password=PASSWORD))
    assert bad.status_code == 422 and "enter an amount" in bad.text
    # the refusal is read on the amount's field, which keeps what was typed
    assert 'id="refund-amount" name="amount" aria-invalid="true" aria-describedby="refusal"' in bad.text
    assert 'value="lots"' in bad.text and '<p role="alert" class="error" id="refusal">' in bad.text
    assert stack.refunds.list_refunds(invoice_id) == []


def test_a_refund_form_without_its_csrf_token_or_form_key_is_refused(client, owner, stack):
    """A cross-site post is a 403; a post without the form key is a 400; neither refunds anything."""
    _log_in(client)
    invoice_id = _settled(client, stack)
    action = f"/dashboard/invoices/{invoice_id}/refunds"
    form = _refund_form(client, invoice_id, amount="1", currency="USDT", password=PASSWORD)
    assert client.post(action, data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 403
    assert client.post(action, data={k: v for k, v in form.items() if k != "idempotency_key"}).status_code == 400
    assert stack.refunds.list_refunds(invoice_id) == []


def test_cancel_an_open_invoice_and_a_paid_one_is_refused_on_the_page(client, owner, stack):
    """An open invoice with nothing received is cancelled after the box is ticked; one that received money is not
    offered the button, and a forced post shows the use case's refusal (409)."""
    _log_in(client)
    open_id = _invoice(client)
    page = client.get(f"/dashboard/invoices/{open_id}").text
    action = f"/dashboard/invoices/{open_id}/cancel"
    assert "Cancel invoice" in page and "Refund the customer" not in page
    unticked = client.post(action, data=_hidden(page, action))
    assert unticked.status_code == 422 and stack.invoicing.get_invoice(open_id).state.value == "new"
    done = client.post(action, data={**_hidden(page, action), "confirm": "yes"})
    assert done.status_code == 303 and stack.invoicing.get_invoice(open_id).state.value == "cancelled"
    assert "The invoice is cancelled" in client.get(done.headers["Location"]).text
    paid_id = _invoice(client)
    stack.pay(paid_id)
    stack.tick(minutes=1)
    paid_page = client.get(f"/dashboard/invoices/{paid_id}").text
    assert "Cancel invoice" not in paid_page
    forced = {"csrf_token": _csrf(paid_page), "idempotency_key": "forced-1", "confirm": "yes"}
    refused = client.post(f"/dashboard/invoices/{paid_id}/cancel", data=forced)
    assert refused.status_code == 409 and 'role="alert"' in refused.text
    assert stack.invoicing.get_invoice(paid_id).state.value != "cancelled"


def test_staff_sees_no_refund_button_and_cannot_refund_or_cancel_finance_can_refund(
    app, client, auth, services, owner, stack
):
    """Staff reads the invoice but its refund and cancel posts are 403s; finance refunds with its own password."""
    _log_in(client)
    invoice_id = _settled(client, stack)
    open_id = _invoice(client)
    owner_headers = bearer(auth.login(EMAIL)["access_token"])
    join(client, auth, services, owner_headers, "staff@duka.example", "staff")
    join(client, auth, services, owner_headers, "fin@duka.example", "finance")
    staff = app.test_client()
    token = page_login(staff, "staff@duka.example")
    page = staff.get(f"/dashboard/invoices/{invoice_id}").text
    assert "Refund the customer" not in page
    form = {"csrf_token": token, "idempotency_key": "s1", "address": CUSTOMER, "confirm": "yes", "password": PASSWORD}
    assert staff.post(f"/dashboard/invoices/{invoice_id}/refunds", data=form).status_code == 403
    assert staff.post(f"/dashboard/invoices/{open_id}/cancel", data=form).status_code == 403
    finance = app.test_client()
    page_login(finance, "fin@duka.example")
    action = f"/dashboard/invoices/{invoice_id}/refunds"
    done = finance.post(action, data=_refund_form(finance, invoice_id, amount="1", currency="USDT", password=PASSWORD))
    assert done.status_code == 303
    assert len(stack.refunds.list_refunds(invoice_id)) == 1
