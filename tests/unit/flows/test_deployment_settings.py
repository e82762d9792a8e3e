"""Deployment settings of the faults work: the Redis namespace and the fault points, checked at start-up."""

import pytest
from cryptopay.adapters.bootstrap import ApiSettings, Settings
from cryptopay.adapters.fx import FxSettings
from cryptopay.core.errors import InvalidInput

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
