"""The WSGI entry point production servers load: the factory ``cryptopay_http.wsgi:build_app`` (one app per worker).

Each worker builds its own app after the fork, so database pools and Redis connections are never shared across
processes. ``cryptopay serve`` runs this on granian (``factory``); any WSGI server can load it the same way.
"""

from __future__ import annotations

import gc
import logging
import secrets
import threading

import attrs
from cryptopay.adapters.bootstrap import ApiSettings, Services, build
from cryptopay.adapters.bootstrap.warmup import warm_up
from cryptopay.core import logs
from cryptopay.core.errors import Unavailable
from flask import Flask

from cryptopay_http.app import create_app
from cryptopay_http.openapi import prepare_views

__all__ = [
    "SCREENING_WARM_SECONDS",
    "build_app",
    "build_production_app",
    "dev_services",
    "keep_screening_warm",
    "settle_heap",
]

SCREENING_WARM_SECONDS = 10.0  # how often a worker looks for a new sanctions list version to build the index of

_log = logging.getLogger("cryptopay.http")


def build_app(services: Services | None = None) -> Flask:
    """The app over the composition root's ``Services`` (built from the environment unless given)."""
    return create_app(services or build())


def build_production_app() -> Flask:
    """``build_app`` in a production server's worker: JSON log lines with request ids (``cryptopay.core.logs``), the
    worker warmed up before it takes traffic (``warm_up``: the server calls this factory in each worker before it
    serves), the heap settled once the app is built and warm (``settle_heap``)."""
    logs.configure(structured=True)
    services = build()
    app = build_app(services)
    warm_up(services, also={"edge": lambda: prepare_views(app)})
    keep_screening_warm(services)
    settle_heap()
    return app


def keep_screening_warm(
    services: Services, *, every: float = SCREENING_WARM_SECONDS, stopped: threading.Event | None = None
) -> threading.Thread | None:
    """Build the sanctions lists' name indexes in this worker in the background (``Screening.prepare``): at once
    (a new worker), then every ``every`` seconds (a list imported since, by ``cryptopay compliance lists import``
    in another process), so a screening in a request finds the version's index ready instead of building it (about
    3 s at 36,000 names; ``tests/bench/bench_screening_import.py``). A request arriving during a build waits for it;
    one this thread has not reached yet still builds lazily (the fallback). None, nothing started, where the
    deployment has no screening; ``stopped`` ends the thread (tests)."""
    try:
        screening = services.screening
    except Unavailable:
        return None
    stop = stopped or threading.Event()

    def run() -> None:
        while True:
            try:
                screening.prepare()
            except Exception as error:  # a database away for a moment: the next round tries again
                _log.warning("sanctions index not prepared (%s): screenings build it if needed", type(error).__name__)
            if stop.wait(every):
                return

    thread = threading.Thread(target=run, name="screening-warmer", daemon=True)
    thread.start()
    return thread


def settle_heap() -> None:
    """Collect once, then move every object the worker holds so far (modules, the app, its routes, schemas and
    pools: about 240,000 objects) out of the garbage collector's reach (``gc.freeze``). They live as long as the
    worker, yet each full collection walked them all: with them frozen an invoice read costs about 12% less CPU
    (``tests/bench/cpu_api.py``). What a request allocates is collected as before; only what exists now is frozen.
    """
    gc.collect()
    gc.freeze()


def dev_services() -> Services:
    """The root's services; without ``CRYPTOPAY_TOKEN_SECRET``, a throw-away secret and insecure cookies."""
    services = build()
    if services.settings.api is not None:
        return services
    _log.warning("CRYPTOPAY_TOKEN_SECRET is not set: using a throw-away secret (sessions end on restart)")
    public_url = services.settings.public_url  # CRYPTOPAY_PUBLIC_URL: reset links name the server actually served
    api = ApiSettings(token_secret=secrets.token_urlsafe(48), cookie_secure=False, public_url=public_url)
    return attrs.evolve(services, settings=attrs.evolve(services.settings, api=api))
