"""Deployment settings, parsed and validated on their own: every ``CRYPTOPAY_*`` variable the README documents.

``Settings.from_env`` reads the environment once; the ``Services`` are built from the result and never read the
environment again. Secrets (database and Redis URLs, node URLs, key-encryption keys, the token secret, Daraja, FX
SMS and S3 credentials) never appear in a ``repr``.

>>> s = Settings.from_env({"CRYPTOPAY_DATA_DIR": "/tmp/cp", "CRYPTOPAY_TRON_API_URL": "http://127.0.0.1:9"})
>>> s.queue_backend, [c.network for c in s.chains], s.production
('inline', ['tron'], False)
>>> "127.0.0.1:9" in repr(s)
False
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import attrs
from cryptopay.adapters._env import Variables, deployment_is_production
from cryptopay.adapters._urls import is_loopback_or_sandbox_url
from cryptopay.adapters.bootstrap.api_settings import ApiSettings
from cryptopay.adapters.bootstrap.treasury_settings import TreasurySettings
from cryptopay.adapters.bootstrap.web_settings import WebSettings
from cryptopay.adapters.deployment import DEFAULT_DEPLOYMENT, RedisKeys
from cryptopay.adapters.documents.s3 import S3Settings
from cryptopay.adapters.faults import fault_points_from_env
from cryptopay.adapters.fx.settings import FxSettings
from cryptopay.adapters.mpesa.settings import DarajaSettings
from cryptopay.adapters.notify.smtp import SmtpSettings
from cryptopay.adapters.sms.settings import SmsSettings
from cryptopay.core.compliance.travel_rule import DEFAULT_THRESHOLD
from cryptopay.core.errors import CryptopayError, InvalidInput
from cryptopay.core.faults import NO_FAULTS, FaultPoints
from cryptopay.core.mobile_money import SAFARICOM_CALLBACK_NETWORKS, SourceAllowlist
from cryptopay.core.mobile_money.limits import B2C_LIMITS
from cryptopay.core.money import KES, USDT, Money, to_decimal
from cryptopay.core.payouts.model import DEFAULT_UNKNOWN_BOUND
from cryptopay.core.remittances.service import RemittanceRules
from cryptopay.core.wallets.deposit import DepositMinimums, StablecoinConversion, WalletSpeed
from cryptopay.core.wallets.quotes import DEFAULT_WALLET_QUOTE_WINDOW
from cryptopay.core.wallets.service import P2P_MINIMUM, InviteRules
from cryptopay.core.wallets.sms_budget import SignupSmsRules
from cryptopay.core.webhooks.service import MAX_ENDPOINTS

__all__ = ["EVM_NETWORKS", "ChainSettings", "Settings", "lookup_key"]

EVM_NETWORKS = ("ethereum", "polygon", "bsc")
_INFRASTRUCTURE_URLS = ("CRYPTOPAY_DATABASE_URL", "CRYPTOPAY_REDIS_URL")  # loopback allowed in production
_TRUE = {"1", "true", "yes", "on"}
_LOOKUP_KEY = "CRYPTOPAY_PII_LOOKUP_KEY"
_WALLET_QUOTE_SECONDS = int(DEFAULT_WALLET_QUOTE_WINDOW.total_seconds())  # 120
T = TypeVar("T")


def _hidden(_: object) -> str:
    return "<redacted>"


@attrs.frozen(kw_only=True)
class ChainSettings:
    """One network's rail: its node or API URL (may embed an API key: never shown), depth and hot wallet."""

    network: str
    url: str = attrs.field(repr=_hidden)
    chain_id: int | None = None
    usdt_contract: str | None = None
    usdc_contract: str | None = None  # EVM only; a test chain (own chain id) offers USDC only with its own contract
    confirmations: int | None = None
    hot_wallet: str | None = None


