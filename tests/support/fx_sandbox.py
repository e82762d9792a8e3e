"""The FX simulator served over real HTTP for tests, with a client for its control API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import httpx
from cryptopay.sandbox._server import serve_in_thread
from cryptopay.sandbox.fx import FxSimulatorState, create_fx_simulator


@attrs.frozen
class FxSandbox:
    """A running FX simulator: its base URL, its state, and helpers that script it over HTTP."""

    url: str
    state: FxSimulatorState

    def control(self, path: str, body: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/_sandbox/fx/{path}", json=body or {}, timeout=5)
        response.raise_for_status()
        return response.json()

    def set_rate(self, source: str, pair: str, mid: str) -> None:
        self.control("rates", {"source": source, "pair": pair, "mid": mid})

    def set_mode(self, source: str, mode: str, **options: str | int) -> None:
        self.control(f"sources/{source}", {"mode": mode, **options})


@contextmanager
def running_fx_sandbox() -> Iterator[FxSandbox]:
    """Serve a fresh simulator on a free local port for the duration of the block."""
    state = FxSimulatorState()
    with serve_in_thread(create_fx_simulator(state)) as server:
        yield FxSandbox(server.url, state)
