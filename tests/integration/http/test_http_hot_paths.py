"""What one request costs on the real stack (PostgreSQL, Redis, the FX simulator): SQL statements, Redis round
trips and outgoing HTTP calls, counted per request. Counts do not depend on the machine's load, so they guard the
hot paths where a timing could not (#17.1: "an invoice read is one query"; creation cut from 29 statements, 10
Redis round trips and 2 FX calls to what is asserted here)."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import attrs
import httpx
import psycopg
import pytest
import sqlalchemy as sa
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.adapters.ratelimit.redis import lease_size
from cryptopay.adapters.sql import upgrade
from cryptopay_http.app import create_app
from flask.testing import FlaskClient
from redis.connection import AbstractConnection

from tests.support.fx_sandbox import running_fx_sandbox
from tests.support.mailbox import prove_email_in_app

pytestmark = pytest.mark.redis

METRICS_TOKEN = secrets.token_urlsafe(32)
MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@attrs.define
class Costs:
    """What the requests inside ``counting()`` sent: SQL statements, Redis round trips, HTTP requests."""

    sql: list[str] = attrs.Factory(list)
    alone: list[str] = attrs.Factory(list)  # the statements sent in autocommit: each its own transaction
    redis: list[str] = attrs.Factory(list)
    http: list[str] = attrs.Factory(list)


@attrs.frozen
class Shop:
    client: FlaskClient
    api_key: str
    invoice_id: str
    env: dict[str, str]

    def create(self) -> str:
        headers = {"authorization": f"Bearer {self.api_key}", "idempotency-key": uuid.uuid4().hex}
        body = {"amount": "5000", "currency": "KES", "rails": ["usdt-ethereum"]}
        answer = self.client.post("/v1/invoices", json=body, headers=headers)
        assert answer.status_code == 201, answer.json
        return str(answer.json["id"])

    def read(self, invoice_id: str | None = None) -> None:
        self.state(invoice_id or self.invoice_id)

    def state(self, invoice_id: str) -> str:
        answer = self.client.get(f"/v1/invoices/{invoice_id}", headers={"authorization": f"Bearer {self.api_key}"})
        assert answer.status_code == 200, answer.json
        return str(answer.json["state"])


@pytest.fixture(scope="module")
def shop(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The production composition (``build(Settings)``) on PostgreSQL and Redis, a merchant with an API key."""
    upgrade(database_url)
    with running_fx_sandbox() as fx:
        env = {
            "CRYPTOPAY_DATA_DIR": str(tmp_path_factory.mktemp("hot-paths")),
            "CRYPTOPAY_DATABASE_URL": database_url,
            "CRYPTOPAY_REDIS_URL": redis_url,
            "CRYPTOPAY_DEPLOYMENT": f"hot{uuid.uuid4().hex[:8]}",
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_COOKIE_SECURE": "false",
            "CRYPTOPAY_FX_SANDBOX_URL": fx.url,
            "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9/unused",
            "CRYPTOPAY_EVM_XPUB": account_xpub(MNEMONIC),
            "CRYPTOPAY_METRICS_TOKEN": METRICS_TOKEN,
        }
        services = build(Settings.from_env(env))
        client = create_app(services).test_client()
        api_key = _merchant_key(client)
        first = Shop(client, api_key, "", env)
        yield Shop(client, api_key, first.create(), env)
        services.close()