@attrs.frozen(kw_only=True)
class Settings:
    """What the composition root builds from (see README, Configuration)."""

    data_dir: Path
    database_url: str = attrs.field(repr=_hidden)
    redis_url: str | None = attrs.field(default=None, repr=_hidden)
    production: bool = False
    allow_sandbox: bool = False
    webhook_allow_loopback: bool = False  # http and loopback webhook endpoints, for the sandbox (never production)
    settlement_requires_kyb: bool = False  # a merchant's settlement waits for KYB approval (on in production)
    screening_required: bool = False  # with no sanctions list loaded, money screened waits (on in production)
    monitoring_rules: Path | None = None  # a JSON or TOML rule set (None: the core's default rules)
    sanctions_threshold: int = 90  # the fuzzy name score (0-100) at which a listed name is a match
    wallet_speed: WalletSpeed = attrs.Factory(WalletSpeed)  # CRYPTOPAY_WALLET_CONFIRMATIONS: wallet deposits' depth
    deposit_minimums: DepositMinimums = attrs.Factory(DepositMinimums)  # CRYPTOPAY_WALLET_DEPOSIT_MINIMUMS
    # CRYPTOPAY_STABLECOIN_CONVERSION_SPREAD: a USDC deposit credited as USDT, less this spread (a percentage)
    stablecoin_conversion: StablecoinConversion = attrs.Factory(StablecoinConversion)
    travel_rule_threshold: Money = DEFAULT_THRESHOLD  # transfers worth this much (USD) or more keep IVMS101 data
    withdrawal_cool_off_hours: int = 24  # a wallet's first withdrawal to a new address waits this long before sending
    officer_cool_off_hours: int = 24  # an account made staff approves no four-eyes decision for this long (R10-8)
    wallet_quote_seconds: int = _WALLET_QUOTE_SECONDS  # CRYPTOPAY_WALLET_QUOTE_SECONDS: how long one may be traded at
    public_url: str = "http://127.0.0.1:8000"
    queue_name: str = "cryptopay"
    daraja_queue: str | None = None  # M-Pesa jobs go to this RQ queue (its own worker calls Daraja one at a time)
    daraja_throughput: int = 5  # Daraja requests per second towards one shortcode, all workers together (= burst)
    # CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES: a payout unknown for longer is reported, a reconciliation difference
    # (payouts-unresolved) and may be concluded from M-Pesa's record; the check and the conclusion rule read this one
    payout_unknown_bound: timedelta = DEFAULT_UNKNOWN_BOUND
    daraja_callback_sources: SourceAllowlist | None = None  # None: callbacks accepted from any address
    chains: tuple[ChainSettings, ...] = ()
    evm_xpub: str | None = None
    tron_xpub: str | None = None
    bitcoin_xpub: str | None = None
    scan_lookback_blocks: int = 100
    remittance_payout_attempts: int = 3  # B2C attempts for a remittance before its USDT is refunded to the sender
    remittance_sms_per_day: int = 3  # CRYPTOPAY_REMITTANCE_SMS_PER_DAY: remittance SMS one number gets a day
    # CRYPTOPAY_REMITTANCE_MINIMUM_KES: the least a remittance delivers (it pays for the B2C payment and the SMS)
    remittance_minimum: Money = attrs.field(factory=lambda: RemittanceRules().minimum)
    # CRYPTOPAY_REMITTANCE_EXCESS_FLOOR_USDT: an excess worth this or less (or the network's fee) is kept, not refunded
    remittance_excess_floor: Money = attrs.field(factory=lambda: Money.of(1, USDT))
    # CRYPTOPAY_P2P_INVITE_MINIMUM_KES, _INVITES_WAITING, _INVITE_NUMBERS_PER_DAY: sends to numbers with no wallet
    invites: InviteRules = attrs.Factory(InviteRules)
    p2p_minimum: Money = P2P_MINIMUM  # CRYPTOPAY_P2P_MINIMUM_KES: the least any P2P send is worth (KES, at the mid)
    # CRYPTOPAY_SIGNUP_SMS_PER_HOUR, _PER_ADDRESS_PER_DAY: verification SMS for the deployment and per client address
    signup_sms: SignupSmsRules = attrs.Factory(SignupSmsRules)
    redis_keys: RedisKeys = attrs.Factory(lambda: RedisKeys(DEFAULT_DEPLOYMENT))  # CRYPTOPAY_DEPLOYMENT
    password_hash_concurrency: int = 2  # password hashes computed at once per process (each takes ~64 MiB)
    invoice_cache_size: int = 10_000  # rendered invoice reads kept per API process on PostgreSQL (0: none)
    webhook_max_endpoints: int = MAX_ENDPOINTS  # enabled webhook endpoints per merchant (each retried for days)
    vault_keks: str | None = attrs.field(default=None, repr=_hidden)
    pii_lookup_key: str | None = attrs.field(default=None, repr=_hidden)  # base64; keyed hashes of phones, emails
    web: WebSettings = attrs.Factory(WebSettings)  # the production web server (``cryptopay serve``)
    api: ApiSettings | None = None  # None without CRYPTOPAY_TOKEN_SECRET: the API refuses to start
    fx: FxSettings = attrs.Factory(FxSettings)
    mpesa: DarajaSettings | None = None  # None without CRYPTOPAY_MPESA_*: payouts are unavailable
    mpesa_float_baseline: Money | None = None  # the M-Pesa float's opening balance, for reconciliation
    # the settlement bank account's number (digits): a bank statement of another account is refused ("" : any is read)
    settlement_bank_account: str = ""
    reconciliation_keep_days: int = 30  # clean reconciliation results kept this long (comparing runs)
    reconciliation_keep_differences_days: int = 2557  # results with differences: the audit period (7 years)
    smtp: SmtpSettings | None = None  # None without CRYPTOPAY_SMTP_HOST: notifications go to a private file
    sms: SmsSettings = attrs.Factory(SmsSettings)  # CRYPTOPAY_SMS_*: Africa's Talking, a private file, or none
    faults: FaultPoints = NO_FAULTS  # CRYPTOPAY_FAULT_POINTS: a test setting (tests, make chaos); production refuses it
    treasury: TreasurySettings = attrs.Factory(TreasurySettings)  # reserves, alerts, sweeps
    documents_s3: S3Settings | None = None  # CRYPTOPAY_S3_*: KYC documents in a bucket (None: in the data dir)

    @property
    def metrics_dir(self) -> Path:
        """Where the worker writes its node-exporter text files (``treasury.prom``...), which the API's ``/metrics``
        also serves: ``$CRYPTOPAY_DATA_DIR/metrics``."""
        return self.data_dir / "metrics"

    @property
    def queue_backend(self) -> str:
        return "rq" if self.redis_url else "inline"

    def chain(self, network: str) -> ChainSettings | None:
        return next((c for c in self.chains if c.network == network), None)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Settings:
        """The embedded defaults in ``data_dir`` (SQLite, inline queue, no rails): for tests and embedding."""
        return cls.from_env({"CRYPTOPAY_DATA_DIR": str(data_dir)})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate ``CRYPTOPAY_*`` (the process environment by default)."""
        source = dict(os.environ if env is None else env)
        get = _Reader(source)
        data_dir = Path(get.text("DATA_DIR") or ".cryptopay").resolve()
        production = deployment_is_production(source)
        settings = cls(
            data_dir=data_dir,
            database_url=get.text("DATABASE_URL") or f"sqlite:///{data_dir / 'cryptopay.db'}",
            redis_url=get.text("REDIS_URL") or None,
            production=production,
            allow_sandbox=get.flag("ALLOW_SANDBOX"),
            webhook_allow_loopback=get.flag("WEBHOOK_ALLOW_LOOPBACK"),
            settlement_requires_kyb=get.switch("SETTLEMENT_REQUIRES_KYB", default=production),
            screening_required=get.switch("SCREENING_REQUIRED", default=production),
            monitoring_rules=Path(get.text("MONITORING_RULES")) if get.text("MONITORING_RULES") else None,
            sanctions_threshold=_threshold(get.number("SANCTIONS_THRESHOLD")),
            wallet_speed=_named("WALLET_CONFIRMATIONS", WalletSpeed.parse, get.text("WALLET_CONFIRMATIONS")),
            deposit_minimums=_named(
                "WALLET_DEPOSIT_MINIMUMS", DepositMinimums.parse, get.text("WALLET_DEPOSIT_MINIMUMS")
            ),
            stablecoin_conversion=_named(
                "STABLECOIN_CONVERSION_SPREAD",
                StablecoinConversion.parse,
                get.text("STABLECOIN_CONVERSION_SPREAD"),
            ),
            travel_rule_threshold=_not_negative(
                "TRAVEL_RULE_THRESHOLD_USD", get.text("TRAVEL_RULE_THRESHOLD_USD"), DEFAULT_THRESHOLD
            ),
            withdrawal_cool_off_hours=_hours(get.number("WITHDRAWAL_COOL_OFF_HOURS")),
            officer_cool_off_hours=_hours(get.number("OFFICER_COOL_OFF_HOURS"), "OFFICER_COOL_OFF_HOURS"),
            wallet_quote_seconds=_positive(get, "WALLET_QUOTE_SECONDS", _WALLET_QUOTE_SECONDS),
            public_url=get.text("PUBLIC_URL") or "http://127.0.0.1:8000",
            queue_name=get.text("QUEUE_NAME") or "cryptopay",
            daraja_queue=get.text("DARAJA_QUEUE") or None,
            daraja_throughput=_positive(get, "DARAJA_THROUGHPUT", 5),
            payout_unknown_bound=_unknown_bound(get.number("PAYOUT_UNKNOWN_BOUND_MINUTES")),
            daraja_callback_sources=_allowlist(get.text("DARAJA_CALLBACK_SOURCES")),
            chains=_chains(get),
            evm_xpub=get.text("EVM_XPUB") or None,
            tron_xpub=get.text("TRON_XPUB") or None,
            bitcoin_xpub=get.text("BITCOIN_XPUB") or None,
            scan_lookback_blocks=get.number("SCAN_LOOKBACK_BLOCKS") or 100,
            remittance_payout_attempts=_positive(get, "REMITTANCE_PAYOUT_ATTEMPTS", 3),
            remittance_sms_per_day=_positive(get, "REMITTANCE_SMS_PER_DAY", 3),
            remittance_minimum=_remittance_minimum(get),
            remittance_excess_floor=_not_negative(
                "REMITTANCE_EXCESS_FLOOR_USDT", get.text("REMITTANCE_EXCESS_FLOOR_USDT"), Money.of(1, USDT)
            ),
            invites=_invites(get),
            p2p_minimum=_p2p_minimum(get),
            signup_sms=_signup_sms(get),
            reconciliation_keep_days=_positive(get, "RECONCILIATION_KEEP_DAYS", 30),
            reconciliation_keep_differences_days=_positive(get, "RECONCILIATION_KEEP_DIFFERENCES_DAYS", 2557),
            redis_keys=RedisKeys.of(get.text("DEPLOYMENT") or DEFAULT_DEPLOYMENT),
            password_hash_concurrency=get.number("PASSWORD_HASH_CONCURRENCY") or 2,
            invoice_cache_size=_or(get.number("INVOICE_CACHE_SIZE"), 10_000),
            webhook_max_endpoints=get.number("WEBHOOK_MAX_ENDPOINTS") or MAX_ENDPOINTS,
            vault_keks=get.text("VAULT_KEKS") or None,
            pii_lookup_key=get.text("PII_LOOKUP_KEY") or None,
        )
        settings.check(source)  # before the sections: a sandbox URL is named as such, not as a missing credential
        return attrs.evolve(
            settings,
            api=ApiSettings.from_env(source) if get.text("TOKEN_SECRET") else None,
            web=WebSettings.from_env(source),
            fx=FxSettings.from_env(source),
            mpesa=DarajaSettings.from_env(source) if _daraja_configured(source) else None,
            mpesa_float_baseline=_kes("MPESA_FLOAT_BASELINE", get.text("MPESA_FLOAT_BASELINE")),
            settlement_bank_account=_bank_account(get.text("SETTLEMENT_BANK_ACCOUNT")),
            smtp=SmtpSettings.from_env(source) if get.text("SMTP_HOST") else None,
            sms=SmsSettings.from_env(source, production=production, allow_sandbox=settings.allow_sandbox),
            faults=fault_points_from_env(source, production=production),
            treasury=TreasurySettings.from_env(source),
            documents_s3=S3Settings.from_env(source, production=production),
        )

    def check(self, env: Mapping[str, str]) -> None:
        """Production refuses the embedded database, an open Daraja callback path and (unless allowed) an external
        service's URL on a sandbox or loopback host (``is_loopback_or_sandbox_url``)."""
        if not self.production:
            return
        if self.webhook_allow_loopback:
            raise InvalidInput(
                "CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK is for the sandbox; production sends to public hosts only"
            )
        if self.database_url.startswith("sqlite"):
            raise InvalidInput("production needs CRYPTOPAY_DATABASE_URL (PostgreSQL); SQLite is for embedding")
        if self.daraja_callback_sources is None:
            raise InvalidInput(
                "production needs CRYPTOPAY_DARAJA_CALLBACK_SOURCES (`safaricom` or the networks Daraja calls from)"
            )
        if self.allow_sandbox:
            return
        # The external services' URLs, by parsed host (the database and Redis on this host are ordinary
        # infrastructure, not a sandbox: they never need CRYPTOPAY_ALLOW_SANDBOX).
        services = (
            n for n in env if n.startswith("CRYPTOPAY_") and n.endswith("_URL") and n not in _INFRASTRUCTURE_URLS
        )
        for name in services:
            if is_loopback_or_sandbox_url(env[name]):
                raise InvalidInput(f"{name} points at a sandbox or loopback host; set CRYPTOPAY_ALLOW_SANDBOX=1")

    def check_keys(self) -> None:
        """What every process's wiring reads first, parsed before a server or worker starts (``cryptopay serve``'s
        and ``cryptopay-worker``'s pre-flight): the vault's KEKs (``CRYPTOPAY_VAULT_KEKS``) and the PII lookup key
        (``CRYPTOPAY_PII_LOOKUP_KEY``), both required in production (elsewhere a development key is made in the
        data directory when unset). A refusal names the variable, never a key."""
        from cryptopay.adapters.vault import parse_keks

        if self.vault_keks or self.production:
            try:
                parse_keks(self.vault_keks or "")
            except CryptopayError as refused:
                raise InvalidInput(_naming("CRYPTOPAY_VAULT_KEKS", refused.message)) from None
        if self.pii_lookup_key:
            lookup_key(self.pii_lookup_key)
        elif self.production:
            raise InvalidInput(f"production needs {_LOOKUP_KEY} (base64, 32 bytes): phones and emails are keyed by it")

    def cautions(self) -> list[str]:
        """What production runs without but should not, logged as warnings by ``cryptopay serve``'s and
        ``cryptopay-worker``'s pre-flight (a refusal would stop payments for a check's input).

        Without ``CRYPTOPAY_MPESA_FLOAT_BASELINE`` (the float funded outside the books) reconciliation cannot compare
        the float with M-Pesa's Account Balance: ``mpesa-float`` and ``float-b2c`` are reported skipped (``cryptopay
        reconcile --require-outside`` exits 7; ``CryptopayReconciliationSkipped`` fires after a day), never clean.
        With ``CRYPTOPAY_SCREENING_REQUIRED`` turned off, money may leave screened against no list.

        >>> production = Settings(data_dir=Path("."), database_url="postgresql://db/cryptopay", production=True)
        >>> production.cautions()[0].split(":")[0]
        'CRYPTOPAY_MPESA_FLOAT_BASELINE is not set'
        """
        if not self.production:
            return []
        found = []
        if self.mpesa_float_baseline is None:
            found.append(
                "CRYPTOPAY_MPESA_FLOAT_BASELINE is not set: reconciliation skips the M-Pesa float checks "
                "(mpesa-float, float-b2c) until it is (the float's opening balance plus top-ups not booked)"
            )
        if not self.screening_required:
            found.append(
                "CRYPTOPAY_SCREENING_REQUIRED is off: while no sanctions list is loaded, withdrawals, refunds and "
                "remittance payouts leave screened against nothing (R12-3)"
            )
        return found


