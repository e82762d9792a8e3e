"""Fixtures for the M-Pesa integration tests: a Daraja sandbox on a free port, a callback sink, an adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings
from cryptopay.sandbox.certs import SandboxCertificate, make_test_certificate
from cryptopay.sandbox.daraja import DarajaSandbox, DarajaSandboxConfig
from cryptopay.sandbox.sink import CallbackSink

FAST = {"callback_delay": 0.02, "late_delay": 0.3, "response_delay": 1.0}


@pytest.fixture(scope="session")
def mpesa_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SandboxCertificate]:
    pair = make_test_certificate()
    path = tmp_path_factory.mktemp("mpesa") / "mpesa_test_cert.pem"
    path.write_bytes(pair.certificate_pem)
    return path, pair


@pytest.fixture
def start_sandbox(mpesa_certificate: tuple[Path, SandboxCertificate]) -> Iterator[Callable[..., DarajaSandbox]]:
    started: list[DarajaSandbox] = []

    def start(**overrides: Any) -> DarajaSandbox:
        config = DarajaSandboxConfig(private_key_pem=mpesa_certificate[1].private_key_pem, **{**FAST, **overrides})
        sandbox = DarajaSandbox(config)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., DarajaSandbox]) -> DarajaSandbox:
    return start_sandbox()


@pytest.fixture
def sink() -> Iterator[CallbackSink]:
    with CallbackSink.start() as running:
        yield running


@pytest.fixture
def make_gateway(mpesa_certificate: tuple[Path, SandboxCertificate]) -> Iterator[Callable[..., DarajaGateway]]:
    made: list[DarajaGateway] = []

    def make(sandbox: DarajaSandbox, **overrides: Any) -> DarajaGateway:
        fields = {
            **sandbox.client_settings(),
            "certificate_path": str(mpesa_certificate[0]),
            "backoff_seconds": 0.01,
            "timeout_seconds": 2.0,
            **overrides,
        }
        gateway = DarajaGateway(DarajaSettings(**fields))
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(sandbox: DarajaSandbox, make_gateway: Callable[..., DarajaGateway]) -> DarajaGateway:
    return make_gateway(sandbox)
