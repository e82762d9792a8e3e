"""/metrics carries the treasury's float gauges, read from the books on the composition root over SQLite."""

from __future__ import annotations

from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.core.money import KES, Money

from tests.integration.http.http_support import make_app


def test_metrics_export_the_float_and_the_held_payouts(tmp_path):
    """After a recorded top-up the scrape shows the books' float, the reserve and no held payout."""
    services = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_FLOAT_RESERVE": "5000"}))
    try:
        services.rebalancing.record_topup(reference="bank-1", amount=Money.of("250000", KES), actor="ops")
        client = make_app(services, metrics_token="s" * 32).test_client()
        text = client.get("/metrics", headers={"Authorization": "Bearer " + "s" * 32}).get_data(as_text=True)
    finally:
        services.close()
    assert "cryptopay_float_books_kes 250000.0" in text
    assert "cryptopay_float_reserve_kes 5000.0" in text and "cryptopay_payouts_held 0.0" in text
    assert "cryptopay_float_known_kes" not in text.replace("# HELP cryptopay_float_known_kes", "")  # unknown


def test_a_scrape_without_a_treasury_still_answers(services):
    """Services with no treasury wired (a test double) leave the float gauges out; the scrape still works."""
    client = make_app(services, metrics_token="s" * 32).test_client()
    response = client.get("/metrics", headers={"Authorization": "Bearer " + "s" * 32})
    assert response.status_code == 200 and "cryptopay_http_requests" in response.get_data(as_text=True)
    assert "cryptopay_float_books_kes " not in response.get_data(as_text=True)