def lookup_key(encoded: str) -> bytes:
    """``CRYPTOPAY_PII_LOOKUP_KEY`` decoded: base64 of at least 32 bytes (errors never show the key).

    >>> len(lookup_key("QUFB" * 11))
    33
    >>> lookup_key("QUFB")
    Traceback (most recent call last):
    ...
    cryptopay.core.errors.InvalidInput: CRYPTOPAY_PII_LOOKUP_KEY must be at least 32 bytes (base64)
    """
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        raise InvalidInput(f"{_LOOKUP_KEY} is not valid base64") from None
    if len(key) < 32:
        raise InvalidInput(f"{_LOOKUP_KEY} must be at least 32 bytes (base64)")
    return key


def _naming(variable: str, message: str) -> str:
    return message if variable in message else f"{variable}: {message}"


@attrs.frozen
class _Reader:
    env: Mapping[str, str]

    def text(self, name: str) -> str:
        return self.env.get(f"CRYPTOPAY_{name}", "").strip()

    def flag(self, name: str) -> bool:
        """An off-by-default switch: the documented spellings only (``adapters._env.Variables.flag``)."""
        return Variables(self.env).flag(name)

    def switch(self, name: str, *, default: bool) -> bool:
        """An explicit on/off (``1/true/yes/on`` or ``0/false/no/off``); unset is ``default``; anything else refused."""
        text = self.text(name).lower()
        if not text:
            return default
        if text in _TRUE or text in ("0", "false", "no", "off"):
            return text in _TRUE
        raise InvalidInput(f"CRYPTOPAY_{name} must be on or off (1/0, true/false), got {text!r}")

    def number(self, name: str) -> int | None:
        text = self.text(name)
        if not text:
            return None
        if not (text.isascii() and text.isdigit()):  # "²" is isdigit() but not int()
            raise InvalidInput(f"CRYPTOPAY_{name} must be a whole number, got {text!r}")
        return int(text)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _positive(get: _Reader, name: str, default: int) -> int:
    value = get.number(name)
    if value == 0:
        raise InvalidInput(f"CRYPTOPAY_{name} must be at least 1")
    return default if value is None else value


