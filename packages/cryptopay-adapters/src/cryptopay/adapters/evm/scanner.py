"""The scan loop: from the stored cursor to the head, transfers handed to a sink, then the cursor moves on.

The sink (recording transfers by (network, tx hash, log index)) runs before the cursor is saved, so a crash
re-scans instead of losing a payment. The cursor keeps the hash and time of its block: a changed hash means
a reorg, and the scanner rewinds ``reorg_depth`` blocks so transfers that landed again are re-detected; the
block time is the chain's clock that invoice expiry reads, so a stalled node cannot expire a paid invoice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.chains import ObservedTransfer, ScanCursor, ScanCursorStore

__all__ = ["EvmScanner", "ScanStep"]


@attrs.frozen
class ScanStep:
    """What one step did: the blocks it covered, the transfers it found, and whether it rewound for a reorg."""

    from_block: int
    to_block: int
    transfers: tuple[ObservedTransfer, ...]
    cursor: ScanCursor | None
    rewound: bool = False


class EvmScanner:
    """Moves a watcher's cursor forward in steps of at most ``max_blocks``."""

    def __init__(
        self,
        watcher: EvmWatcher,
        cursors: ScanCursorStore,
        *,
        start_block: int = 0,
        max_blocks: int = 10_000,
        reorg_depth: int = 12,
    ) -> None:
        self._watcher = watcher
        self._cursors = cursors
        self._start = start_block
        self._max_blocks = max_blocks
        self._reorg_depth = reorg_depth

    def step(self, addresses: Sequence[str], sink: Callable[[Sequence[ObservedTransfer]], None]) -> ScanStep:
        """Scan the next blocks for transfers to ``addresses``; ``sink`` records them before the cursor moves."""
        cursor = self._cursors.load(self._watcher.network)
        first, rewound = self._next_block(cursor)
        head = self._watcher.head()
        last = min(head, first + self._max_blocks - 1)
        if last < first:
            return ScanStep(first, last, (), cursor, rewound)
        transfers = self._watcher.scan(first, last, addresses)
        sink(transfers)
        moved = self._cursor_at(last)
        self._cursors.save(moved)
        return ScanStep(first, last, tuple(transfers), moved, rewound)

    def _next_block(self, cursor: ScanCursor | None) -> tuple[int, bool]:
        if cursor is None:
            return self._start, False
        canonical = self._watcher.block_hash(cursor.block_number)
        if canonical is not None and canonical.lower() == cursor.block_hash.lower():
            return cursor.block_number + 1, False
        return max(self._start, cursor.block_number + 1 - self._reorg_depth), True

    def _cursor_at(self, number: int) -> ScanCursor:
        header = self._watcher.block_header(number)
        if header is None:
            raise Unavailable(f"{self._watcher.network} block {number} vanished while scanning; retry")
        return ScanCursor(self._watcher.network, number, *header)
