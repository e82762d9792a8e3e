"""``cryptopay audit``: check that no audit record was edited or deleted (the hash chain is intact).

Exit 0 when intact; exit 1 naming the first broken record otherwise. The chain alone is checked against itself:
someone who can write the database can re-hash a rewritten suffix and move the head. ``--anchor SEQ:HASH``
(repeatable) and ``--anchors-file`` (the worker's JSON log lines, by their ``audit_anchor`` field, or ``SEQ:HASH``
lines) name positions kept outside the database; the chain must still pass through each (R10-2). Words in a log
message are never taken for an anchor: any text can end up in a message (reader2 M-6).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cryptopay_cli.output import emit_json, errors_to_exit_codes, fail

app = typer.Typer(help="The append-only, hash-chained audit log.")

URL = typer.Option(None, "--url", help="Database URL (default: $CRYPTOPAY_DATABASE_URL, else the SQLite file).")
ANCHOR = typer.Option(
    None, "--anchor", help="SEQ:HASH of an audit head logged outside the database (repeatable): the chain must pass it."
)
ANCHORS_FILE = typer.Option(
    None,
    "--anchors-file",
    help="A file of logged anchors: the worker's JSON log lines (their audit_anchor field), or SEQ:HASH lines.",
    exists=True,
    dir_okay=False,
    readable=True,
)


@app.command()
def verify(
    url: str | None = URL,
    anchor: list[str] | None = ANCHOR,
    anchors_file: Path | None = ANCHORS_FILE,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Re-compute the audit log's hash chain (and check it passes every anchor given); exit non-zero naming the
    first broken record."""
    from cryptopay.core.audit import Anchor

    with errors_to_exit_codes():
        anchors = [Anchor.parse(text) for text in anchor or []]
    if anchors_file is not None:
        found = Anchor.found_in(anchors_file.read_text(encoding="utf-8", errors="replace"))
        if not found:
            raise fail(f"no audit anchor (a worker's JSON anchor line, or SEQ:HASH) in {anchors_file}", 2)
        anchors += found

    from cryptopay.adapters.sql import make_engine  # SQLAlchemy loads when the command runs, never for `--help`
    from cryptopay.adapters.sql.audit import verify_audit_log

    engine = make_engine(url)
    try:
        with errors_to_exit_codes():
            problems = verify_audit_log(engine, anchors)
    finally:
        engine.dispose()
    if as_json:
        emit_json(
            {
                "intact": not problems,
                "anchors_checked": len({(a.seq, a.hash) for a in anchors}),
                "problems": [{"seq": p.seq, "record_id": p.record_id, "reason": p.reason} for p in problems],
            }
        )
    elif not problems:
        checked = len({(a.seq, a.hash) for a in anchors})
        typer.echo("audit log intact" + (f" (passes {checked} anchor{'s' * (checked != 1)})" if checked else ""))
    if problems:
        raise fail(
            f"audit log broken at {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
