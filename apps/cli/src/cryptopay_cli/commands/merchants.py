"""``cryptopay merchants``: create a merchant with its store settings, list merchants, set a store's speed policy.

``create`` needs the owner to be a registered user with the merchant role (exit 3 if no such user, 5 if the user
is not a merchant user, 4 if the user already has a merchant). Every input is checked before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
import typer
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.identity.email_proof import require_proven_email
from cryptopay.core.identity.merchants import Merchants, check_settlement
from cryptopay.core.identity.model import Merchant, TeamRole
from cryptopay.core.listings import each
from cryptopay.core.money import KES, Money, to_decimal
from cryptopay.core.payments import StoreSettings
from cryptopay.core.payments.charges import PayoutCharging, set_payout_charges
from cryptopay.core.payments.invoicing import refuse_unpriced_rails
from cryptopay.core.payments.model import check_tolerance
from cryptopay.core.payments.speed import parse_tier, set_speed_policy
from cryptopay.core.rails import Finality, Rail, rail_for
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes
from cryptopay_cli.views import emit_fields, flat, merchant_view

if TYPE_CHECKING:  # imported when a command runs: keeps `--help` light
    from cryptopay.adapters.bootstrap import Services

app = typer.Typer(
    help="Merchants: create one with its store settings; list them; their teams (members, invite, remove, set-role);"
    " close one (its retention period starts).",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
_TIERS = typer.Option(
    None,
    "--tier",
    help="A speed-policy tier RAIL[:UP_TO_KES]=CONFIRMATIONS|safe|finalized (repeat it), e.g. "
    "usdt-ethereum:10000=1 and usdt-ethereum=finalized; see the README's Speed policy for each setting's risk.",
)
_COLUMNS = ["id", "name", "settlement", "method", "destination", "minimum", "rails"]


def _rails(svc: Services, keys: str | None) -> list[Rail]:
    """The rails named by comma-separated keys such as ``usdt-tron`` (default: every rail the deployment has)."""
    deployed: dict[str, Rail] = dict(svc.rails or {})
    wanted = [k.strip().lower() for k in keys.split(",") if k.strip()] if keys is not None else list(deployed)
    if not wanted:
        raise InvalidInput("name at least one rail with --rails, e.g. --rails usdt-tron")
    return [deployed.get(key) or _rail(key) for key in dict.fromkeys(wanted)]


def _rail(key: str) -> Rail:
    asset, _, network = key.partition("-")
    if not asset or not network:
        raise InvalidInput(f"{key!r} is not a rail key such as usdt-tron (asset-network)")
    return rail_for(network, asset.upper())


def _percent(value: str, what: str, *, below: Decimal) -> Decimal:
    result = to_decimal(value)
    if not Decimal(0) <= result < below:
        raise InvalidInput(f"{what} must be a percent from 0 to below {below}, got {result}")
    return result


def _store(svc: Services, merchant_id: str, rails: Sequence[Rail], fee: Decimal, tolerance: Decimal) -> StoreSettings:
    since = svc.clock.now() - timedelta(minutes=1)  # in force for an invoice paid the moment the store exists
    store = StoreSettings(merchant_id=merchant_id, rails=rails, tolerance_percent=tolerance)
    return store.with_merchant_fee({rail.asset for rail in rails}, since, fee)  # version 1 of each rail's asset


def _create(svc: Services, name: str, owner: str, profile: SettlementProfile, store: StoreSettings) -> Merchant:
    user = svc.users.by_email(owner.strip())
    if user is None:
        raise NotFound(f"no user with the email {owner.strip()}: the owner registers first, as a merchant user")
    require_proven_email(user)  # a merchant sets a payout destination: its owner's email must be proven first
    # Merchants live in the identity repository, outside the payments unit of work: every check that can refuse
    # (owner, role, one merchant per owner, name, store settings) runs before the first write.
    merchants = Merchants(
        merchants=svc.merchants,
        clock=svc.clock,
        ids=svc.ids,
        users=svc.users,
        audit=svc.audit,
        notifier=svc.notifier,
    )
    who = operator()
    merchant = merchants.create(user, business_name=name, settlement=profile, actor=who)
    with svc.uow() as uow:
        uow.stores.put(attrs.evolve(store, merchant_id=merchant.id))
    details = {
        "rails": ",".join(sorted(rail.key for rail in store.rails)),
        "fees": ";".join(f"{f.product.value}:{f.percent}%" for f in store.fees),
        "tolerance_percent": str(store.tolerance_percent),
        "speed_tiers": str(len(store.speed)),
    }
    svc.audit.append(AuditEvent(who, "store.settings_created", f"merchant:{merchant.id}", svc.clock.now(), details))
    return merchant


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="The business name (2 to 120 characters)."),
    owner: str = typer.Option(..., "--owner", help="The email of the merchant user who owns it."),
    settlement: SettlementSchedule = typer.Option(..., "--settlement", help="When the merchant is paid out."),
    method: SettlementMethod = typer.Option(..., "--method", help="How the merchant is paid out."),
    destination: str = typer.Option(
        ..., "--destination", help="Phone 07..., till number, '<paybill>#<account>' or '<bank code>:<account>'."
    ),
    minimum: str | None = typer.Option(None, "--minimum", help="The smallest payout, in KES."),
    rails: str | None = typer.Option(None, "--rails", help="Comma-separated rails, e.g. usdt-ethereum,usdt-tron."),
    fee_percent: str = typer.Option("1", "--fee-percent", help="The merchant fee, in percent of each payment."),
    tolerance: str = typer.Option("0", "--tolerance", help="Underpayment tolerance, in percent (0 to 5)."),
    tiers: list[str] | None = _TIERS,
    as_json: bool = _JSON,
) -> None:
    """Create a merchant and its store settings (rails, fee, tolerance, speed policy); prints the merchant."""
    svc = services()
    with errors_to_exit_codes():
        profile = check_settlement(
            SettlementProfile(settlement, method, destination, Money.of(minimum, KES) if minimum else None)
        )
        fee = _percent(fee_percent, "--fee-percent", below=Decimal(100))
        store = _store(svc, "new", _rails(svc, rails), fee, check_tolerance(to_decimal(tolerance), field="--tolerance"))
        store = attrs.evolve(store, speed=[parse_tier(t) for t in tiers or []])
        refuse_unpriced_rails(store.rails, svc.pricer)  # a rail nothing prices in KES would strand its payments
        merchant = _create(svc, name, owner, profile, store)
        view = merchant_view(merchant, svc.listings.store(merchant.id))
    if as_json:
        emit_json(view)
    else:
        emit_fields(view)


def _merchant_id(row: tuple[Merchant, StoreSettings | None]) -> str:
    return row[0].id


@app.command("list")
def list_merchants(as_json: bool = _JSON) -> None:
    """Every merchant with its settlement profile and accepted rails."""
    svc = services()
    with errors_to_exit_codes():
        rows = each(lambda after, limit: svc.listings.merchants(after=after, limit=limit), _merchant_id)
        views = [merchant_view(merchant, store) for merchant, store in rows]
    if as_json:
        emit_json({"merchants": views})
    else:
        emit_table([flat(v) for v in views], _COLUMNS)


# --- teams -----------------------------------------------------------------------------------------------------------

_MERCHANT_ARG = typer.Argument(..., help="The merchant's id.")
_AS = typer.Option(None, "--as", help="The email of the owner or admin acting (default: the merchant's owner).")


def _acting(svc: Services, merchant_id: str, email: str | None) -> str:
    """The user id the CLI acts as: the named team manager, or the merchant's owner."""
    if email is not None:
        user = svc.users.by_email(email.strip())
        if user is None:
            raise NotFound(f"no user with the email {email.strip()}")
        return user.id
    merchant = svc.merchants.get(merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}")
    return merchant.owner_user_id


