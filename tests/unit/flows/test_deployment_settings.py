"""Deployment settings of the faults work: the Redis namespace and the fault points, checked at start-up."""

import os
from datetime import timedelta

import pytest
from cryptopay.adapters.bootstrap import ApiSettings, Settings
from cryptopay.adapters.bootstrap.wiring import Parts
from cryptopay.adapters.fx import FxSettings
from cryptopay.adapters.mpesa import DarajaSettings
from cryptopay.core.errors import InvalidInput
from cryptopay.core.reconciliation import Outside
from cryptopay.core.system import RandomIds, SystemClock

PRODUCTION = {
    "CRYPTOPAY_ENV": "production",
    "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://db/cryptopay",
    "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": "safaricom",
}


def test_production_refuses_fault_points() -> None:
    """CRYPTOPAY_FAULT_POINTS is a test setting: a production deployment refuses to start with it."""
    with pytest.raises(InvalidInput, match="CRYPTOPAY_FAULT_POINTS"):
        Settings.from_env({**PRODUCTION, "CRYPTOPAY_FAULT_POINTS": "payout.submitted=kill"})


def test_a_bad_deployment_name_is_refused_and_a_good_one_prefixes_the_fx_cache(tmp_path) -> None:
    """CRYPTOPAY_DEPLOYMENT must be a short lower-case name; it becomes the FX cache's key prefix."""
    with pytest.raises(InvalidInput, match="CRYPTOPAY_DEPLOYMENT"):
        Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DEPLOYMENT": "Shop A"})
    assert FxSettings.from_env({"CRYPTOPAY_DEPLOYMENT": "shop-a"}).cache_prefix == "shop-a:fx:rate:"
    assert FxSettings.from_env({}).cache_prefix == "cryptopay:fx:rate:"


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "fast"])
def test_a_daraja_throughput_below_one_request_a_second_is_refused(tmp_path, value: str) -> None:
    """CRYPTOPAY_DARAJA_THROUGHPUT is a whole number of requests per second, at least 1; unset it is 5."""
    with pytest.raises(InvalidInput, match="CRYPTOPAY_DARAJA_THROUGHPUT"):
        Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DARAJA_THROUGHPUT": value})
    assert Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path)}).daraja_throughput == 5


@pytest.mark.parametrize("value", ["prod", "live", "Producton", "staging-prod", "test"])
def test_a_misspelt_environment_is_refused_not_read_as_development(tmp_path, value: str) -> None:
    """review4 R1: CRYPTOPAY_ENV is production or development; anything else is refused (naming the variable and
    the accepted values) by Settings and ApiSettings alike, never silently a development deployment."""
    env = {
        **PRODUCTION,
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_ENV": value,
        "CRYPTOPAY_TOKEN_SECRET": "s" * 40,
    }
    expected = f"CRYPTOPAY_ENV must be production or development, got '{value.lower()}'"
    with pytest.raises(InvalidInput, match=expected):
        Settings.from_env(env)
    with pytest.raises(InvalidInput, match=expected):
        ApiSettings.from_env(env)
    assert not list(tmp_path.iterdir())  # no development database or keys were written
    for spelling, production in (("Production", True), (" development ", False), ("", False)):
        settings = Settings.from_env(env | {"CRYPTOPAY_ENV": spelling})
        assert settings.production is production and settings.api is not None
        assert settings.api.production is production


