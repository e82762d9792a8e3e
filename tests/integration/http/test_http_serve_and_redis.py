"""The Redis rate limiter against the real Redis, and the ``cryptopay-http`` server entry point as a real process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import urllib.response
import uuid

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.adapters.ratelimit import RedisRateLimiter
from cryptopay.adapters.ratelimit.redis import lease_size
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(min_value=1, max_value=700),
    processes=st.integers(min_value=1, max_value=4),
    order=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=900),
)
def test_leased_limits_never_allow_more_than_the_limit_across_processes(redis_url, limit, processes, order):
    """Limiters of several processes leasing hits of one key: together they allow at most ``limit`` hits in the
    window, and at least ``limit`` less the leases the others may hold unused (one process: exactly ``limit``)."""
    prefix = f"test:{uuid.uuid4().hex}:"
    limiters = [RedisRateLimiter.from_url(redis_url, prefix=prefix) for _ in range(processes)]
    decisions = [limiters[i % processes].hit("k", limit=limit, window_seconds=60) for i in order]
    allowed = sum(d.allowed for d in decisions)
    assert allowed <= limit
    if len(order) >= limit + (processes - 1) * lease_size(limit):
        assert allowed >= limit - (processes - 1) * lease_size(limit)
    if processes == 1:
        assert [d.remaining for d in decisions] == [max(0, limit - n) for n in range(1, len(order) + 1)]


@pytest.mark.redis
def test_a_refused_key_costs_no_round_trip_until_its_window_ends(redis_url):
    """Past its limit a key is refused from the process's memory (the counter only grows in its window), and a
    busy key under a large limit takes its hits in leases: far fewer Lua calls than requests."""
    limiter = RedisRateLimiter.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    calls = []
    real = limiter._lease  # the registered script: observed and called through

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    limiter._lease = counted
    assert [limiter.hit("a", limit=2, window_seconds=30).allowed for _ in range(10)] == [True, True] + [False] * 8
    assert len(calls) == 2
    assert all(limiter.hit("busy", limit=100_000, window_seconds=30).allowed for _ in range(320))
    assert len(calls) == 2 + 320 // lease_size(100_000)


@pytest.mark.redis
def test_app_rate_limits_through_redis(services, redis_url):
    """Wired with the Redis limiter, the app answers 429 after the limit."""
    limiter = RedisRateLimiter.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    app = make_app(attrs.evolve(services, rate_limiter=ready(limiter)), rate_limit=2)
    client = app.test_client()
    headers = AuthActions(app, client).user("personal")
    assert [client.get("/v1/me", headers=headers).status_code for _ in range(3)] == [200, 200, 429]


class StallingProxy:
    """A TCP proxy to the real Redis that can stop passing bytes on (``stall``/``go``): the server as a client sees
    it when its process is stopped (SIGSTOP, as ``make chaos`` pauses it), connections open and nothing answered."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("redis://").split("/")[0].split(":")
        self.upstream = (host, int(port))
        self.flowing = threading.Event()
        self.flowing.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:
                return
            far = socket.create_connection(self.upstream)
            for source, sink in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self.flowing.wait()
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.close()

    def close(self) -> None:
        self.flowing.set()
        self.listener.close()