def _invites(get: _Reader) -> InviteRules:
    """What a sender may send to numbers with no wallet (each an SMS we pay for): ``CRYPTOPAY_P2P_INVITE_MINIMUM_KES``
    (a positive KES amount), ``CRYPTOPAY_P2P_INVITES_WAITING`` and ``CRYPTOPAY_P2P_INVITE_NUMBERS_PER_DAY`` (at least
    1); each unset is the core's default (KES 50, 5, 10).

    >>> rules = _invites(_Reader({"CRYPTOPAY_P2P_INVITE_MINIMUM_KES": "100", "CRYPTOPAY_P2P_INVITES_WAITING": "2"}))
    >>> str(rules.minimum.amount), rules.open_per_sender, rules.new_numbers_per_day
    ('100.00', 2, 10)
    """
    default = InviteRules()
    minimum = _kes("P2P_INVITE_MINIMUM_KES", get.text("P2P_INVITE_MINIMUM_KES")) or default.minimum
    if not minimum.is_positive():
        raise InvalidInput(
            f"CRYPTOPAY_P2P_INVITE_MINIMUM_KES must be more than 0 KES, got {get.text('P2P_INVITE_MINIMUM_KES')!r}"
        )
    return InviteRules(
        minimum=minimum,
        open_per_sender=_positive(get, "P2P_INVITES_WAITING", default.open_per_sender),
        new_numbers_per_day=_positive(get, "P2P_INVITE_NUMBERS_PER_DAY", default.new_numbers_per_day),
    )


