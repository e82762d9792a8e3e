"""The WSGI entry point production servers load: ``cryptopay_http.wsgi:app`` (one app per worker process).

Each worker builds its own app after the fork, so database pools and Redis connections are never shared across
processes. ``cryptopay serve`` runs this on granian (``factory``); any WSGI server can load it the same way.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask

from cryptopay_http.app import create_app
from cryptopay_http.settings import Settings

__all__ = ["build_app", "services_for"]


def services_for(settings: Settings) -> Any:
    """The services from the composition root ``cryptopay.adapters.bootstrap``, or None (in-memory stores)."""
    try:
        bootstrap = importlib.import_module("cryptopay.adapters.bootstrap")
    except ModuleNotFoundError:
        return None
    return bootstrap.build_http_services(settings)


def build_app(settings: Settings | None = None) -> Flask:
    """The production app: settings from the environment, services from the composition root."""
    settings = settings or Settings.from_env()
    return create_app(settings, services_for(settings))
