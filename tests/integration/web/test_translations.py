"""Every message on the pages has a Swahili translation, with the same placeholders."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = ROOT / "apps/http/src/cryptopay_http/pages/translations/sw/LC_MESSAGES/messages.po"


def _extract():  # the same extraction ``make translations`` runs
    spec = importlib.util.spec_from_file_location("update_translations", ROOT / "scripts/update_translations.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.extract()


def test_every_page_message_is_translated_to_swahili():
    """No message of the templates is missing from the Swahili catalogue or left empty; placeholders agree."""
    with CATALOGUE.open("rb") as source:
        swahili = read_po(source)
    for message in _extract():
        if not message.id:
            continue
        found = swahili.get(message.id)
        # a plural (ngettext) is a tuple of forms, each translated, each with the singular's placeholders
        forms = found.string if found is not None and isinstance(found.string, tuple) else (found and found.string,)
        assert found is not None and all(forms), f"translate {message.id!r} (make translations)"
        wanted = message.id[0] if isinstance(message.id, tuple) else message.id
        for form in forms:
            assert set(re.findall(r"%\(\w+\)s", wanted)) == set(re.findall(r"%\(\w+\)s", form)), message.id


def test_every_template_parses_so_extraction_sees_its_messages():
    """Babel's extraction drops a template Jinja cannot parse without a word, and its messages leave the catalogues
    (an inline ``x if y else z`` inside ``{% if %}`` did): each template must parse with the i18n extension."""
    import jinja2

    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    templates = ROOT / "apps/http/src/cryptopay_http/pages/templates"
    for path in sorted(templates.rglob("*.html")):
        env.parse(path.read_text(), filename=str(path))
