"""Merchant teams: several users act for one merchant, each with a role (owner, admin, finance, staff).

The owner is the merchant's ``owner_user_id`` (not a member row): it cannot be removed or demoted, only replaced
by ``transfer_ownership`` (the owner alone, to a member, who stops being a member; the old owner becomes an admin).
Owners and admins invite by email (a single-use token sent through the ``Notifier``, valid ``INVITATION_TTL``, kept
only as its SHA-256); a merchant user who registered or logged in accepts it and joins the team. A user belongs to
at most one merchant (its own or one team). Admins manage finance and staff members and other admins, never the
owner. Every change is audited (``team.*``). What each role may do is ``model.TEAM_SCOPES`` plus the HTTP shell's
``require(team=...)`` on the routes that change keys, the store and the profile (the matrix is in the README).
API keys are minted by owners and admins and live no longer than their creator's right to mint them: removing a
member, demoting one below admin, or giving their account a platform role other than merchant
(``UserAdmin.set_role``), revokes the keys they created (each audited ``api_key.revoked``, through the key
repository's ``update``, which the API's key cache honours at once) and disables the webhook endpoints they added
(``WebhookEndpoint.created_by``; audited ``webhook_endpoint.disabled``).

Decision (proof): accepting an invitation with the account's password typed again proves the account's email
(``email_proof.prove_email``, audited ``auth.email_proven`` via ``invitation``), as the emailed link does. The token
went by email to the invitation's address only (every shell drops what ``invite`` returns), so whoever holds it reads
that mailbox; the proof holds only where the invitation's address is exactly the account's and the accepting login is
that account (an invitation accepted into an account with another address is refused, 403, and proves nothing). The
password is asked for the reason the link asks it: someone who registered a victim's address and invites it cannot
read the token, but a victim who follows the invitation in a browser logged into the squatter's account (login CSRF,
a shared computer) would otherwise prove the address for the squatter; the squatter's password is what the victim
lacks. A wrong password refuses the acceptance (403 ``step_up_required``, audited ``auth.email_proof_failed``) and
changes nothing; without a password the acceptance joins the team as before and proves nothing.

>>> from cryptopay.core.testing.identity import team_fixture
>>> duka = team_fixture()
>>> invitation, token = duka.teams.invite("mer_1", actor=duka.owner.id, email="amina@duka.co.ke", role=TeamRole.FINANCE)
>>> invitation.role.value, len(token) > 30
('finance', True)
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn

import attrs
from cryptopay.core import faults
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Conflict, InvalidInput, LimitExceeded, NotFound, RowChanged
from cryptopay.core.faults import NO_FAULTS, FaultPoints
from cryptopay.core.identity.email_proof import prove_email
from cryptopay.core.identity.model import (
    Forbidden,
    Merchant,
    Role,
    StepUpRequired,
    TeamRole,
    User,
    check_merchant_open,
)
from cryptopay.core.identity.revocation import disable_endpoints, revoke_keys
from cryptopay.core.identity.service import valid_email
from cryptopay.core.ports.identity import (
    ApiKeyRepository,
    AuditTrail,
    MerchantRepository,
    PasswordHasher,
    TeamRepository,
    TeamUowFactory,
    UserRepository,
)
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.storage import retrying
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.text import quoted_business_name
from cryptopay.core.webhooks import UowFactory

__all__ = [
    "INVITATIONS_PER_ADDRESS",
    "INVITATIONS_PER_DAY",
    "INVITATION_TTL",
    "OPEN_INVITATIONS",
    "Invitation",
    "InvitationChanged",
    "InviteCap",
    "Member",
    "TeamCaps",
    "Teams",
    "acts_for",
    "invitation_digest",
    "parties_of",
]

INVITATION_TTL = timedelta(days=7)
# Invitations are capped (review4 R15, a phishing relay): a merchant has at most this many open at once, makes at
# most this many a day (revoked ones count), one address has at most one open invitation per merchant, and one
# address is sent at most this many a day by every team together (an attacker's several merchants mail it no more)
OPEN_INVITATIONS = 20
INVITATIONS_PER_DAY = 50
INVITATIONS_PER_ADDRESS = 5
_MANAGERS = (TeamRole.OWNER, TeamRole.ADMIN)


@attrs.define(kw_only=True)
class Member:
    """A user acting for a merchant in a role other than owner."""

    merchant_id: str
    user_id: str
    role: TeamRole
    added_at: datetime
    added_by: str


class InvitationChanged(RowChanged):
    """The invitation changed (accepted, revoked) since it was read (``TeamRepository.update_invitation``, R11-3)."""

    def __init__(self, invitation_id: str) -> None:
        super().__init__("invitation", invitation_id)
        self.invitation_id = invitation_id


@attrs.define(kw_only=True)
class Invitation:
    """An invitation to join a merchant's team; only the SHA-256 of its token is kept."""

    id: str
    merchant_id: str
    email: str
    role: TeamRole
    token_hash: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime
    invited_by: str
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    revoked_at: datetime | None = None
    # The stored row's version as read: ``update_invitation`` writes only over that version (and an acceptance
    # bumps it), so a revocation or an erasure read before an acceptance never writes ``accepted_at`` back to None
    # (review11 R11-3, as ``User.row_version``). Not part of equality: it says when, not what.
    row_version: int = attrs.field(default=0, eq=False, repr=False)

    def open(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at


class InviteCap(enum.Enum):
    """The cap an invitation would pass, as ``TeamRepository.add_invitation_within`` reports it (nothing stored)."""

    ADDRESS_OPEN = "address_open"  # the address has an open invitation to this team already
    TEAM_OPEN = "team.invitations"  # the team has its ``TeamCaps.open`` open invitations
    TEAM_DAY = "team.invitations_per_day"  # the team made its ``TeamCaps.per_day`` invitations since ``since``
    ADDRESS_DAY = "team.invitations_per_address"  # every team together invited the address ``per_address`` times


@attrs.frozen
class TeamCaps:
    """One team's invitation caps, counted with the address's under the same locks (``add_invitation_within``)."""

    open: int = OPEN_INVITATIONS
    per_day: int = INVITATIONS_PER_DAY


def acts_for(merchants: MerchantRepository, teams: TeamRepository, user_id: str) -> str | None:
    """The merchant ``user_id`` acts for: the one it owns, else the team it is a member of; None for neither."""
    owned = merchants.by_owner(user_id)
    if owned is not None:
        return owned.id
    member = teams.membership(user_id)
    return member.merchant_id if member is not None else None


def parties_of(merchants: MerchantRepository, teams: TeamRepository, user_id: str) -> frozenset[str]:
    """The parties ``user_id`` belongs to (itself and the merchant it acts for): an officer acting on one of them
    acts on their own (``KycReview``'s conflict-of-interest check, outside review R12)."""
    merchant_id = acts_for(merchants, teams, user_id)
    return frozenset({user_id} if merchant_id is None else {user_id, merchant_id})


def invitation_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _email(text: str) -> str:
    return valid_email(text)  # the one email rule (review H11: no address literals, single-label hosts or non-ASCII)


class Teams:
    """The team use cases; ``actor`` is always a user id (the CLI's operators act as the owner they name)."""

    def __init__(
        self,
        *,
        teams: TeamRepository,
        merchants: MerchantRepository,
        api_keys: ApiKeyRepository,
        users: UserRepository,
        notifier: Notifier,
        audit: AuditTrail,
        clock: Clock,
        ids: IdGenerator,
        tokens: Callable[[], str] = lambda: secrets.token_urlsafe(32),
        ttl: timedelta = INVITATION_TTL,
        hasher: PasswordHasher,
        webhook_storage: Callable[[], UowFactory | None] = lambda: None,
        units: TeamUowFactory | None = None,
        faults: FaultPoints = NO_FAULTS,
    ) -> None:
        """``hasher`` checks the password an acceptance that proves the email carries; ``units`` makes an
        acceptance's writes one transaction (None: each repository call is its own, as the in-memory fakes are)."""
        self._hasher, self._units, self._faults = hasher, units, faults
        self._teams, self._merchants, self._users, self._notifier = teams, merchants, users, notifier
        self._api_keys, self._webhook_storage = api_keys, webhook_storage
        self._audit, self._clock, self._ids, self._tokens, self._ttl = audit, clock, ids, tokens, ttl

    # --- who is who ---------------------------------------------------------------------------------------------

    def role_of(self, merchant: Merchant, user_id: str) -> TeamRole | None:
        """The user's role in the merchant's team (owner for the owner), or None."""
        if merchant.owner_user_id == user_id:
            return TeamRole.OWNER
        member = self._teams.member(merchant.id, user_id)
        return member.role if member is not None else None

    def membership(self, user_id: str) -> Member | None:
        """The team the user belongs to (not as its owner), if any."""
        return self._teams.membership(user_id)

    def merchant_of(self, user_id: str) -> str | None:
        """The merchant the user acts for: the one it owns, else the team it is a member of; None for neither."""
        return acts_for(self._merchants, self._teams, user_id)

    def members(self, merchant_id: str) -> list[Member]:
        """The owner first (as a member row), then every member by when they joined."""
        merchant = self._merchant(merchant_id)
        owner = Member(
            merchant_id=merchant.id,
            user_id=merchant.owner_user_id,
            role=TeamRole.OWNER,
            added_at=merchant.created_at,
            added_by=merchant.owner_user_id,
        )
        return [owner, *self._teams.members(merchant_id)]

    def invitations(self, merchant_id: str) -> list[Invitation]:
        return self._teams.invitations(merchant_id)

    # --- invitations --------------------------------------------------------------------------------------------

    def invite(
        self, merchant_id: str, *, actor: str, email: str, role: TeamRole, via: str = ""
    ) -> tuple[Invitation, str]:
        """Invite ``email`` as ``role`` (not owner); the token is sent by email and returned once. ``via`` names an
        operator acting for ``actor`` (the CLI), for the audit record."""
        merchant = self._merchant(merchant_id)
        self._require_manager(merchant, actor)
        if role is TeamRole.OWNER:
            raise InvalidInput("the owner is not invited: the owner hands ownership over instead", field="role")
        address, now = _email(email), self._clock.now()
        token = self._tokens()
        invitation = Invitation(
            # "invite_", not invoices' "inv_": the two are told apart at a glance (in the audit log, a support
            # ticket); invitations made before keep their "inv_" ids, which are looked up whole, never by prefix.
            id=self._ids.new_id("invite"),
            merchant_id=merchant.id,
            email=address,
            role=role,
            token_hash=invitation_digest(token),
            created_at=now,
            expires_at=now + self._ttl,
            invited_by=actor,
        )
        # the caps counted and the invitation stored under locks on the team and the address (two managers inviting
        # at once never pass a cap); nothing stored or mailed when one is reached
        refused = self._teams.add_invitation_within(
            invitation, per_address=INVITATIONS_PER_ADDRESS, since=now - timedelta(days=1), team=TeamCaps()
        )
        if refused is not None:
            self._refuse_past_cap(refused, merchant.id, actor=actor, via=via)
        # The invitation names the invitee; the audit record names the invitation (personal data stays sealed in it).
        details = {"invitation": invitation.id, "role": role.value, "via": via}
        self._record(actor, "team.invite", merchant.id, **details)
        # The merchant's name stays out of the subject and is quoted only when inert (no link, address or number)
        body = (
            f"You are invited to act for {quoted_business_name(merchant.business_name)} on cryptopay as "
            f"{role.value}.\n"
            f"Register or log in as a merchant user with {address}, then accept with this token "
            f"(POST /v1/invitations/accept; with your password typed again, it confirms this email too) before "
            f"{invitation.expires_at.isoformat()}:\n\n{token}\n"
        )
        self._notifier.send(Notification(address, "An invitation to a merchant team on cryptopay", body))
        return invitation, token

    def _refuse_past_cap(self, cap: InviteCap, merchant_id: str, *, actor: str, via: str) -> NoReturn:
        """Refuse an invitation past a cap (``Conflict`` for a second open one to the same address, else
        ``LimitExceeded`` naming the cap): nothing is stored or mailed."""
        if cap is InviteCap.ADDRESS_OPEN:
            raise Conflict(
                "this address has an open invitation to this team already: revoke it first to send a new one",
                field="email",
            )
        if cap is InviteCap.TEAM_OPEN:
            raise LimitExceeded(
                f"a team has at most {OPEN_INVITATIONS} open invitations: revoke some first", limit=cap.value
            )
        if cap is InviteCap.TEAM_DAY:
            raise LimitExceeded(
                f"a team sends at most {INVITATIONS_PER_DAY} invitations a day: try again tomorrow", limit=cap.value
            )
        self._refuse_past_address_cap(merchant_id, actor=actor, via=via)

    def _refuse_past_address_cap(self, merchant_id: str, *, actor: str, via: str) -> NoReturn:
        """Refuse an invitation to an address every team together sent ``INVITATIONS_PER_ADDRESS`` in the last day
        (revoked ones count; counted and stored atomically by ``add_invitation_within``, so merchants inviting one
        address at once never pass it, review R15): ``LimitExceeded`` as the team's caps, nothing stored or mailed,
        the refusal audited ``team.invite_capped`` on the merchant (the limit, never the address)."""
        self._record(actor, "team.invite_capped", merchant_id, limit="team.invitations_per_address", via=via)
        raise LimitExceeded(
            f"one address is sent at most {INVITATIONS_PER_ADDRESS} team invitations a day: try again tomorrow",
            limit="team.invitations_per_address",
        )

    def revoke_invitation(self, merchant_id: str, invitation_id: str, *, actor: str) -> Invitation:
        merchant = self._merchant(merchant_id)
        self._require_manager(merchant, actor)

        def revoke() -> tuple[Invitation, bool]:
            invitation = self._teams.invitation(invitation_id)
            if invitation is None or invitation.merchant_id != merchant.id:
                raise NotFound(f"no invitation {invitation_id}")
            if invitation.revoked_at is not None or invitation.accepted_at is not None:
                return invitation, False
            invitation.revoked_at = self._clock.now()
            self._teams.update_invitation(invitation)
            return invitation, True

        # Accepted (or revoked) between the read and the write: read again, and an accepted one stays accepted.
        invitation, revoked = retrying(revoke, on=(InvitationChanged,))
        if revoked:
            self._record(actor, "team.invitation_revoked", merchant.id, invitation=invitation.id)
        return invitation

    def accept(self, token: str, *, user_id: str, password: str | None = None) -> Member:
        """The logged-in merchant user ``user_id`` joins the team of the invitation ``token`` names; with its
        ``password`` typed again, that also proves its email (see the module's "proof"; a wrong one changes nothing).
        """
        invitation = self._teams.invitation_by_hash(invitation_digest(token.strip()))
        now = self._clock.now()
        if invitation is None or not invitation.open(now):
            raise Conflict("this invitation is unknown, used, revoked or expired: ask for a new one")
        user = self._user(user_id)
        if user.role is not Role.MERCHANT:
            raise Forbidden("only a merchant user may join a merchant's team (register with the role merchant)")
        if user.email is None or user.email.lower() != invitation.email:
            raise Forbidden("this invitation was sent to another email address")
        if self._merchants.by_owner(user.id) is not None or self._teams.membership(user.id) is not None:
            raise Conflict("this user already acts for a merchant (a user belongs to one team)")
        if password is not None:
            self._check_password(user, password, invitation)  # a refusal audited on its own, before any write
        proves = password is not None and user.email == invitation.email  # exactly the address the token went to
        if self._units is None:
            return self._join(self._teams, self._users, self._audit, invitation, user, proves, now)
        with self._units() as uow:
            return self._join(uow.teams, uow.users, uow.audit, invitation, user, proves, now)

    def _join(
        self,
        teams: TeamRepository,
        users: UserRepository,
        audit: AuditTrail,
        invitation: Invitation,
        user: User,
        proves: bool,
        now: datetime,
    ) -> Member:
        """An acceptance's writes: the invitation claimed, the member added, ``team.join`` audited and, when
        ``proves``, the email proven. One unit of work where ``units`` is wired (SQL), so a failure half way (a
        crash, a lost connection: ``faults.TEAM_JOINED`` stands for it) leaves none of them: the invitation stays
        open and the user may accept it again."""
        if not teams.claim_invitation(invitation.id, user.id, at=now):
            raise Conflict("this invitation was used meanwhile")
        member = Member(
            merchant_id=invitation.merchant_id,
            user_id=user.id,
            role=invitation.role,
            added_at=now,
            added_by=invitation.invited_by,
        )
        teams.add_member(member)
        self._faults.reached(faults.TEAM_JOINED)
        details = {"invitation": invitation.id, "role": member.role.value}
        audit.append(AuditEvent(f"user:{user.id}", "team.join", f"merchant:{invitation.merchant_id}", now, details))
        if proves:
            prove_email(user, users, audit, now, via="invitation", invitation=invitation.id)
        return member

    def _check_password(self, user: User, password: str, invitation: Invitation) -> None:
        if not self._hasher.verify(user.password_hash, password):
            details = {"reason": "password", "via": "invitation", "invitation": invitation.id}
            at, who = self._clock.now(), f"user:{user.id}"
            self._audit.append(AuditEvent(who, "auth.email_proof_failed", who, at, details))
            raise StepUpRequired("the password is wrong")

    # --- changes --------------------------------------------------------------------------------------------------

    def set_role(self, merchant_id: str, user_id: str, role: TeamRole, *, actor: str, via: str = "") -> Member:
        """Change a member's role; the owner's role is never changed (hand ownership over instead)."""
        merchant = self._merchant(merchant_id)
        self._require_manager(merchant, actor)
        if user_id == merchant.owner_user_id or role is TeamRole.OWNER:
            raise Conflict("the owner cannot be demoted and nobody is made owner this way: transfer ownership")
        member = self._member(merchant, user_id)
        before = member.role
        member.role = role
        self._teams.update_member(member)
        changed = {"user": user_id, "before": before.value, "after": role.value, "via": via}
        self._record(actor, "team.role_changed", merchant.id, **changed)
        if role not in _MANAGERS:
            self.take_back(merchant.id, user_id, actor=f"user:{actor}", reason="member_demoted")
        return member

    def remove(self, merchant_id: str, user_id: str, *, actor: str, via: str = "") -> None:
        """Remove a member (a member may also leave); never the owner."""
        merchant = self._merchant(merchant_id)
        if user_id == merchant.owner_user_id:
            raise Conflict("the owner cannot be removed: transfer ownership first")
        if actor != user_id:
            self._require_manager(merchant, actor)
        member = self._member(merchant, user_id)
        self._teams.remove_member(merchant.id, user_id)
        self._record(actor, "team.member_removed", merchant.id, user=user_id, role=member.role.value, via=via)
        self.take_back(merchant.id, user_id, actor=f"user:{actor}", reason="member_removed")

    def transfer_ownership(self, merchant_id: str, to_user_id: str, *, actor: str) -> Merchant:
        """The owner hands the merchant to a member; the old owner stays as an admin.

        The merchant is written first and only over the version read (``MerchantChanged``, 409, if another write
        came first, and nothing changed): a hand-over never writes back a close or a reclaim's hold that landed
        meanwhile (review11 R11-3)."""
        merchant, now = self._merchant(merchant_id), self._clock.now()
        if actor != merchant.owner_user_id:
            raise Forbidden("only the owner hands ownership over")
        check_merchant_open(merchant)
        successor = self._member(merchant, to_user_id)
        merchant.owner_user_id, merchant.updated_at = successor.user_id, now
        self._merchants.update(merchant)
        self._teams.remove_member(merchant.id, successor.user_id)
        self._teams.add_member(
            Member(merchant_id=merchant.id, user_id=actor, role=TeamRole.ADMIN, added_at=now, added_by=actor)
        )
        self._record(actor, "team.ownership_transferred", merchant.id, to=successor.user_id)
        return merchant

    def take_back(self, merchant_id: str, user_id: str, *, actor: str, reason: str) -> None:
        """Take back what ``user_id`` set up for the merchant: its API keys revoked (they may no longer mint them),
        its webhook endpoints disabled (its events stop going where they chose; endpoints made before migration 0043
        record no creator and stay: the owner reviews them). ``actor`` is the audit's whole name (``user:<id>``,
        ``ops:<login>``). A removal, a demotion below admin and ``UserAdmin.set_role`` away from merchant (outside
        review R12) take back alike."""
        merchant = self._merchant(merchant_id)
        keys = self._api_keys.created_by(merchant.id, user_id)
        now = self._clock.now()
        revoke_keys(self._api_keys, self._audit, keys, merchant_id=merchant.id, actor=actor, reason=reason, now=now)
        disable_endpoints(
            self._webhook_storage(),
            self._audit,
            merchant.id,
            lambda endpoint: endpoint.created_by == user_id,
            actor=actor,
            details={"merchant": merchant.id, "creator": user_id, "reason": reason},
            now=self._clock.now,
        )

    # --- helpers --------------------------------------------------------------------------------------------------

    def _merchant(self, merchant_id: str) -> Merchant:
        merchant = self._merchants.get(merchant_id)
        if merchant is None:
            raise NotFound(f"no merchant {merchant_id}")
        return merchant

    def _user(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user

    def _member(self, merchant: Merchant, user_id: str) -> Member:
        member = self._teams.member(merchant.id, user_id)
        if member is None:
            raise NotFound(f"{user_id} is not a member of {merchant.id}")
        return member

    def _require_manager(self, merchant: Merchant, actor: str) -> None:
        if self.role_of(merchant, actor) not in _MANAGERS:
            raise Forbidden("only the owner or an admin manages the team")

    def _record(self, actor: str, action: str, merchant_id: str, **details: str) -> None:
        kept = {k: v for k, v in details.items() if v}
        event = AuditEvent(f"user:{actor}", action, f"merchant:{merchant_id}", self._clock.now(), kept)
        self._audit.append(event)
