"""Build the web pages' static assets and message catalogues (run by ``make setup``; quick, idempotent).

- Copies the vendor files from ``node_modules`` (installed by npm from package.json: htmx; Pico CSS, without the
  rules no page can match (``unused_css``), joined with our own CSS into ``site.css``) and our own sources
  (``cryptopay_http/pages/assets``) into
  ``cryptopay_http/pages/static`` under fingerprinted names (``htmx.min.4f2c1a9b.js``), each with a gzip twin, and
  writes ``manifest.json`` (logical name -> file name); the app icons are drawn as PNGs with Pillow.
- Compiles the Babel catalogues (``pages/translations/<lang>/LC_MESSAGES/messages.po``) to ``.mo``.
- Refuses to finish if the JavaScript the pages load is 50 KB or more gzip-compressed (the issue's budget).

Usage: ``python scripts/build_web_assets.py`` from the repository root.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "apps/http/src/cryptopay_http/pages"
OUT = PAGES / "static"
JS_BUDGET = 50 * 1024

# logical name -> source file
SOURCES = {
    "htmx.min.js": ROOT / "node_modules/htmx.org/dist/htmx.min.js",
    "app.js": PAGES / "assets/app.js",
    "icon.svg": PAGES / "assets/icon.svg",
}
# One stylesheet (one render-blocking request on a slow phone): Pico CSS, then ours on top.
STYLES = [ROOT / "node_modules/@picocss/pico/css/pico.min.css", PAGES / "assets/app.css"]
# Files served under their own name (none yet; a service worker would be: browsers look it up by its URL).
UNHASHED: set[str] = set()


def _fingerprinted(name: str, data: bytes) -> str:
    if name in UNHASHED:
        return name
    stem, _, ext = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:10]}.{ext}"


def icon_png(size: int) -> bytes:
    """The app icon (``assets/icon.svg``'s drawing) as a PNG, for the web app manifest and home screens."""
    image = Image.new("RGB", (size, size), "#0b5d4b")
    draw = ImageDraw.Draw(image)
    unit = size / 64  # the SVG's 64-unit grid; a full-bleed square keeps it maskable
    box = [19 * unit, 19 * unit, 45 * unit, 45 * unit]
    draw.arc(box, start=40, end=320, fill="#ffffff", width=round(7 * unit))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


# --- Pico without what no page uses -------------------------------------------------------------------------------
# A phone parses and matches every rule of the one stylesheet on every page; Pico styles far more than the pages
# use. A selector is dropped only when it cannot match: outside any parentheses (``:not(.x)`` and ``:is(.a, .b)``
# are kept as they are) it names a class, an attribute or an attribute value that is no word of the pages' sources
# (templates, scripts, our CSS, the page modules: an over-approximation, so a used class always stays), one of the
# rarer elements no template writes, or a ``data-theme`` (the pages set none: Pico's light theme, as the pages'
# ``color-scheme`` says; its dark ``prefers-color-scheme`` block goes too).
RARE_ELEMENTS = frozenset(
    {"abbr", "address", "aside", "audio", "blockquote", "canvas", "del", "dialog", "hgroup", "hr", "iframe", "ins"}
    | {"kbd", "mark", "meter", "pre", "sub", "sup", "video"}
)


def _statements(css: str) -> list[tuple[str, str | None]]:
    """The top-level statements of minified CSS: (prelude, block body) or (at-rule;, None)."""
    found: list[tuple[str, str | None]] = []
    i = 0
    while i < len(css):
        j, parens = i, 0
        while j < len(css) and not (parens == 0 and css[j] in "{;"):
            parens += {"(": 1, ")": -1}.get(css[j], 0)
            j = css.index(css[j], j + 1) if css[j] in "\"'" else j
            j += 1
        if j >= len(css):
            if css[i:].strip():
                found.append((css[i:].strip(), None))
            break
        if css[j] == ";":
            found.append((css[i : j + 1], None))
            i = j + 1
            continue
        k, depth = j + 1, 1
        while depth:
            depth += {"{": 1, "}": -1}.get(css[k], 0)
            k = css.index(css[k], k + 1) if css[k] in "\"'" else k
            k += 1
        found.append((css[i:j], css[j + 1 : k - 1]))
        i = k
    return found


def _top_level(text: str, keep_commas: bool) -> list[str]:
    """``text`` split at commas outside parentheses (``keep_commas``: one piece, parenthesised parts removed)."""
    pieces, depth, piece = [], 0, []
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if keep_commas:
            if depth == 0 and char != ")":
                piece.append(char)
        elif char == "," and depth == 0:
            pieces.append("".join(piece))
            piece = []
        else:
            piece.append(char)
    return [*pieces, "".join(piece)]


def _can_match(selector: str, words: set[str], elements: set[str]) -> bool:
    outside = _top_level(selector, keep_commas=True)[0].replace('"', "")
    if "[data-theme" in outside:
        return False
    if any(name not in words for name in re.findall(r"\.([A-Za-z_-][\w-]*)", outside)):
        return False
    for name, value in re.findall(r"\[([\w-]+)(?:[~|^$*]?=([\w-]+))?\]", outside):
        if name not in words or (value and value not in words):
            return False
    tags = re.findall(r"(?:^|[\s>+~])([a-z][a-z0-9]*)", outside)
    return not any(tag in RARE_ELEMENTS and tag not in elements for tag in tags)


def unused_css(css: str, words: set[str], elements: set[str]) -> str:
    """``css`` without the selectors (and rules, and dark-mode blocks) no page can match.

    >>> unused_css(".grid{a:1}.card,p{b:2}:not(.x) p{c:3}dialog{d:4}", {"card"}, {"p"})
    '.card,p{b:2}:not(.x) p{c:3}'
    """
    kept = []
    for prelude, body in _statements(css):
        head = prelude.strip()
        if body is None:
            kept.append(head)
        elif head.startswith("@media") and "prefers-color-scheme:dark" in head.replace(" ", ""):
            continue
        elif head.startswith(("@media", "@supports", "@layer")):
            inner = unused_css(body, words, elements)
            kept.extend([f"{head}{{{inner}}}"] if inner else [])
        elif head.startswith("@"):
            kept.append(f"{head}{{{body}}}")
        elif selectors := [s for s in _top_level(head, keep_commas=False) if _can_match(s, words, elements)]:
            kept.append(f"{','.join(selectors)}{{{body}}}")
    return "".join(kept)


def _page_words() -> tuple[set[str], set[str]]:
    """Every word of the pages' sources, and every element their templates write."""
    sources = [PAGES / "templates", PAGES / "assets", PAGES]
    texts = [f.read_text() for f in (*sources[0].rglob("*.html"), *sources[1].glob("*.*"), *PAGES.rglob("*.py"))]
    templates = "".join(f.read_text() for f in sources[0].rglob("*.html"))
    words = set(re.findall(r"[A-Za-z_][\w-]*", "".join(t + "\n" for t in texts)))
    return words, set(re.findall(r"<([a-z][a-z0-9]*)", templates))


def _sources() -> dict[str, bytes]:
    found = {}
    for name, source in SOURCES.items():
        if not source.exists():
            sys.exit(f"missing {source.relative_to(ROOT)}: run npm install (make setup)")
        found[name] = source.read_bytes()
    for source in STYLES:
        if not source.exists():
            sys.exit(f"missing {source.relative_to(ROOT)}: run npm install (make setup)")
    words, elements = _page_words()
    pico, ours = (source.read_text() for source in STYLES)
    styles = f"{unused_css(pico, words, elements)}\n{ours}".encode()
    return found | {"site.css": styles, "icon-192.png": icon_png(192), "icon-512.png": icon_png(512)}


def build_assets() -> dict[str, str]:
    """Write every asset and its gzip twin; return the manifest."""
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    manifest: dict[str, str] = {}
    for name, data in _sources().items():
        target = _fingerprinted(name, data)
        (OUT / target).write_bytes(data)
        (OUT / f"{target}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        manifest[name] = target
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def check_js_budget(manifest: dict[str, str]) -> int:
    """The gzip size of every script the pages load; exit if it is over the budget."""
    total = sum((OUT / f"{file}.gz").stat().st_size for name, file in manifest.items() if name.endswith(".js"))
    if total >= JS_BUDGET:
        sys.exit(f"the pages' JavaScript is {total} bytes gzip-compressed, over the {JS_BUDGET} byte budget")
    return total


def compile_catalogues() -> list[Path]:
    """Compile each ``messages.po`` to ``messages.mo`` beside it."""
    compiled = []
    for po in sorted((PAGES / "translations").glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as source:
            catalog = read_po(source)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        compiled.append(po)
    return compiled


def main() -> None:
    manifest = build_assets()
    js = check_js_budget(manifest)
    css = (OUT / f"{manifest['site.css']}.gz").stat().st_size
    catalogues = compile_catalogues()
    print(
        f"web assets: {len(manifest)} files, JavaScript {js} bytes gzip, CSS {css} bytes gzip; "
        f"{len(catalogues)} catalogues compiled"
    )


if __name__ == "__main__":
    main()
