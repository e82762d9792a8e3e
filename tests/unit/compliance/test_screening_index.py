"""The matcher's index never drops a match: screening through it finds exactly what scoring every listed name finds.

Names are drawn from a small stock of syllables, so that listed and screened names often share words, near-words,
joined words and split words -- the cases the three comparisons of ``RapidfuzzMatcher.score`` exist for.
"""

from __future__ import annotations

from cryptopay.adapters.sanctions import RapidfuzzMatcher
from cryptopay.core.compliance.screening import ListEntry, Screening, fold_name, normalize_name
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from hypothesis import given, settings
from hypothesis import strategies as st

MATCHER = RapidfuzzMatcher()
SYLLABLES = ("a", "al", "ali", "mo", "ha", "med", "san", "ka", "mau", "we", "ke", "sa", "ot", "ie", "no", "rah", "man")

words = st.lists(st.sampled_from(SYLLABLES), min_size=1, max_size=6).map("".join)  # 1 to 18 letters
names = st.lists(words, min_size=1, max_size=5).map(" ".join)
thresholds = st.one_of(st.sampled_from([80.0, 85.0, 90.0, 95.0, 100.0]), st.floats(min_value=1, max_value=100))


@st.composite
def screened(draw: st.DrawFn, listed: list[str]) -> str:
    """A listed name changed the ways evasion changes names (or a name of its own)."""
    if not listed or draw(st.booleans()):
        return draw(names)
    parts = draw(st.sampled_from(listed)).split()
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(parts) - 1))
        change = draw(st.sampled_from(["add", "drop_word", "drop_letter", "letter", "join", "split", "swap"]))
        word = parts[at]
        if change == "add":
            parts.insert(draw(st.integers(0, len(parts))), draw(words))
        elif change == "drop_word" and len(parts) > 1:
            del parts[at]
        elif change == "drop_letter" and len(word) > 1:
            cut = draw(st.integers(0, len(word) - 1))
            parts[at] = word[:cut] + word[cut + 1 :]
        elif change == "letter":
            cut = draw(st.integers(0, len(word)))
            parts[at] = word[:cut] + draw(st.sampled_from("aeiouyhkmns")) + word[cut:]
        elif change == "join" and at + 1 < len(parts):
            parts[at : at + 2] = [word + parts[at + 1]]
        elif change == "split" and len(word) > 1:
            cut = draw(st.integers(1, len(word) - 1))
            parts[at : at + 1] = [word[:cut], word[cut:]]
        elif change == "swap" and at + 1 < len(parts):
            parts[at], parts[at + 1] = parts[at + 1], parts[at]
    return " ".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.lists(names, min_size=1, max_size=25), st.data(), thresholds)
def test_every_name_scoring_the_threshold_is_a_candidate(listed, data, threshold):
    name = data.draw(screened(listed))
    found = MATCHER.index(listed).candidates(name, threshold)
    scoring = {n for n, b in enumerate(listed) if MATCHER.score(name, b) >= threshold}
    assert scoring <= set(found), (name, [listed[n] for n in scoring - set(found)])


def exhaustive(entries: list[ListEntry], name: str, threshold: float) -> list[tuple[str, str, float]]:
    """(ref, listed name, score) of the entries at or above ``threshold``, by scoring every listed name, best first."""
    wanted, folded = normalize_name(name), fold_name(name)
    found = []
    for entry in entries:
        score, listed = max(
            (max(MATCHER.score(wanted, normalize_name(n)), MATCHER.score(folded, fold_name(n))), n) for n in entry.names
        )
        if score >= threshold:
            found.append((entry.ref, listed, round(score, 1)))
    return sorted(found, key=lambda m: (-m[2], m[0]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(names, min_size=1, max_size=3), min_size=1, max_size=20), st.data(), thresholds)
def test_screening_through_the_index_finds_what_scoring_every_name_finds(listed, data, threshold):
    entries = [ListEntry(ref=f"t:{n:02d}", kind="individual", names=tuple(aliases)) for n, aliases in enumerate(listed)]
    storage = InMemoryStorage(**monitoring_repositories())
    service = Screening(uow=storage.unit_of_work, matcher=MATCHER, clock=ManualClock(), ids=SequentialIds())
    service.import_list("ofac_sdn", "test", entries, actor="operator:test")
    name = data.draw(screened([n for aliases in listed for n in aliases]))
    found = [(m.ref, m.listed_name, m.score) for m in service.screen_name(name, threshold=threshold)]
    assert found == exhaustive(entries, name, threshold)


def test_the_words_rule_alone_finds_keys_through_their_deletions_and_long_keys_by_their_scan():
    """Matches only the words rule makes (extra words between the listed ones): a short key two letters off
    ("mohamed" as "mhmed", ratio 83), and a name whose every word is longer than the deletion index takes."""
    cases = [
        ("mhmed juma ali kamau bakari otieno", "kamau mohamed otieno"),
        ("abdulrahman juma kamau otieno mohammedali", "abdulrahman mohammedali"),
        ("abdulrahmn juma kamau otieno mohammedaly", "abdulrahman mohammedali"),
    ]
    for name, listed in cases:
        assert MATCHER.score(name, listed) >= 90
        assert list(MATCHER.index(["peter jones", listed]).candidates(name, 90)) == [1], name


def test_a_new_snapshot_of_a_list_replaces_the_old_one_s_index_and_screens_against_the_new_entries():
    """A process importing a list daily keeps one snapshot's entries and indexes per source, not every day's; the
    screening answers from the latest snapshot."""
    storage = InMemoryStorage(**monitoring_repositories())
    service = Screening(uow=storage.unit_of_work, matcher=MATCHER, clock=ManualClock(), ids=SequentialIds())
    service.import_list("ofac_sdn", "1", [ListEntry(ref="t:1", kind="individual", names=("Ali Hassan",))], actor="o")
    assert [m.ref for m in service.screen_name("Ali Hassan")] == ["t:1"]
    service.import_list("ofac_sdn", "2", [ListEntry(ref="t:2", kind="individual", names=("Juma Otieno",))], actor="o")
    assert service.screen_name("Ali Hassan") == [] and [m.ref for m in service.screen_name("Juma Otieno")] == ["t:2"]
    assert len(service._cache) == 1