_MPESA = {
    "CRYPTOPAY_MPESA_CONSUMER_KEY": "k",
    "CRYPTOPAY_MPESA_CONSUMER_SECRET": "s",
    "CRYPTOPAY_MPESA_SHORTCODE": "600000",
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CRYPTOPAY_RATE_LIMIT", "lots"),
        ("CRYPTOPAY_RATE_LIMIT", "0"),
        ("CRYPTOPAY_PROXY_COUNT", "-1"),
        ("CRYPTOPAY_PROXY_COUNT", "one"),
        ("CRYPTOPAY_PROXY_COUNT", "\u00b2"),  # a digit to str.isdigit, not to int(): was a bare ValueError
        ("CRYPTOPAY_DESTINATION_COOL_OFF_SECONDS", "-1"),
        ("CRYPTOPAY_SESSION_CACHE_SECONDS", "x"),
        ("CRYPTOPAY_METRICS_TEXTFILE_MAX_AGE_SECONDS", "-5"),
        ("CRYPTOPAY_COOKIE_SECURE", "maybe"),
        ("CRYPTOPAY_MPESA_MAX_ATTEMPTS", "three"),
        ("CRYPTOPAY_MPESA_MAX_ATTEMPTS", "0"),
        ("CRYPTOPAY_MPESA_TIMEOUT_SECONDS", "nan"),
        ("CRYPTOPAY_MPESA_TIMEOUT_SECONDS", "-5"),
        ("CRYPTOPAY_MPESA_BACKOFF_SECONDS", "inf"),
        ("CRYPTOPAY_MPESA_PRODUCTION", "Y"),
        ("CRYPTOPAY_MPESA_PRODUCTION", "enabled"),
        ("CRYPTOPAY_ALLOW_SANDBOX", "si"),
        ("CRYPTOPAY_SMTP_PORT", "smtp"),
        ("CRYPTOPAY_SMTP_STARTTLS", "maybe"),
    ],
)
def test_a_bad_number_or_switch_is_refused_naming_the_variable(tmp_path, name: str, value: str) -> None:
    """review4 R9: numbers are read by one typed reader with bounds (no bare int()/float(): a typo is not a
    ValueError, a negative proxy count or a NaN timeout is not accepted) and switches accept the documented spellings
    only; each refusal names the variable."""
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_TOKEN_SECRET": "s" * 40,
        "CRYPTOPAY_SMTP_HOST": "smtp.example.com",
        "CRYPTOPAY_SMTP_FROM": "ops@example.com",
        **_MPESA,
        name: value,
    }
    with pytest.raises(InvalidInput, match=name):
        Settings.from_env(env)


def test_good_numbers_and_switches_still_read() -> None:
    """The typed reader keeps every documented value: ``off`` is a switch's off, 0 proxies and 0 s are allowed."""
    api = ApiSettings.from_env(
        {"CRYPTOPAY_TOKEN_SECRET": "s" * 40, "CRYPTOPAY_PROXY_COUNT": "2", "CRYPTOPAY_COOKIE_SECURE": "off"}
    )
    assert api.proxy_count == 2 and api.cookie_secure is False and api.rate_limit == 600
    daraja = DarajaSettings.from_env({**_MPESA, "CRYPTOPAY_MPESA_TIMEOUT_SECONDS": "2.5"})
    assert daraja.timeout_seconds == 2.5 and daraja.max_attempts == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://127.1:9000",
        "http://127.0.0.2",
        "http://0.0.0.0:8545",
        "http://[::1]:5000",
        "http://[::ffff:127.0.0.1]",
        "http://LOCALHOST",
        "http://localhost.:5000",
        "http://2130706433",
        "https://sandbox.safaricom.co.ke",
        "https://SANDBOX.safaricom.co.ke/",
    ],
)
def test_production_refuses_a_loopback_or_sandbox_service_url_in_any_spelling(url: str) -> None:
    """review4 R3: an external service's URL (Daraja, chains, SMS, FX...) is judged by its parsed host: every
    loopback spelling and a sandbox host are refused in production without CRYPTOPAY_ALLOW_SANDBOX."""
    with pytest.raises(InvalidInput, match="CRYPTOPAY_MPESA_BASE_URL points at a sandbox or loopback host"):
        Settings.from_env({**PRODUCTION, "CRYPTOPAY_MPESA_BASE_URL": url})
    assert Settings.from_env({**PRODUCTION, "CRYPTOPAY_TRON_API_URL": "https://api.trongrid.io"}).production
    internal = Settings.from_env({**PRODUCTION, "CRYPTOPAY_ETHEREUM_RPC_URL": "http://10.0.0.5:8545"})
    assert internal.chain("ethereum") is not None  # a node on the private network is not a sandbox


