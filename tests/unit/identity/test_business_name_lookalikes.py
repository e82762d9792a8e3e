"""A merchant's business name written wholly in Cyrillic or Greek letters that look Latin (``МРЕЅА``) reads as the
brand it imitates on the checkout ("Pay ..."): refused as a mixed-script one is (review5 S5). A name honestly in
another script, whose letters read differently, is not.

Review6 F1: nor in fullwidth or other compatibility letters (``ＭＰＥＳＡ``, the Roman numeral ``Ⅿ``, mathematical
bold), nor with symbols written for letters (``M-PE$A``, ``S@faricom``): read as the letters they show."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.payments.invoicing import check_order_id
from cryptopay.core.wallets.usernames import business_name_impersonates, payer_text_impersonates
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    "name",
    [
        "\u041c\u0420\u0415\u0405\u0410 Agent",  # МРЕЅА: every letter Cyrillic
        "\u039c\u03a1\u0395\u0405\u0391",  # Greek М Р Е, Cyrillic Ѕ, Greek А: no Latin letter at all
        "\u0405\u0430f\u0430ri\u0441\u043em",  # Ѕаfаriсоm: Latin too (the mixed-script rule refuses it already)
        "\uff2d\uff30\uff25\uff33\uff21 Agent",  # ＭＰＥＳＡ: fullwidth letters (review6 F1)
        "\uff33\uff41\uff46\uff41\uff52\uff49\uff43\uff4f\uff4d",  # Ｓａｆａｒｉｃｏｍ
        "\u216f-PESA Agent",  # Ⅿ: ROMAN NUMERAL ONE THOUSAND
        "\U0001d40c\U0001d40f\U0001d404\U0001d412\U0001d400 Shop",  # 𝐌𝐏𝐄𝐒𝐀: mathematical bold
        "M-PE$A Agent",  # $ for S
        "S@faricom Care",  # @ for a
        "KP|C Tokens",  # | for L
        "Crypt0p@y Support",
        "\uff2b\uff30\uff2c\uff23 Prepaid",  # ＫＰＬＣ
    ],
)
def test_a_brand_spelt_in_look_alike_letters_is_refused(name: str) -> None:
    assert business_name_impersonates(name) is not None


@pytest.mark.parametrize(
    "name",
    [
        "\u041c\u0430\u0433\u0430\u0437\u0438\u043d \u0418\u0432\u0430\u043d",  # Магазин Иван: reads differently
        "Mama's Duka @ Westlands",  # symbols that spell no brand
        "Caf\u00e9 Ol\u00e9 $5 Lunches!",
        "\uff2a\uff41\uff4d\uff42\uff4f \uff33\uff48\uff4f\uff50",  # Ｊａｍｂｏ Ｓｈｏｐ: fullwidth, no brand
        "Badminton Club",
    ],
)
def test_a_name_that_reads_as_no_brand_is_kept(name: str) -> None:
    assert business_name_impersonates(name) is None


@pytest.mark.parametrize(
    "text",
    [
        "Safaricom M-PESA official top-up",  # review6 F2: the reviewer's
        "M-PESA agent float",
        "Official KPLC tokens",
        "KPLC customer care",
        "M-Pesa reversal: pay KES 1 to get your money back",
        "Cryptopay support fee",
        "\uff2d\uff30\uff25\uff33\uff21 top-up",  # ＭＰＥＳＡ: look-alike letters, no claim needed
        "Saf4ricom bundles",
        "M-PE$A top-up",
        "S\u0430faricom bundles",  # a Cyrillic а
    ],
)
def test_payer_text_speaking_as_a_brand_is_refused(text: str) -> None:
    assert payer_text_impersonates(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Airtel airtime top-up",  # naming a brand is honest
        "Safaricom bundles 1GB",
        "50 USDT",
        "Agent commission, March",  # a claim word without a brand
        "Management fee",
        "Mandazi na chai",
        "\u041c\u0430\u0433\u0430\u0437\u0438\u043d \u0418\u0432\u0430\u043d",  # Магазин Иван
    ],
)
def test_payer_text_naming_no_brand_or_a_brand_honestly_is_kept(text: str) -> None:
    assert payer_text_impersonates(text) is None


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@given(st.text(alphabet=CROCKFORD, min_size=1, max_size=26), st.sampled_from(["ORD-", "rem_", "inv-", ""]))
@settings(max_examples=400, deadline=None)
def test_an_id_we_generate_never_reads_as_a_brand_by_chance(body, prefix):
    """An order id the platform generates (a remittance's: random letters and digits) is never refused because its
    digits fold into a brand (``5H1F`` as ``SHIF``, ``KC8`` as ``KCB``): CI saw a remittance's generated id refused as
    ``impersonating_text``. No merchant speaks through it, so it is not checked for brands (review7 F7)."""
    assert check_order_id(prefix + body, ours=True) == prefix + body


@given(st.text(alphabet=CROCKFORD, min_size=26, max_size=26), st.sampled_from(["ORD-", "order ", ""]))
@settings(max_examples=400, deadline=None)
def test_a_merchants_random_reference_is_not_refused_for_a_brand_inside_its_run(body, prefix):
    """A merchant's own random ids (ULIDs) pass: a brand its digits spell by chance lies inside the run."""
    assert check_order_id(prefix + body) == prefix + body


@pytest.mark.parametrize("order_id", ["BHSN75P2WXGJ2K5TGPR5H1FYM6", "rem_01N55F2", "U5DT9", "KP1C7", "ORD-X5H1FY"])
def test_a_brand_spelt_with_digits_inside_a_run_passes(order_id):
    """The examples the property above rarely draws (the first one drawn at random from 20,000 ULIDs): each folds
    into a brand when its digits are read as letters, inside a longer run of letters and digits."""
    assert payer_text_impersonates(order_id) == "a reserved brand in look-alike letters"
    assert check_order_id(order_id) == order_id


@pytest.mark.parametrize(
    "order_id",
    ["M-PE5A-REVERSAL", "5AFARICOM-REFUND", "SAFAR1COM", "MPE5A", "ORD-5H1F", "MPE5AREVERSAL", "5afaricom care 12"],
)
def test_a_merchants_order_id_may_not_spell_a_brand_with_digits(order_id):
    """Review7 F7: a merchant's order id is shown to the payer ("Order M-PE5A-REVERSAL"): a brand spelt with digits
    for letters is refused when it fills whole words or stands with a claim word, as in a link's description."""
    with pytest.raises(InvalidInput) as caught:
        check_order_id(order_id)
    assert caught.value.code == "impersonating_text" and caught.value.details["field"] == "order_id"
    assert check_order_id(order_id, ours=True) == order_id


@pytest.mark.parametrize(
    "order_id", ["PAY5AFARICOM", "ORD-PAY5AFARICOM-7", "LIPAMPE5A", "lipa-mpe5a", "TOPUP5HIF", "5AFARICOMREFUND"]
)
def test_a_brand_spelt_with_digits_glued_to_what_the_payer_should_do_is_refused(order_id):
    """tipoff3: ``PAY5AFARICOM`` passed (the brand neither filled a word nor stood with a claim word); a brand spelt
    with digits glued to a word telling the payer what to do with it (pay, lipa, top up, refund ...) speaks as it."""
    with pytest.raises(InvalidInput) as caught:
        check_order_id(order_id)
    assert caught.value.code == "impersonating_text" and caught.value.details["field"] == "order_id"


@pytest.mark.parametrize("order_id", ["PAYKPLC-2024", "BUYUSDT2024", "TOPUP-100", "PAY-77-INV", "REFUND-8812"])
def test_a_reference_naming_a_brand_plainly_or_none_passes(order_id):
    assert check_order_id(order_id) == order_id


def test_random_references_are_not_refused_for_brands_their_digits_spell():
    """The false-positive count (tipoff3 keeps it at zero): 20,000 random 26-character ids (ULIDs' alphabet), bare or
    behind ``ORD-`` or ``order ``, drawn with a fixed seed: none is refused. A brand its digits spell by chance lies
    inside the run (one in 20,000); with a glued word beside it, 6 letters or more in a row, about one in a billion."""
    import random

    draw = random.Random(20261207)
    ids = [draw.choice(["", "ORD-", "order "]) + "".join(draw.choices(CROCKFORD, k=26)) for _ in range(20_000)]
    refused = []
    for order_id in ids:
        try:
            check_order_id(order_id)
        except InvalidInput:
            refused.append(order_id)
    assert refused == []


def test_a_machine_reference_still_refuses_look_alike_letters_and_symbols():
    for order_id in ("\uff2d\uff30\uff25\uff33\uff21-77", "M-PE$A-77", "S\u0430faricom-1"):
        with pytest.raises(InvalidInput):
            check_order_id(order_id)
    assert payer_text_impersonates("5H1F top-up") == "a reserved brand in look-alike letters"
