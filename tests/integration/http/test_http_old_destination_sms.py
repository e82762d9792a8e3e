"""#12 finding 4 over HTTP: after a step-up, a payout phone change texts the OLD number through the SMS simulator.

The app runs on the composition root's real parts (SQLite) with ``CRYPTOPAY_SMS_*`` pointing at the sandbox's
Africa's Talking simulator, so the request, the root's wiring, the adapter's wire format and the audit are all real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build, ready
from cryptopay.core.identity.old_destination import ACTION
from cryptopay.sandbox._server import serve_in_thread
from cryptopay.sandbox.sms import SANDBOX_API_KEY, SANDBOX_USERNAME, SmsSimulatorState, create_sms_simulator

from tests.integration.http.http_support import SETTLEMENT, AuthActions, fast_hasher, make_app

OLD, NEW = "254712345678", "254799999999"  # SETTLEMENT's destination, and the one it changes to


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[tuple[AuthActions, Services, SmsSimulatorState]]:
    """The app over the root's SQLite services, with the SMS simulator as its Africa's Talking."""
    state = SmsSimulatorState()
    with serve_in_thread(create_sms_simulator(state)) as simulator:
        env = {
            "CRYPTOPAY_DATA_DIR": str(tmp_path),
            "CRYPTOPAY_SMS_PROVIDER": "africastalking",
            "CRYPTOPAY_SMS_BASE_URL": simulator.url,
            "CRYPTOPAY_SMS_USERNAME": SANDBOX_USERNAME,
            "CRYPTOPAY_SMS_API_KEY": SANDBOX_API_KEY,
            "CRYPTOPAY_SMS_SENDER_ID": "CRYPTOPAY",
        }
        root = build(Settings.from_env(env))
        try:
            app = make_app(attrs.evolve(root, password_hasher=ready(fast_hasher())))
            yield AuthActions(app, app.test_client()), root, state
        finally:
            root.close()


def _notices(services: Services) -> list[dict[str, str]]:
    with services.uow() as uow:
        return [dict(record.details) for record in uow.audit.records() if record.action == ACTION]


def test_a_stepped_up_destination_change_texts_the_old_number(wired):
    """Without a step-up nothing is sent; with one, the old phone gets one SMS naming the new one masked, audited."""
    auth, services, simulator = wired
    headers, merchant_id = auth.merchant()
    change = {"settlement": {**SETTLEMENT, "destination": "0799999999"}}
    refused = auth.client.patch(f"/v1/merchants/{merchant_id}", json=change, headers=headers)
    assert refused.status_code == 403 and simulator.outbox == []
    changed = auth.client.patch(f"/v1/merchants/{merchant_id}", json=change, headers=auth.stepped_up(headers))
    assert changed.status_code == 200, changed.json
    (sms,) = simulator.sent_to(OLD)
    assert "ending 999" in sms.text and "Not you?" in sms.text and NEW not in sms.text and sms.sender == "CRYPTOPAY"
    assert simulator.sent_to(NEW) == []
    assert _notices(services) == [{"outcome": "sent", "message_id": sms.message_id, "to": "2547******78"}]


def test_a_blacklisted_old_number_still_changes_the_destination_and_audits_the_failure(wired):
    """The provider refusing the old number neither blocks nor undoes the change; the failure is on record."""
    auth, services, simulator = wired
    simulator.scenarios[OLD] = "blacklisted"
    headers, merchant_id = auth.merchant()
    change = {"settlement": {**SETTLEMENT, "destination": "0799999999"}}
    changed = auth.client.patch(f"/v1/merchants/{merchant_id}", json=change, headers=auth.stepped_up(headers))
    assert changed.status_code == 200 and changed.json["settlement"]["destination"].endswith("999")
    (notice,) = _notices(services)
    assert notice["outcome"] == "failed" and "UserInBlacklist" in notice["reason"] and simulator.outbox == []
