"""Webhook repositories in a unit of work: the same behaviour from the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql.repositories.webhooks import SecretCipher, SqlWebhookEndpoints
from cryptopay.adapters.sql.tables_webhooks import webhook_endpoints
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.adapters.vault.envelope import EnvelopeVault, generate_kek
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.testing.queue import FakeQueue
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.testing.webhooks import RecordingSender, webhook_storage
from cryptopay.core.webhooks.model import (
    DeliveryStatus,
    EndpointChanged,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from cryptopay.core.webhooks.service import (
    DuplicateEndpoint,
    create_endpoint,
    deliver_webhook,
    fan_out,
    redeliver_webhook,
)

from tests.support.sql_engines import SQL_BACKENDS, backend_engine, race

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SECRET = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
VAULT = EnvelopeVault.from_spec(f"k1:{generate_kek()}")


@pytest.fixture
def storage(engine):
    if engine is None:
        return webhook_storage()
    return SqlStorage(engine, cipher=SecretCipher.from_vault(VAULT))


def endpoint(n: int, merchant_id: str = "m1", **changes) -> WebhookEndpoint:
    values = {"events": frozenset({"invoice.settled"}), "description": f"shop {n}", "created_at": NOW} | changes
    return WebhookEndpoint(f"whe_{n}", merchant_id, f"https://shop{n}.example.com/hook", SECRET, **values)


def delivery(n: int, *, endpoint_id: str = "whe_1", event: str | None = None, at: datetime = NOW) -> WebhookDelivery:
    event_id = event or f"out_{n}"
    return WebhookDelivery.new(f"whd_{n}", endpoint_id, "m1", event_id, "invoice.settled", '{"a":"1.50"}', at=at)


def test_endpoints_round_trip_and_list_oldest_first(storage):
    """Endpoints come back whole (secret and creator included); a merchant's list is oldest first; saves replace."""
    first = endpoint(2, created_by="usr_7")
    second = endpoint(1, created_at=NOW + timedelta(seconds=1), events=frozenset())
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(first)
        uow.webhook_endpoints.add(second)
        uow.webhook_endpoints.add(endpoint(3, "m2"))
    with storage.unit_of_work() as uow:
        assert uow.webhook_endpoints.get("whe_2") == first
        assert uow.webhook_endpoints.for_merchant("m1") == [first, second]
        uow.webhook_endpoints.save(attrs.evolve(first, enabled=False))
    with storage.unit_of_work() as uow:
        assert uow.webhook_endpoints.get("whe_2").enabled is False
        assert uow.webhook_endpoints.get("whe_9") is None
        with pytest.raises(Conflict):
            uow.webhook_endpoints.add(first)


def test_an_endpoint_save_from_a_stale_read_is_refused_and_changes_nothing(storage):
    """Review11 R11-3: an owner's removal of an admin disables the endpoint the admin added while the admin's edit
    (read before) is in flight: the disable is saved first, the edit (from the older read, enabled) is
    ``EndpointChanged`` and leaves the endpoint disabled. Read again, and the edit goes through."""
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
    with storage.unit_of_work() as uow:
        owner, admin = uow.webhook_endpoints.get("whe_1"), uow.webhook_endpoints.get("whe_1")
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.save(attrs.evolve(owner, enabled=False))
    with pytest.raises(EndpointChanged), storage.unit_of_work() as uow:
        uow.webhook_endpoints.save(attrs.evolve(admin, url="https://elsewhere.example.com/hook"))
    with storage.unit_of_work() as uow:
        stored = uow.webhook_endpoints.get("whe_1")
        assert (stored.enabled, stored.url, stored.row_version) == (False, endpoint(1).url, 1)
        uow.webhook_endpoints.save(attrs.evolve(stored, description="read again"))
    with storage.unit_of_work() as uow:
        again = uow.webhook_endpoints.get("whe_1")
        assert (again.enabled, again.description, again.row_version) == (False, "read again", 2)
        uow.webhook_endpoints.save(endpoint(5))  # a new id is inserted
        assert uow.webhook_endpoints.get("whe_5") == endpoint(5)


