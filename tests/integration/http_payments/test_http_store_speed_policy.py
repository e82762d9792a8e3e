"""Issue 13.6: a store's speed policy over the REST API: saved, shown, checked, and applied to each invoice."""

from __future__ import annotations

import pytest

TIERS = [
    {"rail": "usdt-ethereum", "up_to_kes": "10000", "confirmations": 1},
    {"rail": "usdt-ethereum", "finality": "finalized"},
    {"rail": "usdt-tron", "up_to_kes": "50000", "confirmations": 1},
    {"rail": "usdt-tron", "finality": "finalized"},
]


def test_the_speed_policy_is_saved_shown_and_kept_when_a_body_leaves_it_out(client, shop):
    """Tiers come back as saved; a later PUT without ``speed_policy`` keeps them, ``[]`` clears them."""
    saved = shop.store(["usdt-tron", "usdt-ethereum"], speed_policy=TIERS)
    assert [(t["rail"], t["up_to_kes"], t["confirmations"], t["finality"]) for t in saved["speed_policy"]] == [
        ("usdt-ethereum", "10000", 1, None),
        ("usdt-ethereum", None, None, "finalized"),
        ("usdt-tron", "50000", 1, None),
        ("usdt-tron", None, None, "finalized"),
    ]
    assert shop.store(["usdt-tron", "usdt-ethereum"])["speed_policy"] == saved["speed_policy"]
    assert shop.store(["usdt-tron", "usdt-ethereum"], speed_policy=[])["speed_policy"] == []


def test_each_invoice_shows_what_its_rails_wait_for_at_its_worth(client, shop):
    """A small invoice waits 1 confirmation on each rail; a large one waits for each network's finality."""
    shop.store(["usdt-tron", "usdt-ethereum"], speed_policy=TIERS)
    small = {o["rail"]: (o["confirmations"], o["finality"]) for o in shop.invoice("5000")["payment_options"]}
    large = {o["rail"]: (o["confirmations"], o["finality"]) for o in shop.invoice("200000")["payment_options"]}
    assert small == {"usdt-ethereum": (1, None), "usdt-tron": (1, None)}
    assert large == {"usdt-ethereum": (None, "finalized"), "usdt-tron": (None, "finalized")}


@pytest.mark.parametrize(
    ("tier", "says"),
    [
        ({"rail": "usdt-tron", "finality": "safe"}, "tron has no 'safe' signal"),
        ({"rail": "usdt-tron", "confirmations": 2, "finality": "finalized"}, "either confirmations or a finality"),
        ({"rail": "usdt-tron"}, "either confirmations or a finality"),
        ({"rail": "usdt-tron", "confirmations": 0}, ""),
        ({"rail": "usdt-tron", "up_to_kes": "0", "confirmations": 1}, ""),
        ({"rail": "usdt-nowhere", "confirmations": 1}, ""),
        ({"rail": "usdt-tron", "finality": "eventually"}, ""),
    ],
)
def test_a_bad_tier_is_a_422_and_changes_nothing(client, shop, tier, says):
    """A finality the network lacks, both or neither requirement, a zero depth or bound, an unknown rail or signal."""
    path = f"/v1/merchants/{shop.id}/store"
    before = client.get(path, headers=shop.headers).json
    response = client.put(path, json={"rails": ["usdt-tron"], "speed_policy": [tier]}, headers=shop.headers)
    assert response.status_code in (400, 422), response.json
    assert says in str(response.json)
    assert client.get(path, headers=shop.headers).json == before


def test_two_tiers_with_one_bound_are_refused(client, shop):
    """Two tiers of a rail sharing a bound would be ambiguous: 422 on speed_policy."""
    tiers = [{"rail": "usdt-tron", "confirmations": 1}, {"rail": "usdt-tron", "finality": "finalized"}]
    response = client.put(
        f"/v1/merchants/{shop.id}/store", json={"rails": ["usdt-tron"], "speed_policy": tiers}, headers=shop.headers
    )
    assert response.status_code == 422 and "share the bound" in response.json["detail"]


def test_a_tier_without_its_rail_is_a_4xx_not_a_server_error(client, shop):
    """A tier missing its rail is refused at the edge like any missing field."""
    body = {"rails": ["usdt-tron"], "speed_policy": [{"finality": "finalized", "up_to_kes": "1"}]}
    response = client.put(f"/v1/merchants/{shop.id}/store", json=body, headers=shop.headers)
    assert response.status_code in (400, 422), response.json
