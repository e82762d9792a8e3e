"""Printable documents: what a PDF says, as plain data (the core never draws; ``ports.printing.PdfRenderer`` does).

A ``Printable`` is a title, an optional subtitle, blocks in order (headings, paragraphs, facts, tables, a QR code)
and a footer. Shells build one from their use cases' results, in the reader's language, and hand it to the
renderer adapter (``cryptopay.adapters.pdf``): monthly statements, tax reports, a till's "Scan to pay" poster.

>>> doc = Printable("Statement", blocks=(Heading("March 2026"), Table(("date", "amount"), (("03-01", "5.00"),))))
>>> [type(b).__name__ for b in doc.blocks], doc.text()[:2]
(['Heading', 'Table'], ['Statement', 'March 2026'])
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["Block", "Facts", "Heading", "Layout", "Paragraph", "Printable", "QrCode", "Table"]


@attrs.frozen
class Heading:
    text: str


@attrs.frozen
class Paragraph:
    text: str


@attrs.frozen
class Facts:
    """Label and value pairs (a merchant's name, a period, a total)."""

    rows: tuple[tuple[str, str], ...]


@attrs.frozen
class Table:
    """A table with a header row; ``numeric`` names the columns aligned right (amounts)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[str] = frozenset()
    caption: str = ""

    def __attrs_post_init__(self) -> None:
        if any(len(row) != len(self.columns) for row in self.rows):
            raise ValueError("every row of a table has one cell per column")


@attrs.frozen
class QrCode:
    """A QR code of ``payload`` (a URL), printed large with ``caption`` under it."""

    payload: str
    caption: str = ""


Block = Heading | Paragraph | Facts | Table | QrCode


class Layout(enum.Enum):
    PORTRAIT = "portrait"  # A4 portrait: statements
    LANDSCAPE = "landscape"  # A4 landscape: wide reports
    POSTER = "poster"  # A4 portrait, large type: a till's "Scan to pay" poster


@attrs.frozen
class Printable:
    title: str
    subtitle: str = ""
    blocks: tuple[Block, ...] = ()
    footer: str = ""
    layout: Layout = Layout.PORTRAIT

    def text(self) -> list[str]:
        """Every text the document prints, in order (what a reader extracts from the PDF)."""
        texts = [self.title, *([self.subtitle] if self.subtitle else [])]
        for block in self.blocks:
            if isinstance(block, Heading | Paragraph):
                texts.append(block.text)
            elif isinstance(block, Facts):
                texts.extend(f"{label} {value}" for label, value in block.rows)
            elif isinstance(block, Table):
                texts.extend([*block.columns, *(cell for row in block.rows for cell in row)])
            elif block.caption:
                texts.append(block.caption)
        return [*texts, *([self.footer] if self.footer else [])]