def test_concurrent_endpoint_saves_from_one_read_have_one_winner(sql_engine):
    """Of many transactions that read one version of an endpoint, exactly one saves over it (PostgreSQL: the others
    wait for its commit and then find the version gone)."""
    storage = SqlStorage(sql_engine, cipher=SecretCipher.from_vault(VAULT))
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))

    def edit(n: int) -> bool:
        try:
            with storage.unit_of_work() as uow:
                found = uow.webhook_endpoints.get("whe_1")
                uow.webhook_endpoints.save(attrs.evolve(found, description=f"edit {n}"))
        except EndpointChanged:
            return False
        return True

    with storage.unit_of_work() as uow:
        stale = uow.webhook_endpoints.get("whe_1")
    wins = race(4, edit)
    assert sum(wins) >= 1
    with pytest.raises(EndpointChanged), storage.unit_of_work() as uow:
        uow.webhook_endpoints.save(attrs.evolve(stale, enabled=False))
    with storage.unit_of_work() as uow:
        stored = uow.webhook_endpoints.get("whe_1")
    assert stored.enabled and stored.row_version == sum(wins)


def test_one_delivery_per_event_and_endpoint(storage):
    """A second delivery of one event to one endpoint is a Conflict; another endpoint is fine."""
    with storage.unit_of_work() as uow:
        uow.webhook_deliveries.add(delivery(1))
        uow.webhook_deliveries.add(delivery(2, endpoint_id="whe_2", event="out_1"))
    with pytest.raises(Conflict), storage.unit_of_work() as uow:
        uow.webhook_deliveries.add(delivery(3, event="out_1"))
    with storage.unit_of_work() as uow:
        assert uow.webhook_deliveries.get("whd_1") == delivery(1)
        assert uow.webhook_deliveries.get("whd_3") is None


def test_due_deliveries_skip_final_future_and_claimed_ones(storage):
    """Due means waiting, its time come and no live claim; oldest first, at most ``limit``."""
    claimed = delivery(3, at=NOW - timedelta(minutes=3)).claimed(NOW - timedelta(minutes=1))
    lapsed = delivery(4, at=NOW - timedelta(minutes=9)).claimed(NOW - timedelta(minutes=9))
    done = delivery(5, at=NOW - timedelta(minutes=8)).claimed(NOW - timedelta(minutes=8))
    done = done.after_attempt(NOW, ok=True, status_code=200, error=None)
    with storage.unit_of_work() as uow:
        for item in (delivery(1, at=NOW - timedelta(minutes=1)), delivery(2, at=NOW + timedelta(minutes=1))):
            uow.webhook_deliveries.add(item)
        for item in (claimed, lapsed, done):
            uow.webhook_deliveries.add(item)
    with storage.unit_of_work() as uow:
        assert [d.id for d in uow.webhook_deliveries.due(NOW)] == ["whd_4", "whd_1"]
        assert [d.id for d in uow.webhook_deliveries.due(NOW, limit=1)] == ["whd_4"]
        assert uow.webhook_deliveries.get("whd_5") == done


def test_deliveries_are_counted_by_status(storage):
    """``count`` is the number of deliveries of every merchant in one status (dead letters for the alert)."""
    dead = attrs.evolve(delivery(2, at=NOW), status=DeliveryStatus.DEAD)
    with storage.unit_of_work() as uow:
        for item in (delivery(1, at=NOW), dead, delivery(3, at=NOW)):
            uow.webhook_deliveries.add(item)
    with storage.unit_of_work() as uow:
        assert uow.webhook_deliveries.count(DeliveryStatus.DEAD) == 1
        assert uow.webhook_deliveries.count(DeliveryStatus.PENDING) == 2
        assert uow.webhook_deliveries.count(DeliveryStatus.DELIVERED) == 0


def test_attempts_and_the_merchant_delivery_log(storage):
    """Attempts list in the order made; the merchant's log is newest first, filtered by endpoint and status."""
    failed = delivery(1).claimed(NOW).after_attempt(NOW, ok=False, status_code=500, error=None)
    with storage.unit_of_work() as uow:
        uow.webhook_deliveries.add(failed)
        uow.webhook_deliveries.add(delivery(2, endpoint_id="whe_2", at=NOW + timedelta(seconds=1)))
        uow.webhook_deliveries.add(delivery(3, at=NOW + timedelta(seconds=2)))
        for number, code in ((1, 500), (2, None)):
            error = None if code else "timed out"
            uow.webhook_deliveries.add_attempt(WebhookAttempt("whd_1", number, NOW, code, "no", error, 1500))
    with storage.unit_of_work() as uow:
        attempts = uow.webhook_deliveries.attempts("whd_1")
        assert [(a.number, a.status_code, a.error) for a in attempts] == [(1, 500, None), (2, None, "timed out")]
        log = uow.webhook_deliveries.for_merchant("m1")
        assert [d.id for d in log] == ["whd_3", "whd_2", "whd_1"] and log[2] == failed
        assert [d.id for d in uow.webhook_deliveries.for_merchant("m1", endpoint_id="whe_1", limit=1)] == ["whd_3"]
        retrying = uow.webhook_deliveries.for_merchant("m1", status=DeliveryStatus.RETRYING)
        assert [d.id for d in retrying] == ["whd_1"]
        assert uow.webhook_deliveries.for_merchant("m2") == [] and uow.webhook_deliveries.attempts("whd_9") == []