def _p2p_minimum(get: _Reader) -> Money:
    """``CRYPTOPAY_P2P_MINIMUM_KES``: the least a P2P send is worth, more than 0 KES (default the core's KES 10).

    >>> _p2p_minimum(_Reader({"CRYPTOPAY_P2P_MINIMUM_KES": "20"}))
    Money('20.00', 'KES')
    """
    minimum = _kes("P2P_MINIMUM_KES", get.text("P2P_MINIMUM_KES")) or P2P_MINIMUM
    if not minimum.is_positive():
        raise InvalidInput(f"CRYPTOPAY_P2P_MINIMUM_KES must be more than 0 KES, got {get.text('P2P_MINIMUM_KES')!r}")
    return minimum


def _signup_sms(get: _Reader) -> SignupSmsRules:
    """What wallet sign-up may spend on verification SMS: ``CRYPTOPAY_SIGNUP_SMS_PER_HOUR`` (the whole deployment's,
    default 500) and ``CRYPTOPAY_SIGNUP_SMS_PER_ADDRESS_PER_DAY`` (one client address's, default 50), each at least 1.

    >>> _signup_sms(_Reader({"CRYPTOPAY_SIGNUP_SMS_PER_HOUR": "200"})).per_hour
    200
    """
    default = SignupSmsRules()
    return SignupSmsRules(
        per_hour=_positive(get, "SIGNUP_SMS_PER_HOUR", default.per_hour),
        per_address_per_day=_positive(get, "SIGNUP_SMS_PER_ADDRESS_PER_DAY", default.per_address_per_day),
    )