@pytest.mark.redis
def test_a_stalled_redis_makes_the_limited_routes_503_with_retry_after_and_a_money_post_starts_nothing(
    services, redis_url
):
    """Redis stops answering: a limited request is a 503 ``unavailable`` problem with Retry-After (not a 500, and
    never let through unlimited); a money POST's view has not run and its Idempotency-Key is not used up, so the
    same request sent again once Redis is back runs once. Before, the limiter's TimeoutError was a bare 500."""
    proxy = StallingProxy(redis_url)
    try:
        limiter = RedisRateLimiter.from_url(proxy.url, prefix=f"test:{uuid.uuid4().hex}:")
        app = make_app(attrs.evolve(services, rate_limiter=ready(limiter)), rate_limit=100)  # a hit per request
        client = app.test_client()
        headers, _ = AuthActions(app, client).merchant()
        payment = {"amount": {"amount": "1500.50", "asset": "KES"}, "reference": "order-1"}
        money = {**headers, "Idempotency-Key": "stalled-1"}
        proxy.flowing.clear()
        refused = [
            client.post("/v1/probe/payments", json=payment, headers=money),
            client.get("/v1/me", headers=headers),
        ]
        for answer in refused:
            assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
            assert answer.json["code"] == "unavailable" and int(answer.headers["Retry-After"]) > 0
            assert "error_id" not in answer.json
        assert app.config.get("PROBE_CALLS", []) == []
        proxy.flowing.set()
        again = client.post("/v1/probe/payments", json=payment, headers=money)
        assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
        assert len(app.config["PROBE_CALLS"]) == 1
    finally:
        proxy.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen) -> urllib.response.addinfourl:
    deadline = time.monotonic() + 30
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2)
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)


def test_dev_entry_point_serves_healthz_with_a_throw_away_secret():
    """``cryptopay-http --dev`` starts werkzeug's server, which answers /healthz, with a throw-away secret."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CRYPTOPAY_TOKEN_SECRET"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cryptopay_http.serve", "--dev", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with _wait_for(f"http://127.0.0.1:{port}/healthz", process) as response:
            assert response.status == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert b"throw-away secret" in stderr


def _refusal(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CRYPTOPAY_TOKEN_SECRET", "CRYPTOPAY_REDIS_URL")}
    clean |= {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data"), **env}
    command = [sys.executable, "-m", "cryptopay_http.serve", "--port", str(_free_port()), *args]
    return subprocess.run(command, env=clean, capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_invalid_settings_are_one_line_and_exit_2_before_any_worker_starts(tmp_path):
    """No token secret, a short one, or several workers without Redis: one line on stderr naming the fix, exit 2,
    no traceback, no worker, nothing written to the data dir."""
    secret = "s" * 40
    cases = [
        ((), {}, "CRYPTOPAY_TOKEN_SECRET is not set"),
        ((), {"CRYPTOPAY_TOKEN_SECRET": "short"}, "at least 32 characters"),
        (("--workers", "4"), {"CRYPTOPAY_TOKEN_SECRET": secret}, "4 workers need CRYPTOPAY_REDIS_URL"),
        ((), {"CRYPTOPAY_TOKEN_SECRET": secret, "CRYPTOPAY_WEB_WORKERS": "3"}, "3 workers need CRYPTOPAY_REDIS_URL"),
    ]
    for args, env, expected in cases:
        finished = _refusal(tmp_path, *args, **env)
        assert finished.returncode == 2, (args, env, finished.stderr[-2000:])
        assert finished.stderr.count("\n") == 1 and expected in finished.stderr, finished.stderr
        assert "Traceback" not in finished.stderr and "serving on" not in finished.stderr
        assert not (tmp_path / "data").exists()


def test_the_dev_servers_links_name_the_port_it_serves(monkeypatch):
    """``--dev`` without ``CRYPTOPAY_PUBLIC_URL``: reset links and Daraja's callback base are the served port's."""
    from cryptopay.adapters.bootstrap.web_settings import reachable_url
    from cryptopay_http.wsgi import dev_services

    monkeypatch.delenv("CRYPTOPAY_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("CRYPTOPAY_PUBLIC_URL", reachable_url("0.0.0.0", 8001))  # what _serve_dev sets by default
    services = dev_services()
    try:
        assert services.settings.public_url == "http://127.0.0.1:8001"
        assert services.settings.api is not None and services.settings.api.public_url == "http://127.0.0.1:8001"
    finally:
        services.close()


@pytest.mark.redis
def test_production_server_is_granian_without_a_banner_and_stops_gracefully(tmp_path, redis_url):
    """Without --dev the API runs on granian with bounded workers (several: with Redis, which they share), names no
    server, and exits 0 on SIGTERM."""
    port = _free_port()
    env = {
        **os.environ,
        "CRYPTOPAY_REDIS_URL": redis_url,
        "CRYPTOPAY_TOKEN_SECRET": "s" * 40,
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}",
        "CRYPTOPAY_WEB_WORKERS": "2",
        "CRYPTOPAY_WEB_THREADS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "cryptopay_http.serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with _wait_for(f"http://127.0.0.1:{port}/healthz", process) as response:
            assert response.status == 200 and response.headers["Server"] == ""
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        workers = _python_children(process.pid)
        assert len(workers) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)
    assert b"Traceback" not in stderr, stderr.decode()[-2000:]  # the workers did not race to migrate the fresh file


def _python_children(pid: int) -> list[int]:
    """The processes ``pid`` started (its workers), read from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