def test_enabled_endpoints_are_listed_a_page_at_a_time(storage):
    """A merchant's enabled endpoints come newest first, strictly before the cursor; disabled and others' are
    left out."""
    with storage.unit_of_work() as uow:
        for n in (3, 1, 2):
            uow.webhook_endpoints.add(endpoint(n))
        uow.webhook_endpoints.add(endpoint(4, enabled=False))
        uow.webhook_endpoints.add(endpoint(5, merchant_id="m2"))
    with storage.unit_of_work() as uow:
        endpoints = uow.webhook_endpoints
        assert [e.id for e in endpoints.enabled_for_merchant("m1", before=None, limit=2)] == ["whe_3", "whe_2"]
        assert [e.id for e in endpoints.enabled_for_merchant("m1", before="whe_2", limit=2)] == ["whe_1"]
        assert endpoints.enabled_for_merchant("m9", before=None, limit=2) == []


def test_the_delivery_log_is_paged_newest_first_by_a_cursor(storage):
    """Each page of the log holds the deliveries older than the cursor (the previous page's last one), even
    among deliveries created at the same instant; an unknown cursor gives an empty page."""
    with storage.unit_of_work() as uow:
        for n, seconds in ((1, 0), (2, 1), (3, 1), (4, 2)):
            uow.webhook_deliveries.add(delivery(n, event=f"out_{n}", at=NOW + timedelta(seconds=seconds)))
    with storage.unit_of_work() as uow:
        log = uow.webhook_deliveries
        first = log.for_merchant("m1", limit=2)
        assert [d.id for d in first] == ["whd_4", "whd_3"]
        assert [d.id for d in log.for_merchant("m1", limit=2, before="whd_3")] == ["whd_2", "whd_1"]
        assert log.for_merchant("m1", before="whd_1") == [] and log.for_merchant("m1", before="whd_9") == []
        assert [d.id for d in log.for_merchant("m1", endpoint_id="whe_1", before="whd_4", limit=1)] == ["whd_3"]


def test_a_failed_unit_of_work_keeps_no_webhook_rows(storage):
    """Endpoints and deliveries written in a failing unit of work are rolled back with it."""
    with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
        uow.webhook_deliveries.add(delivery(1))
        raise RuntimeError("the use case failed")
    with storage.unit_of_work() as uow:
        assert uow.webhook_endpoints.get("whe_1") is None and uow.webhook_deliveries.get("whd_1") is None


def test_fan_out_and_delivery_through_the_use_cases(storage):
    """The core use cases run on the repositories: fan-out, a failed attempt, the retry delivered and logged."""
    clock, answers = ManualClock(NOW), iter([503, 200])
    sender, queue = RecordingSender(lambda url: next(answers)), FakeQueue(JobRegistry(), clock)
    message = OutboxMessage.new("out_1", "invoice.settled", {"merchant_id": "m1", "amount": "10.00"}, at=NOW)
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
        [created] = fan_out(uow, message, ids=SequentialIds(), now=NOW)
    deps = {"uow_factory": storage.unit_of_work, "sender": sender, "queue": queue, "clock": clock}
    assert deliver_webhook(created.id, **deps).status is DeliveryStatus.RETRYING
    clock.advance(seconds=5)
    assert deliver_webhook(created.id, **deps).status is DeliveryStatus.DELIVERED
    assert sender.sent[1].headers["webhook-id"] == "out_1"
    with storage.unit_of_work() as uow:
        assert [a.status_code for a in uow.webhook_deliveries.attempts(created.id)] == [503, 200]


