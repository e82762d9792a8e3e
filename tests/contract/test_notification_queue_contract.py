"""``NotificationQueue``: how full the database's ``NOTIFY`` queue is, a fraction from 0 to 1; the fake and
PostgreSQL (``PgNotificationQueue``) alike. SQLite has no such queue (the composition root gives none), so it has no
variant here.

On PostgreSQL notices stay queued until every listener has read them: a listener idle in an open transaction reads
none, as a frozen process would not, so notices sent meanwhile keep a part of the queue in use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import attrs
import psycopg
import pytest
from cryptopay.core.ports.monitoring import NotificationQueue
from cryptopay.core.testing.metrics import SetNotificationQueue
from sqlalchemy.engine import Engine

CHANNEL = "cryptopay_contract_queue"  # not the invoice feed's: its listeners are left alone


@attrs.define
class Queue:
    """One backend's ``NotificationQueue`` and how to make notices wait in it."""

    port: NotificationQueue
    held: Callable[[], AbstractContextManager[None]]  # notices are sent while a listener reads none


@pytest.fixture(params=["memory", "postgres"])
def queue(request: pytest.FixtureRequest) -> Iterator[Queue]:
    if request.param == "memory":
        fake = SetNotificationQueue()

        @contextmanager
        def held_in_memory() -> Iterator[None]:
            fake.fraction = 0.25
            yield
            fake.fraction = 0.0

        yield Queue(fake, held_in_memory)
        return
    from cryptopay.adapters.sql.invoice_feed import PgNotificationQueue, conninfo_of

    engine: Engine = request.getfixturevalue("contract_pg_engine")
    conninfo = conninfo_of(engine)

    @contextmanager
    def held_on_postgres() -> Iterator[None]:
        with psycopg.connect(conninfo, autocommit=True) as listener, psycopg.connect(conninfo) as sender:
            listener.execute(f"LISTEN {CHANNEL}")
            listener.execute("BEGIN")  # in a transaction it is told nothing: its place in the queue stays put
            listener.execute("SELECT 1")
            for n in range(4):  # ~8 kB each: the queue's pages are 8 kB, so its head moves past the listener's
                sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{n}" * 7_900))
            sender.commit()
            yield
            listener.execute("ROLLBACK")

    yield Queue(PgNotificationQueue(engine), held_on_postgres)


def test_usage_is_a_fraction_of_the_queue(queue: Queue) -> None:
    """Whatever else the server's other databases queue, the figure is between 0 and 1."""
    assert 0.0 <= queue.port.usage() <= 1.0


def test_notices_a_listener_has_not_read_keep_part_of_the_queue_in_use(queue: Queue) -> None:
    """While a listener reads nothing, the notices sent since are counted (above 0, still at most 1)."""
    with queue.held():
        usage = queue.port.usage()
        assert 0.0 < usage <= 1.0
