"""Job queue adapters: ``InlineQueue`` (in-process, the embedded default) and ``RqQueue`` (RQ on Redis)."""

from cryptopay.adapters.queue.inline import InlineQueue
from cryptopay.adapters.queue.rq import DEFAULT_QUEUE, RqQueue, install, perform

__all__ = ["DEFAULT_QUEUE", "InlineQueue", "RqQueue", "install", "perform"]
