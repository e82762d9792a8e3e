"""Merchant teams: members with roles (owner, admin, finance, staff) and invitations, for the caller's merchant.

``/v1/merchants/me/members`` and ``/v1/merchants/me/invitations`` act for the caller's own merchant (a team member
acts for its team's); ``POST /v1/invitations/accept`` joins a team with the token the invitation email carried.
Only the owner and admins change the team; giving a member admin or finance (an invitation or a role change) needs
a step-up (``X-Step-Up-Token``: those roles mint keys and move money); the owner is never removed or demoted
(``POST .../owner`` hands the merchant to a member, after a step-up). The role matrix is in the README; every change
is audited (``team.*``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.identity import Role
from cryptopay.core.identity.model import Forbidden, RateLimited, StepUpRequired, TeamRole
from cryptopay.core.identity.teams import Invitation, Member
from cryptopay.core.text import TextKind
from flask import Blueprint, Response

from cryptopay_http.auth import (
    check_step_up_audited,
    current_principal,
    documents_step_up_when,
    limit_account,
    rate_limits,
    require,
    step_up,
)
from cryptopay_http.blueprints.identity import EMAIL_FIELD_PATTERN, EMAIL_HINT
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import newest_first, paginate, paginated
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

P = ParamSpec("P")
R = TypeVar("R")

bp = Blueprint("teams", __name__)
_TAGS = ("teams",)
_MERCHANT = (Role.MERCHANT,)
# The registration form's pattern (no control characters): an invitation is for an address that can register.
_EMAIL = limits(min_length=3, max_length=254, pattern=EMAIL_FIELD_PATTERN, hint=EMAIL_HINT)


class MemberRole(enum.Enum):
    """The roles a member is given (the owner is never given: ownership is handed over)."""

    ADMIN = "admin"
    FINANCE = "finance"
    STAFF = "staff"

    @property
    def team_role(self) -> TeamRole:
        return TeamRole(self.value)


@attrs.frozen
class MemberView:
    """A user acting for the merchant, in ``role`` (the owner is listed first)."""

    user_id: str
    role: TeamRole
    added_at: datetime

    @classmethod
    def of(cls, m: Member) -> MemberView:
        return cls(m.user_id, m.role, m.added_at)


@attrs.frozen
class MemberList:
    members: list[MemberView]


@attrs.frozen
class InvitationView:
    """An invitation by email; its token went to that address only."""

    id: str
    email: str
    role: TeamRole
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, i: Invitation) -> InvitationView:
        return cls(i.id, i.email, i.role, i.created_at, i.expires_at, i.accepted_at, i.revoked_at)


@attrs.frozen
class Invite:
    email: str = attrs.field(metadata=_EMAIL)
    role: MemberRole


@attrs.frozen
class Accept:
    token: str = attrs.field(metadata=limits(min_length=20, max_length=200))
    password: str | None = attrs.field(
        default=None,
        repr=False,
        metadata=limits(
            "the account's password, typed again: the acceptance then proves the email", text=TextKind.SECRET
        ),
    )


@attrs.frozen
class Accepted:
    """The new member, and whether the account's email is proven now (by this acceptance or before)."""

    user_id: str
    role: TeamRole
    added_at: datetime
    email_proven: bool


@attrs.frozen
class SetRole:
    role: MemberRole


@attrs.frozen
class Transfer:
    user_id: str = attrs.field(metadata=limits(min_length=1, max_length=64))


def _mine() -> str:
    merchant_id = current_principal().merchant_id
    if merchant_id is None:
        raise Forbidden("create your merchant profile first (POST /v1/merchants) or accept an invitation")
    return merchant_id


def _actor() -> str:
    return current_principal().id


def _step_up_to_grant(role: TeamRole) -> None:
    """A fresh step-up before giving ``role`` when the role needs one (``TeamRole.granted_with_step_up``); a
    missing or stale one is refused (403 ``step_up_required``) and audited ``access.refused``."""
    if role.granted_with_step_up:
        check_step_up_audited()


