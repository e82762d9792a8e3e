"""Jobs run by the queue log with their job id and name bound (JSON lines for the RQ worker)."""

from __future__ import annotations

import io
import json
import logging

from cryptopay.adapters.queue import InlineQueue
from cryptopay.core.logs import JsonFormatter
from cryptopay.core.ports.queue import JobRegistry, Payload


def test_a_jobs_log_lines_carry_its_id_and_name() -> None:
    """A record logged by a handler run on the inline queue carries job_id and job; one logged outside does not."""
    log = logging.getLogger("tests.job_ids")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)

    def handler_fn(payload: Payload) -> None:
        log.warning("working on %s", payload["n"])

    registry = JobRegistry()
    registry.register("tests.work", handler_fn)
    queue = InlineQueue(registry)
    try:
        queue.enqueue("tests.work", {"n": 1}, job_id="work-1")
        assert queue.drain()
        log.warning("outside")
    finally:
        queue.close()
        log.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["job_id"], inside["job"], inside["message"]) == ("work-1", "tests.work", "working on 1")
    assert "job_id" not in outside
