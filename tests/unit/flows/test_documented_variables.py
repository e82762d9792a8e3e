"""Every ``CRYPTOPAY_*`` variable the README documents is read by the composition root and changes what it builds.

The README's Configuration table is parsed (``{A,B}`` and ``<NETWORK>`` expanded, ``_PORT``-style names completed
from the row's first name, ``..._X`` from the row's network list); ``PROBES`` says, for each variable, a value to
set, what else it needs, and what to look at in the ``Services`` the root builds. A documented variable without a
probe fails the test: document a variable and wire it in the same change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.adapters.bootstrap.wiring import Parts
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.core.money import USDT
from cryptopay.core.reconciliation import Outside
from cryptopay.core.system import RandomIds, SystemClock

README = Path(__file__).resolve().parents[3] / "README.md"
NETWORKS = ("ethereum", "polygon", "bsc", "tron", "bitcoin")
XPUB = account_xpub("abandon " * 11 + "about")
SECRET = {"CRYPTOPAY_TOKEN_SECRET": "s" * 40}
RULES_FILE = Path(__file__).resolve().parent / "monitoring_rules_v7.toml"
SMTP = {"CRYPTOPAY_SMTP_HOST": "smtp.example.com", "CRYPTOPAY_SMTP_FROM": "ops@example.com"}
MPESA = {
    "CRYPTOPAY_MPESA_CONSUMER_KEY": "k",
    "CRYPTOPAY_MPESA_CONSUMER_SECRET": "s",
    "CRYPTOPAY_MPESA_SHORTCODE": "600000",
}
SMS = {
    "CRYPTOPAY_SMS_PROVIDER": "africastalking",
    "CRYPTOPAY_SMS_USERNAME": "duka",
    "CRYPTOPAY_SMS_API_KEY": "atsk-1",
}
S3 = {"CRYPTOPAY_S3_ACCESS_KEY_ID": "AKIA1", "CRYPTOPAY_S3_SECRET_ACCESS_KEY": "secret"}
S3_BUCKET = {**S3, "CRYPTOPAY_S3_BUCKET": "kyc-documents"}
FAULTS = {"CRYPTOPAY_FAULT_POINTS": "payout.submitted=kill"}
PRODUCTION = {
    "CRYPTOPAY_ENV": "production",
    "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://app@db.example.com/cryptopay",
    "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": "safaricom",
}


@attrs.frozen
class Probe:
    """Set ``name`` to ``value`` (with ``needs`` set in both builds) and ``look`` at the result."""

    value: str
    look: Callable[[Services, Parts], Any]
    needs: dict[str, str] = attrs.field(factory=dict)


def _rail(key: str, field: Callable[[Any], Any]) -> Callable[[Services, Parts], Any]:
    return lambda services, parts: field(parts.rails[key])  # the watched rails (``services.rails``: the invoiceable)


def _chain_probes() -> dict[str, Probe]:
    probes: dict[str, Probe] = {}
    for network in ("ethereum", "polygon", "bsc"):
        upper, key = network.upper(), f"usdt-{network}"
        url = {f"CRYPTOPAY_{upper}_RPC_URL": "http://node.example.com:8545"}
        probes[f"CRYPTOPAY_{upper}_RPC_URL"] = Probe(url[f"CRYPTOPAY_{upper}_RPC_URL"], lambda s, p: sorted(p.rails))
        probes[f"CRYPTOPAY_{upper}_CHAIN_ID"] = Probe("31337", _rail(key, lambda r: r.network.chain_id), url)
        contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
        probes[f"CRYPTOPAY_{upper}_USDT_CONTRACT"] = Probe(contract, _rail(key, lambda r: r.token.contract), url)
        usdc = f"usdc-{network}"
        probes[f"CRYPTOPAY_{upper}_USDC_CONTRACT"] = Probe(contract, _rail(usdc, lambda r: r.token.contract), url)
        probes[f"CRYPTOPAY_{upper}_CONFIRMATIONS"] = Probe("7", _rail(key, lambda r: r.confirmations), url)
    probes["CRYPTOPAY_TRON_API_URL"] = Probe("https://api.trongrid.io", lambda s, p: sorted(p.rails))
    tron_url = {"CRYPTOPAY_TRON_API_URL": "https://api.trongrid.io"}
    esplora_url = {"CRYPTOPAY_ESPLORA_URL": "https://blockstream.info/api"}
    probes["CRYPTOPAY_TRON_CONFIRMATIONS"] = Probe("5", _rail("usdt-tron", lambda r: r.confirmations), tron_url)
    probes["CRYPTOPAY_BITCOIN_CONFIRMATIONS"] = Probe("2", _rail("btc-bitcoin", lambda r: r.confirmations), esplora_url)
    token = "TXLAQ63Xg1NAzckPwKHvzw7CSEmLMEqcdj"
    probes["CRYPTOPAY_TRON_USDT_CONTRACT"] = Probe(token, _rail("usdt-tron", lambda r: r.token.contract), tron_url)
    probes["CRYPTOPAY_ESPLORA_URL"] = Probe("https://blockstream.info/api", lambda s, p: sorted(p.rails))
    urls = {
        "ethereum": {"CRYPTOPAY_ETHEREUM_RPC_URL": "http://node.example.com:8545"},
        "polygon": {"CRYPTOPAY_POLYGON_RPC_URL": "http://node.example.com:8545"},
        "bsc": {"CRYPTOPAY_BSC_RPC_URL": "http://node.example.com:8545"},
        "tron": {"CRYPTOPAY_TRON_API_URL": "https://api.trongrid.io"},
        "bitcoin": {"CRYPTOPAY_ESPLORA_URL": "https://blockstream.info/api"},
    }
    for network in NETWORKS:
        probes[f"CRYPTOPAY_{network.upper()}_HOT_WALLET"] = Probe(
            "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE", lambda s, p, n=network: s.settings.chain(n).hot_wallet, urls[network]
        )
    probes["CRYPTOPAY_EVM_XPUB"] = Probe(XPUB, lambda s, p: sorted(p.derivers), urls["ethereum"])
    tron_xpub = "xpub6CUGRUonZSQ4TWtTMmzXdrXDtypWKiKrhko4egpiMZbpiaQL2jkwSB1icqYh2cfDfVxdx4df189oLKnC5fSwqPfgyP3hooxujYzAu3fDVmz"
    probes["CRYPTOPAY_TRON_XPUB"] = Probe(tron_xpub, lambda s, p: sorted(p.derivers), urls["tron"])
    probes["CRYPTOPAY_BITCOIN_XPUB"] = Probe(tron_xpub, lambda s, p: s.settings.bitcoin_xpub, urls["bitcoin"])
    return probes


def _outcome(look: Callable[[], Any]) -> Any:
    """What ``look`` returns, or the error it raises (a part the settings leave unbuildable)."""
    try:
        return look()
    except Exception as error:
        return type(error).__name__


def _api(field: str) -> Callable[[Services, Parts], Any]:
    return lambda services, parts: getattr(services.settings.api, field)


def _web(field: str) -> Callable[[Services, Parts], Any]:
    return lambda services, parts: getattr(services.settings.web, field)


def _sms(field: str) -> Callable[[Services, Parts], Any]:
    return lambda services, parts: getattr(services.settings.sms, field)


def _document_store(services: Services, parts: Parts) -> Any:
    store = parts.document_store
    settings = getattr(store, "_settings", None)
    return type(store).__name__, attrs.asdict(settings) if settings is not None else None


def _smtp(field: str) -> Callable[[Services, Parts], Any]:
    return lambda services, parts: getattr(services.settings.smtp, field)


def _treasury_probes() -> dict[str, Probe]:
    ethereum = {
        "CRYPTOPAY_ETHEREUM_RPC_URL": "http://node.example.com:8545",
        "CRYPTOPAY_ETHEREUM_HOT_WALLET": "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
        "CRYPTOPAY_EVM_XPUB": XPUB,
    }
    tron = {"CRYPTOPAY_TRON_API_URL": "https://api.trongrid.io"}
    tron_hot = {**tron, "CRYPTOPAY_TRON_HOT_WALLET": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}
    return {
        "CRYPTOPAY_FLOAT_RESERVE": Probe("50000", lambda s, p: s.treasury.guard.position().reserve),
        "CRYPTOPAY_FLOAT_LOW_ALERT": Probe("100000", lambda s, p: s.treasury.guard.position().low_alert),
        "CRYPTOPAY_INVENTORY_RESERVE": Probe(
            "USDT=100", lambda s, p: s.treasury.status(read_chains=False).inventory[0].reserve, tron
        ),
        "CRYPTOPAY_SWEEP_THRESHOLD": Probe("500", lambda s, p: s.settings.treasury.sweep_threshold),
        "CRYPTOPAY_EVM_SWEEP_MNEMONIC": Probe("abandon " * 11 + "about", lambda s, p: sorted(p.sweepers), ethereum),
        "CRYPTOPAY_TRON_SWEEP_MNEMONIC": Probe("abandon " * 11 + "about", lambda s, p: sorted(p.sweepers), tron_hot),
        "CRYPTOPAY_TREASURY_ALERT_EMAIL": Probe("treasury@example.com", lambda s, p: s.settings.treasury.alert_email),
    }


PROBES: dict[str, Probe] = {
    "CRYPTOPAY_ENV": Probe(
        "production", lambda s, p: s.settings.production, PRODUCTION | {"CRYPTOPAY_ENV": "development"}
    ),
    "CRYPTOPAY_DATA_DIR": Probe("elsewhere", lambda s, p: s.settings.data_dir.name),
    "CRYPTOPAY_DATABASE_URL": Probe("sqlite:////tmp/other.db", lambda s, p: s.settings.database_url),
    "CRYPTOPAY_REDIS_URL": Probe("redis://127.0.0.1:9/0", lambda s, p: type(s.queue).__name__),
    "CRYPTOPAY_QUEUE_NAME": Probe(
        "payments", lambda s, p: s.queue.queue_names[0], {"CRYPTOPAY_REDIS_URL": "redis://127.0.0.1:9/0"}
    ),
    "CRYPTOPAY_TOKEN_SECRET": Probe("t" * 40, lambda s, p: s.settings.api is None),
    "CRYPTOPAY_PUBLIC_URL": Probe(
        "https://pay.example.com", lambda s, p: (s.settings.public_url, _api("public_url")(s, p)), SECRET
    ),
    "CRYPTOPAY_SMTP_HOST": Probe(
        "smtp.example.com", lambda s, p: type(s.notifier).__name__, {"CRYPTOPAY_SMTP_FROM": "o@example.com"}
    ),
    "CRYPTOPAY_SMTP_PORT": Probe("2525", _smtp("port"), SMTP),
    "CRYPTOPAY_SMTP_USERNAME": Probe("ops", _smtp("username"), SMTP),
    "CRYPTOPAY_SMTP_PASSWORD": Probe("pw", _smtp("password"), SMTP),
    "CRYPTOPAY_SMTP_FROM": Probe("alerts@example.com", _smtp("sender"), SMTP),
    "CRYPTOPAY_SMTP_STARTTLS": Probe("0", _smtp("starttls"), SMTP),
    "CRYPTOPAY_SMS_PROVIDER": Probe("none", lambda s, p: type(s.sms).__name__),
    "CRYPTOPAY_SMS_USERNAME": Probe("duka-ke", _sms("username"), SMS),
    "CRYPTOPAY_SMS_API_KEY": Probe("atsk-2", _sms("api_key"), SMS),
    "CRYPTOPAY_SMS_SENDER_ID": Probe("CRYPTOPAY", _sms("sender_id"), SMS),
    "CRYPTOPAY_SMS_BASE_URL": Probe(
        "https://sms.example.com", lambda s, p: type(s.sms).__name__ + s.settings.sms.base_url, SMS
    ),
    "CRYPTOPAY_DESTINATION_COOL_OFF_SECONDS": Probe("60", _api("destination_cool_off_seconds"), SECRET),
    "CRYPTOPAY_SESSION_CACHE_SECONDS": Probe("9", _api("session_cache_seconds"), SECRET),
    "CRYPTOPAY_TOKEN_KEY_ID": Probe("k2", _api("token_key_id"), SECRET),
    "CRYPTOPAY_PREVIOUS_TOKEN_KEYS": Probe("k0=" + "p" * 32, _api("previous_token_keys"), SECRET),
    "CRYPTOPAY_COOKIE_SECURE": Probe("false", _api("cookie_secure"), SECRET),
    "CRYPTOPAY_RATE_LIMIT": Probe("60", _api("rate_limit"), SECRET),
    "CRYPTOPAY_WALLET_STEP_UP_KES": Probe("250", _api("wallet_step_up_kes"), SECRET),
    "CRYPTOPAY_SEND_RATE_LIMIT": Probe("5", _api("send_rate_limit"), SECRET),
    "CRYPTOPAY_PAYOUT_RATE_LIMIT": Probe("4", _api("payout_rate_limit"), SECRET),
    "CRYPTOPAY_VAULT_KEKS": Probe(
        "k9:" + "A" * 43 + "=",
        lambda s, p: p.vault.current_key_id,  # type: ignore[attr-defined]
    ),
    "CRYPTOPAY_PII_LOOKUP_KEY": Probe(
        "B" * 43 + "=",
        lambda s, p: p.personal.lookup("254712345678"),  # type: ignore[attr-defined]
    ),
    "CRYPTOPAY_FX_*": Probe("", lambda s, p: s.settings.fx.margin),
    "CRYPTOPAY_MPESA_FLOAT_BASELINE": Probe("250000", lambda s, p: s.settings.mpesa_float_baseline),
    "CRYPTOPAY_SETTLEMENT_BANK_ACCOUNT": Probe("0100-123 456789", lambda s, p: s.settings.settlement_bank_account),
    "CRYPTOPAY_MPESA_*": Probe("", lambda s, p: _outcome(lambda: type(s.mobile_money).__name__)),
    "CRYPTOPAY_WEB_WORKERS": Probe("3", _web("workers")),
    "CRYPTOPAY_WEB_THREADS": Probe("3", _web("threads")),
    "CRYPTOPAY_WEB_GRACEFUL_TIMEOUT": Probe("3", _web("graceful_seconds")),
    "CRYPTOPAY_WEB_BACKLOG": Probe("3", _web("backlog")),
    "CRYPTOPAY_WEB_BACKPRESSURE": Probe("3", _web("backpressure")),
    "CRYPTOPAY_METRICS_TOKEN": Probe("m" * 32, _api("metrics_token"), SECRET),
    "CRYPTOPAY_METRICS_TEXTFILE_MAX_AGE_SECONDS": Probe("120", _api("metrics_textfile_max_age_seconds"), SECRET),
    "CRYPTOPAY_PROXY_COUNT": Probe("1", _api("proxy_count"), SECRET),
    "CRYPTOPAY_PASSWORD_HASH_CONCURRENCY": Probe("5", lambda s, p: s.settings.password_hash_concurrency),
    "CRYPTOPAY_WEBHOOK_MAX_ENDPOINTS": Probe("3", lambda s, p: s.webhook_max_endpoints),
    "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": Probe("safaricom", lambda s, p: s.daraja_callback_sources),
    "CRYPTOPAY_DARAJA_QUEUE": Probe("cryptopay-daraja", lambda s, p: dict(s.job_routes)),
    "CRYPTOPAY_DARAJA_THROUGHPUT": Probe("12", lambda s, p: p.daraja_pacing.limit),
    # the conclusion rule's and the reconciliation check's one bound
    "CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES": Probe(
        "45", lambda s, p: (s.payouts.unknown_bound, p.reconciliation.snapshot(Outside()).unknown_bound)
    ),
    "CRYPTOPAY_DEPLOYMENT": Probe("shop-a", lambda s, p: s.settings.redis_keys.rate_limits),
    "CRYPTOPAY_FAULT_POINTS": Probe("payout.submitted=kill", lambda s, p: type(s.settings.faults).__name__),
    "CRYPTOPAY_FAULT_RATE": Probe("0.5", lambda s, p: s.settings.faults, FAULTS),
    "CRYPTOPAY_FAULT_SEED": Probe("7", lambda s, p: s.settings.faults, FAULTS),
    "CRYPTOPAY_FAULT_ONCE_DIR": Probe("/tmp/faults-once", lambda s, p: s.settings.faults, FAULTS),
    "CRYPTOPAY_ALLOW_SANDBOX": Probe("1", lambda s, p: s.settings.allow_sandbox),
    "CRYPTOPAY_SCAN_LOOKBACK_BLOCKS": Probe("7", lambda s, p: s.settings.scan_lookback_blocks),
    "CRYPTOPAY_REMITTANCE_PAYOUT_ATTEMPTS": Probe("5", lambda s, p: s.remittances.policy.attempts, MPESA),
    "CRYPTOPAY_REMITTANCE_SMS_PER_DAY": Probe("1", lambda s, p: s.remittances.rules.sms_per_day, MPESA),
    "CRYPTOPAY_REMITTANCE_MINIMUM_KES": Probe("250", lambda s, p: s.remittances.rules.minimum, MPESA),
    "CRYPTOPAY_REMITTANCE_EXCESS_FLOOR_USDT": Probe("2.5", lambda s, p: s.remittances.rules.excess_floor, MPESA),
    "CRYPTOPAY_P2P_INVITE_MINIMUM_KES": Probe("200", lambda s, p: s.wallets.invites.minimum),
    "CRYPTOPAY_P2P_INVITES_WAITING": Probe("2", lambda s, p: s.wallets.invites.open_per_sender),
    "CRYPTOPAY_P2P_INVITE_NUMBERS_PER_DAY": Probe("3", lambda s, p: s.wallets.invites.new_numbers_per_day),
    "CRYPTOPAY_P2P_MINIMUM_KES": Probe("20", lambda s, p: s.wallets.minimum),
    "CRYPTOPAY_SIGNUP_SMS_PER_HOUR": Probe("7", lambda s, p: s.wallet_signup.budget.rules.per_hour),
    "CRYPTOPAY_SIGNUP_SMS_PER_ADDRESS_PER_DAY": Probe(
        "3", lambda s, p: s.wallet_signup.budget.rules.per_address_per_day
    ),
    "CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK": Probe("1", lambda s, p: s.allow_insecure_urls),
    "CRYPTOPAY_SETTLEMENT_REQUIRES_KYB": Probe("on", lambda s, p: p.payout_gate.require_kyb),
    "CRYPTOPAY_RECONCILIATION_KEEP_DAYS": Probe("7", lambda s, p: s.reconciliation._retention.clean),
    "CRYPTOPAY_RECONCILIATION_KEEP_DIFFERENCES_DAYS": Probe(
        "400", lambda s, p: s.reconciliation._retention.with_differences
    ),
    "CRYPTOPAY_MONITORING_RULES": Probe(str(RULES_FILE), lambda s, p: p.monitoring.rules.version),
    "CRYPTOPAY_SANCTIONS_THRESHOLD": Probe("75", lambda s, p: p.screening.threshold),
    "CRYPTOPAY_SCREENING_REQUIRED": Probe("on", lambda s, p: p.screening.required),
    "CRYPTOPAY_WALLET_CONFIRMATIONS": Probe(
        "polygon=5", lambda s, p: p.wallet_deposits._speed.requirement("polygon").describe()
    ),
    "CRYPTOPAY_WALLET_DEPOSIT_MINIMUMS": Probe("USDT=3", lambda s, p: p.wallet_deposits._minimums.minimum(USDT)),
    "CRYPTOPAY_STABLECOIN_CONVERSION_SPREAD": Probe("1.25", lambda s, p: p.wallet_deposits._conversion.spread),
    "CRYPTOPAY_S3_BUCKET": Probe("kyc-documents", _document_store, S3),
    "CRYPTOPAY_S3_REGION": Probe("af-south-1", _document_store, S3_BUCKET),
    "CRYPTOPAY_S3_ENDPOINT_URL": Probe("https://minio.example.com", _document_store, S3_BUCKET),
    "CRYPTOPAY_S3_ACCESS_KEY_ID": Probe("AKIA2", _document_store, S3_BUCKET),
    "CRYPTOPAY_S3_SECRET_ACCESS_KEY": Probe("other-secret", _document_store, S3_BUCKET),
    "CRYPTOPAY_S3_SESSION_TOKEN": Probe("session", _document_store, S3_BUCKET),
    "CRYPTOPAY_TRAVEL_RULE_THRESHOLD_USD": Probe("250", lambda s, p: s.travel_rule.policy.threshold),
    "CRYPTOPAY_WITHDRAWAL_COOL_OFF_HOURS": Probe("2", lambda s, p: s.withdrawals.cool_off),
    "CRYPTOPAY_OFFICER_COOL_OFF_HOURS": Probe("2", lambda s, p: s.held_payments.four_eyes.cool_off),
    "CRYPTOPAY_WALLET_QUOTE_SECONDS": Probe("60", lambda s, p: s.wallet_buys.quote_window),
    "CRYPTOPAY_INVOICE_CACHE_SIZE": Probe("64", lambda s, p: s.settings.invoice_cache_size),
    **_chain_probes(),
    **_treasury_probes(),
}
# A family documented as one row is set through representatives (its probe's value is not used).
SAMPLES = {"CRYPTOPAY_FX_*": {"CRYPTOPAY_FX_MARGIN": "0.05"}, "CRYPTOPAY_MPESA_*": MPESA}


def documented() -> list[str]:
    """The ``CRYPTOPAY_*`` names of the README's Configuration table, expanded."""
    text = README.read_text()
    table = text[text.index("## Configuration") :]
    table = table[: table.index("\n## ", 1)]
    names: list[str] = []
    for row in table.splitlines():
        if not row.startswith("| `CRYPTOPAY_"):
            continue
        names += _expand(re.findall(r"`([A-Z0-9_.<>{},*]+)`", row.split("|")[1]))
    return names