def _documents_step_up(view: Callable[P, R]) -> Callable[P, R]:
    return documents_step_up_when("when the role given is admin or finance", view)


@bp.get("/v1/merchants/me/members")
@operation(
    "List the team of the caller's merchant (the owner first)",
    response=MemberList,
    tags=_TAGS,
    description=(
        "The members of the caller's merchant team (the owner first) with their team role (owner, admin, "
        'finance, staff) and when they joined: a small set, answered whole as `{"members": [...]}` (not a '
        "`{data, next_cursor}` page)."
    ),
    problems=((Forbidden, "the caller has no merchant profile and is in no team"),),
)
@require(roles=_MERCHANT)
def list_members() -> Response:
    members = runtime().services.teams.members(_mine())
    return json_response(MemberList([MemberView.of(m) for m in members]))


@bp.patch("/v1/merchants/me/members/<user_id>")
@operation(
    "Change a member's role",
    request=SetRole,
    response=MemberView,
    tags=_TAGS,
    errors=(404, 409),
    description=(
        "Gives a member another team role (admin, finance or staff; never owner, and never the owner's). "
        "Giving admin or finance needs a step-up, and a missing one is audited. A member demoted below "
        "admin loses the API keys and webhook endpoints they created. Audited."
    ),
    problems=(
        (Forbidden, "the caller has no merchant profile and is in no team"),
        (Conflict, "the owner's role, or making someone owner (transfer ownership instead)"),
        (NotFound, "the user is not a member of this team"),
    ),
)
@require(roles=_MERCHANT, team=(TeamRole.OWNER, TeamRole.ADMIN))
@_documents_step_up
def set_member_role(user_id: str) -> Response:
    body = read_body(SetRole)
    _step_up_to_grant(body.role.team_role)
    member = runtime().services.teams.set_role(_mine(), user_id, body.role.team_role, actor=_actor())
    return json_response(MemberView.of(member))


@bp.delete("/v1/merchants/me/members/<user_id>")
@operation(
    "Remove a member (a member may leave), never the owner",
    status=204,
    tags=_TAGS,
    errors=(404, 409),
    description=(
        "Removes a member from the team; a member may also remove itself (leave). Never the owner. Their "
        "API keys are revoked and their webhook endpoints disabled. Audited."
    ),
    problems=(
        (Forbidden, "the caller has no merchant profile and is in no team"),
        (Forbidden, "neither the owner, an admin, nor the member itself"),
        (Conflict, "the owner cannot be removed: transfer ownership first"),
        (NotFound, "the user is not a member of this team"),
    ),
)
@require(roles=_MERCHANT)
def remove_member(user_id: str) -> Response:
    runtime().services.teams.remove(_mine(), user_id, actor=_actor())
    return Response(status=204)


@bp.post("/v1/merchants/me/owner")
@operation(
    "Hand the merchant to a member (the old owner stays as an admin)",
    request=Transfer,
    response=MemberList,
    tags=_TAGS,
    errors=(404,),
    description=(
        "Hands the merchant to a member of its team: they become the owner; the old owner stays as an admin. Audited."
    ),
    problems=(
        (Forbidden, "the caller has no merchant profile and is in no team"),
        (Forbidden, "the caller is not the owner"),
        (NotFound, "the user is not a member of this team"),
    ),
)
@require(roles=_MERCHANT, team=(TeamRole.OWNER,))
@step_up
def transfer_ownership() -> Response:
    body = read_body(Transfer)
    teams = runtime().services.teams
    merchant = teams.transfer_ownership(_mine(), body.user_id, actor=_actor())
    return json_response(MemberList([MemberView.of(m) for m in teams.members(merchant.id)]))


