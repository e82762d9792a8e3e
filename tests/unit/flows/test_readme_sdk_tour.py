"""The README's "A short tour of the SDK", run as written: its two Python blocks, and the values its comments show."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"
# `expression  # Money('12855.40', 'KES') ...` or `expression  # {'KES': Decimal('0.00')}`: what the line evaluates to
SHOWN = re.compile(r"^(?P<expression>[^#\n]+?)\s+# (?P<shown>Money\(.*?\)|\{.*?\})", re.M)


def _blocks() -> list[str]:
    section = README.read_text().split("## A short tour of the SDK", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def _run(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own code
    return namespace


def test_the_core_tour_runs_and_shows_what_its_comments_say() -> None:
    """The quote converts at the bid to the Money shown, the ledger's transfer is idempotent on its key, and the
    trial balance is the one shown."""
    tour = _blocks()[0]
    namespace = _run(tour)
    shown = SHOWN.findall(tour)
    assert len(shown) == 2, shown  # the conversion and the trial balance
    for expression, value in shown:
        assert repr(eval(expression, namespace)) == value, expression  # the README's own code
    again = namespace["ledger"].transfer(
        "topup-1",
        debit="assets:mpesa_float:KES",
        credit="liabilities:user:u1:KES",
        amount=namespace["Money"].of("500", namespace["KES"]),
    )
    (entry,) = [e for e in namespace["ledger"].entries() if e.idempotency_key == "topup-1"]
    assert again.id == entry.id  # "the same key again returns the same entry", posted once
    assert namespace["ledger"].balance("liabilities:user:u1:KES").posted == namespace["Money"].of("500", "KES")


def test_the_composition_root_block_lists_invoices_on_the_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`build(Settings.from_env())` on a bare environment (SQLite in the data dir; no FX, M-Pesa or chains) lists a
    merchant's invoices: the database part alone is built."""
    for name in [n for n in os.environ if n.startswith("CRYPTOPAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    namespace = _run(_blocks()[1])
    try:
        assert namespace["services"].invoicing.list_invoices("mer_1") == []
        assert (tmp_path / ".cryptopay" / "cryptopay.db").exists()
    finally:
        namespace["services"].close()
