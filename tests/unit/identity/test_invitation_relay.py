"""Review4 R15: team invitations are no phishing relay. The mail never carries a merchant-typed link (the business
name stays out of the subject, and the body quotes it only when it has no link, address or phone number in it), one
address has at most one open invitation per merchant, a merchant at most ``OPEN_INVITATIONS`` open and
``INVITATIONS_PER_DAY`` new a day, and one address at most ``INVITATIONS_PER_ADDRESS`` a day from every team together;
past a cap nothing is stored or mailed."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.errors import Conflict, LimitExceeded
from cryptopay.core.identity.model import TeamRole
from cryptopay.core.identity.teams import INVITATIONS_PER_ADDRESS, INVITATIONS_PER_DAY, OPEN_INVITATIONS
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


def test_one_address_is_sent_a_few_invitations_a_day_whatever_the_merchants():
    """Several merchants (an attacker's) together send one address at most ``INVITATIONS_PER_ADDRESS`` a day, revoked
    ones counted: past it a 422 ``limit_exceeded`` naming the limit, as the team caps, nothing stored or mailed, the
    refusal audited on the merchant (the limit, never the address); other addresses, and the next day, go on."""
    from cryptopay.core.identity.model import Merchant

    duka = team_fixture()
    owners = [duka.owner.id]
    for n in range(2, INVITATIONS_PER_ADDRESS + 2):
        merchant = attrs.evolve(duka.merchant, id=f"mer_{n}", owner_user_id=f"usr_owner{n}")
        assert isinstance(merchant, Merchant)
        duka.merchants.add(merchant)
        owners.append(merchant.owner_user_id)
    made = []
    for n, owner in enumerate(owners[:INVITATIONS_PER_ADDRESS], start=1):
        invitation, _ = duka.teams.invite(f"mer_{n}", actor=owner, email="victim@example.org", role=TeamRole.STAFF)
        made.append(invitation)
    duka.teams.revoke_invitation("mer_1", made[0].id, actor=duka.owner.id)  # revoking gives no invitation back
    last = f"mer_{INVITATIONS_PER_ADDRESS + 1}"
    with pytest.raises(LimitExceeded) as refused:
        duka.teams.invite(last, actor=owners[-1], email="Victim@Example.org", role=TeamRole.STAFF)
    assert (refused.value.http_status, refused.value.code) == (422, "limit_exceeded")
    assert refused.value.details["limit"] == "team.invitations_per_address"
    with pytest.raises(LimitExceeded):
        duka.teams.invite("mer_1", actor=duka.owner.id, email="victim@example.org", role=TeamRole.ADMIN)
    assert len(duka.notifier.sent_to("victim@example.org")) == INVITATIONS_PER_ADDRESS
    assert duka.teams.invitations(last) == []
    capped = [r for r in duka.audit.records() if r.action == "team.invite_capped"]
    assert [(r.subject, dict(r.details)) for r in capped] == [
        (f"merchant:{last}", {"limit": "team.invitations_per_address"}),
        ("merchant:mer_1", {"limit": "team.invitations_per_address"}),
    ]
    assert all("victim" not in str(r.details) for r in duka.audit.records())
    duka.teams.invite(last, actor=owners[-1], email="someone-else@example.org", role=TeamRole.STAFF)
    duka.clock.advance(hours=24, minutes=1)
    duka.teams.invite(last, actor=owners[-1], email="victim@example.org", role=TeamRole.STAFF)
