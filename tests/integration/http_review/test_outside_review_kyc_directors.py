"""Outside review: business KYC with directors and the document store, as a sloppy integrator and an attacker.

Odd directors (none, hundreds, duplicates, NUL bytes, wrong types) and odd documents (HTML or SVG posing as a
picture, not base64, empty, a director that does not exist) are 4xx problems that store nothing; another owner's
application takes no documents; a director is verified only by an officer and only in its own application.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.integration.http.test_http_kyc import BUSINESS, upload
from tests.support.kyc_rig import photo

PROBLEM = "application/problem+json"
DIRECTOR = BUSINESS["directors"][0]


def _problem(answer, *statuses: int) -> dict:
    assert answer.status_code in statuses, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == PROBLEM, answer.content_type
    return answer.get_json()


ODD_BUSINESSES: list[Any] = [
    {"directors": []},
    {"directors": None},
    {"directors": "Otieno"},
    {"directors": [DIRECTOR] * 200},
    {"directors": [{**DIRECTOR, "name": "Otieno\u0000"}]},
    {"directors": [{**DIRECTOR, "name": "\udc00"}]},
    {"directors": [{**DIRECTOR, "id_number": 12345678}]},
    {"directors": [{**DIRECTOR, "date_of_birth": "1980-02-30"}]},
    {"directors": [{**DIRECTOR, "date_of_birth": "0000-01-01"}]},
    {"directors": [{**DIRECTOR, "date_of_birth": "9999-12-31"}]},
    {"directors": [{**DIRECTOR, "id_type": "passport\u0000"}]},
    {"directors": [{**DIRECTOR, "phone": "+254 712 345 678; drop"}]},
    {"directors": [{**DIRECTOR, "extra": {"a": [1, {"b": [2]}]}}]},
    {"directors": [[DIRECTOR]]},
    {"kra_pin": "P051234567Q\u0000"},
    {"registered_name": "x" * 100000},
]


@pytest.mark.parametrize("change", ODD_BUSINESSES, ids=lambda c: repr(c)[:40])
def test_odd_business_applications_are_4xx_problems(client, auth, change):
    owner, _ = auth.merchant()
    answer = client.post("/v1/kyc/business-applications", json={**BUSINESS, **change}, headers=owner)
    shown = _problem(answer, 400, 403, 409, 413, 422)  # 403 not_eligible: a director under 18
    assert "12345678" not in str(shown.get("detail", "")) and "0722000111" not in str(shown)
    assert client.get("/v1/kyc", headers=owner).get_json().get("applications", []) in ([], None)


def test_odd_documents_are_refused_and_another_owner_uploads_nothing(client, auth):
    (owner, _), (rival, _) = auth.merchant(), auth.merchant()
    created = client.post("/v1/kyc/business-applications", json=BUSINESS, headers=owner)
    assert created.status_code == 201, created.json
    app_id = created.json["id"]
    director = created.json["business"]["directors"][0]["id"]
    for content in (b"<html><script>alert(1)</script></html>", b'<svg xmlns="http://www.w3.org/2000/svg"/>', b""):
        _problem(upload(client, owner, app_id, "id_front", content, director=director), 400, 413, 415, 422)
    for body in (
        {"kind": "id_front", "content_base64": "not base64!!"},
        {"kind": "id_front", "content_base64": ["x"]},
        {"kind": "../../etc/passwd", "content_base64": base64.b64encode(photo()).decode()},
        {"kind": "id_front", "content_base64": base64.b64encode(photo()).decode(), "director": "d999"},
        {"kind": "id_front", "content_base64": base64.b64encode(photo()).decode(), "director": {"$ne": 1}},
    ):
        answer = client.post(f"/v1/kyc/applications/{app_id}/documents", json=body, headers=owner)
        _problem(answer, 400, 404, 413, 415, 422)
    _problem(upload(client, rival, app_id, "id_front", photo(), director=director), 404)
    _problem(client.post(f"/v1/admin/kyc/applications/{app_id}/directors/{director}/verify", headers=owner), 403)
    mine = client.get("/v1/kyc", headers=owner).get_data(as_text=True)
    assert '"documents":[]' in mine.replace(" ", ""), mine
