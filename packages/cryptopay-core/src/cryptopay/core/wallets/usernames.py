"""Usernames people choose for their wallets: the form, and the names nobody may take (review H13).

A username is sent to (``@wanjiku_k``), so it is trusted: ``@support`` or ``@mpesa_agent`` would be believed to be the
platform's or a partner's. The reserved names are data (``data/reserved_usernames.txt``) and are compared by a
cheap look-alike *skeleton*: lower case, ``_`` dropped, the digits people swap for letters read as those letters
(``0`` o, ``1`` and ``l`` i, ``3`` e, ``4`` a, ``5`` s, ``7`` t, ``8`` b) and ``rn`` read as ``m``, ``vv`` as ``w``.
Usernames are ASCII only (``valid_username``), so no Unicode confusables reach this rule; other names compared with
the brands (``folded_name``: business names) are first read as Latin look-alikes (review6 F1).

The same skeleton keeps look-alikes of *each other* apart (review5 S1): a username whose skeleton is an existing
username's (``b0b_k``, ``bob__k`` beside ``bob_k``) is refused (``UsernameLookalike``, 409 ``username_lookalike``,
which names neither the other username nor whose it is); the wallet stores its skeleton under a unique index, so two
sign-ups racing for look-alikes cannot both win. The banks a merchant may be settled to (``settlement/data/
banks.json``) are brands too: their names folded (``equity_bank``).

>>> skeleton("Adm1n"), skeleton("s_u_p_p_0_r_t"), skeleton("cryptopay")
('admin', 'support', 'cryptopay')
>>> reserved("supp0rt"), reserved("cryptopay_help"), reserved("m_pesa_agent"), reserved("wanjiku")
(True, True, True, False)
>>> reserved("admin_kenya"), reserved("equity_bank"), skeleton("b0b_k") == skeleton("bob__k") == skeleton("bob_k")
(True, True, True)
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

from cryptopay.core.compliance.screening import latin_lookalikes
from cryptopay.core.errors import Conflict, InvalidInput

__all__ = [
    "ReservedUsername",
    "UsernameLookalike",
    "bank_brands",
    "business_name_impersonates",
    "choosable_username",
    "folded_name",
    "payer_text_impersonates",
    "reserved",
    "skeleton",
    "valid_username",
]

_USERNAME = re.compile(r"^[a-z][a-z0-9_]{2,29}$")
_DIGITS = str.maketrans({"0": "o", "1": "i", "l": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "_": None})


class ReservedUsername(InvalidInput):
    """The username is one nobody may take: the platform's, a partner's or an authority's name, or a look-alike."""

    code = "reserved_username"


class UsernameLookalike(Conflict):
    """The username reads as one a wallet has already (its skeleton is taken): people would send to the wrong one."""

    code = "username_lookalike"


def skeleton(name: str) -> str:
    """``name`` as it reads (look-alike characters folded), for comparing with the reserved names."""
    return name.lower().replace("rn", "m").replace("vv", "w").translate(_DIGITS)


# Symbols people write for letters in a name (``M-PE$A``, ``S@faricom``, ``Cryptop@y``, ``KP|C``, ``L!pa``)
_SYMBOL_LETTERS = str.maketrans({"$": "s", "@": "a", "|": "l", "!": "i", "€": "e", "£": "l"})


def folded_name(text: str) -> str:
    """Any name (a bank's, a business's) as a username reads: every character as its Latin look-alike
    (``latin_lookalikes``: Cyrillic, Greek, fullwidth and compatibility letters such as ``ＭＰＥＳＡ`` or the Roman
    numeral ``Ⅿ``; review6 F1), symbols written for letters as those letters (``$`` s, ``@`` a, ``|`` l, ``!`` i),
    letters and digits only, then ``skeleton``.

    >>> folded_name("Co-operative Bank"), folded_name("I&M Bank"), folded_name("ＭＰＥＳＡ"), folded_name("M-PE$A")
    ('cooperativebank', 'imbank', 'mpesa', 'mpesa')
    """
    read = latin_lookalikes(unicodedata.normalize("NFKC", text)).translate(_SYMBOL_LETTERS)
    return skeleton("".join(c for c in read if c.isascii() and c.isalnum()))


@functools.cache
def bank_brands() -> tuple[str, ...]:
    """The folded names of the banks a merchant may be settled to (``settlement/data/banks.json``): brands."""
    text = resources.files("cryptopay.core.settlement").joinpath("data/banks.json").read_text("utf-8")
    return tuple(folded_name(str(bank["name"])) for bank in json.loads(text)["banks"])


