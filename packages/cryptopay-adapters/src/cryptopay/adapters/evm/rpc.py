"""JSON-RPC plumbing shared by the EVM watcher, sender and sweeper: a Web3 client and retries with backoff.

Error messages name the network and the operation but never the RPC URL (hosted node URLs carry API keys).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from cryptopay.core.errors import Unavailable
from cryptopay.core.retry import Backoff
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3Exception

__all__ = ["Backoff", "call_with_backoff", "connect"]

T = TypeVar("T")
log = logging.getLogger(__name__)

# Failures worth retrying: transport errors and node-side errors. "Not found" answers are results, not failures.
_RETRYABLE: tuple[type[BaseException], ...] = (requests.RequestException, OSError, TimeoutError, Web3Exception)
_NOT_RETRYABLE: tuple[type[BaseException], ...] = (TransactionNotFound, BlockNotFound)


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A Web3 client over HTTP with web3's own retries off (``call_with_backoff`` owns retrying)."""
    provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    return Web3(provider)


def call_with_backoff(
    action: Callable[[], T], *, what: str, network: str, backoff: Backoff, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run an RPC action, retrying transport and node errors with backoff; raise Unavailable when all tries fail."""
    delays = backoff.delays()
    while True:
        try:
            return action()
        except _NOT_RETRYABLE:
            raise
        except _RETRYABLE as error:
            delay = next(delays, None)
            if delay is None:
                # No URL in the message: hosted node URLs carry API keys.
                kind = type(error).__name__
                message = f"{network} node failed {backoff.attempts} times while {what} ({kind}); retry later"
                raise Unavailable(message, network=network) from None
            log.warning("%s RPC error while %s (%s); retrying in %.2f s", network, what, type(error).__name__, delay)
            sleep(delay)