def test_each_dead_lettering_is_counted_and_a_redelivery_does_not_lower_the_count(storage):
    """Dead-lettered, redelivered, dead-lettered again: ``dead_lettered`` rose by 2 while ``count(DEAD)`` is back
    to 1 (the alert's counter a redelivery cannot hide). A late attempt on a dead delivery, a retry and a rolled-back
    dead-lettering count nothing; a delivery added dead counts one."""
    clock = ManualClock(NOW)
    sender, queue = RecordingSender(lambda url: 500), FakeQueue(JobRegistry(), clock)
    message = OutboxMessage.new("out_1", "invoice.settled", {"merchant_id": "m1", "amount": "10.00"}, at=NOW)
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
        [created] = fan_out(uow, message, ids=SequentialIds(), now=NOW)
        before = uow.webhook_deliveries.dead_lettered()
    deps = {"uow_factory": storage.unit_of_work, "sender": sender, "queue": queue, "clock": clock}
    one_retry = [timedelta(seconds=5)]
    assert deliver_webhook(created.id, **deps, schedule=one_retry).status is DeliveryStatus.RETRYING
    clock.advance(seconds=5)
    assert deliver_webhook(created.id, **deps, schedule=one_retry).status is DeliveryStatus.DEAD
    redeliver_webhook(created.id, uow_factory=storage.unit_of_work, queue=queue, clock=clock)
    with storage.unit_of_work() as uow:
        assert uow.webhook_deliveries.count(DeliveryStatus.DEAD) == 0
        assert uow.webhook_deliveries.dead_lettered() == before + 1
    assert deliver_webhook(created.id, **deps, schedule=[]).status is DeliveryStatus.DEAD
    with storage.unit_of_work() as uow:
        dead = uow.webhook_deliveries.get(created.id)
        uow.webhook_deliveries.save(dead.after_attempt(NOW, ok=False, status_code=500, error=None))  # a late duplicate
    with storage.unit_of_work() as uow:
        assert uow.webhook_deliveries.count(DeliveryStatus.DEAD) == 1
        assert uow.webhook_deliveries.dead_lettered() == before + 2
    with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
        uow.webhook_deliveries.add(delivery(7))
        uow.webhook_deliveries.save(delivery(7).abandoned(NOW, "the endpoint was deleted"))
        raise RuntimeError("the use case failed")
    with storage.unit_of_work() as uow:
        assert uow.webhook_deliveries.dead_lettered() == before + 2
        uow.webhook_deliveries.add(attrs.evolve(delivery(8), status=DeliveryStatus.DEAD))
    with storage.unit_of_work() as uow:
        assert uow.webhook_deliveries.dead_lettered() == before + 3


def test_concurrent_dead_letterings_are_all_counted(sql_engine):
    """Deliveries dead-lettered by concurrent transactions each count one (the counter's upsert loses none)."""
    storage = SqlStorage(sql_engine, cipher=SecretCipher.from_vault(VAULT))
    with storage.unit_of_work() as uow:
        for n in range(4):
            uow.webhook_deliveries.add(delivery(n))

    def dead_letter(n: int) -> None:
        with storage.unit_of_work() as uow:
            found = uow.webhook_deliveries.get(f"whd_{n}")
            uow.webhook_deliveries.save(found.abandoned(NOW, "the endpoint was deleted"))

    race(4, dead_letter)
    with storage.unit_of_work() as uow:
        assert uow.webhook_deliveries.dead_lettered() == 4


@pytest.fixture(params=SQL_BACKENDS)
def sql_engine(request, tmp_path):
    yield from backend_engine(request, tmp_path)


def test_secrets_are_stored_encrypted_and_bound_to_their_endpoint(sql_engine):
    """The secret column holds a vault blob, never the secret; a blob copied to another endpoint does not decrypt."""
    storage = SqlStorage(sql_engine, cipher=SecretCipher.from_vault(VAULT))
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
        uow.webhook_endpoints.add(endpoint(2))
    with sql_engine.begin() as conn:
        blobs = dict(conn.execute(sa.select(webhook_endpoints.c.id, webhook_endpoints.c.secret)).all())
        assert SECRET.encode() not in blobs["whe_1"]
        conn.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == "whe_2").values(secret=blobs["whe_1"]))
    with pytest.raises(InvalidInput), storage.unit_of_work() as uow:
        uow.webhook_endpoints.get("whe_2")


