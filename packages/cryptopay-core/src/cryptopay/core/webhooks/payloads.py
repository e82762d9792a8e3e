"""Webhook payload versions: what an event's ``data`` looks like to an endpoint (review5 S8).

Version 1 (every endpoint made before 0160, and the default) is the outbox payload as it always was: amounts flat, a
``currency`` or ``asset`` string beside them, counts and indexes as strings. Version 2 speaks as the API does:
each amount is a money object ``{"amount": "12.50", "asset": "KES"}`` (the asset folded in, its flat sibling gone),
counts and indexes are JSON integers, and the envelope names its version (``"version": 2``, inside the signed body).
Everything else (ids, states, texts, times) is the same in both, but for fields new in version 2 alone
(``v2_only_fields``: a refund's ``funded_by_merchant`` and ``owed_by_merchant``, null when the merchant funded none;
``invoice.settled``'s ``paid`` and ``received``; ``settlement.completed``'s ``credited``, ``fx_spread``,
``payout_charges``, ``remainder`` and ``conversion_list``, R14-12). Version 2 is released: it changes only by adding
fields (``conversions`` stays the text it always was; ``conversion_list`` is the same as a list). A version 2 field
missing from an event written before it existed is null. The signature scheme does not change.

v1 stays the default: changing what an existing integration receives would break it, and a new endpoint asks for
v2 (``payload_version: 2``) when it is written against this shape.

>>> data = {"merchant_id": "m1", "paid": "1500", "currency": "KES", "payouts": "2", "failed_payouts": "0",
...         "converted": "0", "converted_asset": ""}
>>> sorted(versioned_data("payout.completed", {"amount": "1500", "currency": "KES", "attempt": "2"}, 2).items())
[('amount', {'amount': '1500', 'asset': 'KES'}), ('attempt', 2)]
>>> settled = versioned_data("settlement.completed", data, 2)  # written before its v2 fields: they are null
>>> settled["paid"], settled["converted"], settled["payouts"], settled["credited"], settled["conversion_list"]
({'amount': '1500', 'asset': 'KES'}, None, 2, None, None)
>>> versioned_data("settlement.completed", data, 1) == data
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptopay.core.errors import InvalidInput

__all__ = [
    "DEFAULT_PAYLOAD_VERSION",
    "PAYLOAD_VERSIONS",
    "check_payload_version",
    "envelope",
    "integer_fields",
    "money_fields",
    "v2_only_fields",
    "versioned_data",
]

PAYLOAD_VERSIONS = (1, 2)
DEFAULT_PAYLOAD_VERSION = 1

# amount field -> the field naming its asset (removed in v2), or a fixed asset code
_MONEY: dict[str, tuple[tuple[str, str], ...]] = {
    "invoice.": (("price", "currency"), ("shortfall", "shortfall_asset"), ("amount", "asset"), ("paid", "paid_asset")),
    "payout.": (("amount", "currency"), ("charge", "=KES")),
    "settlement.": (
        ("paid", "currency"),
        ("converted", "converted_asset"),
        ("credited", "=KES"),
        ("fx_spread", "=KES"),
        ("payout_charges", "=KES"),
        ("remainder", "=KES"),
    ),
    "refund.": (
        ("amount", "asset"),
        ("funded_by_merchant", "funded_by_merchant_asset"),
        ("owed_by_merchant", "=KES"),
    ),
}
# fields written for version 2 alone (by event family, or by event): version 1 stays byte-identical to what its
# endpoints always received
_V2_ONLY: dict[str, tuple[str, ...]] = {
    "refund.": ("funded_by_merchant", "funded_by_merchant_asset", "owed_by_merchant"),
    "invoice.settled": ("paid", "paid_asset", "received"),
    "settlement.completed": ("credited", "fx_spread", "payout_charges", "remainder", "conversion_list"),
}
_BY_RAIL = ("due", "received")  # amounts by rail key (money by rail key in v2)
_INTEGERS: dict[str, tuple[str, ...]] = {
    "invoice.": ("index",),
    "payout.": ("attempt",),
    "settlement.": ("payouts", "failed_payouts"),
}


def check_payload_version(version: int) -> int:
    """``version`` if it is one we send (1 or 2), else ``InvalidInput``."""
    if isinstance(version, bool) or version not in PAYLOAD_VERSIONS:
        known = " or ".join(str(v) for v in PAYLOAD_VERSIONS)
        raise InvalidInput(f"a webhook payload version is {known}", field="payload_version")
    return version


def _family(topic: str) -> str:
    return topic.split(".", 1)[0] + "."


def money_fields(topic: str) -> tuple[tuple[str, str], ...]:
    """The v2 money objects of ``topic``'s data: (amount field, the v1 field naming its asset, or ``=CODE``).

    >>> money_fields("payout.completed")
    (('amount', 'currency'), ('charge', '=KES'))
    """
    return _MONEY.get(_family(topic), ())


def v2_only_fields(topic: str) -> tuple[str, ...]:
    """The fields of ``topic``'s outbox payload sent in version 2 only (a refund's funding by the merchant, R25).

    >>> v2_only_fields("refund.requested")
    ('funded_by_merchant', 'funded_by_merchant_asset', 'owed_by_merchant')
    """
    return _V2_ONLY.get(_family(topic), ()) + _V2_ONLY.get(topic, ())


def integer_fields(topic: str) -> tuple[str, ...]:
    """The fields of ``topic``'s data that are strings of digits in v1 and integers in v2."""
    return _INTEGERS.get(_family(topic), ())


