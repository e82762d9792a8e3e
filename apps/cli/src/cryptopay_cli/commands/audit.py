"""``cryptopay audit``: check that no audit record was edited or deleted (the hash chain is intact).

Exit 0 when intact; exit 1 naming the first broken record otherwise.
"""

from __future__ import annotations

import typer

from cryptopay_cli.output import emit_json, errors_to_exit_codes, fail

app = typer.Typer(help="The append-only, hash-chained audit log.")

URL = typer.Option(None, "--url", help="Database URL (default: $CRYPTOPAY_DATABASE_URL, else the SQLite file).")


@app.command()
def verify(url: str | None = URL, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Re-compute the audit log's hash chain; exit non-zero naming the first broken record."""
    from cryptopay.adapters.sql import make_engine  # SQLAlchemy loads when the command runs, never for `--help`
    from cryptopay.adapters.sql.audit import verify_audit_log

    engine = make_engine(url)
    try:
        with errors_to_exit_codes():
            problems = verify_audit_log(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json(
            {
                "intact": not problems,
                "problems": [{"seq": p.seq, "record_id": p.record_id, "reason": p.reason} for p in problems],
            }
        )
    elif not problems:
        typer.echo("audit log intact")
    if problems:
        raise fail(
            f"audit log broken at {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
