"""``cryptopay audit``: check that no audit record was edited or deleted (the hash chain is intact).

Exit 0 when intact; exit 1 naming the first broken record otherwise. The chain alone is checked against itself:
someone who can write the database can re-hash a rewritten suffix and move the head. ``--anchor SEQ:HASH``
(repeatable) and ``--anchors-file`` (the worker's JSON log lines, by their ``audit_anchor`` field, or ``SEQ:HASH``
lines) name positions kept outside the database; the chain must still pass through each (R10-2). Words in a log
message are never taken for an anchor: any text can end up in a message (reader2 M-6). ``--ledger`` also
re-computes every batch of ledger entries the worker sealed into the chain (``ledger.sealed``) from the stored rows
and names the first batch whose entries were edited, deleted or inserted (R10-6).

``search`` finds records by subject or party id, actor, action prefix and dates (UTC days), newest first, at most
``--limit`` (1 to 500; ``--before SEQ`` pages on), and is itself audited (``audit.searched`` by ``ops:<login>``, a
phone or email searched for masked): review12 R12-6. A bad date or limit exits 2, nothing searched.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, fail

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


LEDGER = typer.Option(
    False, "--ledger", help="Also re-compute every sealed batch of ledger entries (the worker's ledger.seal)."
)


@app.command()
def verify(
    url: str | None = URL,
    anchor: list[str] | None = ANCHOR,
    anchors_file: Path | None = ANCHORS_FILE,
    ledger: bool = LEDGER,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Re-compute the audit log's hash chain (and check it passes every anchor given; with --ledger, that the sealed
    ledger entries are as sealed); exit non-zero naming the first broken record or batch."""
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
    from cryptopay.adapters.sql.ledger_seal import verify_ledger_seals

    engine = make_engine(url)
    try:
        with errors_to_exit_codes():
            problems = verify_audit_log(engine, anchors)
            seals = verify_ledger_seals(engine) if ledger else None
    finally:
        engine.dispose()
    if as_json:
        report: dict[str, object] = {
            "intact": not problems and not (seals and seals.problems),
            "anchors_checked": len({(a.seq, a.hash) for a in anchors}),
            "problems": [{"seq": p.seq, "record_id": p.record_id, "reason": p.reason} for p in problems],
        }
        if seals is not None:
            report["ledger"] = {
                "batches": seals.batches,
                "sealed": seals.sealed,
                "waiting": seals.waiting,
                "problems": [{"seq": p.seq, "batch": p.batch, "reason": p.reason} for p in seals.problems],
            }
        emit_json(report)
    else:
        if not problems:
            checked = len({(a.seq, a.hash) for a in anchors})
            typer.echo("audit log intact" + (f" (passes {checked} anchor{'s' * (checked != 1)})" if checked else ""))
        if seals is not None and not seals.problems:
            typer.echo(
                f"ledger seals intact: {seals.sealed} entries sealed in {seals.batches} batches, "
                f"{seals.waiting} waiting for the next seal"
            )
    if problems:
        raise fail(
            f"audit log broken at {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    if seals is not None and seals.problems:
        more = len(seals.problems) - 1
        raise fail(f"ledger seal broken at {seals.problems[0]}" + (f" (and {more} more)" if more else ""))


@app.command()
def search(
    subject: str = typer.Option("", "--subject", help="A subject (user:usr_1, payout:po_1) or a party id (usr_1)."),
    actor: str = typer.Option("", "--actor", help="Who acted, exactly (user:usr_9, ops:amina, api_key:key_1)."),
    action: str = typer.Option("", "--action", help="The action begins with this (kyc. for every KYC decision)."),
    since: str = typer.Option("", "--since", help="From this UTC day (YYYY-MM-DD) or ISO time with an offset."),
    until: str = typer.Option("", "--until", help="To this UTC day, included (YYYY-MM-DD), or an ISO time (excluded)."),
    limit: int = typer.Option(50, "--limit", help="At most this many records (1 to 500)."),
    before: int | None = typer.Option(None, "--before", help="Only records before this seq (the next page)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Search the audit log, newest first (audited as audit.searched by the operator)."""
    from cryptopay.core.audit_search import search_audit

    svc = services()
    with errors_to_exit_codes(), svc.uow() as uow:
        records = search_audit(
            uow.audit,
            officer=operator(),
            at=svc.clock.now(),
            subject=subject,
            actor=actor,
            action=action,
            since=since,
            until=until,
            before_seq=before,
            limit=limit,
            desk=True,  # the shell's operator holds the database: the whole log
        )
    rows = [
        {
            "seq": r.seq,
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "subject": r.subject,
            "details": dict(r.details),
        }
        for r in records
    ]
    older = records[-1].seq if len(records) == limit and records[-1].seq > 1 else None
    if as_json:
        emit_json({"records": rows, "before": older})
        return
    if not rows:
        typer.echo("no record matches")
        return
    shown = [
        {**row, "details": ", ".join(f"{k}={v}" for k, v in r.details)} for row, r in zip(rows, records, strict=True)
    ]
    emit_table(shown, ["seq", "at", "actor", "action", "subject", "details"])
    if older:
        typer.echo(f"older records: --before {older}")
