"""The portal's identity verification and settings pages on the root's real SQL services (SQLite), with Flask's test
client: the KYC particulars and camera photos reach the officers' queue; two-step sign-in on and off with pyotp
codes; the password changed (every login ends); both languages."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tests.integration.http.http_support import PASSWORD
from tests.integration.http.test_http_wallet import WalletApi, _api
from tests.integration.web.test_portal_pages import _csrf, _post, _sign_up
from tests.support.kyc_rig import camera_photo, photo
from tests.support.sql_backends import migrated_sqlite

PARTICULARS = {
    "level": "2",
    "legal_name": "Amina Wanjiru",
    "date_of_birth": "1992-04-03",
    "id_type": "national_id",
    "id_number": "23456789",
    "address": "Moi Avenue 12, Nairobi",
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    yield from _api(env, tmp_path)


def _upload(client, application_id: str, **photos: bytes):
    token = _csrf(client.get("/app/verify").get_data(as_text=True))
    data = {"csrf_token": token, **{k: (io.BytesIO(v), f"{k}.jpg") for k, v in photos.items()}}
    return client.post(f"/app/verify/{application_id}/documents", data=data, content_type="multipart/form-data")


def test_the_verify_page_shows_the_tier_limits_and_takes_particulars_and_camera_photos(api: WalletApi):
    """Tier limits in KES; particulars open a tier-2 application; the photo inputs open the camera (the selfie the
    front one); a disguised file is refused by content; with all three the application goes to the officers."""
    client = _sign_up(api)
    page = client.get("/app/verify").get_data(as_text=True)
    assert "KES 70,000.00" in page and "KES 250,000.00" in page and "0 (yours)" in page
    assert _post(client, "/app/verify", "/app/verify", **PARTICULARS).status_code == 303
    page = client.get("/app/verify").get_data(as_text=True)
    [application_id] = re.findall(r'action="/app/verify/(kya_\w+)/documents"', page)
    assert 'name="selfie" accept="image/*" capture="user"' in page
    assert 'name="id_front" accept="image/*" capture="environment"' in page
    assert 'enctype="multipart/form-data"' in page and "disabled" in page  # nothing to send yet
    refused = _upload(client, application_id, id_front=b"GIF89a not a photo")
    assert refused.status_code == 422 and "must be JPEG, PNG" in refused.get_data(as_text=True)
    assert _upload(client, application_id, id_front=photo(), id_back=photo()).status_code == 303
    assert _upload(client, application_id, selfie=photo(500, 500)).status_code == 303
    token = _csrf(client.get("/app/verify").get_data(as_text=True))
    sent = client.post(f"/app/verify/{application_id}/submit", data={"csrf_token": token})
    assert sent.status_code == 303 and sent.headers["Location"] == "/app/verify?submitted=1"
    assert "waiting for review" in client.get(sent.headers["Location"]).get_data(as_text=True)
    [queued] = api.services.kyc_review.queue()
    assert queued.id == application_id and {d.kind.value for d in queued.documents} == {"id_front", "id_back", "selfie"}
    assert queued.person.phone == "254712000001"  # the wallet's verified phone, not a typed one


def test_camera_photos_up_to_the_core_s_8_mb_are_taken_and_a_larger_one_is_refused_on_its_field(api: WalletApi):
    """R9-4: a phone photo is 2-5 MB, above the site's 1 MB body limit: the upload page reads up to three of the
    core's largest before its guard parses the form; a larger photo is the core's refusal on that photo's input, in
    the page's language; a body larger than even that is a 413 page in the page's language, not werkzeug's words."""
    client = _sign_up(api)
    assert _post(client, "/app/verify", "/app/verify", **PARTICULARS).status_code == 303
    page = client.get("/app/verify").get_data(as_text=True)
    [application_id] = re.findall(r'action="/app/verify/(kya_\w+)/documents"', page)
    back = camera_photo(1200, 900)
    assert len(back) > 1_000_000
    assert _upload(client, application_id, id_front=photo(), id_back=back).status_code == 303
    user_id = api.services.users.by_phone("254712000001").id
    [application] = api.services.kyc_review.standing(user_id).applications
    assert {d.kind.value: d.size for d in application.documents}["id_back"] == len(back)
    huge = camera_photo(1700, 1700, fmt="PNG")
    assert len(huge) > 8 * 1024 * 1024
    refused = _upload(client, application_id, selfie=huge)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "a document is at most 8 MB" in text
    assert 'name="selfie" aria-invalid="true" aria-describedby="refusal"' in text
    client.get("/lang/sw?next=/app/verify")
    swahili = _upload(client, application_id, selfie=huge).get_data(as_text=True)
    assert "Picha au hati isizidi MB 8" in swahili
    too_big = _upload(client, application_id, id_front=huge, id_back=huge, selfie=huge)
    assert too_big.status_code == 413 and "Picha au hati isizidi MB 8" in too_big.get_data(as_text=True)
    assert "exceeds the capacity limit" not in too_big.get_data(as_text=True)
    [application] = api.services.kyc_review.standing(user_id).applications
    assert {d.kind.value for d in application.documents} == {"id_front", "id_back"}


