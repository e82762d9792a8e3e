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

from tests.integration.http.http_support import AuthActions, database_env, fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi
from tests.support.paybill import give_back

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
    give_back(api.paybill, held.id, note="the payer asked for it back")
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


def _paid(api: PaybillApi, phone: str, amount: int, reference: str, **forged: str) -> str:
    """A customer pays our paybill; the confirmation (``forged``: fields changed on its way) and Transaction Status's
    answer are posted to their URLs, as Daraja does; the payment's id."""
    api.mpesa.simulate_c2b(phone, amount, reference)
    (delivery,) = api.mpesa.outbox
    api.mpesa.outbox.clear()
    assert api.client.post(delivery.url.removeprefix(BASE), json={**delivery.payload, **forged}).status_code == 200
    for path, body in status_answers(api):
        assert api.client.post(path, json=body).status_code == 200
    trans_id = forged.get("TransID") or str(delivery.payload["TransID"])
    return next(p.id for p in api.paybill.listed() if p.trans_id == trans_id)


PAYBILL = "/v1/admin/paybill-payments"


def test_staff_list_credit_and_return_paybill_payments_through_the_api_with_four_eyes(api: PaybillApi) -> None:
    """Integrators' tooling: staff list (by state, paged) and read payments (payer masked, audited); a credit and a
    return are each proposed by one officer (a step-up, a note) and carried out only when a second approves (a
    step-up and an Idempotency-Key; the proposer is a 409 ``same_officer``); a return is M-Pesa's Reversal."""
    amina = signed_up(api, "0712000001")
    api.paybill.register_urls(actor="usr_ops")
    first = _paid(api, "0799000001", 300, "acc 17")
    second = _paid(api, "0799000002", 250, "nobody")
    auth = AuthActions(api.client.application, api.client)
    ann, ann_codes = auth.staff("compliance")
    bob, bob_codes = auth.staff("admin")
    personal = WalletApi(api.client, api.services, Path(api.services.settings.data_dir) / "sms.jsonl", api.mpesa)
    assert api.client.get(PAYBILL, headers=personal.login("0712000001")).status_code == 403
    listed = api.client.get(f"{PAYBILL}?state=suspended&limit=1", headers=ann).get_json()
    assert [row["id"] for row in listed["data"]] == [second] and listed["next_cursor"]
    rest = api.client.get(f"{PAYBILL}?state=suspended&limit=1&cursor={listed['next_cursor']}", headers=ann)
    [row] = rest.get_json()["data"]
    assert (row["id"], row["state"], row["amount"], row["proposal"]) == (first, "suspended", _kes("300.00"), None)
    assert row["mpesa_record"] == _kes("300.00") and "0799000001" not in rest.get_data(as_text=True)
    assert api.client.get(f"{PAYBILL}?state=lost", headers=ann).status_code == 422
    assert api.client.get(f"{PAYBILL}/{first}", headers=ann).get_json() == row
    assert api.client.get(f"{PAYBILL}/pbl_nothing", headers=ann).status_code == 404

    credit = f"{PAYBILL}/{first}/credit"
    assert api.client.post(credit, json={"to": "amina", "note": "x"}, headers=ann).status_code == 403  # no step-up
    stepped = auth.stepped_up(ann, code=ann_codes[0])
    assert api.client.post(credit, json={"to": "0712000001", "note": ""}, headers=stepped).status_code == 422
    proposed = api.client.post(credit, json={"to": "0712000001", "note": "the payer called"}, headers=stepped)
    assert proposed.status_code == 200, proposed.get_json()
    assert (proposed.get_json()["proposal"], proposed.get_json()["proposed_to"]) == ("credit", amina)
    approve = f"{PAYBILL}/{first}/approve"
    keyed = lambda headers, key: {**headers, "Idempotency-Key": key}  # noqa: E731
    read = {"proposal": "credit", "proposed_to": amina}
    same = api.client.post(approve, json=read, headers=keyed(auth.stepped_up(ann, code=ann_codes[1]), "ann-1"))
    assert (same.status_code, same.get_json()["code"]) == (409, "same_officer")
    bob_up = auth.stepped_up(bob, code=bob_codes[0])
    assert api.client.post(approve, json=read, headers=keyed(bob, "bob-1")).status_code == 403  # a step-up
    # what the approver read is required: never "whatever is proposed now" (the proposer could re-aim it)
    assert api.client.post(approve, headers=keyed(bob_up, "bob-0")).status_code == 415  # no body
    assert api.client.post(approve, json={}, headers=keyed(bob_up, "bob-01")).status_code == 422
    unaimed = api.client.post(approve, json={"proposal": "credit"}, headers=keyed(bob_up, "bob-00"))
    assert (unaimed.status_code, unaimed.get_json()["code"]) == (422, "invalid_input")
    stale = api.client.post(approve, json={"proposal": "return"}, headers=keyed(bob_up, "bob-2"))
    assert stale.status_code == 409 and api.services.wallets.balances(amina)["KES"].is_zero()
    body = {"proposal": "credit", "proposed_to": amina}
    done = api.client.post(approve, json=body, headers=keyed(auth.stepped_up(bob, code=bob_codes[1]), "bob-3"))
    assert done.status_code == 200 and done.get_json()["state"] == "released", done.get_json()
    again = api.client.post(approve, json=body, headers=keyed(bob, "bob-3"))  # a retry: the first answer
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert api.services.wallets.balances(amina)["KES"] == Money.of(300, KES)

    give = f"{PAYBILL}/{second}/return"
    proposed = api.client.post(give, json={"note": "the payer asked"}, headers=auth.stepped_up(ann, code=ann_codes[2]))
    assert proposed.status_code == 200 and proposed.get_json()["proposal"] == "return"
    assert not [d for d in api.mpesa.outbox if "/paybill/reversal/" in d.url]  # one officer sent nothing
    declined = api.client.post(f"{PAYBILL}/{second}/decline", json={"note": "wrong one"}, headers=bob)
    assert declined.status_code == 200 and declined.get_json()["proposal"] is None
    proposed = api.client.post(give, json={"note": "the payer asked"}, headers=auth.stepped_up(ann, code=ann_codes[3]))
    assert proposed.status_code == 200
    approve = f"{PAYBILL}/{second}/approve"
    sent = api.client.post(
        approve, json={"proposal": "return"}, headers=keyed(auth.stepped_up(bob, code=bob_codes[2]), "b4")
    )
    assert sent.status_code == 200 and sent.get_json()["state"] == "reversing", sent.get_json()
    (result,) = [d for d in api.mpesa.outbox if "/paybill/reversal/result/" in d.url]
    assert api.client.post(result.url.removeprefix(BASE), json=result.payload).status_code == 200
    shown = api.client.get(f"{PAYBILL}/{second}", headers=ann).get_json()
    assert (shown["state"], shown["reversal_by"]) == ("reversed", sent.get_json()["reversal_by"])
    assert set(api.services.ledger.trial_balance().values()) <= {0}
    with api.services.uow() as uow:
        actions = {r.action for r in uow.audit.records()}
    assert {"paybill.credit_proposed", "paybill.credit_same_officer_refused", "paybill.credit_approved"} <= actions
    assert {"paybill.return_proposed", "paybill.return_declined", "paybill.reversal_requested"} <= actions
    assert {"paybill.payments_viewed", "paybill.payment_viewed"} <= actions


