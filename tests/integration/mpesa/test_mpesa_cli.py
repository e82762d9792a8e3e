"""``cryptopay mpesa inspect`` prints the normalised view of every Daraja payload; ``sandbox daraja`` serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

app = build_app()

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "daraja"
KEYS = {"kind", "success", "result_code", "result_desc", "receipt", "amount", "phone", "occurred_at", "reference"}
runner = CliRunner()


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_inspect_json_prints_the_required_keys_for_every_official_sample(fixture: str) -> None:
    """Each sample prints one JSON object with the required keys, amounts as strings and +03:00 times."""
    result = runner.invoke(app, ["mpesa", "inspect", str(FIXTURES / fixture), "--json"])
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert set(view) >= KEYS and isinstance(view["success"], bool)
    assert view["amount"] is None or (isinstance(view["amount"], str) and view["amount"].isdigit())
    assert view["occurred_at"] is None or view["occurred_at"].endswith("+03:00")
    assert view["phone"] is None or (len(view["phone"]) == 12 and view["phone"].startswith(("2547", "2541")))


def test_inspect_json_of_a_b2c_result() -> None:
    """The B2C success sample reads receipt, amount, the phone from ReceiverPartyPublicName and Nairobi time."""
    result = runner.invoke(app, ["mpesa", "inspect", str(FIXTURES / "b2c_result_success_official.json"), "--json"])
    view = json.loads(result.stdout)
    assert {k: view[k] for k in KEYS} == {
        "kind": "result",
        "success": True,
        "result_code": "0",
        "result_desc": "The service request is processed successfully.",
        "receipt": "SG632NMUAB",
        "amount": "10",
        "phone": "254705912645",
        "occurred_at": "2024-07-06T22:48:52+03:00",
        "reference": "53e3-4aa8-9fe0-8fb5e4092cdd3533373",
    }


def test_inspect_prints_a_table_for_people() -> None:
    """Without --json the view is a field/value table."""
    result = runner.invoke(app, ["mpesa", "inspect", str(FIXTURES / "stk_callback_cancelled_1032_official.json")])
    assert result.exit_code == 0 and "1032" in result.stdout and "Request cancelled by user" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"{not json", "not JSON"), (b'{"hello": 1}', "not a Daraja payload")],
)
def test_unreadable_input_exits_non_zero_with_a_clear_message(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    """A missing file, broken JSON or an unknown payload exits 2 with the reason on stderr."""
    path = tmp_path / "payload.json"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["mpesa", "inspect", str(path), "--json"])
    assert result.exit_code == 2 and message in result.stderr


def test_sandbox_daraja_serves_and_prints_its_url() -> None:
    """``cryptopay sandbox daraja`` listens on the port asked for and stops cleanly."""
    result = runner.invoke(app, ["sandbox", "daraja", "--port", "0", "--duration", "0.2"])
    assert result.exit_code == 0 and "listening on http://127.0.0.1:" in result.stdout
