"""Deployment settings of the faults work: the Redis namespace and the fault points, checked at start-up."""

import pytest
from cryptopay.adapters.bootstrap import Settings
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
