"""``cryptopay privacy``: a data subject's export from the CLI (audited with the operator and the reason), and
sealing personal data on a real SQLite database built by the composition root."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.core.audit import AuditEvent
from cryptopay.core.identity.model import Role, User
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[object]:
    built = build(Settings.for_data_dir(tmp_path))
    use_services(built)
    yield built
    use_services(None)
    built.close()


def cli(*args: str):
    return CliRunner().invoke(build_app("privacy", stand_ins=True), ["privacy", *args])


def test_an_operator_exports_a_person_found_by_phone_and_it_is_audited(services):
    """The export is the person's (found by phone through the keyed hash); lookup and export are audited."""
    services.users.add(User("usr_w", "w@example.com", "h", Role.PERSONAL, NOW, "Wanjiku", phone="254712000001"))
    services.users.add(User("usr_o", "o@example.com", "h", Role.PERSONAL, NOW, "Otieno", phone="254712000002"))
    done = cli("export", "0712000001", "--reason", "request by post")
    assert done.exit_code == 0, done.output
    exported = json.loads(done.stdout)
    assert exported["profile"]["display_name"] == "Wanjiku" and "Otieno" not in done.stdout
    assert cli("export", "254700000000", "--reason", "x").exit_code == 3
    with services.uow() as uow:
        records = uow.audit.about(["user:usr_w"])
    assert [(r.action, dict(r.details).get("reason")) for r in records] == [
        ("privacy.subject_looked_up", None),
        ("privacy.exported", "request by post"),
    ]
    assert all(r.actor.startswith("ops:") for r in records)


def test_seal_rewrites_what_an_older_version_left_in_the_clear(services):
    """A user row written in the clear is sealed by ``privacy seal``; a second run has nothing to do."""
    services.users.add(User("usr_w", "w@example.com", "h", Role.PERSONAL, NOW, "Wanjiku", phone="254712000001"))
    with services.uow() as uow:  # as an older version stored it
        uow.connection.execute(
            sa.text("UPDATE users SET display_name = 'Wanjiku', phone = '254712000001', phone_sealed = NULL")
        )
        uow.audit.append(AuditEvent("ops:test", "test.cleared", "user:usr_w", NOW))
    first = cli("seal")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["users"] == 1
    assert json.loads(cli("seal").stdout)["users"] == 0
    assert json.loads(cli("seal", "--all").stdout)["users"] == 1
    assert services.users.by_phone("254712000001").display_name == "Wanjiku"


def test_an_operator_closes_a_merchant_and_its_destination_is_sealed_at_rest(services):
    """``merchants close`` records the end of the relationship (audited with the reason); the merchant's settlement
    phone is sealed in its row; an unknown merchant is exit 3, a blank reason exit 2 and nothing changes."""
    from cryptopay.core.identity.model import Merchant
    from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

    services.users.add(User("usr_m", "m@example.com", "h", Role.MERCHANT, NOW, "Achieng"))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712000009")
    services.merchants.add(Merchant("mer_1", "usr_m", "Duka", profile, NOW, NOW))

    def close(*args: str):
        return CliRunner().invoke(build_app("merchants", stand_ins=True), ["merchants", "close", *args])

    assert close("mer_1", "--reason", " ").exit_code == 2
    assert close("mer_404", "--reason", "wound up").exit_code == 3
    assert services.merchants.get("mer_1").closed_at is None
    done = close("mer_1", "--reason", "wound up", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["id"] == "mer_1" and services.merchants.get("mer_1").closed_at is not None
    with services.uow() as uow:
        [record] = [r for r in uow.audit.about(["merchant:mer_1"]) if r.action == "merchant.closed"]
        raw = uow.connection.execute(sa.text("SELECT settlement_destination FROM merchants")).scalar_one()
    assert dict(record.details)["reason"] == "wound up" and record.actor.startswith("ops:")
    assert raw.startswith("pii1:") and "254712000009" not in raw
    assert services.merchants.get("mer_1").settlement.destination == "254712000009"
