"""ISO 3166-1 alpha-2 country codes (data, ``data/iso3166_alpha2.txt``): the officially assigned ones only.

A user-assigned code (``XX``, ``ZZ``, ``AA``, ``QM``-``QZ``, ``XA``-``XZ``) names no country, so a declared country
must be assigned for the jurisdiction rules (FATF's lists, high-risk countries) to mean anything (review3 I22).

>>> is_assigned_country("GB"), is_assigned_country("XX"), is_assigned_country("gb")
(True, False, False)
"""

from __future__ import annotations

import functools
from importlib import resources

__all__ = ["UNINHABITED", "is_assigned_country"]

# Assigned codes of territories with no resident population: nobody lives (or is born) there to send from.
UNINHABITED = frozenset({"AQ", "BV", "HM"})


@functools.cache
def _assigned() -> frozenset[str]:
    text = resources.files("cryptopay.core").joinpath("data/iso3166_alpha2.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def is_assigned_country(code: str) -> bool:
    """Whether ``code`` (upper case, two letters) is an officially assigned ISO 3166-1 alpha-2 code."""
    return code in _assigned()
