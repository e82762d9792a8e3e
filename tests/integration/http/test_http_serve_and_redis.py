"""The Redis rate limiter against the real Redis, and the ``cryptopay-http`` server entry point as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.adapters.ratelimit import RedisRateLimiter

from tests.integration.http.http_support import AuthActions, make_app


@pytest.mark.redis
def test_redis_limiter_counts_per_key_and_sets_an_expiry(redis_url):
    """The Redis window allows ``limit`` hits per key, reports Retry-After from its TTL, and keys are independent."""
    limiter = RedisRateLimiter.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    decisions = [limiter.hit("a", limit=2, window_seconds=30) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].remaining == 0 and 1 <= decisions[-1].retry_after <= 30
    assert limiter.hit("b", limit=2, window_seconds=30).allowed


@pytest.mark.redis
def test_app_rate_limits_through_redis(services, redis_url):
    """Wired with the Redis limiter, the app answers 429 after the limit."""
    limiter = RedisRateLimiter.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    app = make_app(attrs.evolve(services, rate_limiter=ready(limiter)), rate_limit=2)
    client = app.test_client()
    headers = AuthActions(app, client).user("personal")
    assert [client.get("/v1/me", headers=headers).status_code for _ in range(3)] == [200, 200, 429]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_entry_point_serves_healthz():
    """``python -m cryptopay_http.serve --dev`` starts a threaded server that answers /healthz."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CRYPTOPAY_TOKEN_SECRET"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cryptopay_http.serve", "--dev", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert b"throw-away secret" in stderr