def _expand(cells: list[str]) -> list[str]:
    first, names = cells[0], []
    family = re.match(r"CRYPTOPAY_[A-Z0-9]*", first).group(0)  # type: ignore[union-attr]
    networks = re.search(r"\{([A-Z,]+)\}", first)
    for cell in cells:
        if cell.startswith("..._") and networks:
            names += [f"CRYPTOPAY_{n}{cell[3:]}" for n in networks.group(1).split(",")]
        elif cell.startswith("_"):
            names.append(family + cell)
        elif networks and "{" in cell:
            names += [cell.replace(networks.group(0), n) for n in networks.group(1).split(",")]
        elif "<NETWORK>" in cell:
            names += [cell.replace("<NETWORK>", n.upper()) for n in NETWORKS]
        else:
            names.append(cell)
    return names


def _looked(tmp_path: Path, env: dict[str, str], look: Callable[[Services, Parts], Any]) -> Any:
    """What ``look`` sees in the root built from ``env`` (then closed: no pool or queue thread outlives it)."""
    settings = Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path / "data"), **env})
    services, parts = build(settings), Parts(settings, clock=SystemClock(), ids=RandomIds())
    try:
        return look(services, parts)
    finally:
        services.close()
        for close in parts.closers:
            close()


def test_the_readme_documents_a_known_set_of_variables():
    """The parser finds the README's variables (a sanity check of the expansion itself)."""
    names = documented()
    assert {"CRYPTOPAY_ENV", "CRYPTOPAY_BSC_CHAIN_ID", "CRYPTOPAY_SMTP_PORT", "CRYPTOPAY_TRON_HOT_WALLET"} <= set(names)
    assert len(names) == len(set(names)) and len(names) > 40


