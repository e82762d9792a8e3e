"""Diagnosis only (``tests/bench/tail_create.py``): every ``POST /v1/invoices`` timed inside an API worker.

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``; with ``TAIL_TRACE_DIR`` set, this one wraps the
driver calls (psycopg statements, ``COMMIT``, pipeline syncs, new connections), Redis replies, httpx requests (the
FX sources) and watches GC pauses, and writes one JSON line per creation to ``$TAIL_TRACE_DIR/trace-<pid>.jsonl``:
its wall and thread CPU time, each call with its start and duration, the collections that overlapped it. Never
loaded by the app itself; only the bench puts this directory on a server's ``PYTHONPATH``.
"""

import gc
import json
import os
import threading
import time

_DIR = os.environ.get("TAIL_TRACE_DIR")
if _DIR:
    _local = threading.local()
    _gc_events: list[tuple[float, float, int]] = []  # (start, duration, generation), process-wide
    _gc_start = [0.0]

    def _gc(phase, info):
        if phase == "start":
            _gc_start[0] = time.perf_counter()
        else:
            start = _gc_start[0]
            _gc_events.append((start, time.perf_counter() - start, info["generation"]))
            if len(_gc_events) > 5000:
                del _gc_events[:2500]

    gc.callbacks.append(_gc)

    def _record(kind, label, start):
        trace = getattr(_local, "trace", None)
        if trace is not None:
            trace.append((kind, label, start, time.perf_counter() - start))

    def _wrap(owner, name, kind, label_of):
        real = getattr(owner, name)

        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                _record(kind, label_of(args, kwargs), start)

        setattr(owner, name, wrapped)

    def _sql_label(args, kwargs):
        query = args[1] if len(args) > 1 else kwargs.get("query", "")
        if isinstance(query, bytes):
            query = query.decode(errors="replace")
        query = str(query)
        return " ".join(query.split())[:70]

    import psycopg

    _wrap(psycopg.Cursor, "execute", "sql", _sql_label)
    _wrap(psycopg.Cursor, "executemany", "sql", _sql_label)
    _wrap(psycopg.Connection, "commit", "commit", lambda a, k: "COMMIT")
    _wrap(psycopg.Connection, "rollback", "commit", lambda a, k: "ROLLBACK")
    _wrap(psycopg.Pipeline, "sync", "pipe", lambda a, k: "pipeline.sync")
    _wrap(psycopg.Pipeline, "__exit__", "pipe", lambda a, k: "pipeline.exit")
    _real_connect = psycopg.Connection.connect.__func__

    def _connect(cls, *args, **kwargs):
        start = time.perf_counter()
        try:
            return _real_connect(cls, *args, **kwargs)
        finally:
            _record("connect", "connect", start)

    psycopg.Connection.connect = classmethod(_connect)
    try:
        from redis.connection import AbstractConnection

        _wrap(AbstractConnection, "read_response", "redis", lambda a, k: "redis")
    except Exception:
        pass
    try:
        import httpx

        _wrap(httpx.Client, "send", "http", lambda a, k: str(getattr(a[1], "url", ""))[:60])
    except Exception:
        pass

    import flask

    _real_wsgi = flask.Flask.wsgi_app
    _threshold = float(os.environ.get("TAIL_TRACE_MS", "0")) / 1000
    _out = open(os.path.join(_DIR, f"trace-{os.getpid()}.jsonl"), "a", buffering=1)  # noqa: SIM115 - open while the worker lives
    _lock = threading.Lock()

    def wsgi_app(self, environ, start_response):
        if environ.get("PATH_INFO") != "/v1/invoices" or environ.get("REQUEST_METHOD") != "POST":
            return _real_wsgi(self, environ, start_response)
        _local.trace = trace = []
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        try:
            return _real_wsgi(self, environ, start_response)
        finally:
            wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
            _local.trace = None
            if wall >= _threshold:
                gcs = [
                    (round((s - wall0) * 1000, 2), round(d * 1000, 2), g)
                    for s, d, g in list(_gc_events)
                    if s + d >= wall0 and s <= wall0 + wall
                ]
                line = {
                    "t": time.time() - wall,
                    "pid": os.getpid(),
                    "thread": threading.get_ident(),
                    "wall_ms": round(wall * 1000, 2),
                    "cpu_ms": round(cpu * 1000, 2),
                    "active_threads": threading.active_count(),
                    "gc": gcs,
                    "calls": [(k, what, round((s - wall0) * 1000, 2), round(d * 1000, 2)) for k, what, s, d in trace],
                }
                with _lock:
                    _out.write(json.dumps(line) + "\n")

    flask.Flask.wsgi_app = wsgi_app
