"""Every reconciliation check, by area: ``credits``, ``payouts`` and ``books`` compare our own records; ``mpesa``
and ``chains`` compare them with the outside world; ``treasury`` checks the sweeps and the float B2C results report;
``wallets`` checks the personal wallets' accounts against their buys (M-Pesa collections) and transfers (claims);
``deposits`` their crypto deposits against the ledger and the suspense account of held ones; ``withdrawals`` their
crypto withdrawals' holds and entries against their states, and the in-flight accounts; ``remittances`` the
remittance desk's USDT against what its orders still hold (an excess nobody refunded).
"""

from __future__ import annotations

from cryptopay.core.reconciliation import books, deposits, outside, remittances, treasury, wallets, withdrawals
from cryptopay.core.reconciliation.model import Check

__all__ = ["CHECKS"]

CHECKS: tuple[Check, ...] = (
    Check("custody", "credits", books.custody_matches_credits),
    Check("payments-credited", "credits", books.confirmed_payments_credited),
    Check("credit-entries", "credits", books.credit_entries_posted),
    Check("receipts", "payouts", books.completed_payouts_have_receipts),
    Check("results", "payouts", books.payout_results_agree),
    Check("payout-holds", "payouts", books.payout_holds_match),
    Check("in-flight", "payouts", books.in_flight_matches_payouts),
    Check("payouts-unresolved", "payouts", books.unresolved_payouts),
    Check("trial-balance", "books", books.trial_balance_zero),
    Check("wrong-payments-owed", "credits", books.wrong_payments_owed),
    Check("mpesa-answers", "mpesa", outside.answers_matched),
    Check("mpesa-statement", "mpesa", outside.statement_matches_payouts, outside.needs_statement),
    Check("mpesa-collections", "mpesa", outside.statement_matches_collections, outside.needs_collection_statement),
    Check("mpesa-float", "mpesa", outside.float_matches_balance, outside.needs_balance),
    Check("bank-transfers", "payouts", outside.bank_transfers_match_bank, outside.needs_bank),
    Check("custody-on-chain", "chains", outside.custody_on_chain, outside.needs_chains, outside.chains_unread),
    Check("sweep-fees", "treasury", treasury.sweep_fees_booked, treasury.needs_sweeps),
    Check("sweeps-settled", "treasury", treasury.sweeps_settle, treasury.needs_sweeps),
    Check("float-b2c", "treasury", treasury.float_matches_b2c, treasury.needs_b2c_reading),
    Check("wallet-balances", "wallets", wallets.wallet_balances_hold, wallets.needs_wallets),
    Check("wallet-buys", "wallets", wallets.buys_collected, wallets.needs_wallets),
    Check("wallet-claims", "wallets", wallets.claims_match_transfers, wallets.needs_wallets),
    Check("claims-returned", "wallets", wallets.claims_returned, wallets.needs_wallets),
    Check("wallet-deposits", "deposits", deposits.deposits_booked, deposits.needs_deposits),
    Check("deposits-held", "deposits", deposits.held_matches_deposits, deposits.needs_deposits),
    Check("wallet-withdrawals", "withdrawals", withdrawals.withdrawals_booked, withdrawals.needs_withdrawals),
    Check(
        "withdrawals-in-flight", "withdrawals", withdrawals.in_flight_matches_withdrawals, withdrawals.needs_withdrawals
    ),
    Check("remittances-owed", "remittances", remittances.remittances_owed, remittances.needs_remittances),
)
