"""``FpdfRenderer``: a ``Printable`` as an A4 PDF (fpdf2), tables paged with their header row repeated.

Text is set in DejaVu Sans (``fonts/``: regular and bold, shipped in the package under the Bitstream Vera licence
with DejaVu's public-domain changes, ``fonts/LICENSE``; embedded as a subset), so names in Latin, Greek, Cyrillic,
Arabic and Hebrew letters print as written (review 3, I11: the built-in Helvetica covers Latin-1 only, and a shop
named in another script printed as ``????``). A character the font lacks (Chinese, Japanese and Korean among them:
no font of a size to ship covers them) prints as ``?``, never dropped silently from an amount. Arabic and Hebrew
are drawn letter by letter, unshaped and left to right (fpdf2 shapes only with ``uharfbuzz``, which is not a
dependency). A QR code is drawn
from segno's module matrix as filled squares: sharp at any print size, no image library.

>>> pdf = FpdfRenderer().render(Printable("Statement", blocks=(Paragraph("Habari"),)))
>>> pdf[:5], len(pdf) > 500
(b'%PDF-', True)
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import segno
from cryptopay.core.printing import Facts, Heading, Layout, Paragraph, Printable, QrCode, Table
from fpdf import FPDF
from fpdf.enums import Align, TableCellFillMode
from fpdf.fonts import TTFFont

__all__ = ["FpdfRenderer"]

_FONT = "DejaVuSans"
_FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
_GREEN = (11, 93, 75)


def _font_path(file: str) -> Path:
    return Path(str(resources.files("cryptopay.adapters.pdf").joinpath("fonts", file)))


@functools.cache
def _covered() -> frozenset[int]:
    """The code points both weights of the font draw (read once, as fpdf2 parses them)."""
    probe = FPDF()
    for style, file in _FONTS.items():
        probe.add_font(_FONT, style, _font_path(file))
    maps = [set(font.cmap) for font in probe.fonts.values() if isinstance(font, TTFFont)]
    return frozenset(set.intersection(*maps))


def printable_text(text: str) -> str:
    """``text`` in the characters the font has: any other one (and any control character) is ``?``.

    >>> printable_text("Duka la Ahmed — Ολγα, Сергей “sasa” … 张记")
    'Duka la Ahmed — Ολγα, Сергей “sasa” … ??'
    """
    covered = _covered()
    return "".join(ch if ch >= " " and ord(ch) in covered else "?" for ch in text)


class FpdfRenderer:
    """Renders ``Printable`` documents; stateless, safe to share between threads (one ``FPDF`` per call)."""

    def __init__(self, *, producer: str = "cryptopay") -> None:
        self._producer = producer

    def render(self, document: Printable) -> bytes:
        pdf = _Document(document, self._producer)
        for block in document.blocks:
            if isinstance(block, Heading):
                pdf.heading(block.text)
            elif isinstance(block, Paragraph):
                pdf.paragraph(block.text)
            elif isinstance(block, Facts):
                pdf.facts(block)
            elif isinstance(block, Table):
                pdf.table_of(block)
            else:
                pdf.qr(block)
        return bytes(pdf.output())


class _Document(FPDF):
    def __init__(self, document: Printable, producer: str) -> None:
        landscape = document.layout is Layout.LANDSCAPE
        super().__init__(orientation="L" if landscape else "P", unit="mm", format="A4")
        self._poster = document.layout is Layout.POSTER
        for style, file in _FONTS.items():
            self.add_font(_FONT, style, _font_path(file))
        self._footer_text = printable_text(document.footer)
        self.set_title(printable_text(document.title))
        self.set_creator(producer)
        self.set_producer(producer)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.add_page()
        self._title(document)

    def _title(self, document: Printable) -> None:
        size = 34 if self._poster else 18
        self.set_text_color(*_GREEN)
        self.set_font(_FONT, "B", size)
        align = Align.C if self._poster else Align.L
        self.multi_cell(0, size * 0.5, printable_text(document.title), align=align, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        if document.subtitle:
            self.set_font(_FONT, "", 20 if self._poster else 11)
            self.multi_cell(0, 8 if self._poster else 6, printable_text(document.subtitle), align=align)
            self.ln(2)
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(_FONT, "", 8)
        self.set_text_color(80, 80, 80)
        self.cell(0, 5, self._footer_text, align=Align.L)
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align=Align.R)
        self.set_text_color(0, 0, 0)

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font(_FONT, "B", 22 if self._poster else 13)
        align = Align.C if self._poster else Align.L
        self.multi_cell(0, 10 if self._poster else 7, printable_text(text), align=align, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def paragraph(self, text: str) -> None:
        self.set_font(_FONT, "", 16 if self._poster else 10)
        align = Align.C if self._poster else Align.L
        self.multi_cell(0, 8 if self._poster else 5, printable_text(text), align=align, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def facts(self, facts: Facts) -> None:
        self.set_font(_FONT, "", 10)
        for label, value in facts.rows:
            self.set_font(_FONT, "B", 10)
            self.cell(55, 6, printable_text(label))
            self.set_font(_FONT, "", 10)
            self.multi_cell(0, 6, printable_text(value), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def table_of(self, table: Table) -> None:
        self.set_font(_FONT, "", 8 if len(table.columns) > 6 else 9)
        if table.caption:
            self.paragraph(table.caption)
            self.set_font(_FONT, "", 8 if len(table.columns) > 6 else 9)
        aligns = tuple(Align.R if c in table.numeric else Align.L for c in table.columns)
        with self.table(
            text_align=aligns,
            cell_fill_color=(243, 244, 246),
            cell_fill_mode=TableCellFillMode.ROWS,
            line_height=self.font_size * 1.6,
            repeat_headings=1,
        ) as drawn:
            header = drawn.row()
            for column in table.columns:
                header.cell(printable_text(column))
            for values in table.rows:
                row = drawn.row()
                for value in values:
                    row.cell(printable_text(value))
        self.ln(4)

    def qr(self, code: QrCode) -> None:
        matrix = [list(row) for row in segno.make(code.payload, error="m").matrix_iter(scale=1, border=4)]
        side = min(self.epw, 150 if self._poster else 60)
        module = side / len(matrix)
        left, top = (self.w - side) / 2, self.get_y() + 2
        if top + side > self.h - 30:
            self.add_page()
            top = self.get_y()
        self.set_fill_color(0, 0, 0)
        for y, row in enumerate(matrix):
            for x, dark in enumerate(row):
                if dark:
                    self.rect(left + x * module, top + y * module, module, module, style="F")
        self.set_y(top + side + 3)
        if code.caption:
            self.set_font(_FONT, "", 12 if self._poster else 9)
            self.multi_cell(0, 6, printable_text(code.caption), align=Align.C, new_x="LMARGIN", new_y="NEXT")
