"""``cryptopay mpesa``: read Daraja payloads (callbacks, query answers, results, C2B, error envelopes).

``inspect --json`` prints one object with at least: kind, success, result_code, result_desc, receipt,
amount (whole shillings as a string), phone (``2547…``), occurred_at (ISO 8601, ``+03:00``) and reference.
Exit code 2 means the file is unreadable, not JSON, or not a Daraja payload.
"""

from __future__ import annotations

from pathlib import Path

import typer
from cryptopay.core.mobile_money import MpesaResult, parse_payload_text

from cryptopay_cli.output import emit_json, emit_table, errors_to_exit_codes, fail

app = typer.Typer(help="M-Pesa: inspect Daraja payloads in their normalised form.", no_args_is_help=True)

_FILE = typer.Argument(..., help="A JSON file holding one Daraja payload (use - for standard input).")
_JSON = typer.Option(False, "--json", help="Print one JSON object instead of a table.")


def _read(file: str) -> bytes:
    if file == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        return Path(file).read_bytes()
    except OSError as error:
        raise fail(f"cannot read {file}: {error.strerror or error}", 2) from None


@app.command("inspect")
def inspect(file: str = _FILE, as_json: bool = _JSON) -> None:
    """Print the normalised view of a Daraja payload in FILE."""
    data = _read(file)
    with errors_to_exit_codes():
        result: MpesaResult = parse_payload_text(data)
    view = result.to_json()
    if as_json:
        emit_json(view)
        return
    parameters = view.pop("parameters")
    rows = [{"field": key, "value": value} for key, value in view.items() if value is not None]
    rows += [{"field": f"param {key}", "value": value} for key, value in parameters.items()]
    emit_table(rows, ["field", "value"])
