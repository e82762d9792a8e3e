"""A merchant's business name written wholly in Cyrillic or Greek letters that look Latin (``МРЕЅА``) reads as the
brand it imitates on the checkout ("Pay ..."): refused as a mixed-script one is (review5 S5). A name honestly in
another script, whose letters read differently, is not."""

from __future__ import annotations

import pytest
from cryptopay.core.wallets.usernames import business_name_impersonates


@pytest.mark.parametrize(
    "name",
    [
        "\u041c\u0420\u0415\u0405\u0410 Agent",  # МРЕЅА: every letter Cyrillic
        "\u039c\u03a1\u0395\u0405\u0391",  # Greek М Р Е, Cyrillic Ѕ, Greek А: no Latin letter at all
        "\u0405\u0430f\u0430ri\u0441\u043em",  # Ѕаfаriсоm: Latin too (the mixed-script rule refuses it already)
    ],
)
def test_a_brand_spelt_in_look_alike_letters_is_refused(name: str) -> None:
    assert business_name_impersonates(name) is not None


def test_a_name_in_another_script_that_reads_differently_is_kept() -> None:
    assert business_name_impersonates("\u041c\u0430\u0433\u0430\u0437\u0438\u043d \u0418\u0432\u0430\u043d") is None
