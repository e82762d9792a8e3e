"""The portal's identity verification and settings in Chromium on a phone: particulars, the ID's photos and a live
selfie through the camera inputs, sent for review; two-step sign-in turned on with an authenticator code; the page
in Swahili. axe-core on every page."""

from __future__ import annotations

import io
import re

import pyotp
from PIL import Image

from tests.browser.support import PASSWORD, PHONE, axe_violations, sms_code


def _photo(tmp_path, name: str, size: tuple[int, int]) -> str:
    path = tmp_path / f"{name}.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", size, (180, 120, 60)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def _sign_up(page, live, phone: str, wire: str) -> None:
    page.goto(f"{live.api}/app/signup")
    page.locator("#phone").fill(phone)
    page.get_by_role("button", name="Send me a code").click()
    page.wait_for_url("**/app/signup/*")
    page.locator("#code").fill(sms_code(live, wire))
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Open my wallet").click()
    page.wait_for_url("**/app/?welcome=1")


def test_kyc_upload_with_the_phones_camera_then_two_step_sign_in_and_swahili(browser, live, tmp_path):
    """On a 360 px phone: the tier limits, the particulars, three photos (the selfie from the front camera), sent
    for review; settings turn two-step sign-in on with a pyotp code; the settings page in Swahili."""
    context = browser.new_context(viewport=PHONE, locale="en-KE", is_mobile=True, has_touch=True)
    page = context.new_page()
    _sign_up(page, live, "0712 345 201", "254712345201")
    page.get_by_role("link", name="Verify", exact=True).click()
    page.wait_for_url("**/app/verify")
    assert page.get_by_role("heading", name="Verify your identity").is_visible()
    assert page.get_by_text("KES 250,000.00").first.is_visible()
    assert axe_violations(page) == []
    page.locator("#level").select_option("2")
    page.locator("#legal_name").fill("Amina Wanjiru")
    page.locator("#date_of_birth").fill("1992-04-03")
    page.locator("#id_number").fill("23456789")
    page.locator("#address").fill("Moi Avenue 12, Nairobi")
    page.get_by_role("button", name="Continue").click()  # the particulars form
    page.wait_for_url("**/app/verify")
    assert page.locator("#selfie").get_attribute("capture") == "user"
    assert page.locator("#id_front").get_attribute("capture") == "environment"
    assert page.get_by_role("button", name="Send for review").is_disabled()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []
    page.locator("#id_front").set_input_files(_photo(tmp_path, "front", (800, 600)))
    page.locator("#id_back").set_input_files(_photo(tmp_path, "back", (800, 600)))
    page.locator("#selfie").set_input_files(_photo(tmp_path, "selfie", (480, 640)))
    page.get_by_role("button", name="Upload photos").click()
    page.wait_for_url("**/app/verify")
    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url("**/app/verify?submitted=1")
    assert page.get_by_text("Sent for review.").is_visible()
    assert page.get_by_text("waiting for review").first.is_visible()
    assert axe_violations(page) == []

    page.get_by_role("link", name="Settings", exact=True).click()
    page.wait_for_url("**/app/settings")
    assert axe_violations(page) == []
    page.locator("#on-password").fill(PASSWORD)
    page.get_by_role("button", name="Turn on").click()
    secret = page.locator("code.secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    assert axe_violations(page) == []
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    assert page.get_by_text("Two-step sign-in is on.").is_visible()
    codes = page.locator("ul.codes li").all_inner_texts()
    assert len(codes) == 10
    assert axe_violations(page) == []

    page.goto(f"{live.api}/lang/sw?next=/app/login")
    page.locator("#phone").fill("0712 345 201")
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.locator("#code").fill(codes[0].strip())  # this 30-second step's code was spent on the enrolment
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/app/")
    page.goto(f"{live.api}/app/settings")
    assert page.get_by_role("heading", name="Mipangilio").is_visible()
    assert page.get_by_text("Imewashwa").is_visible()
    assert axe_violations(page) == []
    context.close()