@pytest.mark.parametrize("name", documented())
def test_every_documented_variable_changes_what_the_root_builds(name, tmp_path):
    """Setting the variable (alone, or with what it needs) changes what the root's Services show."""
    assert name in PROBES, f"{name} is documented but no probe shows that the root reads it"
    probe = PROBES[name]
    setting = SAMPLES.get(name, {name: probe.value})
    before = _looked(tmp_path, probe.needs, probe.look)
    after = _looked(tmp_path, {**probe.needs, **setting}, probe.look)
    assert before != after, f"{setting} changed nothing the root builds"


def test_probes_name_only_documented_variables():
    """No probe outlives its README row."""
    assert set(PROBES) <= set(documented())


def test_bad_values_are_refused_before_anything_is_built(tmp_path):
    """A malformed number, allowlist or amount is an InvalidInput from Settings, naming the variable."""
    from cryptopay.core.errors import InvalidInput

    for name, value in [
        ("CRYPTOPAY_SCAN_LOOKBACK_BLOCKS", "many"),
        ("CRYPTOPAY_REMITTANCE_PAYOUT_ATTEMPTS", "0"),
        ("CRYPTOPAY_WALLET_QUOTE_SECONDS", "0"),
        ("CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES", "4"),
        ("CRYPTOPAY_REMITTANCE_SMS_PER_DAY", "0"),
        ("CRYPTOPAY_REMITTANCE_SMS_PER_DAY", "three"),
        ("CRYPTOPAY_REMITTANCE_MINIMUM_KES", "0"),
        ("CRYPTOPAY_REMITTANCE_MINIMUM_KES", "5"),
        ("CRYPTOPAY_REMITTANCE_MINIMUM_KES", "250001"),
        ("CRYPTOPAY_REMITTANCE_MINIMUM_KES", "a hundred"),
        ("CRYPTOPAY_REMITTANCE_EXCESS_FLOOR_USDT", "-1"),
        ("CRYPTOPAY_REMITTANCE_EXCESS_FLOOR_USDT", "one"),
        ("CRYPTOPAY_TRAVEL_RULE_THRESHOLD_USD", "-1"),
        ("CRYPTOPAY_TRAVEL_RULE_THRESHOLD_USD", "a thousand"),
        ("CRYPTOPAY_P2P_INVITE_MINIMUM_KES", "0"),
        ("CRYPTOPAY_P2P_INVITE_MINIMUM_KES", "fifty"),
        ("CRYPTOPAY_P2P_INVITES_WAITING", "0"),
        ("CRYPTOPAY_P2P_INVITE_NUMBERS_PER_DAY", "-1"),
        ("CRYPTOPAY_P2P_MINIMUM_KES", "0"),
        ("CRYPTOPAY_P2P_MINIMUM_KES", "ten"),
        ("CRYPTOPAY_SIGNUP_SMS_PER_HOUR", "0"),
        ("CRYPTOPAY_SIGNUP_SMS_PER_HOUR", "many"),
        ("CRYPTOPAY_SIGNUP_SMS_PER_ADDRESS_PER_DAY", "0"),
        ("CRYPTOPAY_DARAJA_CALLBACK_SOURCES", "not-a-network"),
        ("CRYPTOPAY_MPESA_FLOAT_BASELINE", "lots"),
        ("CRYPTOPAY_SETTLEMENT_BANK_ACCOUNT", "ACC-1"),
        ("CRYPTOPAY_SETTLEMENT_BANK_ACCOUNT", "12"),
        ("CRYPTOPAY_WEB_WORKERS", "0"),
        ("CRYPTOPAY_DEPLOYMENT", "Shop A"),
        ("CRYPTOPAY_FAULT_POINTS", "payout.sent=explode"),
        ("CRYPTOPAY_FLOAT_RESERVE", "lots"),
        ("CRYPTOPAY_FLOAT_LOW_ALERT", "-5"),
        ("CRYPTOPAY_INVENTORY_RESERVE", "XYZ=1"),
        ("CRYPTOPAY_SWEEP_THRESHOLD", "some"),
        ("CRYPTOPAY_TREASURY_ALERT_EMAIL", "nobody"),
    ]:
        with pytest.raises(InvalidInput, match=name):
            Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path), name: value})


