"""Daraja's C2B hooks: a payment to our paybill comes to the registered URL's token, is booked once, and a forged
one (any other token) is a 403 problem that writes nothing; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Services, build, ready
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.core.wallets.paybill import Paybill, PaybillState
from flask.testing import FlaskClient

from tests.integration.http.http_support import database_env, fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi

BASE = "https://pay.example.com"


@attrs.define
class PaybillApi:
    client: FlaskClient
    services: Services
    mpesa: FakeMobileMoney
    paybill: Paybill


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PaybillApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": BASE}
    with database_env(request, env, "cryptopay_http_paybill") as settings:
        root = build(RootSettings.from_env(settings))
        try:
            mpesa = FakeMobileMoney(clock=root.clock)  # the shell cannot reach Safaricom here
            desk = Paybill(
                root.uow,
                root.ledger,
                lambda: mpesa,
                f"{BASE}/hooks/daraja/paybill",
                mpesa.shortcode,
                root.clock,
                root.ids,
            )
            services = attrs.evolve(root, password_hasher=ready(fast_hasher()), paybill=ready(desk))
            yield PaybillApi(make_app(services).test_client(), services, mpesa, desk)
        finally:
            root.close()


def signed_up(api: PaybillApi, phone: str) -> str:
    """A wallet for ``phone`` made through the API; its user id."""
    wallets = WalletApi(api.client, api.services, Path(api.services.settings.data_dir) / "sms.jsonl", api.mpesa)
    return str(wallets.sign_up(phone)["user"]["id"])


def status_answers(api: PaybillApi) -> list[tuple[str, object]]:
    """The worker's turn: Transaction Status asked about the payments due; M-Pesa's answers (path, body) to post."""
    api.paybill.verify_due()
    answers = [(d.url.removeprefix(BASE), d.payload) for d in api.mpesa.outbox if "/paybill/status/" in d.url]
    api.mpesa.outbox.clear()
    return answers


def test_a_paybill_payment_posted_to_its_token_url_credits_the_wallet_once(api: PaybillApi) -> None:
    """Registered URLs, a customer pays with the wallet's number as the account: validation accepts, the
    confirmation (twice, as Daraja does) is recorded once and books nothing until Transaction Status, asked by the
    worker, answers on its own URL that M-Pesa completed it: then KES 250 is credited once (the answer twice too);
    the books balance."""
    user_id = signed_up(api, "0712000001")
    api.paybill.register_urls(actor="usr_ops")
    validation = api.mpesa.c2b_validation_url() or ""
    api.mpesa.simulate_c2b("0799000001", 250, "0712000001")
    (delivery,) = api.mpesa.outbox
    asked = api.client.post(validation.removeprefix(BASE), json=delivery.payload)
    assert asked.status_code == 200 and asked.get_json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    path = delivery.url.removeprefix(BASE)
    assert path.startswith("/hooks/daraja/paybill/confirmation/")
    for _ in range(2):
        answer = api.client.post(path, json=delivery.payload)
        assert answer.status_code == 200 and answer.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    (waiting,) = api.paybill.listed()
    assert waiting.state is PaybillState.VERIFYING and api.services.wallets.balances(user_id)["KES"].is_zero()
    api.mpesa.outbox.clear()
    ((status_path, body),) = status_answers(api)
    assert status_path.startswith("/hooks/daraja/paybill/status/result/")
    assert api.client.post(status_path.rsplit("/", 1)[0] + "/not-our-token", json=body).status_code == 403
    for _ in range(2):  # Daraja repeats itself here too
        answer = api.client.post(status_path, json=body)
        assert answer.status_code == 200 and answer.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    (payment,) = api.paybill.listed()
    assert payment.state is PaybillState.CREDITED and payment.user_id == user_id and payment.repeats == 1
    assert api.services.wallets.balances(user_id)["KES"] == Money.of(250, KES)
    assert set(api.services.ledger.trial_balance().values()) == {0}


def test_a_forged_confirmation_is_refused_and_writes_nothing(api: PaybillApi) -> None:
    """Any token but the registration's (or a body that is no C2B payment) is refused; nothing is booked."""
    signed_up(api, "0712000001")
    api.paybill.register_urls(actor="usr_ops")
    api.mpesa.simulate_c2b("0799000001", 250, "0712000001")
    (delivery,) = api.mpesa.outbox
    for kind in ("confirmation", "validation"):
        forged = api.client.post(f"/hooks/daraja/paybill/{kind}/not-our-token", json=delivery.payload)
        assert forged.status_code == 403 and forged.content_type == "application/problem+json"
    stk = {"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": "2", "ResultCode": 1032}}}
    assert api.client.post(delivery.url.removeprefix(BASE), json=stk).status_code == 422
    assert api.paybill.listed() == []


