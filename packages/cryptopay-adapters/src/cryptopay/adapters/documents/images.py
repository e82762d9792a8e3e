"""``ImageProbe`` on Pillow: the whole image is decoded (not just its header), so a truncated file, a file that only
starts like a JPEG, or a decompression bomb is refused rather than measured.

>>> import io
>>> from PIL import Image
>>> png = io.BytesIO()
>>> Image.new("RGB", (640, 480)).save(png, format="PNG")
>>> PillowProbe().dimensions(png.getvalue())
(640, 480)
>>> PillowProbe().dimensions(b"\\xff\\xd8\\xff not really a jpeg") is None
True
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

__all__ = ["PillowProbe"]

MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty; more is a decompression bomb


class PillowProbe:
    def dimensions(self, data: bytes) -> tuple[int, int] | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as image:
                    size = image.size
                    if size[0] * size[1] > MAX_PIXELS:
                        return None
                    image.load()  # decodes every pixel: truncated or corrupt data raises here
                    return size
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            return None
