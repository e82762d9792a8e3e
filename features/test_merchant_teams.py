"""Steps for merchant_teams.feature: team roles, invitations, the protected owner."""

import pytest
from cryptopay.core.errors import Conflict
from cryptopay.core.identity.model import (
    TEAM_SCOPES,
    Principal,
    PrincipalKind,
    Role,
    StepUpRequired,
    TeamRole,
    User,
)
from cryptopay.core.testing.identity import team_fixture
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("merchant_teams.feature")


@pytest.fixture(name="duka")
def _fake_duka():  # a private name: the real-parts module's ``import *`` must not take it
    """Teams over the in-memory stores (test_merchant_teams_real.py runs the scenarios on PostgreSQL)."""
    return team_fixture()


@given('the shop "Duka" owned by Amina')
def shop(context, duka):
    context.update(duka=duka, teams=duka.teams, merchant=duka.merchant, people={"Amina": duka.owner.id}, tokens={})


def _id(context, name: str) -> str:
    return context["people"][name]


@when(parsers.parse("Amina invites {email} as {role}"))
def invite(context, email, role):
    _, token = context["teams"].invite(
        context["merchant"].id, actor=_id(context, "Amina"), email=email, role=TeamRole(role)
    )
    context["tokens"][email] = token


@when(parsers.parse("{name} accepts the invitation"))
def accept(context, name):
    email = next(e for e in context["tokens"] if e.startswith(name.lower()))
    user = User(f"usr_{name.lower()}", email, "x", Role.MERCHANT, context["duka"].clock.now())
    context["duka"].users.add(user)
    context["people"][name] = user.id
    context["teams"].accept(context["tokens"][email], user_id=user.id)


PASSWORD = "a long passphrase for the shop"


@when(parsers.parse("{name}, whose email is not proven yet, accepts the invitation with {which} password"))
def accept_with_password(context, name, which):
    email = next(e for e in context["tokens"] if e.startswith(name.lower()))
    duka = context["duka"]
    user = User(f"usr_{name.lower()}", email, duka.hasher.hash(PASSWORD), Role.MERCHANT, duka.clock.now())
    duka.users.add(user)
    context["people"][name] = user.id
    password = PASSWORD if which == "her" else "not the password"
    try:
        context["teams"].accept(context["tokens"][email], user_id=user.id, password=password)
    except StepUpRequired as refused:
        context["refused"] = refused


@then(parsers.parse("{name}'s email is proven by the invitation"))
def proven(context, name):
    user = context["duka"].users.get(_id(context, name))
    assert user.email_verified_at == context["duka"].clock.now()
    proofs = [r for r in context["duka"].audit.records() if r.action == "auth.email_proven"]
    assert [(r.subject, dict(r.details)["via"]) for r in proofs] == [(f"user:{user.id}", "invitation")]


@then(parsers.parse("{name} is in no team and her email is not proven"))
def nothing_changed(context, name):
    assert context["refused"].code == "step_up_required"
    assert context["teams"].membership(_id(context, name)) is None
    assert context["duka"].users.get(_id(context, name)).email_verified_at is None
    actions = [r.action for r in context["duka"].audit.records()]
    assert actions == ["team.invite", "auth.email_proof_failed"]


@then("the invitation can still be accepted")
def still_open(context):
    [invitation] = context["teams"].invitations(context["merchant"].id)
    assert invitation.open(context["duka"].clock.now())


def _principal(context, name: str) -> Principal:
    role = context["teams"].role_of(context["duka"].merchants.get(context["merchant"].id), _id(context, name))
    return Principal(PrincipalKind.USER, _id(context, name), Role.MERCHANT, context["merchant"].id, team_role=role)


@then(parsers.parse("{name} is {role} in the team"))
def has_role(context, name, role):
    assert _principal(context, name).team_role is TeamRole(role)


@then(parsers.parse("{name} may read settlements and reports"))
def reads_money(context, name):
    principal = _principal(context, name)
    assert principal.has_scope("settlements:read") and principal.has_scope("reports:read")


@then(parsers.parse("{name} may not create API keys"))
def no_keys(context, name):
    # API keys are created by the owner and admins only (the HTTP route's team check).
    assert _principal(context, name).team_role not in (TeamRole.OWNER, TeamRole.ADMIN)


@then(parsers.parse("{name} may read invoices"))
def reads_invoices(context, name):
    assert _principal(context, name).has_scope("invoices:read")


@then(parsers.parse("{name} may not read settlements or reports"))
def no_money(context, name):
    principal = _principal(context, name)
    assert not principal.has_scope("settlements:read") and not principal.has_scope("reports:read")
    assert not any(scope.endswith(":write") for scope in TEAM_SCOPES[TeamRole.STAFF])


@then(parsers.parse("{name} may change nothing"))
def changes_nothing(context, name):
    principal = _principal(context, name)
    assert not any(principal.has_scope(scope) for scope in TEAM_SCOPES[TeamRole.OWNER] if scope.endswith(":write"))


@then("the audit log shows the invitation and the joining")
def audited(context):
    actions = [r.action for r in context["duka"].audit.records()]
    assert actions == ["team.invite", "team.join"]


@then(parsers.parse("{name} cannot remove Amina"))
def cannot_remove(context, name):
    with pytest.raises(Conflict):
        context["teams"].remove(context["merchant"].id, _id(context, "Amina"), actor=_id(context, name))


@then(parsers.parse("{name} cannot make Amina staff"))
def cannot_demote(context, name):
    with pytest.raises(Conflict):
        context["teams"].set_role(
            context["merchant"].id, _id(context, "Amina"), TeamRole.STAFF, actor=_id(context, name)
        )


@when(parsers.parse("Amina hands the shop over to {name}"))
def hand_over(context, name):
    context["teams"].transfer_ownership(context["merchant"].id, _id(context, name), actor=_id(context, "Amina"))


@when(parsers.parse("{days:d} days pass"))
def days_pass(context, days):
    context["duka"].clock.advance(days=days)


@then("the invitation can no longer be accepted")
def expired(context):
    user = User("usr_late", "late@duka.co.ke", "x", Role.MERCHANT, context["duka"].clock.now())
    context["duka"].users.add(user)
    with pytest.raises(Conflict):
        context["teams"].accept(context["tokens"]["late@duka.co.ke"], user_id=user.id)
