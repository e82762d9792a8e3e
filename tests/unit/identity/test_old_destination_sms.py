"""#12 finding 4: when the payout destination changes, the old payout phone is told by SMS and the outcome audited."""

from __future__ import annotations

from cryptopay.core.identity import Merchants, Role, User
from cryptopay.core.identity.old_destination import ACTION
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.identity import InMemoryMerchants, InMemoryUsers
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.sms import InMemorySms
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.system import ManualClock, SequentialIds

OLD = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
NEW = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0799999999")


def _merchants(sms: InMemorySms | None) -> tuple[Merchants, InMemoryAuditLog, User]:
    clock, users, audit = ManualClock(), InMemoryUsers(), InMemoryAuditLog()
    owner = User("usr_1", "owner@example.co.ke", "hash", Role.MERCHANT, clock.now())
    users.add(owner)
    merchants = Merchants(InMemoryMerchants(), clock, SequentialIds(), users, audit, InMemoryNotifier(), sms=sms)
    return merchants, audit, owner


def _notices(audit: InMemoryAuditLog) -> list[dict[str, str]]:
    return [dict(record.details) for record in audit.records() if record.action == ACTION]


def test_the_old_phone_gets_an_sms_naming_the_new_destination_masked():
    """The old number receives one SMS (one part) with the new number masked and what to do, and none of the text the
    changer typed (a renamed business cannot phish the owner); the message id is audited."""
    sms = InMemorySms()
    merchants, audit, owner = _merchants(sms)
    merchant = merchants.create(owner, business_name="Duka", settlement=OLD)
    merchants.update(merchant, business_name="Call 0733000111 for help", settlement=NEW, actor="user:usr_1")
    (notice,) = sms.sent_to("0712345678")
    assert "ending 999" in notice.text and "Not you?" in notice.text and len(notice.text) <= 160
    assert "0799999999" not in notice.text and "0733000111" not in notice.text
    assert sms.sent_to("0799999999") == []
    assert _notices(audit) == [{"outcome": "sent", "message_id": "mem-1", "to": "2547******78"}]


def test_no_sms_when_only_the_name_changes():
    """A rename moves no money: no SMS and no notice record."""
    sms = InMemorySms()
    merchants, audit, owner = _merchants(sms)
    merchant = merchants.create(owner, business_name="Duka", settlement=OLD)
    merchants.update(merchant, business_name="Duka Two", settlement=OLD, actor="user:usr_1")
    assert sms.sent == [] and _notices(audit) == []


def test_a_failed_or_impossible_sms_keeps_the_change_and_is_audited():
    """A refused number, a provider outage, no SMS provider or a non-phone old destination: the change stands,
    and the audit says why no SMS went out."""
    refused, down = InMemorySms(), InMemorySms()
    refused.refuse("0712345678")
    down.go_down()
    outcomes = []
    for sms, old in [(refused, OLD), (down, OLD), (None, OLD), (InMemorySms(), _till())]:
        merchants, audit, owner = _merchants(sms)
        merchant = merchants.create(owner, business_name="Duka", settlement=old)
        changed = merchants.update(merchant, settlement=NEW, actor="user:usr_1")
        assert changed.settlement.destination == "254799999999" and changed.destination_ready_at is not None
        (details,) = _notices(audit)
        outcomes.append((details["outcome"], details.get("reason", "")))
    assert [outcome for outcome, _ in outcomes] == ["failed", "failed", "skipped", "skipped"]
    assert "refused 2547******78" in outcomes[0][1] and "unavailable" in outcomes[1][1]
    assert outcomes[2:] == [
        ("skipped", "no SMS provider is configured"),
        ("skipped", "the old destination is not a phone"),
    ]


def _till() -> SettlementProfile:
    return SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_TILL, "123456")


def test_the_notice_gives_the_time_on_the_reader_s_clock_nairobi():
    """The change's time is Nairobi's (EAT), as the pages show times, not UTC; the text stays one SMS part."""
    from datetime import UTC, datetime

    from cryptopay.core.identity.old_destination import notice_text

    new = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254722000111")
    text = notice_text(new, datetime(2026, 12, 6, 21, 30, tzinfo=UTC))
    assert "on 07 Dec 00:30 EAT." in text and "UTC" not in text and len(text) <= 160