def _member_user(svc: Services, email: str) -> str:
    user = svc.users.by_email(email.strip())
    if user is None:
        raise NotFound(f"no user with the email {email.strip()}")
    return user.id


@app.command("members")
def members(merchant_id: str = _MERCHANT_ARG, as_json: bool = _JSON) -> None:
    """The merchant's team: the owner first, then each member with its role."""
    svc = services()
    with errors_to_exit_codes():
        rows = [
            {"user_id": m.user_id, "email": _email_of(svc, m.user_id), "role": m.role.value, "added_at": m.added_at}
            for m in svc.teams.members(merchant_id)
        ]
    if as_json:
        emit_json({"members": rows})
    else:
        emit_table(rows, ["user_id", "email", "role", "added_at"])


def _email_of(svc: Services, user_id: str) -> str:
    user = svc.users.get(user_id)
    return (user.email or "") if user else ""


@app.command("invite")
def invite(
    merchant_id: str = _MERCHANT_ARG,
    email: str = typer.Option(..., "--email", help="Whom to invite; the token is emailed there."),
    role: TeamRole = typer.Option(..., "--role", help="admin, finance or staff."),
    acting: str | None = _AS,
    as_json: bool = _JSON,
) -> None:
    """Invite someone to the merchant's team (audited, with the operator); the token goes by email only."""
    svc = services()
    with errors_to_exit_codes():
        actor = _acting(svc, merchant_id, acting)
        invitation, _ = svc.teams.invite(merchant_id, actor=actor, email=email, role=role, via=operator())
    view = {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role.value,
        "expires_at": invitation.expires_at,
    }
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"invited {invitation.email} as {invitation.role.value} until {invitation.expires_at.isoformat()}")


@app.command("remove")
def remove(
    merchant_id: str = _MERCHANT_ARG,
    email: str = typer.Option(..., "--email", help="The member to remove (never the owner)."),
    acting: str | None = _AS,
) -> None:
    """Remove a member from the merchant's team (audited); the owner cannot be removed (exit 4)."""
    svc = services()
    with errors_to_exit_codes():
        svc.teams.remove(merchant_id, _member_user(svc, email), actor=_acting(svc, merchant_id, acting), via=operator())
    typer.echo(f"removed {email.strip()} from {merchant_id}")


