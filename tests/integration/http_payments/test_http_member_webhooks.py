"""Review G7: a removed or demoted member's webhook endpoints stop receiving the merchant's events."""

from __future__ import annotations

from tests.integration.http.test_http_teams import join


def _hook(client, auth, headers, url: str) -> str:
    made = client.post("/v1/webhook-endpoints", json={"url": url}, headers=auth.stepped_up(headers))
    assert made.status_code == 201, made.json
    return str(made.json["endpoint"]["id"])


def test_removing_or_demoting_a_member_disables_the_endpoints_they_added(client, auth, services, shop):
    """An admin's endpoint is disabled when the owner removes them, another's when demoted to staff (each audited
    webhook_endpoint.disabled with the reason); the owner's own endpoint keeps receiving events."""
    owner = shop.headers
    mine = _hook(client, auth, owner, "https://duka.example/hooks")
    gone = join(client, auth, services, owner, "gone@duka.co.ke", "admin")
    theirs = _hook(client, auth, gone, "https://collector.evil.example/h")
    demoted = join(client, auth, services, owner, "demoted@duka.co.ke", "admin")
    other = _hook(client, auth, demoted, "https://other.evil.example/h")
    listed = {e["id"] for e in client.get("/v1/webhook-endpoints", headers=owner).json["data"]}
    assert listed == {mine, theirs, other}

    gone_id = services.users.by_email("gone@duka.co.ke").id
    assert client.delete(f"/v1/merchants/me/members/{gone_id}", headers=owner).status_code == 204
    demoted_id = services.users.by_email("demoted@duka.co.ke").id
    changed = client.patch(f"/v1/merchants/me/members/{demoted_id}", json={"role": "staff"}, headers=owner)
    assert changed.status_code == 200, changed.json

    assert [e["id"] for e in client.get("/v1/webhook-endpoints", headers=owner).json["data"]] == [mine]
    disabled = {r.subject: dict(r.details) for r in services.audit.records() if r.action == "webhook_endpoint.disabled"}
    assert disabled == {
        f"webhook_endpoint:{theirs}": {"merchant": shop.id, "creator": gone_id, "reason": "member_removed"},
        f"webhook_endpoint:{other}": {"merchant": shop.id, "creator": demoted_id, "reason": "member_demoted"},
    }
