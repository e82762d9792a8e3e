"""Review3 I22: the Travel Rule's originator data must identify a person. Junk that satisfied the presence check
(a birth date in 2031 or 1800, an address ".", an identity number "0", a country "XX"/"ZZ"/"AQ", a name "J") is
refused when the order opens (422 ``implausible_sender`` naming the field), whatever the amount; nothing stored."""

from __future__ import annotations

from datetime import date

import pytest
from cryptopay.core.remittances import Sender
from cryptopay.core.remittances.model import ImplausibleSender, check_sender

from tests.support.remittance_stack import remittance_stack

TODAY = date(2026, 12, 6)
GOOD = {"name": "John Smith", "country": "GB", "address": "1 Acacia Road, Leeds"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date_of_birth": date(2031, 1, 1), "place_of_birth": "London"}, "date_of_birth"),
        ({"date_of_birth": date(1800, 1, 1), "place_of_birth": "London"}, "date_of_birth"),
        ({"date_of_birth": date(2015, 1, 1), "place_of_birth": "London"}, "date_of_birth"),  # a child
        ({"date_of_birth": date(1980, 1, 1), "place_of_birth": "x"}, "place_of_birth"),
        ({"address": "."}, "address"),
        ({"address": "x"}, "address"),
        ({"address": "12 34 5"}, "address"),
        ({"id_number": "0"}, "id_number"),
        ({"id_number": "a-1"}, "id_number"),
        ({"country": "XX"}, "country"),
        ({"country": "ZZ"}, "country"),
        ({"country": "QM"}, "country"),
        ({"country": "AQ"}, "country"),
        ({"name": "J"}, "name"),
    ],
)
def test_junk_originator_data_is_refused_naming_the_field(changes, field):
    sender = Sender(**{**GOOD, **changes})
    with pytest.raises(ImplausibleSender) as refused:
        check_sender(sender, today=TODAY)
    assert refused.value.code == "implausible_sender" and refused.value.details["field"] == f"sender.{field}"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"date_of_birth": date(1980, 2, 29), "place_of_birth": "Ely"},
        {"id_number": "AB 1234"},
        {"country": "US", "address": "5 Elm St"},
        {"name": "Li Na", "country": "CN"},
    ],
)
def test_real_originator_data_passes(changes):
    check_sender(Sender(**{**GOOD, **changes}), today=TODAY)


def test_an_order_with_junk_sender_data_is_refused_before_anything_is_stored():
    stack = remittance_stack()
    for sender in (
        Sender(name="John Smith", country="XX", address=".", id_number="0"),
        Sender(name="John Smith", country="GB", address="x", date_of_birth=date(2031, 1, 1), place_of_birth="x"),
    ):
        for amount in ("5000", "200000"):  # below and above the Travel Rule threshold
            with pytest.raises(ImplausibleSender):
                stack.order(amount=amount, sender=sender)
    assert stack.remittances.orders() == []
