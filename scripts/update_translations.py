"""Extract the pages' messages and merge them into every catalogue (``make translations``).

New messages appear in each ``messages.po`` untranslated (English is shown until someone translates them);
``tests/integration/web/test_translations.py`` fails while a Swahili message is missing.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po
from cryptopay.core.audit_search import MESSAGES as AUDIT_SEARCH_WORDING
from cryptopay.core.mobile_money.wording import PAYOUT_FALLBACK, PAYOUT_WORDING
from cryptopay.core.wallets.wording import MESSAGES as HISTORY_WORDING

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "apps/http/src/cryptopay_http/pages"
# PDFs' texts: ``_()`` in printables; the pages' own error messages: ``gettext()`` in their modules.
METHODS = [
    ("templates/**.html", "jinja2"),
    *(
        (name, "python")
        for name in (
            "printables.py",
            "dashboard_business.py",
            "portal.py",
            "portal_account.py",
            "refusals.py",
            "remittance_notice.py",
        )
    ),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extract() -> Catalog:
    """Every message the page templates ask for."""
    template = Catalog(project="cryptopay", version="1")
    for _file, _line, message, comments, context in extract_from_dir(PAGES, METHODS, options_map=OPTIONS):
        template.add(message, None, [], auto_comments=comments, context=context)
    for wording in (*PAYOUT_WORDING.values(), PAYOUT_FALLBACK):  # the pages' ``payout_result``: the core's words
        template.add(wording, None, [], auto_comments=["cryptopay.core.mobile_money.wording"])
    for wording in HISTORY_WORDING:  # a wallet history line's words (the pages' ``described``): the core's
        template.add(wording, None, [], auto_comments=["cryptopay.core.wallets.wording"])
    for wording in AUDIT_SEARCH_WORDING:  # the audit search's refusals (the console's audit page): the core's
        template.add(wording, None, [], auto_comments=["cryptopay.core.audit_search"])
    return template


def main() -> None:
    template = extract()
    for po in sorted((PAGES / "translations").glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as source:
            catalog = read_po(source)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with po.open("wb") as target:
            write_po(target, catalog, sort_output=True, no_location=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{po.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} to translate")


if __name__ == "__main__":
    main()
