"""KYC: tiers with KES limits, the verification status machine, and whether a movement is allowed.

A party (a person or a merchant) holds one granted tier at a time. Applying for a higher tier leaves the
current one in force until an admin decides; the highest tier of each kind needs two different admins.
An approval that lapses drops the party back to the tiers that need no review (a verified phone; for merchants
phone and email).

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import KES, Money
>>> now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
>>> alice = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
>>> [e.name for e in alice.submit(0, {Requirement.PHONE, Requirement.EMAIL}, at=now)]
['kyc.submitted', 'kyc.approved']
>>> decision = check_movement(alice, Money.of("15000", KES), spent_today=Money.of("10000", KES),
...                           spent_this_month=Money.of("10000", KES), at=now)
>>> decision.allowed, decision.reason
(False, 'KES 15,000.00 is above the single-movement limit of KES 5,000.00 for tier 0 (phone verified)')
"""

from cryptopay.core.kyc.limits import (
    INCOMING,
    PRODUCT_LIMITS,
    Decision,
    Product,
    ProductLimit,
    ProductLimits,
    Spending,
    Standing,
    check_movement,
    check_wallet_movement,
    day_bounds,
    month_bounds,
    product_limited,
)
from cryptopay.core.kyc.profile import KycEvent, KycProfile, KycStanding, KycStatus
from cryptopay.core.kyc.tiers import DEFAULT_KYC_POLICY, KycPolicy, KycTier, PartyKind, Requirement

__all__ = [
    "DEFAULT_KYC_POLICY",
    "INCOMING",
    "PRODUCT_LIMITS",
    "Decision",
    "KycEvent",
    "KycPolicy",
    "KycProfile",
    "KycStanding",
    "KycStatus",
    "KycTier",
    "PartyKind",
    "Product",
    "ProductLimit",
    "ProductLimits",
    "Requirement",
    "Spending",
    "Standing",
    "check_movement",
    "check_wallet_movement",
    "day_bounds",
    "month_bounds",
    "product_limited",
]
