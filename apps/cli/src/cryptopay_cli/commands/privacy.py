"""``cryptopay privacy``: Kenya's Data Protection Act on the server: a data subject's export, sealing personal data
at rest (and re-sealing it after a key rotation).

``export SUBJECT`` (a user id, an email or a phone) prints everything stored about the person as one JSON document;
the lookup and the export are audited with the operator's login (``ops:<login>``) and the reason given.

``seal`` rewrites the rows still holding personal data in the clear; ``seal --all`` re-seals every row under the
current key-encryption key and recomputes the keyed hashes (after adding a KEK or changing
``CRYPTOPAY_PII_LOOKUP_KEY``: see ``cryptopay.adapters.sql.sealing``).
"""

from __future__ import annotations

import typer

from cryptopay_cli.context import operator, services
from cryptopay_cli.output import emit_json, errors_to_exit_codes

app = typer.Typer(help="Data protection: a data subject's export, sealing personal data.", no_args_is_help=True)


@app.command()
def seal(
    all_rows: bool = typer.Option(
        False, "--all", help="Re-seal every row (after a key rotation), not only clear ones."
    ),
) -> None:
    """Seal personal data stored in the clear; prints the rows rewritten per table as JSON."""
    with errors_to_exit_codes():
        emit_json(dict(services().seal_personal_data(all_rows=all_rows)))


@app.command()
def export(
    subject: str = typer.Argument(..., help="The data subject: a user id, an email or a phone (2547...)."),
    reason: str = typer.Option(..., "--reason", help="Why the export is made (kept in the audit record)."),
) -> None:
    """Print a data subject's export (JSON); audited (exit 3 if there is no such person)."""
    with errors_to_exit_codes():
        exports = services().subject_exports
        user = exports.find(subject, actor=operator())
        emit_json(exports.export(user.id, actor=operator(), reason=reason))
