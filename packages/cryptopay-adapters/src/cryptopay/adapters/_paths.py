"""The project's data directory (hot keys, bitcoinlib's files, caches): ``$CRYPTOPAY_DATA_DIR`` or ``.cryptopay``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """The project's data directory: ``$CRYPTOPAY_DATA_DIR`` or ``./.cryptopay``, as an absolute path."""
    return Path(os.environ.get("CRYPTOPAY_DATA_DIR") or ".cryptopay").expanduser().resolve()
