"""The Daraja hooks' defences over HTTP: source first, then rate limit, then body, then token; secrets never logged."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
from cryptopay.adapters.bootstrap import build
from cryptopay.adapters.bootstrap.settings import Settings
from cryptopay.core.redaction import redact
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_http.blueprints.daraja_hooks import UNVOUCHED_LIMIT_PER_MINUTE
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.integration.http.http_support import make_app
from tests.integration.http_payments.payments_support import Shop, daraja_body, hook_path, submit_a_payout
from tests.support.services import allow_daraja_sources

SAFARICOM = {"REMOTE_ADDR": "196.201.214.200"}


def sent_payout(client: FlaskClient, stack: PaymentsStack, shop: Shop) -> tuple[str, str]:
    """A paid invoice settled into one submitted payout; the path and body of its (held back) result callback."""
    submit_a_payout(client, stack, shop)
    (delivery,) = stack.mpesa.outbox
    stack.mpesa.outbox.clear()
    return hook_path(delivery.url), daraja_body(delivery.payload)


def audit_rows(stack: PaymentsStack) -> int:
    return len(stack.storage.audit_records())


def test_a_forged_token_gets_the_same_answer_whether_or_not_the_payout_exists_and_writes_nothing(client, stack, shop):
    """Naming a real payout or none, a forged token is the same 403 problem, and nothing durable is written."""
    path, body = sent_payout(client, stack, shop)
    forged = path.rsplit("/", 1)[0] + "/forged-token"
    before = audit_rows(stack)
    real = client.post(forged, data=body, content_type="application/json")
    originator = json.loads(body)["Result"]["OriginatorConversationID"]
    nobody = body.replace(originator, "nobody")
    stray = client.post(forged, data=nobody, content_type="application/json")
    assert real.status_code == stray.status_code == 403
    assert real.get_data() == stray.get_data() and b"forged-token" not in real.get_data()
    assert audit_rows(stack) == before and stack.payouts.match_kept_answers() == []


def test_the_source_is_checked_before_the_body_is_read(app, client):
    """With an allowlist, a stranger's unreadable body is a 403 (not a 422): the body was never parsed."""
    allow_daraja_sources(app, "safaricom")
    stranger = client.post("/hooks/daraja/payouts/result/tok", data="[1, 2", content_type="application/json")
    assert stranger.status_code == 403
    vouched = client.post(
        "/hooks/daraja/payouts/result/tok", data="[1, 2", content_type="application/json", environ_base=SAFARICOM
    )
    assert vouched.status_code == 422


def test_callers_no_allowlist_vouches_for_are_rate_limited(client):
    """Past the per-address limit, an unvouched caller gets 429 before its body is read."""
    answers = [
        client.post("/hooks/daraja/status/result/tok", data="{}", content_type="application/json").status_code
        for _ in range(UNVOUCHED_LIMIT_PER_MINUTE + 1)
    ]
    assert set(answers[:-1]) == {422} and answers[-1] == 429


def test_an_unknown_token_from_an_allowed_source_is_kept_and_matched_later(app, client, stack, shop):
    """From Safaricom's address, an answer whose token we never issued is acknowledged, kept, and matched by id."""
    allow_daraja_sources(app, "safaricom")
    path, body = sent_payout(client, stack, shop)
    lost = path.rsplit("/", 1)[0] + "/a-token-whose-record-was-lost"
    answer = client.post(lost, data=body, content_type="application/json", environ_base=SAFARICOM)
    assert answer.status_code == 200 and answer.json["ResultCode"] == 0
    assert client.get("/v1/payouts", headers=shop.headers).json["data"][0]["state"] == "submitted"
    [matched] = stack.payouts.match_kept_answers()
    assert matched.check_at == stack.clock.now()


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a real werkzeug server (its access log on), on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_no_callback_token_reaches_any_log_line(served, stack, shop, client, caplog):
    """werkzeug's access log, any httpx/httpcore line and a logged traceback never show a callback token (httpx's
    per-request lines are off where ``logs.configure`` ran: review8 R4)."""
    path, body = sent_payout(client, stack, shop)
    token = path.rsplit("/", 1)[1]
    caplog.set_level(logging.DEBUG)
    with httpx.Client() as http:
        answer = http.post(served + path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    try:
        raise RuntimeError(f"could not reach {served}{path}")
    except RuntimeError:
        logging.getLogger("cryptopay.test").exception("a failure naming the callback URL")
    lines = [caplog.handler.format(record) for record in caplog.records]
    assert any("/hooks/daraja/payouts/result/<redacted>" in line for line in lines)
    assert any(record.name == "werkzeug" for record in caplog.records)
    assert not [line for line in lines if token in line]


def test_every_hook_route_with_a_token_is_redacted(app):
    """Walking the real app's routes: every /hooks/ path ending in a token (stk, payouts, status, balance) is redacted."""
    token = "GNMH5pQ2xyD8-secret_Tok"
    hooks = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/hooks/") and rule.arguments]
    assert {"/hooks/daraja/stk/<token>", "/hooks/daraja/payouts/result/<token>"} <= {r.rule for r in hooks}
    for rule in hooks:
        path = rule.rule.replace("<token>", token)
        assert "<" not in path, rule.rule  # a hook whose secret is not named <token>: teach this test about it
        assert token not in redact(f'"POST {path} HTTP/1.1" 200'), rule.rule
        assert redact(f"https://pay.example.com{path}?x=1").endswith("/<redacted>?x=1"), rule.rule


def test_a_callback_to_a_server_without_daraja_settings_is_told_nothing_of_them(tmp_path, caplog):
    """Without Daraja settings a callback gets a generic problem, never the settings' names, which are logged only: a
    503 where the handler needs the Daraja client, a 403 for a payout or status result, whose unknown token is refused
    without it (payouts build the client only when they ask M-Pesa, review 3 I8)."""
    client = make_app(build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path)}))).test_client()
    for path, status in (
        ("/hooks/daraja/payouts/result/tok", 403),
        ("/hooks/daraja/status/result/tok", 403),
        ("/hooks/daraja/balance/result/tok", 503),
    ):
        answer = client.post(path, data=json.dumps({"Result": {"ResultCode": 0}}), content_type="application/json")
        assert answer.status_code == status and "CRYPTOPAY" not in answer.get_data(as_text=True), path
    assert "CRYPTOPAY_MPESA_CONSUMER_KEY" in caplog.text
