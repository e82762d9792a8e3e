"""``NameMatcher`` on rapidfuzz: ``token_sort_ratio`` of two normalised names (word order does not matter, and the
score is symmetric by construction).

>>> RapidfuzzMatcher().score("nunez jose", "jose nunez")
100.0
"""

from __future__ import annotations

from rapidfuzz import fuzz

__all__ = ["RapidfuzzMatcher"]


class RapidfuzzMatcher:
    def score(self, a: str, b: str) -> float:
        return float(fuzz.token_sort_ratio(a, b))
