"""English and Swahili for the pages: Babel catalogues, the language from a cookie or ``Accept-Language``.

Templates use ``{{ _("...") }}``; the callables look the request's language up when called, so one Jinja
environment serves every thread. Catalogues live in ``translations/<lang>/LC_MESSAGES/messages.po``; ``make setup``
compiles them to ``.mo`` (``scripts/build_web_assets.py``), and a catalogue not compiled yet is compiled in memory
from its ``.po`` (a fresh checkout still shows Swahili).

>>> from decimal import Decimal
>>> amount(Decimal("12500.5"), "en", places=2), amount(Decimal("0.00150000"), "sw")
('12,500.50', '0.0015')
>>> from cryptopay.core.money import BTC, USDT, Money
>>> with Flask(__name__).test_request_context():
...     crypto(Money.of("5", USDT)), crypto(Money.of("11.117501", USDT)), crypto(Money.of("0.5", BTC))
('5.00', '11.117501', '0.5')
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from cryptopay.core.mobile_money.wording import payout_wording
from cryptopay.core.money import Money
from cryptopay.core.wallets.history import HistoryLine
from flask import Flask, g, request

__all__ = [
    "LANGUAGES",
    "LANG_COOKIE",
    "amount",
    "described",
    "figure",
    "gettext",
    "install_i18n",
    "language",
    "statement_describer",
    "translate",
    "when",
]

LANGUAGES = {"en": "English", "sw": "Kiswahili"}
LANG_COOKIE = "cp_lang"
NAIROBI = ZoneInfo("Africa/Nairobi")
_HERE = Path(__file__).parent / "translations"


@functools.cache
def _catalogue(lang: str) -> NullTranslations:
    compiled = _HERE / lang / "LC_MESSAGES" / "messages.mo"
    source = compiled.with_suffix(".po")
    if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
        with compiled.open("rb") as handle:
            return Translations(handle)
    if not source.exists():
        return NullTranslations()
    with source.open("rb") as handle:
        buffer = io.BytesIO()
        write_mo(buffer, read_po(handle))
    buffer.seek(0)
    return Translations(buffer)


def language() -> str:
    """The request's language: the switch's cookie, else the browser's best match, else English."""
    chosen: str | None = g.get("lang")
    if chosen is None:
        cookie = request.cookies.get(LANG_COOKIE)
        chosen = cookie if cookie in LANGUAGES else request.accept_languages.best_match(list(LANGUAGES), "en")
        g.lang = chosen
    return chosen or "en"


def _gettext(message: str) -> str:
    # Jinja's newstyle gettext fills in the %(name)s variables (escaped) after this returns.
    return _catalogue(language()).gettext(message)


def gettext(message: str) -> str:
    """``message`` in the request's language, for texts drawn outside templates (PDFs: ``pages.printables``);
    ``make translations`` extracts its literal calls like the templates' ``_()``."""
    return _catalogue(language()).gettext(message)


def translate(message: str, lang: str) -> str:
    """``message`` in ``lang`` (a message the catalogue lacks stays as it is)."""
    return _catalogue(lang).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogue(language()).ngettext(singular, plural, n)


# Dollar stablecoins read like dollars: at least their cents (USDT 5.00), at most their own 6 places (11.117501).
CENTS = frozenset({"USDT", "USDC"})


def money(value: Money) -> str:
    """``KES 5,000.00``: shillings with their two places, a stablecoin with at least its cents (``USDT 5.00``), other
    crypto with every significant digit."""
    return f"{value.asset.code} {figure(value)}"


def figure(value: Money) -> str:
    """``money`` without the asset's code, for a column that names the asset: ``5,000.00``, ``5.00``, ``0.5``."""
    if value.asset.code == "KES":
        return amount(value.amount, language(), places=value.asset.decimals)
    return crypto(value)


def placed(value: Money) -> str:
    """An amount at its asset's places, grouped, as the API and the CSV statement give it (``7.693410``,
    ``-2.000000``, ``1,000.00``): a printed statement ticked against them line by line (R14-3)."""
    return amount(value.amount, language(), places=value.asset.decimals)


def placed_money(value: Money) -> str:
    """``placed`` with the asset's code: ``USDT 2.000000``."""
    return f"{value.asset.code} {placed(value)}"


def money_in(value: Decimal | str, code: str) -> str:
    """A report's amount (its decimal text and asset code, as reports keep them) as ``money`` shows it:
    ``USDT 25.00``, never ``USDT 25``."""
    return money(Money.of(value, code))


