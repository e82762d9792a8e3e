"""Build the web pages' static assets and message catalogues (run by ``make setup``; quick, idempotent).

- Copies the vendor files from ``node_modules`` (installed by npm from package.json: htmx; Pico CSS, joined with our
  own CSS into ``site.css``) and our own sources (``cryptopay_http/pages/assets``) into
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


def _sources() -> dict[str, bytes]:
    found = {}
    for name, source in SOURCES.items():
        if not source.exists():
            sys.exit(f"missing {source.relative_to(ROOT)}: run npm install (make setup)")
        found[name] = source.read_bytes()
    for source in STYLES:
        if not source.exists():
            sys.exit(f"missing {source.relative_to(ROOT)}: run npm install (make setup)")
    styles = b"\n".join(source.read_bytes() for source in STYLES)
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
    catalogues = compile_catalogues()
    print(f"web assets: {len(manifest)} files, JavaScript {js} bytes gzip; {len(catalogues)} catalogues compiled")


if __name__ == "__main__":
    main()