def test_without_a_cipher_secrets_are_refused_unless_allowed(sql_engine):
    """No cipher means no endpoints repository unless plaintext is explicitly allowed, which never reads sealed rows."""
    with pytest.raises(InvalidInput), SqlStorage(sql_engine).unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
    with SqlStorage(sql_engine, cipher=SecretCipher.from_vault(VAULT))() as uow:
        uow.webhook_endpoints.add(endpoint(1))
    plain = SqlWebhookEndpoints(sql_engine, allow_plaintext=True)
    plain.add(endpoint(2))
    assert plain.get("whe_2").secret == SECRET
    with pytest.raises(InvalidState):
        plain.get("whe_1")


def test_concurrent_fan_outs_create_one_delivery(sql_engine):
    """Eight transactions adding the same event's delivery to one endpoint: exactly one succeeds."""
    storage = SqlStorage(sql_engine, cipher=SecretCipher.from_vault(VAULT))

    def add(i: int) -> bool:
        try:
            with storage.unit_of_work() as uow:
                uow.webhook_deliveries.add(WebhookDelivery.new(f"whd_{i}", "whe_1", "m1", "out_1", "x", "{}", at=NOW))
        except Conflict:
            return False
        return True

    assert sorted(race(8, add)) == [False] * 7 + [True]


def test_a_rotated_endpoint_keeps_its_previous_secret_sealed(storage, engine):
    """A rotated endpoint comes back with both secrets and the overlap's end; on SQL neither is stored in the clear."""
    new_secret = "whsec_bmV3LW5ldy1uZXctbmV3LW5ldy1uZXctbmV3LW5ldw=="
    rotated = endpoint(1).rotated(new_secret, NOW, timedelta(hours=24))
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
        uow.webhook_endpoints.save(rotated)
    with storage.unit_of_work() as uow:
        found = uow.webhook_endpoints.get("whe_1")
    assert found == rotated and found.signing_secrets(NOW) == [new_secret, SECRET]
    assert found.signing_secrets(NOW + timedelta(hours=24)) == [new_secret]
    if engine is not None:
        with engine.connect() as conn:
            row = conn.execute(sa.select(webhook_endpoints)).one()._mapping
        assert SECRET.encode() not in bytes(row["previous_secret"]) and new_secret.encode() not in bytes(row["secret"])


def test_payload_versions_round_trip_and_fan_out_writes_each_endpoints_version(storage):
    """An endpoint's payload version and a delivery's come back as stored; fan-out writes each endpoint's body in its
    own version (v2 with money objects), and the stored row refuses a version outside 1 and 2."""
    with storage.unit_of_work() as uow:
        uow.webhook_endpoints.add(endpoint(1))
        uow.webhook_endpoints.add(endpoint(2, payload_version=2))
        payload = {"merchant_id": "m1", "invoice_id": "inv_1", "shortfall": "4.00", "shortfall_asset": "KES"}
        message = OutboxMessage.new("out_1", "invoice.settled", payload, at=NOW)
        fanned = fan_out(uow, message, ids=SequentialIds(), now=NOW)
    with storage.unit_of_work() as uow:
        assert uow.webhook_endpoints.get("whe_2").payload_version == 2
        stored = {d.endpoint_id: uow.webhook_deliveries.get(d.id) for d in fanned}
    assert (stored["whe_1"].payload_version, stored["whe_2"].payload_version) == (1, 2)
    assert '"shortfall":"4.00"' in stored["whe_1"].body
    assert (
        '"shortfall":{"amount":"4.00","asset":"KES"}' in stored["whe_2"].body and '"version":2' in stored["whe_2"].body
    )
    with pytest.raises(InvalidInput):
        endpoint(3, payload_version=3)


def test_simultaneous_creations_at_one_url_make_one_endpoint(sql_engine):
    """reader2 M-3: one endpoint per URL was checked, then added, unlocked: two simultaneous creations (two forms,
    two API calls) both passed the check and made two endpoints at one URL. The merchant's endpoints are locked
    first (``lock_merchant``): exactly one is made, the others are ``DuplicateEndpoint``."""
    storage = SqlStorage(sql_engine, cipher=SecretCipher.from_vault(VAULT))
    ids, clock = SequentialIds(), ManualClock(NOW)

    def create(_: int) -> bool:
        try:
            create_endpoint("m1", "https://duka.example/hook", uow_factory=storage.unit_of_work, ids=ids, clock=clock)
        except DuplicateEndpoint:
            return False
        return True

    assert sorted(race(6, create)) == [False] * 5 + [True]
    with storage.unit_of_work() as uow:
        assert [e.url for e in uow.webhook_endpoints.for_merchant("m1")] == ["https://duka.example/hook"]
