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

``RapidfuzzMatcher.index`` builds, once per list version, a ``RapidfuzzIndex`` whose ``candidates`` are the listed
names that may score the threshold -- never fewer than the names that do, so screening scores only those:

* ``token_sort_ratio`` and the joined runs are ``fuzz.ratio`` between a string of the screened name and one of the
  listed name (its words sorted, its words joined), so the whole list is scanned for them with ``process.extract``
  at the threshold, in C, against strings prepared once;
* the words rule counts only when every listed word scores at least 80 against a screened word or two neighbouring
  ones joined, so each listed name of two words or more is keyed by one of its words (its rarest of at most 8
  letters, else its rarest) and a name is a candidate when a screened word finds its key. A ratio of 80 between
  words of lengths ``m`` and ``n`` needs a common subsequence of at least ``0.4 (m + n)`` letters, so
  ``n >= 2m/3`` and each word loses at most a third of its letters to reach it: keys of at most 8 letters are found
  exactly through their variants with up to ``len // 3`` letters deleted (the screened word's variants likewise,
  words of at most 12 letters), the longer keys by a scan of those keys only.

>>> index = matcher.index(["ali mohamed hassan", "grace achieng odhiambo", "kamau otieno"])
>>> sorted(index.candidates("ali mohamed has san", 90)), sorted(index.candidates("alimohamed hassan juma", 90))
([0], [0])
>>> sorted(index.candidates("peter jones", 90))
[]
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import Counter
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

__all__ = ["RapidfuzzIndex", "RapidfuzzMatcher"]

WORD_FLOOR = 80.0  # every listed word must score at least this for the words rule to count
_SPAN = 4  # at most this many consecutive screened words are run together
_SHORT = 8  # keys of at most this many letters are found through their deletion variants, longer ones by a scan
_SLACK = 1e-6  # scans cut a little below the threshold: a candidate too many costs one score, one too few a match


@functools.lru_cache(maxsize=256)
def _parts(name: str) -> tuple[tuple[str, ...], tuple[tuple[str, frozenset[int]], ...]]:
    """A screened name's runs of consecutive words joined, and its words and neighbouring pairs (with positions)."""
    words = name.split()
    runs = tuple("".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(i + _SPAN, len(words)) + 1))
    units = [(w, frozenset({i})) for i, w in enumerate(words)]
    units += [(words[i] + words[i + 1], frozenset({i, i + 1})) for i in range(len(words) - 1)]
    return runs, tuple(units)


class RapidfuzzMatcher:
    def index(self, names: Sequence[str]) -> RapidfuzzIndex:
        """The candidates index of these listed names (normalised), built once per list version."""
        return RapidfuzzIndex(names)

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


def _deletions(word: str, most: int) -> set[str]:
    """``word`` and every string made from it by deleting at most ``most`` of its letters."""
    found, frontier = {word}, {word}
    for _ in range(most):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


class RapidfuzzIndex:
    """The listed names that may score a threshold against a screened name: a superset of those that do."""

    def __init__(self, names: Sequence[str]) -> None:
        self._size = len(names)
        self._sorted = _ByLength([" ".join(sorted(name.split())) for name in names])
        self._joined = _ByLength(["".join(name.split()) for name in names])
        self._variants: dict[str, set[str]] = {}  # a deletion variant -> the short keys it comes from
        self._keyed: dict[str, list[int]] = {}  # a key -> the names it keys
        seen = Counter(w for name in names for w in set(name.split()))
        for n, name in enumerate(names):
            words = name.split()
            if len(words) < 2:
                continue  # the words rule needs two listed words
            short = [w for w in words if len(w) <= _SHORT]
            key = min(short or words, key=lambda w: (seen[w], -len(w), w))
            if key not in self._keyed:
                self._keyed[key] = []
                if len(key) <= _SHORT:
                    for variant in _deletions(key, len(key) // 3):
                        self._variants.setdefault(variant, set()).add(key)
            self._keyed[key].append(n)
        self._long = [key for key in self._keyed if len(key) > _SHORT]
        self._long_keys = _ByLength(self._long)

    def candidates(self, a: str, threshold: float) -> set[int]:
        """Positions of the names that may score at least ``threshold`` against ``a`` (each that does is here)."""
        if threshold <= 0:
            return set(range(self._size))
        cutoff = threshold - _SLACK
        runs, units = _parts(a)
        found = self._sorted.scan([" ".join(sorted(a.split()))], cutoff)
        found.update(self._joined.scan(runs, cutoff))
        for key in self._keys({unit for unit, _ in units}):
            found.update(self._keyed[key])
        return found

    def _keys(self, units: set[str]) -> set[str]:
        """The keys some unit scores at least ``WORD_FLOOR`` against."""
        keys: set[str] = set()
        for unit in units:
            if len(unit) <= _SHORT * 3 // 2:  # a short key of m letters pairs with units of at most 3m/2
                near = set().union(*(self._variants.get(v, ()) for v in _deletions(unit, len(unit) // 3)))
                keys.update(k for k in near if fuzz.ratio(k, unit) >= WORD_FLOOR)
        longer = [unit for unit in units if 3 * len(unit) >= 2 * (_SHORT + 1)]  # a long key pairs with these
        keys.update(self._long[n] for n in self._long_keys.scan(longer, WORD_FLOOR - _SLACK))
        return keys


class _ByLength:
    """Strings ordered by length, scanned with ``fuzz.ratio`` only where the length allows the cutoff: a ratio of
    ``c`` (0 to 1) between lengths ``m <= n`` needs ``2m / (m + n) >= c``, so ``n <= m (2 - c) / c``."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
        self._texts = [texts[n] for n in self._order]
        self._lengths = [len(t) for t in self._texts]

    def scan(self, queries: Iterable[str], cutoff: float) -> set[int]:
        """Positions (as given) of the strings scoring at least ``cutoff`` against any of the queries, in C."""
        found: set[int] = set()
        c = max(cutoff, 1.0) / 100
        for query in queries:
            low = bisect.bisect_left(self._lengths, math.floor(len(query) * c / (2 - c)))
            high = bisect.bisect_right(self._lengths, math.ceil(len(query) * (2 - c) / c))
            hits = process.extract(query, self._texts[low:high], scorer=fuzz.ratio, limit=None, score_cutoff=cutoff)
            found.update(self._order[low + n] for _, _, n in hits)
        return found
