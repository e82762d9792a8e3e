"""Reconciliation: every difference between the ledger, our payment records, M-Pesa and the chains.

``Reconciliation`` (the use case) reads one ``Records`` snapshot through the ports; each check in ``CHECKS`` is a
pure function of it returning its ``Difference`` list. ``parse_statement`` reads M-Pesa's statement export,
``parse_bank_statement`` the settlement bank account's.
"""

from cryptopay.core.reconciliation.bank_statement import (
    BankLine,
    BankStatement,
    parse_bank_statement,
    render_bank_statement,
)
from cryptopay.core.reconciliation.checks import CHECKS
from cryptopay.core.reconciliation.float_balance import FLOAT_ACCOUNT, BalanceUrls, FloatBalance
from cryptopay.core.reconciliation.model import (
    RUN_BY,
    BalanceQuery,
    Check,
    CheckRecord,
    CheckResult,
    Difference,
    OnChain,
    Records,
    Report,
    RunRetention,
    Shortcodes,
)
from cryptopay.core.reconciliation.service import Outside, Reconciliation, run_checks
from cryptopay.core.reconciliation.statement import (
    Statement,
    StatementLine,
    parse_statement,
    period_of,
    render_statement,
)

__all__ = [
    "CHECKS",
    "FLOAT_ACCOUNT",
    "RUN_BY",
    "BalanceQuery",
    "BalanceUrls",
    "BankLine",
    "BankStatement",
    "Check",
    "CheckRecord",
    "CheckResult",
    "Difference",
    "FloatBalance",
    "OnChain",
    "Outside",
    "Reconciliation",
    "Records",
    "Report",
    "RunRetention",
    "Shortcodes",
    "Statement",
    "StatementLine",
    "parse_bank_statement",
    "parse_statement",
    "period_of",
    "render_bank_statement",
    "render_statement",
    "run_checks",
]
