"""Daraja over httpx: a thread-safe OAuth token cache, error envelopes as typed errors, and safe retries only.

A call is resent only when Daraja certainly did not act on it: an invalid token (``404.001.03``, once, after a
refresh), throttling (``500.003.02`` / ``500.003.03``), or a connection that never opened. A request that may
have reached Daraja is resent only if the caller says it is safe (queries); otherwise ``OutcomeUnknown``.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptopay.adapters.mpesa.settings import DarajaSettings
from cryptopay.core.mobile_money import (
    MpesaAuthFailed,
    MpesaThrottled,
    MpesaTokenExpired,
    MpesaUnavailable,
    OutcomeUnknown,
    error_for_envelope,
    load_json,
)

if TYPE_CHECKING:  # httpx is imported where a request is made: every process that loads the settings imports this
    import httpx

__all__ = ["DarajaClient", "TokenCache"]


class TokenCache:
    """Holds one access token and refreshes it before it expires; one refresh at a time across threads."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], margin: float, clock: Callable[[], float]) -> None:
        self._fetch, self._margin, self._clock = fetch, margin, clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                token, lifetime = self._fetch()
                # Refresh well before expiry, but never sooner than half-way through a short-lived token.
                self._token, self._refresh_at = token, self._clock() + max(lifetime - self._margin, lifetime / 2)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is still the cached one (another thread may have refreshed already)."""
        with self._lock:
            if self._token == token:
                self._token = None


class DarajaClient:
    """POSTs JSON to Daraja with a bearer token; returns the decoded answer or raises an ``MpesaError``."""

    def __init__(
        self,
        settings: DarajaSettings,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import httpx

        self.settings = settings
        self._http = http or httpx.Client(timeout=settings.timeout_seconds)
        self._sleep = sleep
        self.tokens = TokenCache(self._fetch_token, settings.token_refresh_margin_seconds, clock)

    def close(self) -> None:
        self._http.close()

    def post(self, path: str, body: dict[str, Any], *, resend_safe: bool, reference: str | None = None) -> Any:
        """POST ``body`` to ``path``; retries only where safe (see the module docstring)."""
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            token = self.tokens.get()
            try:
                return self._send(path, body, token, resend_safe=resend_safe, reference=reference)
            except MpesaTokenExpired:
                self.tokens.invalidate(token)
                if refreshed:
                    raise
                refreshed, attempt = True, attempt - 1  # a refresh is not a failed attempt
            except (MpesaThrottled, MpesaUnavailable) as error:
                if not error.retry_safe or attempt >= self.settings.max_attempts:
                    raise
                self._sleep(self.settings.backoff_seconds * 2 ** (attempt - 1))

    def _send(self, path: str, body: dict[str, Any], token: str, *, resend_safe: bool, reference: str | None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            response = self._http.post(self._url(path), json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:  # never sent
            raise _unreachable(self._url(path), error) from None
        except httpx.TransportError as error:
            if resend_safe:
                raise _unreachable(self._url(path), error) from None
            raise OutcomeUnknown(
                f"no answer from Daraja for {path} ({type(error).__name__}); it may have acted on the request: "
                "confirm with a status query before trying again",
                reference=reference,
            ) from None
        if response.status_code >= 500 and not resend_safe and not _is_envelope(response):
            # A proxy's 5xx page is no refusal from Daraja: the payment may have been made.
            raise OutcomeUnknown(
                f"Daraja answered HTTP {response.status_code} without an error envelope for {path}: "
                "confirm with a status query before trying again",
                reference=reference,
            )
        return _decode(response)

    def _fetch_token(self) -> tuple[str, float]:
        import httpx

        pair = f"{self.settings.consumer_key}:{self.settings.consumer_secret}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        url = self._url("/oauth/v1/generate")
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                response = self._http.get(url, params={"grant_type": "client_credentials"}, headers=headers)
                break
            except httpx.TransportError as error:  # a token request moves no money: always safe to resend
                if attempt >= self.settings.max_attempts:
                    raise _unreachable(url, error) from None
                self._sleep(self.settings.backoff_seconds * 2 ** (attempt - 1))
        if response.status_code != 200:
            raise MpesaAuthFailed(f"Daraja refused our consumer key/secret (HTTP {response.status_code})")
        data = _decode(response)
        try:
            return str(data["access_token"]), float(data["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise MpesaAuthFailed("Daraja's token answer has no access_token/expires_in") from None

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path


def _unreachable(url: str, error: Exception) -> MpesaUnavailable:
    import httpx

    failure = MpesaUnavailable(f"could not reach Daraja at {httpx.URL(url).host} ({type(error).__name__})")
    failure.retry_safe = True
    return failure


def _is_envelope(response: httpx.Response) -> bool:
    try:
        data = load_json(response.content)
    except ValueError:
        return False
    return isinstance(data, dict) and "errorCode" in data


def _decode(response: httpx.Response) -> Any:
    try:
        data = load_json(response.content)
    except ValueError:
        raise MpesaUnavailable(f"Daraja answered HTTP {response.status_code} without JSON") from None
    if isinstance(data, dict) and "errorCode" in data:
        raise error_for_envelope(str(data["errorCode"]), str(data.get("errorMessage", "")), data.get("requestId"))
    if response.status_code >= 400:
        raise MpesaUnavailable(f"Daraja answered HTTP {response.status_code}")
    return data
