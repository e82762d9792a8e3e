"""An officer's search of the audit trail (review12 R12-6): by subject or party, actor, action prefix and date.

``audit_query`` turns what was typed (the console's form, the CLI's options, the API's query) into an ``AuditQuery``,
each bad input an ``InvalidInput`` naming its field with a fixed sentence (the pages translate it); ``search_audit``
runs it on the unit of work's ``AuditLog`` (newest first, keyset-paged on ``seq``, at most ``MAX_LIMIT`` records a
page) and audits the search itself as ``audit.searched``: the log's details name people, so reading them is a
security-relevant act. What was searched for is kept masked where it is a phone or an email (as ``console.search``
keeps a query): its first four and last two characters.

A subject with a colon (``user:usr_1``, ``payout:po_9``) is matched exactly; a bare party id (``usr_1``,
``mer_2``) stands for the party's own subjects (``PARTY_KINDS``: ``user:usr_1``, ``kyc:usr_1``, ...). Dates are days
in UTC (``YYYY-MM-DD``), both ends inclusive, or full ISO times with an offset.

The compliance desk's own records (``DESK_ACTIONS``: KYC decisions, AML alerts and cases, STR exports, held
payments) are searched and shown to compliance officers only (``desk``); an admin's search leaves them out, as the
console closes the desk's pages to admins (R13-2: which customer has an alert or was reported to the FRC reached
admins through the log). The shell's operator (the CLI, who holds the database) reads the whole log.

>>> from datetime import UTC, datetime
>>> from cryptopay.core.testing.storage import InMemoryAuditLog
>>> log = InMemoryAuditLog()
>>> at = datetime(2026, 3, 2, 10, tzinfo=UTC)
>>> for n in range(4):
...     _ = log.append(AuditEvent("ops:ann", "kyc.approve" if n % 2 else "alert.read", f"user:usr_{n}", at))
>>> found = search_audit(log, officer="ops:bob", at=at, subject="usr_3", action="kyc.", since="2026-03-01", desk=True)
>>> [r.seq for r in found]
[4]
>>> [r.action for r in search_audit(log, officer="user:usr_admin", at=at, subject="usr_3", desk=False)]
[]
>>> dict(log.records()[-1].details)["subject"], log.records()[-1].action
('usr_3', 'audit.searched')
>>> audit_query(since="March")
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: Give the date as YYYY-MM-DD.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import attrs
from cryptopay.core.audit import AuditEvent, AuditQuery, AuditRecord
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.ports.storage import AuditLog
from cryptopay.core.privacy.export import WITHHELD_ACTIONS
from cryptopay.core.reports.periods import DATE_PATTERN
from cryptopay.core.system import in_utc
from cryptopay.core.text import text_problem

__all__ = [
    "BAD_DATE",
    "BAD_LIMIT",
    "DEFAULT_LIMIT",
    "DESK_ACTIONS",
    "MAX_LIMIT",
    "MAX_TEXT",
    "MESSAGES",
    "NOT_TEXT",
    "PARTY_KINDS",
    "TOO_LONG",
    "WRONG_ORDER",
    "audit_query",
    "masked",
    "search_audit",
]

# The compliance desk's records, its officers' search only (``core.audit.action_in``'s patterns): its own families,
# and everything the privacy export withholds as compliance's own work (holds, freezes, screening hits; L3-4).
DESK_ACTIONS = (
    "compliance.",
    "aml.",
    "kyc.",
    *(w for w in WITHHELD_ACTIONS if not w.startswith(("compliance.", "aml.", "kyc."))),
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_TEXT = 64  # the columns' width (tables.CODE) is wider than any id, actor or action prefix
PARTY_KINDS = ("user", "kyc", "wallet", "merchant")

# Fixed sentences (no figures): ``make translations`` puts them in the pages' catalogues (shown translated).
BAD_DATE = "Give the date as YYYY-MM-DD."
WRONG_ORDER = "The first date is after the last one."
TOO_LONG = "That is too long to be an id, an actor or an action."
NOT_TEXT = "That has characters no id, actor or action has."
BAD_LIMIT = "The number of records must be between 1 and 500."
MESSAGES = (BAD_DATE, WRONG_ORDER, TOO_LONG, NOT_TEXT, BAD_LIMIT)


def _text(value: str, field: str) -> str | None:
    """``value`` trimmed (None when empty); ``InvalidInput`` for text too long or breaking the identifiers' text
    rules (``text_problem``: control characters, bidi overrides, invisible ones; R13-7, the CLI let U+202E through)."""
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(TOO_LONG, field=field)
    if text_problem(value) is not None:
        raise InvalidInput(NOT_TEXT, field=field)
    return value or None


def _moment(value: str, field: str, *, end: bool) -> datetime | None:
    """A day (``YYYY-MM-DD``, years 1000 to 9999; ``end``: the day after it begins, the search's last day whole) or a
    time with its offset, in UTC; ``InvalidInput`` ``BAD_DATE`` for anything else, the calendar's edges included
    (``9999-12-31`` as the last day, ``0001-01-01T00:00+01:00``: R13-1, they overflowed into a 500)."""
    value = value.strip()
    if not value:
        return None
    if len(value) == 10:
        if not re.fullmatch(DATE_PATTERN, value):  # not an ISO week date either (``2026-W50-1``)
            raise InvalidInput(BAD_DATE, field=field)
        start = datetime.combine(date.fromisoformat(value), time(), UTC)
        if not end:
            return start
        return start + timedelta(days=1) if start.date() < date.max else datetime.max.replace(tzinfo=UTC)
    try:
        moment = in_utc(datetime.fromisoformat(value))
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidInput(BAD_DATE, field=field)
    return moment


def audit_query(
    *, subject: str = "", actor: str = "", action: str = "", since: str = "", until: str = ""
) -> AuditQuery:
    """The query for what was typed; ``InvalidInput`` (its ``field`` named) for a bad date, dates the wrong way
    round, or text too long or with control characters.

    >>> audit_query(subject="payout:po_1", until="2026-03-01").until
    datetime.datetime(2026, 3, 2, 0, 0, tzinfo=datetime.timezone.utc)
    >>> audit_query(subject=" usr_1 ").subjects
    ('user:usr_1', 'kyc:usr_1', 'wallet:usr_1', 'merchant:usr_1')
    """
    who = _text(subject, "subject")
    subjects = () if who is None else (who,) if ":" in who else tuple(f"{kind}:{who}" for kind in PARTY_KINDS)
    since_at = _moment(since, "since", end=False)
    until_at = _moment(until, "until", end=True)
    if since_at is not None and until_at is not None and since_at >= until_at:
        raise InvalidInput(WRONG_ORDER, field="until")
    return AuditQuery(subjects, _text(actor, "actor"), _text(action, "action"), since_at, until_at)


def masked(text: str) -> str:
    """``text`` as the audit log keeps a searched-for value: a phone or an email masked (its first four and last
    two characters), anything else (an id, an actor, an action) as it is.

    >>> masked("0712345678"), masked("ann@example.com"), masked("user:usr_1")
    ('0712****78', 'ann@*********om', 'user:usr_1')
    """
    if "@" not in text and try_normalize_msisdn(text) is None:
        return text
    return text[:4] + "*" * (len(text) - 6) + text[-2:] if len(text) > 8 else "*" * len(text)


def search_audit(
    log: AuditLog,
    *,
    officer: str,
    at: datetime,
    subject: str = "",
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    before_seq: int | None = None,
    limit: int = DEFAULT_LIMIT,
    desk: bool,
) -> list[AuditRecord]:
    """One page of records matching what was typed (``audit_query``), newest first, those before ``before_seq``
    when given; the search is appended to ``log`` as ``audit.searched`` by ``officer`` (what was searched for,
    masked, and how many records came back). ``desk``: the searcher is a compliance officer (or the shell's
    operator); otherwise ``DESK_ACTIONS`` records are left out (the audit record says ``scope=operations``). A bad
    input raises ``InvalidInput`` and appends nothing."""
    query = audit_query(subject=subject, actor=actor, action=action, since=since, until=until)
    if not desk:
        query = attrs.evolve(query, hidden=DESK_ACTIONS)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(BAD_LIMIT, field="limit")
    if before_seq is not None and before_seq < 1:
        raise InvalidInput("before must be a record number, 1 or more", field="before")
    found = log.search(query, before_seq=before_seq, limit=limit)
    details = {
        "subject": masked(subject.strip()),
        "actor": masked(query.actor or ""),
        "action": query.action or "",
        "since": query.since.isoformat() if query.since else "",
        "until": query.until.isoformat() if query.until else "",
        "before": str(before_seq or ""),
        "hits": str(len(found)),
        "scope": "" if desk else "operations",
    }
    log.append(AuditEvent(officer, "audit.searched", "audit:log", at, {k: v for k, v in details.items() if v}))
    return found