def _daraja_configured(env: Mapping[str, str]) -> bool:
    """Any ``CRYPTOPAY_MPESA_*`` Daraja setting (the float baseline is the books', not Daraja's)."""
    names = (n for n, v in env.items() if n.startswith("CRYPTOPAY_MPESA_") and v.strip())
    return any(n != "CRYPTOPAY_MPESA_FLOAT_BASELINE" for n in names)


def _unknown_bound(minutes: int | None) -> timedelta:
    """``CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES``: 5 to 1440 (a day); the core's 30 minutes when unset. Shorter
    than M-Pesa's own time to pay would conclude payouts still in flight; longer leaves money in flight unseen.

    >>> _unknown_bound(45), _unknown_bound(None)
    (datetime.timedelta(seconds=2700), datetime.timedelta(seconds=1800))
    """
    if minutes is None:
        return DEFAULT_UNKNOWN_BOUND
    if not 5 <= minutes <= 1440:
        raise InvalidInput(f"CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES must be from 5 to 1440, got {minutes}")
    return timedelta(minutes=minutes)


def _hours(value: int | None, name: str = "WITHDRAWAL_COOL_OFF_HOURS") -> int:
    """A cool-off (``CRYPTOPAY_WITHDRAWAL_COOL_OFF_HOURS``, ``CRYPTOPAY_OFFICER_COOL_OFF_HOURS``): 0 (none) to 720
    (30 days); 24 when unset."""
    if value is None:
        return 24
    if not 0 <= value <= 720:
        raise InvalidInput(f"CRYPTOPAY_{name} must be from 0 to 720, got {value}")
    return value