_KEK = "k1:" + "A" * 43 + "="  # 32 bytes of zeros: a well-formed key-encryption key
_PRODUCTION = {
    "CRYPTOPAY_ENV": "production",
    "CRYPTOPAY_TOKEN_SECRET": "s" * 40,
    "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://app@db.example.com/cryptopay",  # never reached: refused first
    "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": "safaricom",
}
_KEY_CASES = [  # (extra settings, what the one line must name); the secret's text must never appear
    ({}, "CRYPTOPAY_VAULT_KEKS"),
    ({"CRYPTOPAY_VAULT_KEKS": "k1:not-base64!"}, "CRYPTOPAY_VAULT_KEKS key 'k1' is not valid base64"),
    ({"CRYPTOPAY_VAULT_KEKS": "k1:" + "QUFB" * 4}, "CRYPTOPAY_VAULT_KEKS"),  # 12 bytes: not AES-256
    ({"CRYPTOPAY_VAULT_KEKS": _KEK}, "CRYPTOPAY_PII_LOOKUP_KEY"),
    ({"CRYPTOPAY_VAULT_KEKS": _KEK, "CRYPTOPAY_PII_LOOKUP_KEY": "secret-lookup!"}, "CRYPTOPAY_PII_LOOKUP_KEY"),
    ({"CRYPTOPAY_VAULT_KEKS": _KEK, "CRYPTOPAY_PII_LOOKUP_KEY": "QUFB" * 4}, "CRYPTOPAY_PII_LOOKUP_KEY"),
]


def test_production_keys_are_checked_before_any_worker_starts(tmp_path):
    """review4 R2: the vault's KEKs and the PII lookup key, which every worker reads at wiring, are parsed by the
    pre-flight: missing or malformed, one line naming the variable (never its value), exit 2, nothing bound."""
    for extra, expected in _KEY_CASES:
        finished = _refusal(tmp_path, **_PRODUCTION, **extra)
        assert finished.returncode == 2, (extra, finished.stderr[-2000:])
        assert finished.stderr.count("\n") == 1 and expected in finished.stderr, finished.stderr
        assert "Traceback" not in finished.stderr and "Listening" not in finished.stderr
        assert not any(len(v) > 8 and v in finished.stderr for v in extra.values() if v != "safaricom")
        assert not (tmp_path / "data").exists()


def test_the_worker_checks_the_production_keys_before_it_starts(tmp_path):
    """review4 R2: ``cryptopay-worker`` runs the same pre-flight: one line naming the variable, exit 2."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOPAY_")}
    for extra, expected in _KEY_CASES[::3]:
        env = clean | {"CRYPTOPAY_DATA_DIR": str(tmp_path / "data"), **_PRODUCTION, **extra}
        command = [sys.executable, "-c", "from cryptopay_worker.main import main; raise SystemExit(main(['--burst']))"]
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert finished.returncode == 2, (extra, finished.stderr[-2000:])
        assert finished.stderr.count("\n") == 1 and expected in finished.stderr, finished.stderr
        assert finished.stderr.startswith("cryptopay-worker: ") and "Traceback" not in finished.stderr
