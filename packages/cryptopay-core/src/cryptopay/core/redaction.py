"""Secrets never reach a log line: callback tokens in paths, tokens and keys in URLs (node providers' keys in
their paths too), credentials in headers.

``install()`` wraps the process's log-record factory, so every record from every library (werkzeug's and
gunicorn's access logs, httpx's request lines, our own, tracebacks included) is redacted once, when it is made,
whatever handler or formatter prints it later. The shells call it at start-up.

>>> redact('"POST /hooks/daraja/payouts/result/Zm9vYmFyLXNlY3JldA HTTP/1.1" 200')
'"POST /hooks/daraja/payouts/result/<redacted> HTTP/1.1" 200'
>>> redact('"POST /hooks/daraja/stk/GNMH5pQ2-yD8 HTTP/1.1" 200')
'"POST /hooks/daraja/stk/<redacted> HTTP/1.1" 200'
>>> redact("https://pay.example.com/hooks/daraja/status/timeout/abc?x=1")
'https://pay.example.com/hooks/daraja/status/timeout/<redacted>?x=1'
>>> redact('"POST /hooks/daraja/paybill/status/result/Zm9vYmFy HTTP/1.1" 200')
'"POST /hooks/daraja/paybill/status/result/<redacted> HTTP/1.1" 200'
>>> redact("GET https://api.example.com/rates?access_key=abc123&pair=USDKES")
'GET https://api.example.com/rates?access_key=<redacted>&pair=USDKES'
>>> redact("POST https://hooks.example.com/in?auth=s3cr3t&client_secret=x9&n=2")
'POST https://hooks.example.com/in?auth=<redacted>&client_secret=<redacted>&n=2'
>>> redact("Authorization: Bearer eyJhbGciOi.x.y and redis://:hunter2@cache:6379/0")
'Authorization: Bearer <redacted> and redis://:<redacted>@cache:6379/0'
>>> redact("401 Client Error: Unauthorized for url: https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef")
'401 Client Error: Unauthorized for url: https://mainnet.infura.io/v3/<redacted>'
>>> redact("https://pay.example.com/v1/invoices/inv_01JEXAMPLE0000000000000000")  # our own ids stay readable
'https://pay.example.com/v1/invoices/inv_01JEXAMPLE0000000000000000'
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["REDACTED", "install", "redact"]

REDACTED = "<redacted>"
_PATTERNS = (
    # a Daraja callback URL's last segment is its secret token, after one (stk), two (payouts/result) or three
    # (paybill/status/result) words
    (re.compile(r"(/hooks/daraja/(?:[A-Za-z_]+/){1,3})[^/\s?#\"']+"), rf"\g<1>{REDACTED}"),
    # secrets passed as query parameters
    (
        re.compile(
            r"([?&](?:[A-Za-z_]*token|[A-Za-z_]*key|[A-Za-z_]*secret|password|passkey|signature|sig|auth[A-Za-z_]*|"
            r"credentials?)=)[^&\s\"'#]+",
            re.I,
        ),
        rf"\g<1>{REDACTED}",
    ),
    # credentials in Authorization headers
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\g<1> {REDACTED}"),
    # passwords in URLs (database, Redis)
    (re.compile(r"(://[^/\s:@]*:)[^@\s/]+@"), rf"\g<1>{REDACTED}@"),
    # a node provider's key as the URL's first path segment, or after its version (Infura /v3/<key>, Alchemy
    # /v2/<key>, QuickNode /<token>/): what an RPC client's HTTP error prints with the URL it failed on
    (re.compile(r"(://[^/\s?#\"']+/(?:v\d+/)?)[A-Za-z0-9_-]{24,}"), rf"\g<1>{REDACTED}"),
)
_installed = threading.Lock()
_factory: list[Callable[..., logging.LogRecord]] = []


def redact(text: str) -> str:
    """``text`` with every secret we know the shape of replaced by ``<redacted>``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep the template, drop the arguments
        message = str(record.msg)
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Redact every log record made in this process from now on (idempotent)."""
    with _installed:
        if _factory:
            return
        previous = logging.getLogRecordFactory()
        _factory.append(previous)

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return _redacted_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
