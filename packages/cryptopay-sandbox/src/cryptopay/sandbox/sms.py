"""SMS simulator: Africa's Talking's ``POST /version1/messaging`` (form-encoded, ``apiKey`` header, JSON answer).

It checks the username and API key (401 otherwise, as the provider does), answers per recipient in
``SMSMessageData.Recipients[]`` (``statusCode`` 101 ``Success`` with an ``ATXid_`` message id and a cost), and keeps
every accepted message in an outbox tests and developers can read. Scenarios script a number:

- ``blacklisted``: 406 ``UserInBlacklist``; ``invalid``: 403 ``InvalidPhoneNumber``; ``no_balance``: 405
  ``InsufficientBalance``; ``ok``: back to normal. A number not in ``+<digits>`` form is 403 as well.

Control API: ``GET /_sandbox/sms/outbox[?to=2547...]``, ``POST /_sandbox/sms/scenarios/<number>``
``{"scenario": "blacklisted"}``, ``POST /_sandbox/sms/reset``; ``POST /_sim/fail {"count": n}`` makes the next n
requests an HTTP 500.
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

import attrs
from cryptopay.sandbox._sim import add_outage, json_body
from flask import Flask, Response, jsonify, request

__all__ = ["SANDBOX_API_KEY", "SANDBOX_USERNAME", "SCENARIOS", "SentSms", "SmsSimulatorState", "create_sms_simulator"]

SANDBOX_USERNAME = "sandbox"
SANDBOX_API_KEY = "atsk_sandbox_key"
COST = "KES 0.8000"
SCENARIOS = {
    "ok": (101, "Success"),
    "blacklisted": (406, "UserInBlacklist"),
    "invalid": (403, "InvalidPhoneNumber"),
    "no_balance": (405, "InsufficientBalance"),
}
_NUMBER = re.compile(r"\+\d{10,14}", re.ASCII)


@attrs.frozen
class SentSms:
    """One accepted message, as the provider saw it (``to`` without the ``+``)."""

    message_id: str
    to: str
    text: str
    sender: str | None


@attrs.define
class SmsSimulatorState:
    """The outbox and the per-number scenarios; thread-safe through ``lock``."""

    username: str = SANDBOX_USERNAME
    api_key: str = SANDBOX_API_KEY
    outbox: list[SentSms] = attrs.Factory(list)
    scenarios: dict[str, str] = attrs.Factory(dict)
    failures_left: int = 0
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def sent_to(self, number: str) -> list[SentSms]:
        """Accepted messages to ``number`` (``2547…``, with or without ``+``), oldest first."""
        wanted = number.lstrip("+")
        with self.lock:
            return [sms for sms in self.outbox if sms.to == wanted]

    def reset(self) -> None:
        with self.lock:
            self.outbox.clear()
            self.scenarios.clear()
            self.failures_left = 0

    def deliver(self, number: str, text: str, sender: str | None) -> dict[str, Any]:
        """The recipient entry for ``number``; an accepted message goes to the outbox."""
        digits = number.lstrip("+")
        code, status = SCENARIOS[self.scenarios.get(digits, "ok")]
        if not _NUMBER.fullmatch(number):
            code, status = SCENARIOS["invalid"]
        if code != 101:
            return {"statusCode": code, "number": number, "status": status, "cost": "0", "messageId": "None"}
        message_id = f"ATXid_{uuid.uuid4().hex}"
        with self.lock:
            self.outbox.append(SentSms(message_id, digits, text, sender))
        return {"statusCode": code, "number": number, "status": status, "cost": COST, "messageId": message_id}


def _send(state: SmsSimulatorState) -> Response:
    form = request.form
    if request.headers.get("apiKey") != state.api_key or form.get("username") != state.username:
        return Response("The supplied authentication is invalid", status=401, mimetype="text/plain")
    numbers = [n.strip() for n in form.get("to", "").split(",") if n.strip()]
    text = form.get("message", "")
    if not numbers or not text:
        return Response("Request is missing required form field 'to' or 'message'", status=400, mimetype="text/plain")
    recipients = [state.deliver(number, text, form.get("from") or None) for number in numbers]
    sent = sum(1 for r in recipients if r["statusCode"] == 101)
    cost = f"KES {sent * 0.8:.4f}" if sent else "0"
    body = {
        "SMSMessageData": {"Message": f"Sent to {sent}/{len(numbers)} Total Cost: {cost}", "Recipients": recipients}
    }
    response = jsonify(body)
    response.status_code = 201
    return response


def _control(app: Flask, state: SmsSimulatorState) -> None:
    @app.get("/_sandbox/sms/outbox")
    def outbox() -> Any:
        wanted = request.args.get("to")
        with state.lock:
            messages = [m for m in state.outbox if wanted is None or m.to == wanted.lstrip("+")]
        return jsonify(messages=[attrs.asdict(m) for m in messages])

    @app.post("/_sandbox/sms/scenarios/<number>")
    def scenario(number: str) -> Any:
        name = str(json_body().get("scenario", "ok"))
        if name not in SCENARIOS:
            return jsonify(error=f"need a scenario in {sorted(SCENARIOS)}"), 400
        with state.lock:
            state.scenarios[number.lstrip("+")] = name
        return jsonify(number=number, scenario=name)

    @app.post("/_sandbox/sms/reset")
    def reset() -> Any:
        state.reset()
        return jsonify(reset=True)


def create_sms_simulator(state: SmsSimulatorState | None = None) -> Flask:
    """The SMS simulator as a Flask app; pass a ``state`` to read its outbox and script it in-process."""
    app = Flask("cryptopay-sms-simulator")
    the_state = state or SmsSimulatorState()
    app.extensions["sms_simulator"] = the_state
    add_outage(app, the_state, lambda: Response("Internal Server Error", status=500, mimetype="text/plain"))

    @app.post("/version1/messaging")
    def send() -> Response:
        return _send(the_state)

    _control(app, the_state)
    return app