@pytest.mark.parametrize("sources", [",", " , ", "0.0.0.0/0", "::/0", "0.0.0.0/1,128.0.0.0/1", "10.0.0.0/8"])
def test_a_daraja_allowlist_that_names_no_network_or_vouches_for_everyone_is_refused(tmp_path, sources):
    """Commas alone (no network: any source) or networks wider than /16 (IPv6 /32) cannot pass as the allowlist
    production requires: a vouched source skips the rate limit and gets its unknown-token answers kept."""
    from cryptopay.core.errors import InvalidInput

    env = {**PRODUCTION, "CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": sources}
    with pytest.raises(InvalidInput, match="CRYPTOPAY_DARAJA_CALLBACK_SOURCES"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"), [("CRYPTOPAY_METRICS_TOKEN", "x"), ("CRYPTOPAY_PREVIOUS_TOKEN_KEYS", "k0=short")]
)
def test_short_bearer_and_token_secrets_are_refused(name, value):
    """The metrics bearer token and every previous token-signing secret need 32 characters, like the current one."""
    from cryptopay.adapters.bootstrap.api_settings import ApiSettings
    from cryptopay.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match=name):
        ApiSettings.from_env({"CRYPTOPAY_TOKEN_SECRET": "s" * 32, name: value})


@pytest.mark.parametrize("value", ["-1", "an hour", "1.5"])
def test_a_textfile_age_that_is_not_whole_seconds_is_refused(value):
    """CRYPTOPAY_METRICS_TEXTFILE_MAX_AGE_SECONDS is a whole number of seconds, 0 turning the worker files off."""
    from cryptopay.adapters.bootstrap.api_settings import ApiSettings
    from cryptopay.core.errors import InvalidInput

    env = {"CRYPTOPAY_TOKEN_SECRET": "s" * 32, "CRYPTOPAY_METRICS_TEXTFILE_MAX_AGE_SECONDS": value}
    with pytest.raises(InvalidInput, match="CRYPTOPAY_METRICS_TEXTFILE_MAX_AGE_SECONDS must be a whole number"):
        ApiSettings.from_env(env)
    assert (
        ApiSettings.from_env(
            {**env, "CRYPTOPAY_METRICS_TEXTFILE_MAX_AGE_SECONDS": "0"}
        ).metrics_textfile_max_age_seconds
        == 0
    )