def _merchant_key(client: FlaskClient) -> str:
    email, password = f"hot-{uuid.uuid4().hex[:6]}@example.co.ke", "a long passphrase"
    assert (
        client.post("/v1/auth/register", json={"email": email, "password": password, "role": "merchant"}).status_code
        == 202
    )

    def token() -> dict[str, str]:
        login = client.post("/v1/auth/login", json={"email": email, "password": password})
        return {"authorization": f"Bearer {login.json['access_token']}"}

    prove_email_in_app(client, email, token(), password)
    settlement = {"schedule": "daily", "method": "mpesa_b2c", "destination": "254708374149"}
    merchant = client.post(
        "/v1/merchants", json={"business_name": "Hot paths", "settlement": settlement}, headers=token()
    )
    merchant_id, headers = merchant.json["id"], token()
    store = {"rails": ["usdt-ethereum"], "tolerance_percent": "0.5"}
    assert client.put(f"/v1/merchants/{merchant_id}/store", json=store, headers=headers).status_code == 200
    step = client.post("/v1/auth/step-up", json={"password": password}, headers=headers).json["step_up_token"]
    key = client.post(
        f"/v1/merchants/{merchant_id}/api-keys",
        json={"name": "shop", "scopes": ["invoices:read", "invoices:write"]},
        headers={**headers, "X-Step-Up-Token": step},
    )
    return str(key.json["secret"])


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], object]], Costs]:
    """Runs a request and returns what it sent (the libraries' own send paths, observed and called through)."""

    def run(request: Callable[[], object]) -> Costs:
        costs = Costs()

        real_redis, real_http = AbstractConnection.send_packed_command, httpx.Client.send
        real_sql = psycopg.Cursor.execute  # the driver's: SQLAlchemy's statements and DriverRead's alike
        requester = threading.get_ident()  # not the listener threads (identity epoch, invoice feed) and their pings

        def sql_sent(self: psycopg.Cursor, query: object, *args: object, **options: object) -> object:
            if threading.get_ident() == requester:
                text = query.decode() if isinstance(query, bytes) else str(query)
                costs.sql.append(text.split("\n", 1)[0])
                if self.connection.autocommit:
                    costs.alone.append(costs.sql[-1])
            return real_sql(self, query, *args, **options)  # type: ignore[arg-type]

        def redis_sent(self: AbstractConnection, command: object, check_health: bool = True) -> None:
            if threading.get_ident() == requester:
                costs.redis.append(repr(command)[:80])
            real_redis(self, command, check_health)

        def http_sent(self: httpx.Client, request: httpx.Request, **options: object) -> httpx.Response:
            costs.http.append(str(request.url))
            return real_http(self, request, **options)  # type: ignore[arg-type]

        monkeypatch.setattr(psycopg.Cursor, "execute", sql_sent)
        monkeypatch.setattr(AbstractConnection, "send_packed_command", redis_sent)
        monkeypatch.setattr(httpx.Client, "send", http_sent)
        try:
            request()
        finally:
            monkeypatch.undo()
        return costs

    return run