def _not_negative(name: str, text: str, default: Money) -> Money:
    """An amount in ``default``'s asset, 0 or more; empty: ``default``.

    >>> _not_negative("REMITTANCE_EXCESS_FLOOR_USDT", "0.5", Money.of(1, USDT))
    Money('0.500000', 'USDT')
    """
    if not text:
        return default
    asset = default.asset
    try:
        amount: Money | None = Money.of(to_decimal(text), asset)
    except (InvalidInput, ArithmeticError):
        amount = None
    if amount is None or amount.amount < 0:
        raise InvalidInput(f"CRYPTOPAY_{name} must be an amount in {asset.code}, 0 or more, got {text!r}")
    return amount


def _remittance_minimum(get: _Reader) -> Money:
    """``CRYPTOPAY_REMITTANCE_MINIMUM_KES``: the least a remittance delivers, within what one B2C payment carries
    (KES 10 to 250,000); unset is the core's KES 100.

    >>> str(_remittance_minimum(_Reader({"CRYPTOPAY_REMITTANCE_MINIMUM_KES": "250"})).amount)
    '250.00'
    >>> _remittance_minimum(_Reader({"CRYPTOPAY_REMITTANCE_MINIMUM_KES": "5"}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cryptopay.core.errors.InvalidInput: CRYPTOPAY_REMITTANCE_MINIMUM_KES must be KES 10 to 250,000 ..., got '5'
    """
    text = get.text("REMITTANCE_MINIMUM_KES")
    minimum = _kes("REMITTANCE_MINIMUM_KES", text) or RemittanceRules().minimum
    if not B2C_LIMITS.minimum <= minimum.amount <= B2C_LIMITS.maximum:
        raise InvalidInput(
            f"CRYPTOPAY_REMITTANCE_MINIMUM_KES must be KES {B2C_LIMITS.minimum:,} to {B2C_LIMITS.maximum:,}"
            f" (one B2C payment), got {text!r}"
        )
    return minimum


