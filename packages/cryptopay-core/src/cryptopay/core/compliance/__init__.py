"""Compliance monitoring: AML rules as data (``rules``), alerts and cases (``cases``), the use cases (``monitoring``).

KYC/KYB (who a party is, the tier it holds, freezes and limits) lives in ``cryptopay.core.kyc``.
"""

from cryptopay.core.compliance.cases import Alert, AlertStatus, Case, CaseNote, CaseStatus, Clearance
from cryptopay.core.compliance.rules import Direction, Hit, Movement, Rule, RuleSet, evaluate, load_rules

__all__ = [
    "Alert",
    "AlertStatus",
    "Case",
    "CaseNote",
    "CaseStatus",
    "Clearance",
    "Direction",
    "Hit",
    "Movement",
    "Rule",
    "RuleSet",
    "evaluate",
    "load_rules",
]
