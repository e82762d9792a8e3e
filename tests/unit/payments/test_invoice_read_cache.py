"""The invoice read cache's own rules, on a manual clock: silence, loss, resets and what a reader may keep."""

from __future__ import annotations

from cryptopay.core.payments.read_cache import RESET, InvoiceReadCache, RenderedInvoice


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _rendering(body: str) -> RenderedInvoice:
    return RenderedInvoice("m_1", body.encode())


def _following(clock: Clock) -> InvoiceReadCache:
    cache = InvoiceReadCache(max_silence=3.0, now=clock)
    cache.follow()
    return cache


def test_nothing_is_kept_before_the_feed_follows() -> None:
    """A cache whose feed never started renders every read."""
    cache = InvoiceReadCache(now=Clock())
    assert cache.read("inv_1", lambda: _rendering("a")).body == b"a"
    assert cache.read("inv_1", lambda: _rendering("b")).body == b"b"
    assert cache.stats().bypassed == 2


def test_a_silent_feed_is_not_trusted_and_what_it_kept_is_forgotten() -> None:
    """Past ``max_silence`` without a word, reads render; when the feed speaks again, the old entries are gone."""
    clock = Clock()
    cache = _following(clock)
    cache.read("inv_1", lambda: _rendering("old"))
    clock.now = 2.0
    cache.alive()
    clock.now = 4.9
    assert cache.read("inv_1", lambda: _rendering("unused")).body == b"old"
    clock.now = 5.0
    assert cache.read("inv_1", lambda: _rendering("new")).body == b"new"
    assert cache.read("inv_1", lambda: _rendering("newer")).body == b"newer"  # not kept while silent
    cache.alive()
    assert cache.read("inv_1", lambda: _rendering("newest")).body == b"newest"
    assert cache.read("inv_1", lambda: _rendering("unused")).body == b"newest"


def test_a_lapse_nobody_noticed_still_forgets_what_was_kept() -> None:
    """A heartbeat after a silence longer than ``max_silence`` forgets the entries even if no read noticed it."""
    clock = Clock()
    cache = _following(clock)
    cache.read("inv_1", lambda: _rendering("old"))
    clock.now = 10.0
    cache.alive()
    assert cache.read("inv_1", lambda: _rendering("new")).body == b"new"


def test_a_lost_feed_renders_until_it_follows_again() -> None:
    """``lose`` forgets everything and keeps nothing; heartbeats do not bring it back, only ``follow``."""
    clock = Clock()
    cache = _following(clock)
    cache.read("inv_1", lambda: _rendering("old"))
    cache.lose()
    cache.alive()
    assert cache.read("inv_1", lambda: _rendering("a")).body == b"a"
    assert cache.read("inv_1", lambda: _rendering("b")).body == b"b"
    cache.follow()
    assert cache.read("inv_1", lambda: _rendering("c")).body == b"c"
    assert cache.read("inv_1", lambda: _rendering("unused")).body == b"c"


def test_a_reset_announcement_forgets_everything_and_spoils_renderings_in_flight() -> None:
    """``RESET`` (a truncated table) forgets every entry, and a rendering in flight then is not kept."""
    clock = Clock()
    cache = _following(clock)
    cache.read("inv_1", lambda: _rendering("one"))

    def racing() -> RenderedInvoice:
        cache.announce(RESET)
        return _rendering("raced")

    assert cache.read("inv_2", racing).body == b"raced"
    assert cache.read("inv_1", lambda: _rendering("one again")).body == b"one again"
    assert cache.read("inv_2", lambda: _rendering("two")).body == b"two"
    assert cache.stats().entries == 2


def test_a_feed_lost_and_back_during_a_rendering_spoils_it() -> None:
    """A rendering that began before the feed was lost is not kept after it follows again."""
    clock = Clock()
    cache = _following(clock)

    def racing() -> RenderedInvoice:
        cache.lose()
        cache.follow()
        return _rendering("raced")

    cache.read("inv_1", racing)
    assert cache.read("inv_1", lambda: _rendering("fresh")).body == b"fresh"


def test_another_invoices_change_does_not_spoil_a_rendering() -> None:
    """Announcements are per invoice: a change of another one lets the rendering be kept."""
    clock = Clock()
    cache = _following(clock)

    def racing() -> RenderedInvoice:
        cache.announce("inv_2")
        return _rendering("kept")

    cache.read("inv_1", racing)
    assert cache.read("inv_1", lambda: _rendering("unused")).body == b"kept"