def test_the_upload_limit_is_a_logged_in_visitors_and_the_413_page_names_the_limit_in_force(api: WalletApi):
    """reader2 M-5: the documents page's 24 MB body was allowed before the login was known, so anyone could send
    24 MB to be parsed; and every 413 page said a document is at most 8 MB. A visitor without a login now keeps the
    site's limit (1 MB) on that page too, and a form beyond the site's limit is told that limit, in its language."""
    client = _sign_up(api)
    assert _post(client, "/app/verify", "/app/verify", **PARTICULARS).status_code == 303
    [application_id] = re.findall(
        r'action="/app/verify/(kya_\w+)/documents"', client.get("/app/verify").get_data(as_text=True)
    )
    back = camera_photo(1200, 900)
    assert 1_100_000 < len(back) < 8 * 1024 * 1024
    token = _csrf(client.get("/app/settings").get_data(as_text=True))
    big_form = client.post("/app/settings/password", data={"csrf_token": token, "current_password": "x" * 1_100_000})
    assert big_form.status_code == 413 and "at most 1 MB" in big_form.get_data(as_text=True)
    assert "8 MB" not in big_form.get_data(as_text=True)
    client.get("/lang/sw?next=/app/verify")
    stranger = api.client.application.test_client()
    stranger.set_cookie("cp_lang", "sw")
    data = {"csrf_token": token, "id_back": (io.BytesIO(back), "id_back.jpg")}
    sent = stranger.post(f"/app/verify/{application_id}/documents", data=data, content_type="multipart/form-data")
    assert sent.status_code == 413 and "kisizidi MB 1" in sent.get_data(as_text=True)
    assert _upload(client, application_id, id_back=back).status_code == 303  # logged in: the photo is taken


def test_bad_particulars_are_refused_on_the_form_and_nothing_is_opened(api: WalletApi):
    """A minor, a bad ID number or a non-date: the form comes back with what was typed and no application exists."""
    client = _sign_up(api)
    for change in ({"date_of_birth": "2015-01-01"}, {"id_number": "12"}, {"date_of_birth": "yesterday"}):
        answer = _post(client, "/app/verify", "/app/verify", **{**PARTICULARS, **change})
        assert answer.status_code in (403, 422) and 'value="Amina Wanjiru"' in answer.get_data(as_text=True)
    user_id = api.services.users.by_phone("254712000001").id
    assert api.services.kyc_review.standing(user_id).applications == []


def test_the_verify_page_needs_a_login_and_a_csrf_token(api: WalletApi):
    """Visitors go to the login; a post without the token changes nothing."""
    assert api.client.get("/app/verify").headers["Location"].startswith("/app/login?next=")
    client = _sign_up(api)
    assert client.post("/app/verify", data=PARTICULARS).status_code == 403


def test_two_step_sign_in_is_turned_on_and_off_with_authenticator_codes(api: WalletApi):
    """The password steps up; the secret is shown once (no-store); a first code turns it on, shows recovery codes
    and ends the login; the next login needs a code; turning it off needs a code too."""
    client = _sign_up(api)
    wrong = _post(client, "/app/settings", "/app/settings/2fa/enrol", password="not the password at all")
    assert wrong.status_code == 403 and "wrong" in wrong.get_data(as_text=True)
    shown = _post(client, "/app/settings", "/app/settings/2fa/enrol", password=PASSWORD)
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', html).group(1)
    assert "otpauth://totp/" in html
    bad = client.post("/app/settings/2fa/confirm", data={"csrf_token": _csrf(html), "code": "000000"})
    assert bad.status_code == 422
    done = client.post("/app/settings/2fa/confirm", data={"csrf_token": _csrf(html), "code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10 and done.headers["Cache-Control"] == "no-store"
    assert client.get("/app/").status_code == 303  # the login ended with the enrolment
    needs_code = _post(client, "/app/login", "/app/login", phone="0712000001", password=PASSWORD)
    assert needs_code.status_code == 401
    back = _post(client, "/app/login", "/app/login", phone="0712000001", password=PASSWORD, code=codes[0])
    assert back.status_code == 303 and "On:" in client.get("/app/settings").get_data(as_text=True)
    off = _post(client, "/app/settings", "/app/settings/2fa/remove", code=codes[1])
    assert off.status_code == 303 and "is off" in client.get(off.headers["Location"]).get_data(as_text=True)


def test_the_password_is_changed_with_the_current_one_and_every_login_ends(api: WalletApi):
    """A wrong current password or two different new ones are refused; a change logs out and the new one works."""
    client = _sign_up(api)
    new = "a brand new passphrase"
    wrong = _post(
        client,
        "/app/settings",
        "/app/settings/password",
        current_password="nope nope nope",
        new_password=new,
        new_password_again=new,
    )
    assert wrong.status_code == 401
    differ = _post(
        client,
        "/app/settings",
        "/app/settings/password",
        current_password=PASSWORD,
        new_password=new,
        new_password_again=new + "x",
    )
    assert differ.status_code == 422 and "differ" in differ.get_data(as_text=True)
    changed = _post(
        client,
        "/app/settings",
        "/app/settings/password",
        current_password=PASSWORD,
        new_password=new,
        new_password_again=new,
    )
    assert changed.status_code == 303 and changed.headers["Location"] == "/app/login?changed=1"
    assert client.get("/app/").status_code == 303
    assert _post(client, "/app/login", "/app/login", phone="0712000001", password=PASSWORD).status_code == 401
    assert _post(client, "/app/login", "/app/login", phone="0712000001", password=new).status_code == 303


def test_both_pages_speak_swahili(api: WalletApi):
    """With the language switched, the verify and settings pages are in Swahili."""
    client = _sign_up(api)
    client.get("/lang/sw?next=/app/settings")
    settings = client.get("/app/settings")
    assert settings.headers["Content-Language"] == "sw"
    assert 'lang="sw"' in settings.get_data(as_text=True)
    assert "Change password" not in settings.get_data(as_text=True)
    assert "Verify your identity" not in client.get("/app/verify").get_data(as_text=True)
