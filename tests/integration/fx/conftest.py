"""A running FX simulator per test module; each test starts from its default rates and healthy sources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fx_sandbox import FxSandbox, running_fx_sandbox


@pytest.fixture(scope="module")
def fx_sandbox_server() -> Iterator[FxSandbox]:
    with running_fx_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def fx_sandbox(fx_sandbox_server: FxSandbox) -> FxSandbox:
    fx_sandbox_server.control("reset")
    return fx_sandbox_server