def test_an_invoice_read_is_one_query_and_at_most_one_redis_round_trip(shop, counting) -> None:
    """Reading an invoice this process has not kept, with an API key: one SQL statement (no transaction, no row
    lock), neither the API key nor the epoch read again, and the rate limit leased: one Lua call per lease of hits
    (9 at the default 600 a minute, ``lease_size``), not one per request."""
    shop.read()
    unread = shop.create()
    costs = counting(lambda: shop.read(unread))
    assert len(costs.sql) == 1 and costs.sql[0].startswith("SELECT invoices.doc"), costs.sql
    assert "FOR UPDATE" not in costs.sql[0]
    assert len(costs.redis) <= 1 and costs.http == [], costs
    through_sqlalchemy: list[str] = []

    def on_sql(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        through_sqlalchemy.append(statement)

    fresh = shop.create()
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", on_sql)
    try:
        shop.read(fresh)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", on_sql)
    assert through_sqlalchemy == []  # DriverRead: on the psycopg connection, not SQLAlchemy's execution layer
    many = counting(lambda: [shop.read() for _ in range(lease_size(600) * 2)])
    assert 1 <= len(many.redis) <= 3 and all("EVALSHA" in command for command in many.redis), many.redis


def test_a_kept_invoice_read_sends_no_sql(shop, counting) -> None:
    """Once this process keeps an invoice's rendering (its feed listening), reading it again sends no SQL at all;
    a change committed through another process's services is read once announced (``Invoicing.render_invoice``)."""
    invoice_id = shop.create()
    deadline = time.monotonic() + 10
    while counting(lambda: shop.read(invoice_id)).sql:  # the first reads render while the feed starts listening
        assert time.monotonic() < deadline, "the invoice feed never started following"
        time.sleep(0.05)
    assert counting(lambda: [shop.read(invoice_id) for _ in range(5)]).sql == []
    other = build(Settings.from_env(shop.env))  # another API process's services on the same database
    try:
        other.invoicing.cancel_invoice(invoice_id, actor="user:other-process")
    finally:
        other.close()
    while shop.state(invoice_id) != "cancelled":
        assert time.monotonic() < deadline, "the cancellation was never read"
        time.sleep(0.01)
    assert {shop.state(invoice_id) for _ in range(5)} == {"cancelled"}
    scraped = shop.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    counted = dict(line.rsplit(" ", 1) for line in scraped.splitlines() if line.startswith("cryptopay_invoice_read"))
    assert float(counted['cryptopay_invoice_reads_total{result="hit"}']) >= 5
    assert float(counted["cryptopay_invoice_read_evictions_total"]) >= 1  # the cancellation, announced


def test_an_invoice_creation_stays_within_its_budget(shop, counting) -> None:
    """Creating an invoice (FX answers cached, the merchant's accounts open): at most 13 SQL statements, at most one
    Redis round trip (the rate limit's lease) and no call to an FX source, including the sources that do not quote
    the pair. The rows every creation shares are held briefly: the EVM counters by one statement of its own, the
    audit chain's head from its read to the commit that carries its write, nothing in between."""
    shop.create()
    costs = counting(shop.create)
    # 15 before EVM addresses took one index on every EVM counter (f7853bf): each counter ensured (3), then locked
    # and moved on (2) where one upsert did it; 19 since; 14 once the counters took one statement and the audit
    # record and head one, sent with the commit (#17); 13 once the store was read once, not by the HTTP layer and the
    # core each.
    # 15 once a closed merchant took no new business (review 4, R22): the merchant's row read, uncached, by the
    # door every merchant write passes (``auth.refuse_if_closed``) and by ``Invoicing.check_open``; 13 again since
    # the store's read carries the merchant's closing (``Invoicing.open_store``: one statement, and the door leaves
    # the check to it), still read on every creation, so a closing is refused on the next request in every process.
    assert len(costs.sql) <= 13, costs.sql
    (store,) = [s for s in costs.sql if s.startswith(("SELECT stores.", "SELECT (SELECT merchants.closed_at"))]
    assert store.startswith("SELECT (SELECT merchants.closed_at") and store in costs.alone, costs.sql  # with the store
    assert not any(s.startswith("SELECT merchants.") for s in costs.sql), costs.sql  # not the merchant's row again
    (counters,) = [s for s in costs.sql if "deposit_address_counters" in s or s.startswith("WITH locked AS")]
    assert counters in costs.alone, costs.alone  # the counter rows are locked only for that statement
    head = costs.sql.index("SELECT audit_head.seq, audit_head.hash ")
    assert costs.sql[head - 1].startswith("UPDATE idempotency_records SET created_at")  # the fence, renewed before
    assert costs.sql[head + 1].startswith("WITH moved AS (UPDATE audit_head")  # in the commit's pipeline
    assert costs.sql[head + 2].startswith("UPDATE idempotency_records SET response")  # the next transaction
    assert sum(s.startswith("SELECT ledger_accounts") for s in costs.sql) == 1
    assert len(costs.redis) <= 1 and costs.http == [], costs
    through_sqlalchemy: list[str] = []

    def on_sql(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        through_sqlalchemy.append(statement.split("\n", 1)[0])

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", on_sql)
    try:
        shop.create()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", on_sql)
    # DriverRead (#17): the inserts, the store read, the idempotency claim's updates and the audit head's lock run on
    # the psycopg connection; left on SQLAlchemy: the counters' statement and the ledger accounts' read (the store's
    # read with the merchant's closing, R22, is a DriverRead too).
    assert len(through_sqlalchemy) <= 2, through_sqlalchemy


def test_a_closed_merchants_creation_is_refused_by_the_store_read(shop, counting) -> None:
    """R22 on PostgreSQL: the store's read that every creation makes carries the merchant's closing, so a merchant
    closed by another process is refused on its next creation (403 ``merchant_closed``, audited as the door audits
    its refusals), with no read of the merchant's row and no invoice; its reads go on."""
    key = _merchant_key(shop.client)
    headers = {"authorization": f"Bearer {key}", "idempotency-key": uuid.uuid4().hex}
    body = {"amount": "5000", "currency": "KES", "rails": ["usdt-ethereum"]}
    made = shop.client.post("/v1/invoices", json=body, headers=headers)
    assert made.status_code == 201, made.json
    database = psycopg.connect(shop.env["CRYPTOPAY_DATABASE_URL"].replace("+psycopg", ""), autocommit=True)
    other = build(Settings.from_env(shop.env))  # an operator's process (the CLI's, the console's)
    try:
        other.retention.close_merchant(made.json["merchant_id"], actor="user:ops", reason="relationship ended")
        (mark,) = database.execute("SELECT max(seq) FROM audit_log").fetchone()  # type: ignore[misc]
        costs = counting(lambda: shop.client.post("/v1/invoices", json=body, headers=headers | _fresh_key()))
        refused = shop.client.post("/v1/invoices", json=body, headers=headers | _fresh_key())
        assert refused.status_code == 403 and refused.json["code"] == "merchant_closed", refused.json
        assert not any(s.startswith(("SELECT merchants.", "INSERT INTO invoices")) for s in costs.sql), costs.sql
        assert sum(s.startswith("SELECT (SELECT merchants.closed_at") for s in costs.sql) == 1, costs.sql
        refusals = database.execute(
            "SELECT count(*) FROM audit_log WHERE seq > %s AND action = 'access.refused' AND details LIKE %s",
            (mark, "%merchant_closed%"),
        ).fetchone()
        assert refusals == (2,), refusals
        read = shop.client.get(f"/v1/invoices/{made.json['id']}", headers={"authorization": f"Bearer {key}"})
        assert read.status_code == 200
    finally:
        other.close()
        database.close()


def _fresh_key() -> dict[str, str]:
    return {"idempotency-key": uuid.uuid4().hex}
