"""Identity: users, roles, sessions with rotating refresh tokens, merchants, API keys and the calling principal."""

from cryptopay.core.identity.admin import UserAdmin
from cryptopay.core.identity.credentials import (
    API_KEY_PREFIX,
    AccessClaims,
    AccessTokenSigner,
    StepUpClaims,
    hash_secret,
    new_api_key,
    new_secret,
    parse_api_key,
    secrets_equal,
)
from cryptopay.core.identity.merchants import Merchants, changes_destination, check_settlement
from cryptopay.core.identity.model import (
    MERCHANT_SCOPES,
    ApiKey,
    EnrolmentRequired,
    Forbidden,
    IdempotencyEntry,
    Merchant,
    Principal,
    PrincipalKind,
    RateDecision,
    RateLimited,
    RefreshToken,
    Role,
    StepUpRequired,
    StoredResponse,
    TwoFactorRequired,
    Unauthenticated,
    User,
)
from cryptopay.core.identity.recovery import PasswordResets
from cryptopay.core.identity.service import Accounts, ApiKeys, TokenPair
from cryptopay.core.identity.sessions import SessionState, SessionStates
from cryptopay.core.identity.two_factor import Enrolment, TwoFactor

__all__ = [
    "API_KEY_PREFIX",
    "MERCHANT_SCOPES",
    "AccessClaims",
    "AccessTokenSigner",
    "Accounts",
    "ApiKey",
    "ApiKeys",
    "Enrolment",
    "EnrolmentRequired",
    "Forbidden",
    "IdempotencyEntry",
    "Merchant",
    "Merchants",
    "PasswordResets",
    "Principal",
    "PrincipalKind",
    "RateDecision",
    "RateLimited",
    "RefreshToken",
    "Role",
    "SessionState",
    "SessionStates",
    "StepUpClaims",
    "StepUpRequired",
    "StoredResponse",
    "TokenPair",
    "TwoFactor",
    "TwoFactorRequired",
    "Unauthenticated",
    "User",
    "UserAdmin",
    "changes_destination",
    "check_settlement",
    "hash_secret",
    "new_api_key",
    "new_secret",
    "parse_api_key",
    "secrets_equal",
]
