"""QR codes for payment URIs (``cryptopay.core.payment_uri``), rendered by segno as SVG or PNG bytes.

>>> qr_png("bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.0015")[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import io

import segno

__all__ = ["qr_png", "qr_svg"]


def _render(data: str, kind: str, scale: int, border: int) -> bytes:
    buffer = io.BytesIO()
    # Medium error correction: the payment URI stays readable from a slightly damaged or glare-hit screen.
    segno.make(data, error="m", micro=False).save(buffer, kind=kind, scale=scale, border=border)
    return buffer.getvalue()


def qr_svg(data: str, *, scale: int = 4, border: int = 4) -> bytes:
    """An SVG image (UTF-8 XML) of a QR code holding ``data``."""
    return _render(data, "svg", scale, border)


def qr_png(data: str, *, scale: int = 4, border: int = 4) -> bytes:
    """A PNG image of a QR code holding ``data``."""
    return _render(data, "png", scale, border)
