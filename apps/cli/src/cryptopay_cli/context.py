"""Where the commands get their services: the composition root's ``Services``, or the ones a test installed.

Commands never wire adapters themselves. ``services()`` builds ``cryptopay.adapters.bootstrap.build()`` from the
environment on the first call of an invocation (each part on first use) unless ``use_services(services)``
installed other ``Services``. ``begin_invocation()`` (the CLI's root callback) starts every command afresh.
"""

from __future__ import annotations

import os
import pwd
import re
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the root (and what it imports) loads when a command runs, not when the CLI starts
    from cryptopay.adapters.bootstrap import Services
    from cryptopay.core.identity import Role

__all__ = ["acting_as", "begin_invocation", "operator", "os_login", "services", "staff_id", "use_services"]

_installed: Services | None = None
_built: Services | None = None


def services() -> Services:
    """The services the commands use: the installed ones, else this invocation's, built from the environment."""
    global _built
    if _installed is not None:
        return _installed
    if _built is None:
        from cryptopay.adapters.bootstrap import build

        _built = build()
    return _built


def begin_invocation() -> None:
    """Forget (and close) the last invocation's services: each command reads the environment it runs in."""
    global _built
    _on_behalf_recorded.clear()
    previous, _built = _built, None
    if previous is not None:
        previous.close()


def use_services(installed: Services | None) -> Services | None:
    """Install ``installed`` (``None`` restores the environment's); returns what was installed before."""
    global _installed
    previous, _installed = _installed, installed
    return previous


_OPERATOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


_on_behalf_recorded: set[str] = set()  # the ``--actor`` names this invocation has already recorded


def os_login() -> str:
    """The operating system's name for the user running the shell: the account of the process's real uid, from the
    password database (``pwd``), not ``$LOGNAME``/``$USER`` (``getpass.getuser()`` reads those first, so anyone could
    type a colleague's name there); ``uid<N>`` for a uid with no account (some containers)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def operator(actor: str | None = None) -> str:
    """Who runs the command, as the audit log names an operator: always ``ops:<login>``, the OS account that runs it.

    ``--actor`` is not who did it (R10-5: anyone can type a colleague's name): the shell's real operator stays the actor
    of every record, and ``--actor`` is kept as a separate ``ops.on_behalf_of`` record (actor ``ops:<login>``, the
    command and the name given), once per invocation. ``--actor`` names an operator only (``amina`` or
    ``ops:amina``): the system, a customer (``user:...``) or an odd name is refused with exit 2.

    >>> operator() == f"ops:{os_login()}"
    True
    """
    me = f"ops:{os_login()}"
    if actor is None:
        return me
    name = actor.removeprefix("ops:")
    if not _OPERATOR_NAME.fullmatch(name):
        typer.echo("error: --actor names an operator: ops:<name> (letters, digits, . _ @ + -)", err=True)
        raise typer.Exit(2)
    if f"ops:{name}" != me and name not in _on_behalf_recorded:
        from cryptopay.core.audit import AuditEvent

        svc = services()
        details = {"command": _command_path(), "on_behalf_of": f"ops:{name}"}
        svc.audit.append(AuditEvent(me, "ops.on_behalf_of", f"ops:{name}", svc.clock.now(), details))
        _on_behalf_recorded.add(name)
    return me


def _command_path() -> str:
    """The running command (``cryptopay payouts retry``), or ``cryptopay`` outside a command."""
    from typer._click.globals import get_current_context  # Typer carries its own Click (0.28): its context stack

    context = get_current_context(silent=True)
    return context.command_path if context is not None else "cryptopay"


def staff_id(email: str, roles: frozenset[Role]) -> str:
    """The user id of the staff account ``email`` names, whose role is one of ``roles`` (exit 3 for no account, 5 for
    one without such a role)."""
    from cryptopay.core.errors import NotFound, Refused

    user = services().users.by_email(email.strip().lower())
    if user is None:
        raise NotFound(f"no account with the email {email.strip()}")
    if user.role not in roles:
        raise Refused(f"{user.email} is not {' or '.join(sorted(r.value for r in roles))} staff")
    return user.id


def audit_read(action: str, subject: str, **details: str) -> None:
    """An operator's read of people's data (names, phone numbers, addresses, amounts), audited as the console's and the
    API's staff reads are (``compliance.alerts_viewed``, ``remittance.viewed``, ``payouts.viewed``, ...), by the OS
    operator (``ops:<login>``): the shell's reads name no officer.

    Example: ``audit_read("remittance.viewed", f"remittance:{order.id}")`` before printing the order."""
    from cryptopay.core.audit import AuditEvent

    svc = services()
    svc.audit.append(AuditEvent(operator(), action, subject, svc.clock.now(), details))


def acting_as(email: str, command: str, roles: frozenset[Role]) -> str:
    """``staff_id``, having recorded who at the shell acts as that staff member (review7 F11).

    The shell cannot prove which officer is at the keyboard: any operator can type any officer's email. So every
    command that names one is audited first, by the OS operator (``compliance.shell_as_officer``, actor
    ``ops:<login>``, the command and the officer), before it reads or decides anything: the trail shows who ran it
    in the officer's name, whatever the decision's own record says."""
    from cryptopay.core.audit import AuditEvent

    officer_id, svc = staff_id(email, roles), services()
    details = {"command": command, "officer": officer_id}
    svc.audit.append(
        AuditEvent(operator(), "compliance.shell_as_officer", f"user:{officer_id}", svc.clock.now(), details)
    )
    return officer_id