def shillings(value: Money) -> str:
    """A KES payout as M-Pesa pays it, in whole shillings: ``KES 638`` (a fraction, which no payout has, keeps its
    cents rather than hide them); any other asset as ``money`` shows it."""
    if value.asset.code != "KES":
        return money(value)
    places = 0 if value.amount == value.amount.to_integral_value() else 2
    return f"KES {amount(value.amount, language(), places=places)}"


def crypto(value: Money) -> str:
    """A crypto amount's digits, exactly (``38.75969``; a stablecoin's at least to the cent: ``5.00``), without the
    asset code."""
    shown = amount(value.amount, language())
    if value.asset.code not in CENTS:
        return shown
    whole, _, fraction = shown.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def amount(value: Decimal, lang: str, *, places: int | None = None) -> str:
    """A money amount for people: grouped; ``places`` fixed (KES: 2), else every significant digit, exactly."""
    if places is not None:
        pattern = "#,##0." + "0" * places if places else "#,##0"
        return format_decimal(value, format=pattern, locale=lang)
    whole, _, fraction = format(abs(value).normalize(), "f").partition(".")
    grouped = format_decimal(Decimal(whole), format="#,##0", locale=lang)
    return ("-" if value < 0 else "") + (f"{grouped}.{fraction}" if fraction else grouped)


def number(value: Decimal | str) -> str:
    """A rate or a report's total (a decimal, or its text as reports keep it) grouped for people: ``1,293.5``."""
    return amount(Decimal(value), language())


def when(moment: datetime, lang: str) -> str:
    """A date and time in Nairobi's time zone (EAT), in the page's language."""
    return format_datetime(moment, "d MMM y, HH:mm", tzinfo=NAIROBI, locale=lang)


def described(line: HistoryLine, written: Callable[[Money], str] = money) -> str:
    """A wallet history line's description in the request's language: its words (``core.wallets.wording``, derived
    from the movement's kind and data) translated, amounts as ``written`` writes them (``money``; a statement's
    ``placed_money``); an entry no product wrote keeps the ledger's English (a page marks it ``lang="en"``)."""
    if line.wording is None:
        return line.description
    return line.wording.text(gettext, written)


def statement_describer() -> Callable[[HistoryLine], str]:
    """A statement's CSV descriptions in the request's language (the user's choice: the language switch's cookie,
    else the browser's ``Accept-Language``), the language read now: a streamed CSV writes its rows after the
    request. Amounts in the words stay as plain as the CSV's figures, so the English ones are the API's."""
    lang = language()

    def describe(line: HistoryLine) -> str:
        if line.wording is None:
            return line.description
        return line.wording.text(lambda message: translate(message, lang))

    return describe


def install_i18n(app: Flask) -> None:
    """Add Jinja's i18n extension with request-bound callables and the formatting filters."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    app.jinja_env.globals["language"] = language
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.filters["when"] = lambda moment: when(moment, language())
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["described"] = described
    app.jinja_env.filters["money_in"] = money_in
    app.jinja_env.filters["shillings"] = shillings
    app.jinja_env.filters["crypto"] = crypto
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["plain"] = lambda value: format(value.amount.normalize(), "f")  # for wallets: 38.75969
    app.jinja_env.globals["payout_result"] = payout_result
    app.jinja_env.filters["network"] = network_name
    app.jinja_env.filters["phone"] = phone_number


def phone_number(msisdn: str) -> str:
    """A Kenyan number as people read it: ``254712345678`` -> ``+254 712 345 678`` (anything else as it is)."""
    if len(msisdn) == 12 and msisdn.startswith("254") and msisdn.isdigit():
        return f"+254 {msisdn[3:6]} {msisdn[6:9]} {msisdn[9:]}"
    return msisdn


_NETWORK_NAMES = {"bsc": "BNB Smart Chain"}


def network_name(network: str) -> str:
    """A chain's name as people write it (``tron`` -> ``Tron``, ``bsc`` -> ``BNB Smart Chain``); the form's value
    stays the API's name."""
    return _NETWORK_NAMES.get(network, network.title())


def payout_result(code: str | None) -> str:
    """A payout's M-Pesa result in the page's language: the core's fixed words for its code, never M-Pesa's text
    (``mobile_money.wording``; ``make translations`` extracts them)."""
    wording = payout_wording(code)
    return _gettext(wording) if wording else ""