def test_a_local_database_and_redis_do_not_need_allow_sandbox() -> None:
    """review4 R3: PostgreSQL (or pgbouncer) and Redis on the same host are ordinary infrastructure: production
    accepts them without CRYPTOPAY_ALLOW_SANDBOX (which would also admit the Daraja sandbox)."""
    local = {
        **PRODUCTION,
        "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://app@127.0.0.1:6432/cp",
        "CRYPTOPAY_REDIS_URL": "redis://localhost:6379/0",
    }
    settings = Settings.from_env(local)
    assert settings.production and not settings.allow_sandbox


def test_production_without_a_float_baseline_is_cautioned_not_refused(tmp_path) -> None:
    """review5 S11: production starts without CRYPTOPAY_MPESA_FLOAT_BASELINE (refusing would stop payments for a
    check's input), but is cautioned that the float checks are skipped; with a baseline, or in development, not."""
    (caution,) = Settings.from_env(PRODUCTION).cautions()
    assert caution.startswith("CRYPTOPAY_MPESA_FLOAT_BASELINE is not set") and "mpesa-float" in caution
    assert Settings.from_env({**PRODUCTION, "CRYPTOPAY_MPESA_FLOAT_BASELINE": "0"}).cautions() == []
    assert Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path)}).cautions() == []


def test_production_requires_screening_unless_turned_off_and_is_cautioned_then(tmp_path) -> None:
    """R12-3: CRYPTOPAY_SCREENING_REQUIRED is on in production (off in development: the demo and the sandbox);
    production turning it off starts, cautioned that money may leave screened against no list."""
    baseline = {**PRODUCTION, "CRYPTOPAY_MPESA_FLOAT_BASELINE": "0"}
    assert Settings.from_env(baseline).screening_required
    assert not Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path)}).screening_required
    (caution,) = Settings.from_env({**baseline, "CRYPTOPAY_SCREENING_REQUIRED": "off"}).cautions()
    assert caution.startswith("CRYPTOPAY_SCREENING_REQUIRED is off")


def test_the_worker_preflight_logs_the_cautions(monkeypatch, caplog) -> None:
    """review5 S11: ``cryptopay-worker``'s pre-flight passes production settings without a baseline and warns."""
    from cryptopay_worker.main import _preflight

    for name in [n for n in os.environ if n.startswith("CRYPTOPAY_")]:
        monkeypatch.delenv(name)
    keys = {"CRYPTOPAY_VAULT_KEKS": "k1:" + "A" * 43 + "=", "CRYPTOPAY_PII_LOOKUP_KEY": "QUFB" * 11}
    for name, value in {**PRODUCTION, **keys}.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level("WARNING", logger="cryptopay.worker"):
        assert _preflight() is None
    assert "CRYPTOPAY_MPESA_FLOAT_BASELINE is not set" in caplog.text


@pytest.mark.parametrize("value", ["0", "4", "1441", "half an hour"])
def test_a_payout_unknown_bound_outside_five_minutes_to_a_day_is_refused(tmp_path, value: str) -> None:
    """CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES is a whole number of minutes from 5 to 1440; unset it is 30."""
    with pytest.raises(InvalidInput, match="CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES"):
        Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES": value})
    assert Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path)}).payout_unknown_bound == timedelta(minutes=30)


def test_the_payout_unknown_bound_is_one_setting_for_the_conclusion_rule_and_the_reconciliation_check(
    tmp_path,
) -> None:
    """The payouts (who may be concluded, reported overdue) and reconciliation's payouts-unresolved read one bound."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES": "45"}
    parts = Parts(Settings.from_env(env), clock=SystemClock(), ids=RandomIds())
    assert parts.payouts.unknown_bound == timedelta(minutes=45)
    assert parts.reconciliation.snapshot(Outside()).unknown_bound == timedelta(minutes=45)
