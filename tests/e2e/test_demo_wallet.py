"""``cryptopay demo wallet`` end to end over real processes (sandbox with anvil and the simulators, the REST API and
the worker on SQLite): sign-up, buy, send, a paybill top-up (C2B), bill, sell, and a remittance from abroad paid on anvil and paid out by
M-Pesa B2C; the books balance and the wallet reconciliation agrees."""

from pathlib import Path

import pytest
from cryptopay_cli.demo_wallet import WalletDemo

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_the_wallet_demo_pays_a_remittance_out_and_balances_the_books(shared_sandbox: Path, demo_mnemonic: str) -> None:
    """The summary says every product worked, the remittance was paid out, and the trial balance is zero."""
    lines: list[str] = []
    summary = WalletDemo(shared_sandbox / "wallet", lines.append, timeout=300, mnemonic=demo_mnemonic).run_wallet()
    assert (summary["wallet"], summary["p2p"], summary["bill"]) == ("ok", "delivered", "paid")
    assert summary["remittance"] == "paid_out"
    assert summary["paybill_kes"] == "1000.00"  # Baraka's top-up paid to the paybill from the SIM menu (C2B)
    assert summary["trial_balance_zero"] is True and summary["wallets_reconciled"] is True
    assert any("SMS to Chebet: You have received KES 3,000.00 from Grace Otieno (GB)" in line for line in lines)
    assert any("(CHEBET KIPROP), receipt" in line for line in lines)  # who the sandbox's B2C result says it paid