@bp.get("/v1/merchants/me/invitations")
@operation(
    "List the merchant's invitations, newest first",
    response=PageOf(InvitationView),
    tags=_TAGS,
    description=(
        "The merchant's invitations, newest first: email, role, when each was made, accepted or revoked, and when "
        "it expires. A page at a time, as every list (`limit`, `cursor`)."
    ),
    problems=((Forbidden, "the caller has no merchant profile and is in no team"),),
)
@require(roles=_MERCHANT, team=(TeamRole.OWNER, TeamRole.ADMIN))
@paginated("invite")
def list_invitations() -> Response:
    found = runtime().services.teams.invitations(_mine())
    return json_response(paginate(newest_first(found), InvitationView.of))


@bp.post("/v1/merchants/me/invitations")
@operation(
    "Invite someone by email as admin, finance or staff",
    request=Invite,
    response=InvitationView,
    status=201,
    tags=_TAGS,
    description=(
        "Emails an invitation to join the team with a role: admin or finance (both need a step-up, and a "
        "missing one is audited) or staff. The email carries a token valid 7 days, accepted with POST "
        "/v1/invitations/accept by a merchant user registered with that address. Audited."
    ),
    problems=(
        (Forbidden, "the caller has no merchant profile and is in no team"),
        (InvalidInput, "the role owner (ownership is handed over instead)"),
    ),
)
@require(roles=_MERCHANT, team=(TeamRole.OWNER, TeamRole.ADMIN))
@_documents_step_up
def invite() -> Response:
    body = read_body(Invite)
    _step_up_to_grant(body.role.team_role)
    invitation, _ = runtime().services.teams.invite(_mine(), actor=_actor(), email=body.email, role=body.role.team_role)
    return json_response(InvitationView.of(invitation), 201)


@bp.delete("/v1/merchants/me/invitations/<invitation_id>")
@operation(
    "Revoke an invitation",
    response=InvitationView,
    tags=_TAGS,
    errors=(404,),
    description="Revokes a pending invitation: its token can no longer be accepted. Audited.",
    problems=(
        (Forbidden, "the caller has no merchant profile and is in no team"),
        (NotFound, "no such invitation of this merchant"),
    ),
)
@require(roles=_MERCHANT, team=(TeamRole.OWNER, TeamRole.ADMIN))
def revoke_invitation(invitation_id: str) -> Response:
    invitation = runtime().services.teams.revoke_invitation(_mine(), invitation_id, actor=_actor())
    return json_response(InvitationView.of(invitation))


@bp.post("/v1/invitations/accept")
@operation(
    "Join the team an invitation names (a merchant user whose email it was sent to)",
    tags=_TAGS,
    errors=(409,),
    description=(
        "Joins the team the invitation token names, with its role; the caller must be a merchant user "
        "registered with the invited email and not yet in a team or owning a merchant. With `password` (the "
        "account's, typed again) the acceptance also proves the account's email, as the emailed proof link does: "
        "the token went to that address only (`email_proven` in the answer; audited auth.email_proven via "
        "invitation). Without it, the email stays as it was. " + rate_limits(per_client=False, per_account=True)
    ),
    request=Accept,
    response=Accepted,
    example={"token": "Hd8x-example-token-from-the-invitation-email", "password": "a long passphrase"},
    problems=(
        (Conflict, ("the token is unknown, used, revoked or expired, or the caller already acts for a merchant")),
        (Forbidden, "the invitation was sent to another email, or the caller is not a merchant user"),
        (StepUpRequired, "the password is wrong (audited auth.email_proof_failed); nothing changed"),
        (RateLimited, "too many password checks for this account (Retry-After says when)"),
    ),
)
@require(roles=_MERCHANT)
def accept_invitation() -> Response:
    body = read_body(Accept)
    if body.password is not None:
        limit_account(_actor())
    member = runtime().services.teams.accept(body.token, user_id=_actor(), password=body.password)
    user = runtime().services.users.get(member.user_id)
    proven = user is not None and user.email_verified_at is not None
    return json_response(Accepted(member.user_id, member.role, member.added_at, proven))