def _money(data: dict[str, Any], amount_key: str, asset_key: str) -> None:
    if amount_key not in data:
        return
    fixed = asset_key.startswith("=")
    asset = asset_key[1:] if fixed else data.pop(asset_key, "")
    # an empty asset or amount is "nothing": a settlement that converted nothing says "converted": null, a refund the
    # merchant did not fund "owed_by_merchant": null
    amount = data[amount_key]
    data[amount_key] = {"amount": amount, "asset": asset} if asset and amount not in ("", None) else None


def _due(due: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``invoice.created``'s amounts due (``invoice.settled``'s received) by rail key (``usdt-tron``), each as money
    in the rail's asset."""
    return {rail: {"amount": amount, "asset": rail.split("-", 1)[0].upper()} for rail, amount in due.items()}


def _conversions(conversions: object) -> list[dict[str, Any]] | None:
    """``settlement.completed``'s ``conversion_list``: each asset sold (``amount``) at its quote, with the shillings
    it ``credited``, as money."""
    if not isinstance(conversions, list):
        return None
    return [
        {
            "amount": {"amount": c["amount"], "asset": c["asset"]},
            "quote_id": c["quote_id"],
            "credited": {"amount": c["credited"], "asset": "KES"},
        }
        for c in conversions
    ]


def versioned_data(topic: str, payload: Mapping[str, Any], version: int) -> dict[str, Any]:
    """The event's ``data`` in payload ``version``: the outbox payload itself for 1, the API's shapes for 2."""
    data = dict(payload)
    if check_payload_version(version) == 1:
        for key in v2_only_fields(topic):
            data.pop(key, None)
        return data
    for key in v2_only_fields(topic):
        data.setdefault(key, None)  # an event written before the field existed: null, as the schema allows
    for amount_key, asset_key in money_fields(topic):
        _money(data, amount_key, asset_key)
    for key in integer_fields(topic):
        if isinstance(data.get(key), str) and data[key].isdigit():
            data[key] = int(data[key])
    for key in _BY_RAIL:
        if isinstance(data.get(key), Mapping):
            data[key] = _due(data[key])
    if "conversion_list" in data:
        data["conversion_list"] = _conversions(data["conversion_list"])
    return data


def envelope(topic: str, timestamp: str, data: Mapping[str, Any], version: int) -> str:
    """The exact JSON text sent and signed: ``{"type", "timestamp", "data"}`` (v2 adds ``"version": 2``), compact,
    keys sorted."""
    document: dict[str, Any] = {"type": topic, "timestamp": timestamp, "data": versioned_data(topic, data, version)}
    if version != 1:
        document["version"] = version
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