def test_a_payment_m_pesa_has_no_record_of_is_neither_credited_nor_returned_through_the_api(api: PaybillApi) -> None:
    """A confirmation of a TransID M-Pesa does not know (its token leaked) ends unverified; two officers may not
    credit it (409 ``invalid_state``, saying to re-verify first) nor return it: nothing is proposed, nothing moves."""
    amina = signed_up(api, "0712000001")
    api.paybill.register_urls(actor="usr_ops")
    forged = _paid(api, "0799000001", 400, "0712000001", TransID="FORGED0002")
    auth = AuthActions(api.client.application, api.client)
    ann, codes = auth.staff("compliance")
    for action, body in (("credit", {"to": "amina", "note": "the payer insists"}), ("return", {"note": "give it"})):
        refused = api.client.post(
            f"{PAYBILL}/{forged}/{action}", json=body, headers=auth.stepped_up(ann, code=codes.pop())
        )
        assert (refused.status_code, refused.get_json()["code"]) == (409, "invalid_state"), refused.get_json()
        assert "re-verify" in refused.get_json()["detail"]
    shown = api.client.get(f"{PAYBILL}/{forged}", headers=ann).get_json()
    assert (shown["state"], shown["proposal"], shown["mpesa_record"]) == ("unverified", None, None)
    assert api.services.wallets.balances(amina)["KES"].is_zero()
    asked = api.client.post(f"{PAYBILL}/{forged}/reverify", json={"note": "ask again"}, headers=ann)
    assert asked.status_code == 200 and asked.get_json()["state"] == "verifying"


def _kes(amount: str) -> dict[str, str]:
    return {"amount": amount, "asset": "KES"}
