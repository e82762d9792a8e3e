"""The Notifier port: the in-memory fake, the file adapter and the SMTP adapter (over a local SMTP sink) agree."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptopay.adapters.notify import FileNotifier, SmtpNotifier, SmtpSettings
from cryptopay.core.errors import InvalidInput, Unavailable
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.testing.notifications import InMemoryNotifier

from tests.support.smtp_sink import SmtpSink

Delivered = Callable[[], list[tuple[str, str, str]]]


@pytest.fixture(params=["memory", "file", "smtp"])
def notifier(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Notifier, Delivered]]:
    """A notifier and a way to read back (to, subject, body) of what it delivered."""
    if request.param == "memory":
        memory = InMemoryNotifier()
        yield memory, lambda: [(n.to, n.subject, n.body) for n in memory.sent]
    elif request.param == "file":
        file = FileNotifier(tmp_path / "notifications.jsonl")
        yield file, lambda: [(n.to, n.subject, n.body) for n in file.read()]
    else:
        sink = SmtpSink()
        settings = SmtpSettings(host="127.0.0.1", port=sink.port, sender="noreply@cryptopay.test", starttls=False)

        def received() -> list[tuple[str, str, str]]:
            return [
                (str(m["To"]), str(m["Subject"]), m.get_payload(decode=True).decode().strip()) for m in sink.received
            ]

        yield SmtpNotifier(settings), received
        sink.stop()


def test_a_notification_is_delivered_to_its_address_with_subject_and_body(notifier):
    """What is sent arrives once, to the address, with its subject and its body (a reset link intact)."""
    sender, delivered = notifier
    body = "Reset it: https://pay.example/reset-password#token=abc.def-ghi"
    sender.send(Notification("ann@example.co.ke", "Reset your password", body))
    sender.send(Notification("ben@example.co.ke", "Payout destination changed", "ending 999"))
    assert delivered() == [
        ("ann@example.co.ke", "Reset your password", body),
        ("ben@example.co.ke", "Payout destination changed", "ending 999"),
    ]


def test_smtp_failure_is_unavailable_and_names_no_secret():
    """A mail server that cannot be reached is Unavailable; the message names the server, not the password."""
    settings = SmtpSettings(host="127.0.0.1", port=1, sender="a@b.test", password="smtp-secret", starttls=False)
    with pytest.raises(Unavailable) as raised:
        SmtpNotifier(settings).send(Notification("ann@example.co.ke", "s", "token=secret-link"))
    assert "smtp-secret" not in str(raised.value) and "secret-link" not in str(raised.value)
    assert "smtp-secret" not in repr(settings)


def test_a_subject_quoting_a_name_with_a_line_separator_is_delivered_on_one_line(notifier):
    """Review G8: a business name stored with U+2028 made ``SmtpNotifier`` raise a bare ValueError (a 500 for every
    invitation naming it). Every notifier delivers the subject on one line, no header added."""
    sender, delivered = notifier
    sender.send(Notification("ann@example.co.ke", "Join Shop\u2028Bcc: x@evil.example\r\non cryptopay", "hello"))
    assert delivered() == [("ann@example.co.ke", "Join Shop Bcc: x@evil.example  on cryptopay", "hello")]


def test_a_header_python_refuses_is_invalid_input_not_a_crash():
    """An address no mail header can carry is a refusal of the message (InvalidInput), before any connection."""
    settings = SmtpSettings(host="127.0.0.1", port=1, sender="a@b.test", starttls=False)
    with pytest.raises(InvalidInput):
        SmtpNotifier(settings).send(Notification("ann@example.co.ke\nBcc: x@evil.example", "s", "b"))
