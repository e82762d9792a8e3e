"""The REST API's settings: token keys, lifetimes, cookies, limits. Secrets never appear in the repr.

>>> ApiSettings.from_env({"CRYPTOPAY_TOKEN_SECRET": "x" * 32})
ApiSettings(token_key_id='k1', previous_token_keys=<redacted>, access_ttl_seconds=900, ...)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs
from cryptopay.adapters._env import Variables, deployment_is_production
from cryptopay.core.errors import InvalidInput

__all__ = ["ApiSettings"]

_MAX_PROXIES = 10  # CRYPTOPAY_PROXY_COUNT: reverse proxies in front (a negative count trusts the client's header)


@attrs.frozen
class ApiSettings:
    """Everything the HTTP shell needs to know that is not a service."""

    token_secret: str = attrs.field(repr=False)
    token_key_id: str = "k1"
    previous_token_keys: Mapping[str, str] = attrs.field(factory=dict, repr=lambda _: "<redacted>")
    access_ttl_seconds: int = 15 * 60
    refresh_ttl_seconds: int = 30 * 24 * 3600
    cookie_secure: bool = True
    rate_limit: int = 600  # requests per principal and route per window
    auth_rate_limit: int = 30  # login/register/refresh attempts per client address and route per window
    rate_window_seconds: int = 60
    page_size: int = 50
    max_page_size: int = 200
    proxy_count: int = 0  # how many reverse proxies set X-Forwarded-For in front of us
    max_body_bytes: int = 1_000_000
    step_up_ttl_seconds: int = 5 * 60  # how long a step-up (fresh password or code) lasts
    # a wallet's sends and bills today past this many KES (this one included) need a step-up (review5 S4)
    wallet_step_up_kes: int = 1000
    session_cache_seconds: int = 2  # other processes honour a logout or role change within this
    destination_cool_off_seconds: int = 24 * 3600  # a new payout destination receives nothing before this
    login_account_limit: int = 10  # login and step-up attempts per account per window, whatever the address
    login_account_window_seconds: int = 15 * 60
    quote_rate_limit: int = 30  # FX quotes locked (and stored) per principal per window
    buy_rate_limit: int = 10  # wallet buys (each an STK Push to Daraja, a prompt on the phone) per wallet per window
    # a wallet's send checks and sends per window, API and portal together: each one tells whether a number or
    # username has a wallet and what it may receive, so a wallet may not probe numbers at the general rate (F6)
    send_rate_limit: int = 30
    # a wallet's sales, cash-outs and bills per window, API and portal together: each is a B2C or B2B payment from the
    # platform's shortcode, whose Daraja throughput merchants' settlements and remittances share (review7 F12)
    payout_rate_limit: int = 10
    webhook_ping_limit: int = 5  # webhook test pings (and redeliveries of one) per merchant per ping window
    webhook_ping_window_seconds: int = 60
    reset_ttl_seconds: int = 30 * 60
    public_url: str = "http://127.0.0.1:8000"  # password-reset links point here
    production: bool = False  # CRYPTOPAY_ENV=production: HSTS on every answer
    metrics_token: str = attrs.field(default="", repr=False)  # CRYPTOPAY_METRICS_TOKEN: /metrics is 404 without it
    # /metrics also serves the worker's text files written less than this long ago (0: not at all); one hour is
    # twice the slowest job's period (reconciliation, every 30 minutes)
    metrics_textfile_max_age_seconds: int = 3600

    def __repr__(self) -> str:
        return (
            f"ApiSettings(token_key_id={self.token_key_id!r}, previous_token_keys=<redacted>, "
            f"access_ttl_seconds={self.access_ttl_seconds}, ...)"
        )

    @property
    def token_keys(self) -> dict[str, bytes]:
        """Every signing key by id: the current one and those still accepted for tokens signed before a rotation."""
        keys = {kid: secret.encode() for kid, secret in self.previous_token_keys.items()}
        keys[self.token_key_id] = self.token_secret.encode()
        return keys

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Read ``CRYPTOPAY_TOKEN_SECRET`` (required, >= 32 chars), ``CRYPTOPAY_TOKEN_KEY_ID``,
        ``CRYPTOPAY_PREVIOUS_TOKEN_KEYS`` (``kid=secret,...``), ``CRYPTOPAY_COOKIE_SECURE``, ``CRYPTOPAY_RATE_LIMIT``,
        ``CRYPTOPAY_PROXY_COUNT``, ``CRYPTOPAY_DESTINATION_COOL_OFF_SECONDS``, ``CRYPTOPAY_SESSION_CACHE_SECONDS``,
        ``CRYPTOPAY_PUBLIC_URL``, ``CRYPTOPAY_METRICS_TOKEN``, ``CRYPTOPAY_METRICS_TEXTFILE_MAX_AGE_SECONDS``,
        ``CRYPTOPAY_WALLET_STEP_UP_KES`` (0: every send and bill steps up), ``CRYPTOPAY_SEND_RATE_LIMIT``; numbers
        and switches through the typed reader (``adapters._env``): a bad one is refused naming the variable."""
        env = os.environ if environ is None else environ
        secret = env.get("CRYPTOPAY_TOKEN_SECRET", "")
        if len(secret) < 32:
            raise InvalidInput("CRYPTOPAY_TOKEN_SECRET must be set to a random string of at least 32 characters")
        previous = dict(
            pair.split("=", 1) for pair in env.get("CRYPTOPAY_PREVIOUS_TOKEN_KEYS", "").split(",") if "=" in pair
        )
        if any(len(old) < 32 for old in previous.values()):  # each one still verifies tokens: as strong as the first
            raise InvalidInput("each CRYPTOPAY_PREVIOUS_TOKEN_KEYS secret must have at least 32 characters")
        metrics_token = env.get("CRYPTOPAY_METRICS_TOKEN", "")
        if metrics_token and len(metrics_token) < 32:  # a bearer token guessed is /metrics public
            raise InvalidInput("CRYPTOPAY_METRICS_TOKEN must be a random string of at least 32 characters")
        read = Variables(env)
        return cls(
            token_secret=secret,
            token_key_id=env.get("CRYPTOPAY_TOKEN_KEY_ID", "k1"),
            previous_token_keys=previous,
            cookie_secure=read.flag("COOKIE_SECURE", default=True),
            rate_limit=read.integer("RATE_LIMIT", 600, minimum=1),
            proxy_count=read.integer("PROXY_COUNT", 0, maximum=_MAX_PROXIES),
            destination_cool_off_seconds=read.integer("DESTINATION_COOL_OFF_SECONDS", 24 * 3600),
            session_cache_seconds=read.integer("SESSION_CACHE_SECONDS", 2, maximum=3600),
            public_url=env.get("CRYPTOPAY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            production=deployment_is_production(env),
            metrics_token=metrics_token,
            metrics_textfile_max_age_seconds=read.integer("METRICS_TEXTFILE_MAX_AGE_SECONDS", 3600),
            wallet_step_up_kes=read.integer("WALLET_STEP_UP_KES", 1000),
            send_rate_limit=read.integer("SEND_RATE_LIMIT", 30, minimum=1),
            payout_rate_limit=read.integer("PAYOUT_RATE_LIMIT", 10, minimum=1),
        )
