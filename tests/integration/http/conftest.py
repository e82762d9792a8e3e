"""Fixtures for the HTTP shell: an app wired from the in-memory identity fakes, its client, and an auth helper."""

from __future__ import annotations

import pytest
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay_http import Services, in_memory_services
from cryptopay_http.passwords import Argon2Hasher
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.http.http_support import AuthActions, make_app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return in_memory_services(clock=clock, ids=SequentialIds(), hasher=Argon2Hasher(time_cost=1, memory_cost=1024))


@pytest.fixture
def app(services: Services) -> Flask:
    return make_app(services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth(app: Flask, client: FlaskClient) -> AuthActions:
    return AuthActions(app, client)
