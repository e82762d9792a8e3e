"""Rendering printable documents to PDF (adapter: ``cryptopay.adapters.pdf``, fpdf2)."""

from __future__ import annotations

from typing import Protocol

from cryptopay.core.printing import Printable

__all__ = ["PdfRenderer"]


class PdfRenderer(Protocol):
    def render(self, document: Printable) -> bytes:
        """The document as a PDF file (``%PDF-``...), every text of ``document.text()`` extractable from it."""
        ...
