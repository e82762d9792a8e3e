"""Structured logs: one JSON object per line, carrying the request or job it belongs to, never a secret.

The shells bind ids for the span of a request or a job (``scope(request_id=...)``, ``scope(job_id=..., job=...)``);
every record made inside carries them. The text is redacted twice over: once when the record is made
(``redaction.install``, which ``configure`` calls) and again here, so a record built before the factory was
installed cannot leak either.

>>> import io
>>> stream = io.StringIO()
>>> handler = logging.StreamHandler(stream)
>>> handler.setFormatter(JsonFormatter())
>>> log = logging.getLogger("doctest.logs")
>>> log.addHandler(handler)
>>> log.propagate = False
>>> with scope(job_id="every-fx_refresh-1", job="fx.refresh"):
...     log.warning("GET /rates?access_key=abc failed")
>>> line = json.loads(stream.getvalue())
>>> line["message"], line["job_id"], line["job"], line["level"]
('GET /rates?access_key=<redacted> failed', 'every-fx_refresh-1', 'fx.refresh', 'warning')
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType

from cryptopay.core import redaction

__all__ = ["JsonFormatter", "bind", "configure", "current", "reset", "scope"]

_ids: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "cryptopay_log_ids", default=MappingProxyType({})
)


def current() -> Mapping[str, str]:
    """The ids bound in this context (request, job)."""
    return _ids.get()


def bind(**ids: str) -> contextvars.Token[Mapping[str, str]]:
    """Add ``ids`` to this context until ``reset`` with the returned token."""
    return _ids.set({**_ids.get(), **ids})


def reset(token: contextvars.Token[Mapping[str, str]]) -> None:
    _ids.reset(token)


@contextmanager
def scope(**ids: str) -> Iterator[None]:
    """Every record made inside carries ``ids``."""
    token = bind(**ids)
    try:
        yield
    finally:
        reset(token)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", <bound ids>, "error"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redaction.redact(record.getMessage()),
            **current(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["error"] = redaction.redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False)


def configure(*, structured: bool, level: int = logging.INFO) -> None:
    """Redact every record and print them on stderr: JSON lines when ``structured``, else plain text with ids;
    the HTTP clients' per-request lines (``_QUIET``) only from WARNING."""
    redaction.install()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if structured else _TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


# HTTP clients whose INFO lines print every outgoing request's URL whole: query string (a merchant's webhook
# ``?auth=`` credential, any name redaction does not know) and the address a webhook was pinned to (review8 R4).
# Our adapters log what they need in their own words (the webhook sender: host, path, status, time).
_QUIET = ("httpx", "httpcore")


class _TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in current().items())
        return f"{super().format(record)} [{ids}]" if ids else super().format(record)
