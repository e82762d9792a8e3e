"""The CLI's refusals: operators see the ledger account an overdraft was refused on, which API callers never do."""

from __future__ import annotations

import pytest
import typer
from cryptopay.core.errors import InsufficientFunds
from cryptopay_cli.output import errors_to_exit_codes


def test_an_overdraft_names_its_account_to_the_operator(capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 5 (refused) with the customer's text and, for the operator, the account's code."""
    refusal = InsufficientFunds(
        "not enough KES: the available balance is 1.00 KES; this needs 2.00 KES", account="f:KES"
    )
    with pytest.raises(typer.Exit) as exited, errors_to_exit_codes():
        raise refusal
    assert exited.value.exit_code == 5
    assert capsys.readouterr().err.strip() == f"error: {refusal.message} (account f:KES)"
