"""``cryptopay db``: apply, inspect and roll back the database migrations (SQLite or PostgreSQL).

The database is ``--url``, else ``$CRYPTOPAY_DATABASE_URL``, else the SQLite file under the data directory.
``upgrade`` to the newest revision also seals the personal data an older version stored in the clear (with the
deployment's keys: ``CRYPTOPAY_VAULT_KEKS`` and ``CRYPTOPAY_PII_LOOKUP_KEY``).
``upgrade`` and ``downgrade`` are recorded in the migrated database's audit chain (``db.upgraded``,
``db.downgraded``: the revisions before and after) by the OS operator running them (``ops:<login>``), as every other
shell command that changes something; a downgrade to ``base`` drops the audit log too, so nothing is left to record it.
"""

from __future__ import annotations

import os

import typer

from cryptopay_cli.context import operator
from cryptopay_cli.output import emit_json, errors_to_exit_codes, fail

app = typer.Typer(help="Database migrations: upgrade, current, downgrade, history.")

URL = typer.Option(None, "--url", help="Database URL (default: $CRYPTOPAY_DATABASE_URL, else the SQLite file).")
JSON = typer.Option(False, "--json", help="Print one JSON object.")


# SQLAlchemy and Alembic load when a command runs, never for `--help`.


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _report(url: str, revision: str | None, as_json: bool, verb: str, **extra: object) -> None:
    from cryptopay.adapters.sql import head as head_revision

    if as_json:
        emit_json({"url": _shown(url), "revision": revision, "head": head_revision(), **extra})
    else:
        typer.echo(f"{verb} {_shown(url)}: at revision {revision or 'base (empty)'} (newest: {head_revision()})")


@app.command()
def upgrade(
    url: str | None = URL, revision: str = typer.Option("head", help="Target revision."), as_json: bool = JSON
) -> None:
    """Apply the migrations up to REVISION (default: the newest); needs only the database. Then seal the personal
    data an older version left in the clear, with the deployment's settings; without them (a one-off job given
    only the database URL) the sealing is skipped with one line on stderr saying why: run `cryptopay privacy seal`."""
    from cryptopay.adapters.sql import resolve_url
    from cryptopay.adapters.sql import upgrade as upgrade_to

    resolved = resolve_url(url)
    with errors_to_exit_codes():
        now = upgrade_to(resolved, revision, actor=operator())
    sealed, skipped = _seal(resolved) if revision == "head" else (None, None)
    if as_json:
        _report(resolved, now, as_json, "upgraded", sealed=sealed, sealing_skipped=skipped)
    else:
        _report(resolved, now, as_json, "upgraded")
    if sealed is not None and not as_json and any(sealed.values()):
        typer.echo("sealed personal data: " + ", ".join(f"{n} {t}" for t, n in sealed.items() if n))
    if skipped is not None:
        typer.echo(f"sealing skipped: {skipped}; run `cryptopay privacy seal` with the deployment's settings", err=True)


def _seal(url: str) -> tuple[dict[str, int] | None, str | None]:
    """Seal what the database holds in the clear, with the deployment's keys (when it is the deployment's database:
    another ``--url`` is sealed by ``cryptopay privacy seal`` run with that database's settings). Returns what was
    sealed, or why nothing was: the deployment's settings are incomplete (the migration itself stands)."""
    from cryptopay.adapters.sql import resolve_url
    from cryptopay.core.errors import CryptopayError

    from cryptopay_cli.context import services

    try:
        svc = services()
        if resolve_url(svc.settings.database_url) != url:
            return None, None
        return dict(svc.seal_personal_data()), None
    except CryptopayError as refused:
        return None, refused.message


@app.command()
def current(url: str | None = URL, as_json: bool = JSON) -> None:
    """Print the revision the database is at."""
    from cryptopay.adapters.sql import current as current_revision
    from cryptopay.adapters.sql import resolve_url

    resolved = resolve_url(url)
    with errors_to_exit_codes():
        now = current_revision(resolved)
    _report(resolved, now, as_json, "database")


@app.command()
def downgrade(
    revision: str = typer.Argument(..., help="Target revision ('base' removes every table)."),
    url: str | None = URL,
    yes: bool = typer.Option(
        False, "--yes", help="Do not ask for confirmation (the data the rolled-back migrations hold is dropped)."
    ),
    destroy_all_data: bool = typer.Option(
        False, "--destroy-all-data", help="With CRYPTOPAY_ENV=production, allow 'base': drops every table."
    ),
    as_json: bool = JSON,
) -> None:
    """Roll the migrations back to REVISION, after a confirmation (``--yes`` skips it). In production ``base``
    (every table: the ledger, the audit log) is refused unless ``--destroy-all-data`` is given."""
    from cryptopay.adapters._env import deployment_is_production
    from cryptopay.adapters.sql import current as current_revision
    from cryptopay.adapters.sql import downgrade as downgrade_to
    from cryptopay.adapters.sql import resolve_url

    with errors_to_exit_codes():
        production = deployment_is_production(os.environ)
    if revision == "base" and production and not destroy_all_data:
        raise fail(
            "downgrading a production database to 'base' drops every table (ledger, audit log); "
            "refused without --destroy-all-data",
            2,
        )
    resolved = resolve_url(url)
    with errors_to_exit_codes():
        at = current_revision(resolved)
    if not yes and not typer.confirm(
        f"Roll {_shown(resolved)} back from {at or 'base (empty)'} to {revision}? "
        "The data of every rolled-back migration is dropped",
        default=False,
    ):
        raise fail("Nothing changed.", 1)
    with errors_to_exit_codes():
        now = downgrade_to(resolved, revision, actor=operator())
    _report(resolved, now, as_json, "downgraded")
    if now is None:
        typer.echo("not in the audit trail: the audit log was dropped with every other table", err=True)


@app.command()
def history(as_json: bool = JSON) -> None:
    """List the migration revisions the code knows, newest first (the targets of upgrade and downgrade)."""
    from cryptopay.adapters.sql.migrate import revisions

    found = revisions()
    if as_json:
        emit_json({"revisions": [{"revision": r, "message": m} for r, m in found]})
    else:
        for revision, message in found:
            typer.echo(f"{revision}  {message}")
