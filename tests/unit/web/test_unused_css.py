"""The build's Pico trimming (``scripts/build_web_assets.unused_css``): only what no page can match goes."""

from __future__ import annotations

import doctest
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("build_web_assets", ROOT / "scripts/build_web_assets.py")
assert spec and spec.loader
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)
PICO = (ROOT / "node_modules/@picocss/pico/css/pico.min.css").read_text()


def _classes(css: str) -> set[str]:
    css = re.sub(r"/\*.*?\*/", "", re.sub(r"url\([^)]*\)", "", css), flags=re.S)
    return set(re.findall(r"\.([A-Za-z_-][\w-]*)", css))


def test_every_pico_class_a_template_writes_stays_and_the_dark_theme_goes():
    """Each Pico class named in a template's class attribute is still styled; the unused classes, the data-theme
    selectors and the dark-mode block are gone; the result is much smaller."""
    words, elements = build._page_words()
    trimmed = build.unused_css(PICO, words, elements)
    templates = "".join(p.read_text() for p in (build.PAGES / "templates").rglob("*.html"))
    written = {c for attr in re.findall(r'class="([^"{]*)"', templates) for c in attr.split()}
    assert written & _classes(PICO)  # the pages use some of Pico's classes
    assert written & _classes(PICO) <= _classes(trimmed)
    assert not (_classes(trimmed) - words)  # no class the pages never name
    assert "prefers-color-scheme:dark" not in trimmed and not re.search(r"(^|[,}])\[data-theme", trimmed)
    assert ":root:not([data-theme=dark])" in trimmed  # the light theme's variables stay
    assert len(trimmed) < 0.7 * len(PICO)


def test_a_selector_is_dropped_only_when_it_cannot_match():
    """Classes inside :not() or :is() keep their selector; a selector list keeps its matching members."""
    words, elements = {"card", "button", "role"}, {"p", "button"}
    css = ".grid{a:1}.card,.nav{b:2}:not(.x) p{c:3}:is(.a,.card) p{d:4}[role=button]{e:5}[role=switch]{f:6}"
    assert build.unused_css(css, words, elements) == ".card{b:2}:not(.x) p{c:3}:is(.a,.card) p{d:4}[role=button]{e:5}"
    assert build.unused_css("dialog{a:1}@media (min-width:1px){.grid{b:2}p{c:3}}", words, elements) == (
        "@media (min-width:1px){p{c:3}}"
    )
    assert doctest.testmod(build).failed == 0
