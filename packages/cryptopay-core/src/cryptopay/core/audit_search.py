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

>>> from datetime import UTC, datetime
>>> from cryptopay.core.testing.storage import InMemoryAuditLog
>>> log = InMemoryAuditLog()
>>> at = datetime(2026, 3, 2, 10, tzinfo=UTC)
>>> for n in range(4):
...     _ = log.append(AuditEvent("ops:ann", "kyc.approve" if n % 2 else "alert.read", f"user:usr_{n}", at))
>>> found = search_audit(log, officer="ops:bob", at=at, subject="usr_3", action="kyc.", since="2026-03-01")
>>> [r.seq for r in found]
[4]
>>> dict(log.records()[-1].details)["subject"], log.records()[-1].action
('usr_3', 'audit.searched')
>>> audit_query(since="March")
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: Give the date as YYYY-MM-DD.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from cryptopay.core.audit import AuditEvent, AuditQuery, AuditRecord
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.ports.storage import AuditLog

__all__ = [
    "BAD_DATE",
    "BAD_LIMIT",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_TEXT",
    "MESSAGES",
    "PARTY_KINDS",
    "TOO_LONG",
    "WRONG_ORDER",
    "audit_query",
    "masked",
    "search_audit",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_TEXT = 64  # the columns' width (tables.CODE) is wider than any id, actor or action prefix
PARTY_KINDS = ("user", "kyc", "wallet", "merchant")

# Fixed sentences (no figures): ``make translations`` puts them in the pages' catalogues (shown translated).
BAD_DATE = "Give the date as YYYY-MM-DD."
WRONG_ORDER = "The first date is after the last one."
TOO_LONG = "That is too long to be an id, an actor or an action."
BAD_LIMIT = "The number of records must be between 1 and 500."
MESSAGES = (BAD_DATE, WRONG_ORDER, TOO_LONG, BAD_LIMIT)


def _text(value: str, field: str) -> str | None:
    value = value.strip()
    if len(value) > MAX_TEXT or any(ord(ch) < 32 for ch in value):
        raise InvalidInput(TOO_LONG, field=field)
    return value or None


def _moment(value: str, field: str, *, end: bool) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(BAD_DATE, field=field) from None
    if moment.tzinfo is None:
        raise InvalidInput(BAD_DATE, field=field)
    return moment.astimezone(UTC)


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
) -> list[AuditRecord]:
    """One page of records matching what was typed (``audit_query``), newest first, those before ``before_seq``
    when given; the search is appended to ``log`` as ``audit.searched`` by ``officer`` (what was searched for,
    masked, and how many records came back). A bad input raises ``InvalidInput`` and appends nothing."""
    query = audit_query(subject=subject, actor=actor, action=action, since=since, until=until)
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
    }
    log.append(AuditEvent(officer, "audit.searched", "audit:log", at, {k: v for k, v in details.items() if v}))
    return found
