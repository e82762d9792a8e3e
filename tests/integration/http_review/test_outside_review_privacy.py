"""Outside review: the data-subject export between customers and staff.

(A customer's own export between customers is probed in ``test_outside_review_crypto`` on the root's services.)
For an officer, an odd subject id is a 4xx problem, never a 5xx, and no personal data is echoed in an error.
"""

from __future__ import annotations

PROBLEM = "application/problem+json"


def _problem(answer, *statuses: int) -> dict:
    assert answer.status_code in statuses, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == PROBLEM, answer.content_type
    return answer.get_json()


def test_odd_subjects_are_4xx_problems_for_an_officer(client, auth):
    officer = auth.user("compliance")
    for who in ("%00", "x" * 5000, "\u202e", "' OR 1=1 --", "%F0%9F%98%80", "2547%00"):
        _problem(client.get(f"/v1/admin/privacy/subjects?who={who}", headers=officer), 400, 404, 422)
    for subject in ("usr_missing", "%00", "x" * 3000, "..%2F..%2Fetc"):
        _problem(client.get(f"/v1/admin/privacy/subjects/{subject}/export?reason=%00", headers=officer), 400, 404, 422)
