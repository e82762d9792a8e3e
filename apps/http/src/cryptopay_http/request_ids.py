"""A request id for every request: the caller's ``X-Request-Id`` when it is a plain token, else a fresh one.

It is bound to the request's log records (``cryptopay.core.logs``) for the whole span of the request and echoed
in the response's ``X-Request-Id``, so a merchant's support question and the server's JSON log lines meet on one
id. ``cryptopay_http.edge`` does both, around the Flask app.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

__all__ = ["ENVIRON", "HEADER", "request_id"]

HEADER = "X-Request-Id"
ENVIRON = "HTTP_X_REQUEST_ID"  # the header's name in the WSGI environ
_PLAIN = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id(environ: Mapping[str, object]) -> str:
    """The offered id when it is 8 to 64 plain characters, else 32 fresh random hex digits.

    >>> request_id({ENVIRON: "lb-7f3a9c21"}), len(request_id({ENVIRON: "a b<script>"})), len(request_id({}))
    ('lb-7f3a9c21', 32, 32)
    """
    offered = environ.get(ENVIRON)
    if isinstance(offered, str) and _PLAIN.fullmatch(offered):
        return offered
    return os.urandom(16).hex()
