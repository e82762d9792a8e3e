"""``NameMatcher`` on rapidfuzz: how well a screened name reads as a listed one, the best of three comparisons.

* ``token_sort_ratio``: the whole names, word order ignored ("Hassan Ali Mohamed" is "Ali Mohamed Hassan").
* words run together: a run of the screened name's consecutive words, spaces removed, against the listed name with
  its spaces removed ("Alimohamed Hassan", "Ali Mohamed Has san" -- a word split by ``-`` or ``.`` -- and the listed
  name inside a longer one, "Juma Ali Mohamed Hassan").
* the listed name's words in the screened one: each listed word (of a listed name of two words or more) paired
  with a different word of the screened name, or two neighbouring words joined, in any order; the score is the
  listed words' ratios weighted by length, and counts only when every word scores at least 80. A full legal name
  with more given names than the list records ("Ali Mohamed Hassan Abdullahi") is the listed name.

The score is not symmetric: the words a screened name has beyond the listed ones do not lower it, the listed words it
lacks do ("Ali Hassan" is not "Ali Mohamed Hassan").

>>> matcher = RapidfuzzMatcher()
>>> matcher.score("nunez jose", "jose nunez"), matcher.score("ali mohamed hassan abdullahi", "ali mohamed hassan")
(100.0, 100.0)
>>> matcher.score("ali mohamed has san", "ali mohamed hassan"), matcher.score("alimohamed hassan", "ali mohamed hassan")
(100.0, 100.0)
>>> matcher.score("ali hassan", "ali mohamed hassan") < 90
True
"""

from __future__ import annotations

import functools

from rapidfuzz import fuzz, process

__all__ = ["RapidfuzzMatcher"]

WORD_FLOOR = 80.0  # every listed word must score at least this for the words rule to count
_SPAN = 4  # at most this many consecutive screened words are run together


@functools.lru_cache(maxsize=256)
def _parts(name: str) -> tuple[tuple[str, ...], tuple[tuple[str, frozenset[int]], ...]]:
    """A screened name's runs of consecutive words joined, and its words and neighbouring pairs (with positions)."""
    words = name.split()
    runs = tuple("".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(i + _SPAN, len(words)) + 1))
    units = [(w, frozenset({i})) for i, w in enumerate(words)]
    units += [(words[i] + words[i + 1], frozenset({i, i + 1})) for i in range(len(words) - 1)]
    return runs, tuple(units)


class RapidfuzzMatcher:
    def score(self, a: str, b: str) -> float:
        """How well the screened name ``a`` reads as the listed name ``b`` (both normalised), 0 to 100."""
        best = float(fuzz.token_sort_ratio(a, b))
        if best >= 100:
            return 100.0
        listed = b.split()
        runs, units = _parts(a)
        found = process.extractOne("".join(listed), runs, scorer=fuzz.ratio, score_cutoff=best)
        if found is not None:
            best = max(best, float(found[1]))
        if len(listed) >= 2 and best < 100:
            best = max(best, self._words(units, listed))
        return best

    @staticmethod
    def _words(units: tuple[tuple[str, frozenset[int]], ...], listed: list[str]) -> float:
        """The listed words found among the screened words (or two neighbouring ones joined), greedily, best first."""
        texts = [unit for unit, _ in units]
        if any(process.extractOne(word, texts, scorer=fuzz.ratio, score_cutoff=WORD_FLOOR) is None for word in listed):
            return 0.0  # a listed word nowhere in the name (most names on a list): no pairing to search
        pairs = sorted(
            ((float(fuzz.ratio(word, unit)), n, used) for n, word in enumerate(listed) for unit, used in units),
            key=lambda p: -p[0],
        )
        taken: set[int] = set()
        found: dict[int, float] = {}
        for ratio, n, used in pairs:
            if n in found or taken & used:
                continue
            if ratio < WORD_FLOOR:
                return 0.0
            found[n] = ratio
            taken |= used
            if len(found) == len(listed):
                break
        if len(found) < len(listed):
            return 0.0
        total = sum(len(w) for w in listed)
        return sum(found[n] * len(w) for n, w in enumerate(listed)) / total
