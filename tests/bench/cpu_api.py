"""CPU per API request in this process: the app on PostgreSQL and Redis, driven through WSGI without a server.

What ``make bench-api`` cannot isolate on a shared machine: the app's own CPU per request (``time.process_time``;
the database and Redis run in other processes, so their work is not counted, only the client side of each round
trip). Builds the production composition (``build(Settings)``) like ``tests/integration/http/test_http_hot_paths.py``
on a throw-away database, a merchant with an API key, the heap settled as a production worker settles it
(``cryptopay_http.wsgi.settle_heap``), then calls the WSGI app directly with a prepared environ (no
test client, no server): invoice reads, invoice creations and a bare Flask endpoint in the same process for scale.
Rounds are interleaved so a neighbour's burst of load hits every case alike; the median per request is printed.

``python tests/bench/cpu_api.py`` (``DATABASE_URL``, ``REDIS_URL``; ``CPU_ROUNDS``, ``CPU_READS``, ``CPU_CREATES``),
``--profile read|unkept|create`` prints a cProfile of that case instead (top functions by their own and cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.adapters.sql import upgrade
from cryptopay_http.app import create_app
from cryptopay_http.wsgi import settle_heap
from flask import Flask, jsonify

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.bench_api import throwaway_database
from tests.support.fx_sandbox import running_fx_sandbox
from tests.support.mailbox import prove_email_in_app

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
ROUNDS = int(os.environ.get("CPU_ROUNDS", "6"))
READS = int(os.environ.get("CPU_READS", "300"))
CREATES = int(os.environ.get("CPU_CREATES", "40"))

WsgiCall = Callable[[], int]


def _caller(
    app: Flask, method: str, path: str, headers: dict[str, str], body: bytes | Callable[[], bytes] = b""
) -> WsgiCall:
    """A call of ``app`` as a WSGI server would make it; returns the status code."""
    base = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        base[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value

    def call() -> int:
        payload = body() if callable(body) else body
        environ = {**base, "wsgi.input": io.BytesIO(payload), "CONTENT_LENGTH": str(len(payload))}
        status: list[str] = []
        chunks = app(environ, lambda s, _h, _e=None: status.append(s))  # type: ignore[arg-type]
        for _chunk in chunks:
            pass
        getattr(chunks, "close", lambda: None)()
        return int(status[0].split(" ", 1)[0])

    return call


def _merchant(app: Flask) -> tuple[str, str]:
    """(API key, an invoice id) of a new merchant with a usdt-ethereum store."""
    client = app.test_client()
    email, password = f"cpu-{uuid.uuid4().hex[:6]}@example.co.ke", "a long passphrase"
    client.post("/v1/auth/register", json={"email": email, "password": password, "role": "merchant"})

    def token() -> dict[str, str]:
        login = client.post("/v1/auth/login", json={"email": email, "password": password})
        return {"authorization": f"Bearer {login.json['access_token']}"}  # type: ignore[index]

    prove_email_in_app(client, email, token(), password)
    settlement = {"schedule": "daily", "method": "mpesa_b2c", "destination": "254708374149"}
    merchant = client.post("/v1/merchants", json={"business_name": "CPU", "settlement": settlement}, headers=token())
    merchant_id, headers = merchant.json["id"], token()  # type: ignore[index]
    store = {"rails": ["usdt-ethereum"], "tolerance_percent": "0.5"}
    client.put(f"/v1/merchants/{merchant_id}/store", json=store, headers=headers)
    step = client.post("/v1/auth/step-up", json={"password": password}, headers=headers).json["step_up_token"]  # type: ignore[index]
    key = client.post(
        f"/v1/merchants/{merchant_id}/api-keys",
        json={"name": "cpu", "scopes": ["invoices:read", "invoices:write"]},
        headers={**headers, "X-Step-Up-Token": step},
    ).json["secret"]  # type: ignore[index]
    body = {"amount": "5000", "currency": "KES", "rails": ["usdt-ethereum"]}
    invoice = client.post("/v1/invoices", json=body, headers={"authorization": f"Bearer {key}", "idempotency-key": "x"})
    assert invoice.status_code == 201, invoice.json
    return str(key), str(invoice.json["id"])  # type: ignore[index]


def _bare() -> Flask:
    app = Flask("bare")

    @app.get("/bare")
    def bare() -> object:
        return jsonify({"id": "inv_bare", "state": "new"})

    return app


def _cases(app: Flask, unkept: Flask) -> dict[str, tuple[WsgiCall, int]]:
    """``unkept``: the same app on the same database with no invoice read cache (``CRYPTOPAY_INVOICE_CACHE_SIZE=0``),
    so the cache's effect is measured in the same run, interleaved."""
    key, invoice_id = _merchant(app)
    auth = {"Authorization": f"Bearer {key}"}
    body = b'{"amount": "1500", "currency": "KES", "rails": ["usdt-ethereum"]}'

    def create_keyed() -> int:  # a fresh Idempotency-Key each time, as the load generator sends
        return _caller(
            app,
            "POST",
            "/v1/invoices",
            {**auth, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
            body,
        )()

    return {
        "bare Flask": (_caller(_bare(), "GET", "/bare", auth), READS),
        "GET invoice": (_caller(app, "GET", f"/v1/invoices/{invoice_id}", auth), READS),
        "GET invoice, not kept": (_caller(unkept, "GET", f"/v1/invoices/{invoice_id}", auth), READS),
        "POST invoice": (create_keyed, CREATES),
    }


def _per_request_ms(call: WsgiCall, count: int, expected: int) -> float:
    started = time.process_time()
    for _ in range(count):
        status = call()
        if status != expected:
            raise RuntimeError(f"status {status}, expected {expected}")
    return (time.process_time() - started) * 1000 / count


def _profile(call: WsgiCall, count: int, expected: int) -> None:
    profiler = cProfile.Profile(time.process_time)  # CPU, not waits
    profiler.enable()
    _per_request_ms(call, count, expected)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(45)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=("read", "unkept", "create"))
    args = parser.parse_args()
    with running_fx_sandbox() as fx, throwaway_database("cpu_api") as database_url:
        upgrade(database_url)
        env = {
            "CRYPTOPAY_DATA_DIR": os.environ.get("TMPDIR", "/tmp"),
            "CRYPTOPAY_DATABASE_URL": database_url,
            "CRYPTOPAY_DEPLOYMENT": f"cpu{uuid.uuid4().hex[:8]}",
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_COOKIE_SECURE": "false",
            "CRYPTOPAY_FX_SANDBOX_URL": fx.url,
            "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9/unused",
            "CRYPTOPAY_EVM_XPUB": account_xpub(MNEMONIC),
            "CRYPTOPAY_RATE_LIMIT": "100000000",
        }
        if os.environ.get("REDIS_URL"):
            env["CRYPTOPAY_REDIS_URL"] = os.environ["REDIS_URL"]
        services = build(Settings.from_env(env))
        unkept_services = build(Settings.from_env({**env, "CRYPTOPAY_INVOICE_CACHE_SIZE": "0"}))
        try:
            app = create_app(services)
            cases = _cases(app, create_app(unkept_services))
            expected = {"bare Flask": 200, "GET invoice": 200, "GET invoice, not kept": 200, "POST invoice": 201}
            for name, (call, count) in cases.items():  # warm every path (caches, prepared statements)
                _per_request_ms(call, min(count, 20), expected[name])
            settle_heap()  # as a production worker does once its app is built (``build_production_app``)
            if args.profile:
                name = {"read": "GET invoice", "unkept": "GET invoice, not kept", "create": "POST invoice"}[
                    args.profile
                ]
                call, count = cases[name]
                _profile(call, count * 2, expected[name])
                return
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(ROUNDS):
                for name, (call, count) in cases.items():
                    samples[name].append(_per_request_ms(call, count, expected[name]))
        finally:
            services.close()
            unkept_services.close()
    print(f"CPU per request in-process (median of {ROUNDS} rounds), load average {os.getloadavg()[0]:.1f}")
    print("| case | requests per round | CPU ms per request (median) | min | max |")
    print("|---|---|---|---|---|")
    for name, values in samples.items():
        row = f"| {name} | {cases[name][1]} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
        print(row)
    names = {"bare Flask": "bare", "GET invoice": "get", "GET invoice, not kept": "get_unkept", "POST invoice": "post"}
    print(json.dumps({f"cpu_ms_{names[n]}": round(statistics.median(v), 3) for n, v in samples.items()}))


if __name__ == "__main__":
    main()