def test_a_confirmation_m_pesa_never_made_on_a_valid_token_credits_nothing(api: PaybillApi) -> None:
    """Whoever learnt the registration's token posts a confirmation of a TransID M-Pesa does not know: it is
    recorded and verified, Transaction Status answers "not found", and it ends unverified: nothing booked, audited."""
    user_id = signed_up(api, "0712000001")
    api.paybill.register_urls(actor="usr_ops")
    api.mpesa.simulate_c2b("0799000001", 250, "0712000001")
    (delivery,) = api.mpesa.outbox
    api.mpesa.outbox.clear()
    forged = {**delivery.payload, "TransID": "FORGED0001", "TransAmount": "90000.00"}
    assert api.client.post(delivery.url.removeprefix(BASE), json=forged).status_code == 200
    ((status_path, body),) = status_answers(api)
    assert api.client.post(status_path, json=body).status_code == 200
    payment = next(p for p in api.paybill.listed() if p.trans_id == "FORGED0001")
    assert payment.state is PaybillState.UNVERIFIED and "does not know" in payment.reason
    assert api.services.wallets.balances(user_id)["KES"].is_zero()
    assert set(api.services.ledger.trial_balance().values()) <= {0}
    with api.services.uow() as uow:
        assert "paybill.unverified" in {r.action for r in uow.audit.records()}


def test_a_reversal_result_comes_to_its_own_token_url_and_names_its_request(api: PaybillApi) -> None:
    """An operator returns a payment held in suspense: M-Pesa's Reversal result posted to another token, or on the
    timeout URL, is a 403 that changes nothing; on its own URL (twice, as Daraja repeats) it marks it reversed."""
    signed_up(api, "0712000001")
    api.paybill.register_urls(actor="usr_ops")
    api.mpesa.simulate_c2b("0799000001", 250, "nobody")
    (delivery,) = api.mpesa.outbox
    api.mpesa.outbox.clear()
    assert api.client.post(delivery.url.removeprefix(BASE), json=delivery.payload).status_code == 200
    for path, body in status_answers(api):
        assert api.client.post(path, json=body).status_code == 200
    (held,) = api.paybill.listed()
    assert held.state is PaybillState.SUSPENDED
    api.paybill.reverse(held.id, actor="usr_ops", note="the payer asked for it back")
    (result,) = [d for d in api.mpesa.outbox if "/paybill/reversal/" in d.url]
    path = result.url.removeprefix(BASE)
    assert path.startswith("/hooks/daraja/paybill/reversal/result/")
    for forged in (path.rsplit("/", 1)[0] + "/not-our-token", path.replace("/result/", "/timeout/")):
        answer = api.client.post(forged, json=result.payload)
        assert answer.status_code == 403 and answer.content_type == "application/problem+json"
    assert api.paybill.get(held.id).state is PaybillState.REVERSING
    for _ in range(2):
        answer = api.client.post(path, json=result.payload)
        assert answer.status_code == 200 and answer.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert api.paybill.get(held.id).state is PaybillState.REVERSED
    assert set(api.services.ledger.trial_balance().values()) <= {0}
