"""The scan loop for any chain: from the stored cursor to the head, transfers to a sink, then the cursor moves on.

The sink (recording transfers by key) runs before the cursor is saved, so a crash or a failing node re-scans
instead of losing a payment, and the cursor never moves past what was read. The cursor keeps its block's hash
(a changed hash means a reorg: rewind ``reorg_depth`` blocks) and time (the chain's clock, which invoice expiry
reads, so a stalled node cannot expire a paid invoice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import attrs
from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.chains import ChainWatcher, ObservedTransfer, ScanCursor, ScanCursorStore
from cryptopay.core.ports.monitoring import Metrics

__all__ = ["ChainScanner", "HeaderWatcher", "ScanStep"]


class HeaderWatcher(ChainWatcher, Protocol):
    """A watcher that can also name a block's canonical hash and time."""

    def block_header(self, number: int) -> tuple[str, datetime] | None: ...


@attrs.frozen
class ScanStep:
    """What one step did: the blocks it covered, the transfers it found, and whether it rewound for a reorg."""

    from_block: int
    to_block: int
    transfers: tuple[ObservedTransfer, ...]
    cursor: ScanCursor | None
    rewound: bool = False


class ChainScanner:
    """Moves a watcher's cursor forward in steps of at most ``max_blocks``."""

    def __init__(
        self,
        watcher: HeaderWatcher,
        cursors: ScanCursorStore,
        *,
        start_block: int = 0,
        max_blocks: int = 1_000,
        reorg_depth: int = 6,
        metrics: Metrics | None = None,
    ) -> None:
        self._watcher = watcher
        self._cursors = cursors
        self._start = start_block
        self._max_blocks = max_blocks
        self._reorg_depth = reorg_depth
        self._metrics = metrics

    def step(self, addresses: Sequence[str], sink: Callable[[Sequence[ObservedTransfer]], None]) -> ScanStep:
        """Scan the next blocks for transfers to ``addresses``; ``sink`` records them before the cursor moves."""
        cursor = self._cursors.load(self._watcher.network)
        first, rewound = self._next_block(cursor)
        head = self._watcher.head()
        last = min(head, first + self._max_blocks - 1)
        self._measure(max(head - last, 0))
        if last < first:
            return ScanStep(first, last, (), cursor, rewound)
        transfers = self._watcher.scan(first, last, addresses)
        sink(transfers)
        header = self._watcher.block_header(last)
        if header is None:
            raise Unavailable(f"{self._watcher.network} block {last} vanished while scanning; retry")
        moved = ScanCursor(self._watcher.network, last, *header)
        self._cursors.save(moved)
        return ScanStep(first, last, tuple(transfers), moved, rewound)

    def _measure(self, behind: int) -> None:
        """The blocks left between this step's end and the head (``cryptopay_scanner_lag_blocks``)."""
        if self._metrics is not None:
            labels = {"network": self._watcher.network}
            self._metrics.gauge("cryptopay_scanner_lag_blocks", behind, about=_ABOUT_LAG, labels=labels)

    def _next_block(self, cursor: ScanCursor | None) -> tuple[int, bool]:
        if cursor is None:
            return self._start, False
        canonical = self._watcher.block_hash(cursor.block_number)
        if canonical is not None and canonical.lower() == cursor.block_hash.lower():
            return cursor.block_number + 1, False
        return max(self._start, cursor.block_number + 1 - self._reorg_depth), True


_ABOUT_LAG = "blocks between the chain's head and the scanner's cursor after its last step"
