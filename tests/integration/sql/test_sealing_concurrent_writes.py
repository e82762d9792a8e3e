"""The sealing pass (``cryptopay privacy seal --all``, ``cryptopay db upgrade``) runs against the live database: a
request's write between a batch's read and its rewrite is never undone (reader2 L2-6: a payout completed by M-Pesa's
callback went back to ``unknown``). Document tables rewrite only over the stored text they read; the other tables
read their batch ``FOR UPDATE``. On PostgreSQL, where requests and the pass really run side by side."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.personal import SEALED_PREFIX, PersonalData
from cryptopay.adapters.sql.sealing import seal_personal_data
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.adapters.vault import EnvelopeVault, generate_kek
from cryptopay.core.compliance.cases import Alert, AlertStatus
from cryptopay.core.payouts import PayoutState
from sqlalchemy.engine import Engine

from tests.support.sql_backends import postgres_database
from tests.unit.reconciliation.test_reconciliation_unknown_payouts import AT, b2b_payout

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class _Interrupting:
    """A key vault that, the first time it seals once armed, lets a request run (the pass is then between a batch's
    read and its rewrite); everything else goes to the real vault."""

    def __init__(self, vault: EnvelopeVault) -> None:
        self._vault = vault
        self.request: Callable[[], None] | None = None

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        request, self.request = self.request, None
        if request is not None:
            request()
        return self._vault.encrypt(plaintext, context=context)

    def decrypt(self, blob: bytes, *, context: str) -> bytes:
        return self._vault.decrypt(blob, context=context)

    def rewrap(self, blob: bytes, *, context: str) -> bytes:
        return self._vault.rewrap(blob, context=context)

    @property
    def current_key_id(self) -> str:
        return self._vault.current_key_id


@pytest.fixture
def engine(postgres_admin_url: str) -> Iterator[Engine]:
    with postgres_database(postgres_admin_url, "cryptopay_sealrace") as url:
        found = make_engine(url)
        yield found
        found.dispose()


def _storages(engine: Engine) -> tuple[SqlStorage, SqlStorage, SqlStorage, _Interrupting]:
    """Storage before a KEK rotation; the requests' and the pass's after it (the new KEK first, the old one after)."""
    lookup, old, new = secrets.token_bytes(32), f"old:{generate_kek()}", f"new:{generate_kek()}"
    before = SqlStorage(engine, personal=PersonalData(EnvelopeVault.from_spec(old), lookup))
    requests = SqlStorage(engine, personal=PersonalData(EnvelopeVault.from_spec(f"{new},{old}"), lookup))
    vault = _Interrupting(EnvelopeVault.from_spec(f"{new},{old}"))
    return before, requests, SqlStorage(engine, personal=PersonalData(vault, lookup)), vault


def test_a_payout_completed_while_the_pass_rewrites_it_stays_completed(engine: Engine) -> None:
    before, requests, sealing, vault = _storages(engine)
    with before.unit_of_work() as uow:
        uow.payouts.add(b2b_payout("po_1", PayoutState.UNKNOWN, "0170123456789", sent=AT))

    def callback_completes() -> None:
        with requests.unit_of_work() as uow:
            payout = uow.payouts.get("po_1")
            assert payout is not None
            payout.state, payout.receipt = PayoutState.COMPLETED, "SBXPAID01"
            uow.payouts.update(payout)

    vault.request = callback_completes
    assert seal_personal_data(sealing, all_rows=True)["payouts"] == 1
    assert vault.request is None  # the request did run mid-pass
    with sealing.unit_of_work() as uow:
        payout = uow.payouts.get("po_1")
        assert payout is not None
        assert (payout.state, payout.receipt) == (PayoutState.COMPLETED, "SBXPAID01")
        assert payout.b2b is not None and payout.b2b.account_reference == "0170123456789"
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("select doc from payouts where id = 'po_1'").scalar_one()
    assert "0170123456789" not in stored and SEALED_PREFIX in stored


def test_an_alert_put_in_a_case_while_the_pass_rewrites_it_stays_in_the_case(engine: Engine) -> None:
    """An alert has no version and its rewrite is in place (no repository read): its batch is read ``FOR UPDATE``,
    so the request waits for the batch's commit and then writes its own version."""
    before, requests, sealing, vault = _storages(engine)
    alert = Alert(
        id="alr_1",
        key="round-trip:1:mv_1",
        rule_id="round-trip",
        rule_version=1,
        kind="round_trip",
        party_id="usr_1",
        movement_id="mv_1",
        created_at=NOW,
        evidence={"counterparty": "254744555666", "earlier": "2000"},
    )
    with before.unit_of_work() as uow:
        assert uow.alerts.add(alert)

    def officer_opens_a_case() -> None:
        with requests.unit_of_work() as uow:
            found = uow.alerts.get("alr_1")
            assert found is not None
            found.status, found.case_id = AlertStatus.IN_CASE, "case_1"
            uow.alerts.update(found)

    officer = threading.Thread(target=officer_opens_a_case)
    waited: list[bool] = []

    def in_parallel() -> None:
        officer.start()
        officer.join(timeout=1.0)
        waited.append(officer.is_alive())

    vault.request = in_parallel
    assert seal_personal_data(sealing, all_rows=True)["compliance_alerts"] == 1
    officer.join(timeout=30)
    assert not officer.is_alive()
    assert waited == [True]  # the request waited for the batch instead of writing between its read and rewrite
    with sealing.unit_of_work() as uow:
        found = uow.alerts.get("alr_1")
        assert found is not None
        assert (found.status, found.case_id) == (AlertStatus.IN_CASE, "case_1")
        assert found.evidence["counterparty"] == "254744555666"
