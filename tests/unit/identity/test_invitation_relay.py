"""Review4 R15: team invitations are no phishing relay. The mail never carries a merchant-typed link (the business
name stays out of the subject, and the body quotes it only when it has no link, address or phone number in it), one
address has at most one open invitation per merchant, a merchant at most ``OPEN_INVITATIONS`` open and
``INVITATIONS_PER_DAY`` new a day; past a cap nothing is stored or mailed."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.errors import Conflict, LimitExceeded
from cryptopay.core.identity.model import TeamRole
from cryptopay.core.identity.teams import INVITATIONS_PER_DAY, OPEN_INVITATIONS
from cryptopay.core.testing.identity import team_fixture


@pytest.mark.parametrize(
    "name",
    [
        "Safaricom Security: confirm your PIN at https://mpesa-verify.example",
        "Confirm at mpesa-verify.example now",
        "Write to help@mpesa-verify.example",
        "Call 0712 345 678 now",
        "www.mpesa-verify.co.ke",
    ],
)
def test_a_business_name_with_a_link_never_goes_out_in_the_invitation(name):
    duka = team_fixture()
    duka.merchants.update(attrs.evolve(duka.merchant, business_name=name))
    duka.teams.invite("mer_1", actor=duka.owner.id, email="victim@example.org", role=TeamRole.STAFF)
    [mail] = duka.notifier.sent_to("victim@example.org")
    assert name not in mail.subject and name not in mail.body
    for piece in ("https://", "mpesa-verify", "0712 345 678", "www."):
        assert piece not in mail.subject and piece not in mail.body
    assert "a merchant" in mail.body


def test_a_plain_business_name_is_quoted_in_the_body_only():
    duka = team_fixture()
    duka.teams.invite("mer_1", actor=duka.owner.id, email="amina@duka.co.ke", role=TeamRole.FINANCE)
    [mail] = duka.notifier.sent_to("amina@duka.co.ke")
    assert "Duka" not in mail.subject and '"Duka"' in mail.body


def test_one_open_invitation_per_address_and_the_merchants_caps():
    duka = team_fixture()
    duka.teams.invite("mer_1", actor=duka.owner.id, email="victim@example.org", role=TeamRole.STAFF)
    with pytest.raises(Conflict):
        duka.teams.invite("mer_1", actor=duka.owner.id, email="Victim@Example.org", role=TeamRole.STAFF)
    assert len(duka.notifier.sent_to("victim@example.org")) == 1
    for n in range(OPEN_INVITATIONS - 1):
        duka.teams.invite("mer_1", actor=duka.owner.id, email=f"p{n}@example.org", role=TeamRole.STAFF)
    with pytest.raises(LimitExceeded):
        duka.teams.invite("mer_1", actor=duka.owner.id, email="one-more@example.org", role=TeamRole.STAFF)
    assert duka.notifier.sent_to("one-more@example.org") == []
    made = 0
    for invitation in duka.teams.invitations("mer_1"):  # revoking frees the open slots, not the day's count
        duka.teams.revoke_invitation("mer_1", invitation.id, actor=duka.owner.id)
    with pytest.raises(LimitExceeded, match="a day"):
        for n in range(INVITATIONS_PER_DAY):
            made_now, _ = duka.teams.invite(
                "mer_1", actor=duka.owner.id, email=f"q{n}@example.org", role=TeamRole.STAFF
            )
            duka.teams.revoke_invitation("mer_1", made_now.id, actor=duka.owner.id)
            made += 1
    assert OPEN_INVITATIONS + made == INVITATIONS_PER_DAY
    duka.clock.advance(hours=24, minutes=1)
    for invitation in duka.teams.invitations("mer_1"):
        duka.teams.revoke_invitation("mer_1", invitation.id, actor=duka.owner.id)
    duka.teams.invite("mer_1", actor=duka.owner.id, email="next-day@example.org", role=TeamRole.STAFF)