def _kes(name: str, text: str) -> Money | None:
    if not text:
        return None
    try:
        return Money.of(to_decimal(text), KES)
    except (InvalidInput, ArithmeticError):
        raise InvalidInput(f"CRYPTOPAY_{name} must be an amount in KES, got {text!r}") from None


def _bank_account(text: str) -> str:
    """The settlement bank account's number: digits, spaces and dashes as banks print it, kept as its digits."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if text and (not 6 <= len(digits) <= 20 or any(not (ch.isdigit() or ch in " -") for ch in text)):
        raise InvalidInput(f"CRYPTOPAY_SETTLEMENT_BANK_ACCOUNT must be a bank account number (digits), got {text!r}")
    return digits


_NARROWEST_SOURCE_PREFIX = {4: 16, 6: 32}  # Daraja calls from a few published addresses, never whole ranges


def _allowlist(text: str) -> SourceAllowlist | None:
    """``safaricom`` (Safaricom's published networks) or comma-separated addresses/networks; empty: none."""
    if not text:
        return None
    if text.lower() == "safaricom":
        return SourceAllowlist.of(*SAFARICOM_CALLBACK_NETWORKS)
    try:
        allowlist = SourceAllowlist.of(*(part.strip() for part in text.split(",") if part.strip()))
    except ValueError as error:
        raise InvalidInput(f"CRYPTOPAY_DARAJA_CALLBACK_SOURCES: {error}") from None
    if not allowlist.networks:  # an empty list allows any source: it must not pass as the required allowlist
        raise InvalidInput("CRYPTOPAY_DARAJA_CALLBACK_SOURCES names no address or network")
    for network in allowlist.networks:  # a vouched source skips the rate limit and its stray answers are kept
        if network.prefixlen < _NARROWEST_SOURCE_PREFIX[network.version]:
            raise InvalidInput(f"CRYPTOPAY_DARAJA_CALLBACK_SOURCES: {network} is too wide to vouch for Daraja")
    return allowlist


def _chains(get: _Reader) -> tuple[ChainSettings, ...]:
    """The networks with a node/API URL configured, in a fixed order."""
    chains = []
    for network in EVM_NETWORKS:
        if url := get.text(f"{network.upper()}_RPC_URL"):
            chains.append(_chain(get, network, url))
    if url := get.text("TRON_API_URL"):
        chains.append(_chain(get, "tron", url))
    if url := get.text("ESPLORA_URL"):
        chains.append(_chain(get, "bitcoin", url))
    return tuple(chains)


def _chain(get: _Reader, network: str, url: str) -> ChainSettings:
    prefix = network.upper()
    return ChainSettings(
        network=network,
        url=url,
        chain_id=get.number(f"{prefix}_CHAIN_ID"),
        usdt_contract=get.text(f"{prefix}_USDT_CONTRACT") or None,
        usdc_contract=(get.text(f"{prefix}_USDC_CONTRACT") or None) if network in EVM_NETWORKS else None,
        confirmations=get.number(f"{prefix}_CONFIRMATIONS"),
        hot_wallet=get.text(f"{prefix}_HOT_WALLET") or None,
    )


def _threshold(value: int | None) -> int:
    """``CRYPTOPAY_SANCTIONS_THRESHOLD``: a name score from 50 to 100 (lower would match nearly everyone)."""
    if value is None:
        return 90
    if not 50 <= value <= 100:
        raise InvalidInput(f"CRYPTOPAY_SANCTIONS_THRESHOLD must be from 50 to 100, got {value}")
    return value


def _named(name: str, parse: Callable[[str], T], text: str) -> T:
    """A setting parsed by the core (``parse("")`` is its default); a refusal names the variable."""
    try:
        return parse(text)
    except InvalidInput as refused:
        raise InvalidInput(f"CRYPTOPAY_{name}: {refused.message}") from None
