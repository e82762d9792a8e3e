"""PDF rendering of the core's printable documents with fpdf2 (pure Python; QR codes drawn as vectors with segno).

Every PDF of the product is drawn here (``FpdfRenderer``, the ``ports.printing.PdfRenderer``): merchant statements
and tax reports, the wallet's monthly statement, a till's "Scan to pay" poster.
"""

from cryptopay.adapters.pdf.renderer import FpdfRenderer

__all__ = ["FpdfRenderer"]