@app.command("set-role")
def set_role(
    merchant_id: str = _MERCHANT_ARG,
    email: str = typer.Option(..., "--email", help="The member whose role changes."),
    role: TeamRole = typer.Option(..., "--role", help="admin, finance or staff."),
    acting: str | None = _AS,
) -> None:
    """Change a member's role (audited); the owner's role never changes (exit 4)."""
    svc = services()
    with errors_to_exit_codes():
        member = svc.teams.set_role(
            merchant_id, _member_user(svc, email), role, actor=_acting(svc, merchant_id, acting), via=operator()
        )
    typer.echo(f"{email.strip()} is now {member.role.value} of {merchant_id}")


@app.command("speed")
def speed(
    merchant_id: str = typer.Argument(..., help="The merchant whose store's speed policy is set."),
    tiers: list[str] | None = _TIERS,
    clear: bool = typer.Option(False, "--clear", help="Remove every tier: each rail waits the deployment's depth."),
    as_json: bool = _JSON,
) -> None:
    """Set a store's speed policy (replacing the old one); open invoices keep what they were made with. Audited."""
    svc = services()
    with errors_to_exit_codes():
        if not tiers and not clear:
            raise InvalidInput("give at least one --tier, or --clear")
        policy = [] if clear else [parse_tier(t) for t in tiers or []]
        store = set_speed_policy(svc.uow, merchant_id, policy, actor=operator(), now=svc.clock.now())
    rows = [
        {"rail": t.rail, "up_to_kes": t.up_to_kes, "confirmations": t.confirmations, "finality": _value(t.finality)}
        for t in store.speed
    ]
    if as_json:
        emit_json({"merchant_id": merchant_id, "speed_policy": rows})
    else:
        emit_table(rows, ["rail", "up_to_kes", "confirmations", "finality"])


@app.command("payout-charges")
def payout_charges(
    merchant_id: str = typer.Argument(..., help="The merchant whose payout charge is set."),
    charging: PayoutCharging = typer.Option(
        ...,
        "--charging",
        help="none: the platform bears M-Pesa's charge; mpesa_b2c: M-Pesa's B2C tariff is passed on, band by band, "
        "on top of each payout part (custom is set through the SDK only).",
    ),
    as_json: bool = _JSON,
) -> None:
    """Set who bears M-Pesa's charge for the merchant's payouts, from now (a new version; audited). Prints the bands
    charged; `settlements run --dry-run` shows each part's charge before a settlement is made. Exit 2 for custom,
    3 for a merchant without a store."""
    svc = services()
    with errors_to_exit_codes():
        now = svc.clock.now()
        store = set_payout_charges(svc.uow, merchant_id, charging, actor=operator(), now=now)
    schedule = store.payout_charges(now)
    assert schedule is not None  # just set, in force from now
    bands = [{"from_kes": str(t.from_amount.amount), "charge_kes": str(t.fixed.amount)} for t in schedule.tiers]
    if as_json:
        emit_json({"merchant_id": merchant_id, "charging": charging.value, "schedule_id": schedule.id, "bands": bands})
    else:
        typer.echo(f"{merchant_id}: payout charge {charging.value} from {now.isoformat()} ({schedule.id})")
        if bands:
            emit_table(bands, ["from_kes", "charge_kes"])


def _value(finality: Finality | None) -> str | None:
    return finality.value if finality is not None else None


@app.command("close")
def close(
    merchant_id: str = _MERCHANT_ARG,
    reason: str = typer.Option(..., "--reason", help="Why the relationship ends (kept in the audit record)."),
    as_json: bool = _JSON,
) -> None:
    """End a merchant's relationship (audited): the retention rules for its people's personal data and its KYB
    particulars count from now; its API keys are revoked and its unpaid new invoices cancelled (exit 3 for an
    unknown merchant, 2 without a reason). Its records stay. Run again, it keeps the date and winds down the rest."""
    svc = services()
    with errors_to_exit_codes():
        done = svc.closing.close(merchant_id, actor=operator(), reason=reason)
    merchant = done.merchant
    assert merchant.closed_at is not None
    if as_json:
        emit_json(
            {
                "id": merchant.id,
                "closed_at": merchant.closed_at,
                "keys_revoked": done.keys_revoked,
                "invoices_cancelled": len(done.invoices_cancelled),
                "invoices_kept": list(done.invoices_kept),
            }
        )
    else:
        typer.echo(
            f"closed {merchant.id} on {merchant.closed_at.isoformat()}: {done.keys_revoked} API key(s) revoked, "
            f"{len(done.invoices_cancelled)} unpaid invoice(s) cancelled"
            + (f"; partly paid, left to refund: {', '.join(done.invoices_kept)}" if done.invoices_kept else "")
        )
