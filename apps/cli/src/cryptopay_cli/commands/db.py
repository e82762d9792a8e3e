"""``cryptopay db``: apply, inspect and roll back the database migrations (SQLite or PostgreSQL).

The database is ``--url``, else ``$CRYPTOPAY_DATABASE_URL``, else the SQLite file under the data directory.
``upgrade`` to the newest revision also seals the personal data an older version stored in the clear (with the
deployment's keys: ``CRYPTOPAY_VAULT_KEKS`` and ``CRYPTOPAY_PII_LOOKUP_KEY``).
"""

from __future__ import annotations

import typer

from cryptopay_cli.output import emit_json, errors_to_exit_codes

app = typer.Typer(help="Database migrations: upgrade, current, downgrade.")

URL = typer.Option(None, "--url", help="Database URL (default: $CRYPTOPAY_DATABASE_URL, else the SQLite file).")
JSON = typer.Option(False, "--json", help="Print one JSON object.")


# SQLAlchemy and Alembic load when a command runs, never for `--help`.


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _report(url: str, revision: str | None, as_json: bool, verb: str) -> None:
    from cryptopay.adapters.sql import head as head_revision

    if as_json:
        emit_json({"url": _shown(url), "revision": revision, "head": head_revision()})
    else:
        typer.echo(f"{verb} {_shown(url)}: at revision {revision or 'base (empty)'} (newest: {head_revision()})")


@app.command()
def upgrade(
    url: str | None = URL, revision: str = typer.Option("head", help="Target revision."), as_json: bool = JSON
) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    from cryptopay.adapters.sql import resolve_url
    from cryptopay.adapters.sql import upgrade as upgrade_to

    resolved = resolve_url(url)
    with errors_to_exit_codes():
        now = upgrade_to(resolved, revision)
        sealed = _seal(resolved) if revision == "head" else None
    _report(resolved, now, as_json, "upgraded")
    if sealed is not None and not as_json and any(sealed.values()):
        typer.echo("sealed personal data: " + ", ".join(f"{n} {t}" for t, n in sealed.items() if n))


def _seal(url: str) -> dict[str, int] | None:
    """Seal what the database holds in the clear, with the deployment's keys (when it is the deployment's database:
    another ``--url`` is sealed by ``cryptopay privacy seal`` run with that database's settings)."""
    from cryptopay.adapters.sql import resolve_url

    from cryptopay_cli.context import services

    svc = services()
    if resolve_url(svc.settings.database_url) != url:
        return None
    return dict(svc.seal_personal_data())


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
    as_json: bool = JSON,
) -> None:
    """Roll the migrations back to REVISION."""
    from cryptopay.adapters.sql import downgrade as downgrade_to
    from cryptopay.adapters.sql import resolve_url

    resolved = resolve_url(url)
    with errors_to_exit_codes():
        now = downgrade_to(resolved, revision)
    _report(resolved, now, as_json, "downgraded")