@functools.cache
def _reserved() -> tuple[frozenset[str], tuple[str, ...]]:
    """The reserved names' skeletons: those refused as they are, and the brands refused anywhere in a username (the
    ``*`` lines and the banks)."""
    text = resources.files("cryptopay.core.wallets").joinpath("data/reserved_usernames.txt").read_text("utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    brands = tuple(skeleton(line[1:]) for line in lines if line.startswith("*")) + bank_brands()
    return frozenset(skeleton(line.lstrip("*")) for line in lines), brands


@functools.cache
def _text_brands() -> tuple[str, ...]:
    """The brands a business name or a payer-facing text may not speak as (the usernames' own, not these)."""
    return tuple(brand for brand in _reserved()[1] if brand not in _USERNAME_ONLY)


def reserved(name: str) -> bool:
    """True when ``name`` (a valid username) reads as a reserved name, or contains a reserved brand."""
    exact, brands = _reserved()
    folded = skeleton(name)
    return folded in exact or any(brand in folded for brand in brands)


def valid_username(text: str) -> str:
    """The lower-cased username (a leading ``@`` dropped); ``InvalidInput`` unless 3 to 30 letters, digits or ``_``,
    starting with a letter.

    >>> valid_username("@Wanjiku_K")
    'wanjiku_k'
    """
    name = text.strip().removeprefix("@").lower()
    if not _USERNAME.match(name):
        raise InvalidInput("a username is 3 to 30 letters, digits or _, starting with a letter", field="username")
    return name


def choosable_username(text: str) -> str:
    """``valid_username`` for a name being taken (sign-up): ``ReservedUsername`` (422) for a reserved name or a
    look-alike of one. Sends to a username use ``valid_username``: a name taken before this rule still receives."""
    name = valid_username(text)
    if reserved(name):
        raise ReservedUsername(
            f"{name!r} is reserved (it reads as the platform's, a partner's or an official name): choose another",
            field="username",
        )
    return name


_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_USERNAME_ONLY = frozenset({"admin"})  # a brand for usernames only: "Badminton Club" is an honest business name


def _scripts(word: str) -> set[str]:
    found = set()
    for char in word:
        if char.isalpha():
            script = unicodedata.name(char, "").split(" ", 1)[0]
            if script in _SCRIPTS:
                found.add(script)
    return found


def business_name_impersonates(name: str) -> str | None:
    """Why a merchant's business name reads as the platform's, M-Pesa's, a biller's or another brand of the reserved
    list (review5 S5), or ``None``: a word mixing Latin with Cyrillic or Greek letters (``Sаfaricom`` with a
    Cyrillic ``а``), or a reserved brand (the ``*`` lines, folded as usernames are: ``M-PESA``, ``KPLC Prepaid``,
    ``Crypt0pay Support``; also spelt wholly in Cyrillic or Greek letters drawn as Latin ones, ``МРЕЅА``, in
    fullwidth or other compatibility letters, ``ＭＰＥＳＡ``, ``Ⅿ-PESA``, or with symbols for letters, ``M-PE$A``:
    ``folded_name``, review6 F1). The customer reads it on the checkout ("Pay ...") and in emails.

    >>> [business_name_impersonates(n) for n in ("Mama Mboga Ltd", "Badminton Club", "Safaricom M-PESA")]
    [None, None, 'a reserved brand']
    >>> business_name_impersonates("S\u0430faricom")
    'letters of two scripts in one word'
    >>> business_name_impersonates("\u041c\u0420\u0415\u0405\u0410 Agent")  # МРЕЅА: Cyrillic letters drawn as Latin
    'a reserved brand'
    >>> [business_name_impersonates(n) for n in ("\uff2d\uff30\uff25\uff33\uff21 Agent", "\u216f-PESA", "M-PE$A")]
    ['a reserved brand', 'a reserved brand', 'a reserved brand']
    """
    name = unicodedata.normalize("NFKC", name)  # fullwidth and compatibility letters as the letters they show
    if not name.isascii() and any(len(scripts) > 1 and "LATIN" in scripts for scripts in map(_scripts, name.split())):
        return "letters of two scripts in one word"
    folded = folded_name(name)
    if any(brand in folded for brand in _text_brands()):
        return "a reserved brand"
    return None


# Words that make free text speak *as* a brand rather than about it ("Safaricom M-PESA official top-up", "M-PESA
# agent", "KPLC customer care", "M-PESA reversal: pay to get your money back"), each as ``folded_name`` reads it.
_CLAIMS = frozenset(
    folded_name(word)
    for word in (
        "official",
        "officially",
        "authorised",
        "authorized",
        "agent",
        "agents",
        "support",
        "care",
        "helpline",
        "helpdesk",
        "verify",
        "verification",
        "reversal",
        "reversals",
    )
)
_WORDS = re.compile(r"[^\W_]+")  # "customer-care", "MPESA_OFFICIAL": each part a word
# Words that tell a payer what to do with a brand, glued to one spelt with digits in a reference ("PAY5AFARICOM",
# "LIPAMPE5A", "5AFARICOMREFUND"): speaking as it, as a claim word does (tipoff3); in English and Swahili
_GLUED = tuple(
    folded_name(word)
    for word in ("pay", "lipa", "lipia", "paybill", "till", "topup", "refund", "send", "tuma", "buy", "nunua")
)


def _ascii_letters(text: str) -> str:
    """A text's ASCII letters only, as ``skeleton`` reads them: a brand found here is spelt plainly."""
    return skeleton("".join(c for c in text.lower() if c.isascii() and c.isalpha()))


def _spoken_with_digits(text: str) -> bool:
    """Whether a reference's brand, its digits read as letters, fills whole words (``M-PE5A``, ``5AFARICOM-REFUND``),
    stands with a claim word anywhere in it (``MPE5AREVERSAL``) or is glued to a word telling the payer what to do
    (``PAY5AFARICOM``, ``LIPAMPE5A``: ``_GLUED``), rather than lying inside a random run (where a brand and a
    glued word together are 6 letters or more in a row: about one random 26-character id in a billion).

    >>> [_spoken_with_digits(t) for t in ("PAY5AFARICOM", "LIPA-MPE5A", "5AFARICOMREFUND", "BHSN75P2WXGJ2K5TG")]
    [True, True, True, False]
    """
    words = "|".join(folded_name(word) for word in _WORDS.findall(unicodedata.normalize("NFKC", text)))
    if any(claim in words for claim in _CLAIMS):
        return True
    spelt = [r"\|?".join(brand) for brand in _text_brands()]  # a brand across words: "m|pesa" for M-PE5A
    if any(re.search(rf"(?:^|\|){letters}(?:\||$)", words) for letters in spelt):
        return True
    glued = "|".join(_GLUED)
    return any(re.search(rf"(?:{glued})\|?{letters}|{letters}\|?(?:{glued})", words) for letters in spelt)


def payer_text_impersonates(text: str, *, reference: bool = False) -> str | None:
    """Why free text a merchant writes for its payers (a payment link's description, on the hosted checkout and the
    till poster) speaks as the platform, M-Pesa, a biller or another reserved brand (review6 F2), or ``None``.

    Naming a brand is honest ("Airtel airtime 100", "50 USDT"); speaking as one is not: a word mixing scripts, a brand
    spelt in look-alike letters or symbols (``ＭＰＥＳＡ``, ``M-PE$A``, ``Saf4ricom``: no honest text needs them), or a
    brand beside a word that claims to be it (``official``, ``agent``, ``support``, ``care``, ``reversal`` ...).

    >>> [payer_text_impersonates(t) for t in ("Airtel airtime 100", "Safaricom M-PESA official top-up", "Agent fee")]
    [None, 'a reserved brand beside a word that claims to be it', None]
    >>> payer_text_impersonates("M-PE$A top-up"), payer_text_impersonates("S\u0430faricom bundles")
    ('a reserved brand in look-alike letters', 'letters of two scripts in one word')

    ``reference=True`` for a shop's own reference (an invoice's order id): random letters and digits fold into a
    brand's look-alike by chance inside a run (``5H1F`` as ``SHIF`` in one ULID of 20,000), so there a brand spelt
    with digits is a look-alike only when it fills whole words (``M-PE5A-REVERSAL``, ``5AFARICOM``, ``SAFAR1COM``),
    stands with a claim word (``MPE5AREVERSAL``; review7 F7) or is glued to a word telling the payer what to do
    (``PAY5AFARICOM``, ``LIPAMPE5A``; tipoff3). Other look-alike letters and symbols always count.

    >>> [payer_text_impersonates(order, reference=True) for order in ("M-PE5A-REVERSAL", "ORD-X5H1FY")]
    ['a reserved brand in look-alike letters', None]
    >>> payer_text_impersonates("M-PE$A-77", reference=True)
    'a reserved brand in look-alike letters'
    """
    if reference and (why := payer_text_impersonates(re.sub(r"\d", " ", text))) is not None:  # \d: any script's
        return why
    if reference:
        why = payer_text_impersonates(text)
        return why if why is not None and _spoken_with_digits(text) else None
    text = text.strip()
    normal = unicodedata.normalize("NFKC", text)
    # An ASCII word's letters are all Latin (one script): only a text with other characters can mix them.
    if not normal.isascii() and any(
        len(scripts) > 1 and "LATIN" in scripts for scripts in map(_scripts, normal.split())
    ):
        return "letters of two scripts in one word"
    folded = folded_name(text)
    brands = [brand for brand in _text_brands() if brand in folded]
    if not brands:
        return None
    plain = _ascii_letters(text)
    if not all(brand in plain for brand in brands):
        return "a reserved brand in look-alike letters"
    if any(folded_name(word) in _CLAIMS for word in _WORDS.findall(normal)):
        return "a reserved brand beside a word that claims to be it"
    return None
