"""Fixtures for the HTTP shell: an app wired from the in-memory identity fakes, its client, and an auth helper."""

from __future__ import annotations

import pytest
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay_http import Services

from tests.integration.http.http_support import app as app
from tests.integration.http.http_support import auth as auth
from tests.integration.http.http_support import client as client
from tests.integration.http.http_support import fast_hasher
from tests.support.services import in_memory_services


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def services(clock: ManualClock) -> Services:
    return in_memory_services(clock=clock, ids=SequentialIds(), hasher=fast_hasher())
