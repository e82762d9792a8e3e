"""``cryptopay users``: look an account up, appoint an admin and change roles, as an operator on the server (audited).

``show`` finds an account by id, email or phone through the data-protection lookup the console uses (audited
``privacy.subject_looked_up``) and prints when it was created, proved its email and was disabled (``disabled_at``:
its email released by the address's owner, or its profile erased; null for a usable account, or one disabled before
migration 0072 whose audit log did not say when).

``create-admin`` reads the password from a hidden prompt (or standard input with ``--password-stdin``), never
from the command line. The new admin must enrol a second factor at its first login. ``set-role`` applies to open
sessions at once: every request reloads the role.

``--name`` (``create-admin``, ``set-role``) and ``set-name`` give a staff account its person's first and last name: a
compliance officer's is the reporting person of the STRs they export, which are refused without one (R14-5).
"""

from __future__ import annotations

import sys
from datetime import datetime

import typer
from cryptopay.core.identity import Role, SessionStates, UserAdmin
from cryptopay.core.identity.admin import staff_name
from cryptopay.core.identity.model import User

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, errors_to_exit_codes

app = typer.Typer(
    help="Users: show an account, create an admin, change a role or name (audited).", no_args_is_help=True
)


NAME = typer.Option(
    None, "--name", help="The person's first and last name (a compliance officer's names the STRs they export)."
)


def _admin() -> UserAdmin:
    svc = services()
    # with Redis, forgetting the user bumps the shared epoch: every API process reloads its role at once
    sessions = SessionStates(svc.users, svc.refresh_tokens, svc.clock, epoch=svc.session_epoch)
    return UserAdmin(
        svc.users,
        svc.password_hasher,
        svc.audit,
        svc.clock,
        svc.ids,
        sessions,
        holds_wallet=svc.holds_wallet,
        teams=lambda: svc.teams,  # a merchant's owner or member is never made staff
    )


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _show(user: User) -> None:
    emit_json(
        {
            "id": user.id,
            "email": user.email,
            "role": user.role.value,
            "name": user.display_name,
            "created_at": user.created_at.isoformat(),
            "email_verified_at": _at(user.email_verified_at),
            "disabled_at": _at(user.disabled_at),
        }
    )


@app.command("show")
def show(who: str = typer.Argument(..., help="The account's id, email address or phone number.")) -> None:
    """One account as JSON, with ``disabled_at`` (exit 3 if there is no such account; the lookup is audited)."""
    with errors_to_exit_codes():
        _show(services().subject_exports.find(who.strip(), actor=operator()))


@app.command("create-admin")
def create_admin(
    email: str = typer.Option(..., "--email", help="The admin's email address."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    name: str | None = NAME,
) -> None:
    """Create an admin account; prints it as JSON (exit 4 if the email is taken, 2 for a weak password or a name
    without a first and last name)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with errors_to_exit_codes():
        _show(_admin().create_admin(email, password, actor=operator(), display_name=name))


@app.command("set-role")
def set_role(
    email: str = typer.Argument(..., help="The account's email address."),
    role: Role = typer.Argument(..., help="personal, merchant, admin or compliance."),
    name: str | None = NAME,
) -> None:
    """Give an account another role; prints it as JSON (exit 3 if there is no such account; exit 4 for an account
    holding a personal wallet, or for admin/compliance given to a merchant's owner or team member). Leaving merchant
    revokes the API keys the account created and disables the webhook endpoints it added (audited). ``--name``: the
    account's name as well (``set-name``); a name without a first and last name exits 2 before the role changes."""
    admin = _admin()
    with errors_to_exit_codes():
        if name is not None:
            staff_name(name)  # refused (exit 2) before anything changes
        user = admin.set_role(email, role, actor=operator())
        if name is not None:
            user = admin.set_name(email, name, actor=operator())
        _show(user)


@app.command("set-name")
def set_name(
    email: str = typer.Argument(..., help="The account's email address."),
    name: str = typer.Argument(..., help='The person\'s first and last name, e.g. "Ann Njeri Wambui".'),
) -> None:
    """Give an account its person's name (first and last: the last word is the last name); prints it as JSON (exit 3
    if there is no such account, 2 for a name of one word). A compliance officer's name is the reporting person of
    the STRs they export (audited ``user.name_set``)."""
    with errors_to_exit_codes():
        _show(_admin().set_name(email, name, actor=operator()))
