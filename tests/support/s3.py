"""The S3 document store wired to the sandbox's S3 simulator, served on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cryptopay.adapters.documents.s3 import S3DocumentStore, S3Settings
from cryptopay.adapters.documents.sigv4 import Credentials
from cryptopay.sandbox._server import serve_in_thread
from cryptopay.sandbox.s3 import (
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_BUCKET,
    SANDBOX_REGION,
    SANDBOX_SECRET_ACCESS_KEY,
    S3SimulatorState,
    create_s3_simulator,
)

SANDBOX_CREDENTIALS = Credentials(SANDBOX_ACCESS_KEY_ID, SANDBOX_SECRET_ACCESS_KEY)


def s3_settings(url: str, *, secret: str = SANDBOX_SECRET_ACCESS_KEY, **changes: object) -> S3Settings:
    values: dict[str, object] = {
        "bucket": SANDBOX_BUCKET,
        "region": SANDBOX_REGION,
        "endpoint_url": url,
        "credentials": Credentials(SANDBOX_ACCESS_KEY_ID, secret),
    }
    return S3Settings(**{**values, **changes})  # type: ignore[arg-type]


@contextmanager
def s3_store(**changes: object) -> Iterator[tuple[S3DocumentStore, S3SimulatorState]]:
    """(a store on a fresh simulator, the simulator's state); both stopped afterwards."""
    state = S3SimulatorState()
    with serve_in_thread(create_s3_simulator(state)) as server:
        store = S3DocumentStore(s3_settings(server.url, **changes))
        try:
            yield store, state
        finally:
            store.close()
