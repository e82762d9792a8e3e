"""``CRYPTOPAY_SMS_*``: the provider by default, what Africa's Talking needs, and what production refuses."""

from __future__ import annotations

import pytest
from cryptopay.adapters.bootstrap import Settings
from cryptopay.adapters.sms.settings import PRODUCTION_URL, SANDBOX_URL, SmsSettings
from cryptopay.core.errors import InvalidInput

AT = {"CRYPTOPAY_SMS_PROVIDER": "africastalking", "CRYPTOPAY_SMS_USERNAME": "duka", "CRYPTOPAY_SMS_API_KEY": "atsk-1"}
PRODUCTION = {
    "CRYPTOPAY_ENV": "production",
    "CRYPTOPAY_DATABASE_URL": "postgresql+psycopg://app@db.example.com/cryptopay",
    "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": "safaricom",
}


def test_the_default_is_a_file_in_development_and_none_in_production():
    """Unset, development writes SMS to a private file and production sends none (skips are audited)."""
    assert SmsSettings.from_env({}).provider == "file"
    assert SmsSettings.from_env({}, production=True).provider == "none"


def test_africastalking_needs_a_username_and_an_api_key_and_picks_its_url():
    """Missing credentials are named; username ``sandbox`` means Africa's Talking's sandbox URL."""
    with pytest.raises(InvalidInput, match="CRYPTOPAY_SMS_API_KEY"):
        SmsSettings.from_env({"CRYPTOPAY_SMS_PROVIDER": "africastalking", "CRYPTOPAY_SMS_USERNAME": "duka"})
    assert SmsSettings.from_env(AT).base_url == PRODUCTION_URL
    assert SmsSettings.from_env({**AT, "CRYPTOPAY_SMS_USERNAME": "sandbox"}).base_url == SANDBOX_URL


@pytest.mark.parametrize(
    "extra",
    [
        {"CRYPTOPAY_SMS_PROVIDER": "file"},
        {**AT, "CRYPTOPAY_SMS_USERNAME": "sandbox"},
        {**AT, "CRYPTOPAY_SMS_BASE_URL": "https://api.sandbox.africastalking.com"},
        {**AT, "CRYPTOPAY_SMS_BASE_URL": "http://10.0.0.5:8093"},
        {"CRYPTOPAY_SMS_PROVIDER": "carrier-pigeon"},
    ],
)
def test_production_refuses_files_sandboxes_and_local_urls(extra):
    """Production settings refuse the file provider, the sandbox account or URL and private addresses."""
    with pytest.raises(InvalidInput, match="CRYPTOPAY_SMS_"):
        Settings.from_env({**PRODUCTION, **extra})


def test_production_accepts_the_real_api_and_keeps_the_key_out_of_repr():
    """Africa's Talking's production API is accepted; the API key never shows in a repr."""
    settings = Settings.from_env({**PRODUCTION, **AT, "CRYPTOPAY_SMS_SENDER_ID": "CRYPTOPAY"})
    assert (settings.sms.provider, settings.sms.sender_id) == ("africastalking", "CRYPTOPAY")
    assert "atsk-1" not in repr(settings) and "atsk-1" not in repr(settings.sms)
