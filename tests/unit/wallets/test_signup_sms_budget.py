"""Review H8 and H13 in the core: what wallet sign-up's verification SMS may cost, and the usernames nobody may take."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.ratelimit import ProcessRateLimiter
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.model import RateLimited
from cryptopay.core.mobile_money.phones import mobile_operator
from cryptopay.core.wallets.sms_budget import (
    SignupAddressLimit,
    SignupSmsBudget,
    SignupSmsRules,
    SmsBudgetExhausted,
    SmsRangeRefused,
)
from cryptopay.core.wallets.usernames import (
    ReservedUsername,
    UsernameLookalike,
    choosable_username,
    reserved,
    skeleton,
)

from tests.support.wallet_stack import PASSWORD, WalletStack, wallet_stack


@pytest.fixture
def stack() -> WalletStack:
    stack = wallet_stack()
    rules = SignupSmsRules(per_hour=4, per_address_per_day=3)
    stack.signup.sms_rules = rules
    stack.signup.budget = SignupSmsBudget(ProcessRateLimiter(stack.clock), rules)
    return stack


def _sent(stack: WalletStack) -> int:
    return len(stack.sms.sent)


def test_an_address_gets_its_day_s_codes_starts_and_resends_together(stack: WalletStack):
    """Three SMS a day from one address (a start and its two resends among them); the fourth is refused whatever
    the number, with the time left; another address is not touched; the refusal is counted."""
    first = stack.signup.start("0712000001", client="198.51.100.7")
    stack.clock.advance(minutes=2)
    stack.signup.resend(first.id, client="198.51.100.7")
    stack.signup.start("0733000002", client="198.51.100.7")
    with pytest.raises(SignupAddressLimit) as refused:
        stack.signup.start("0722000003", client="198.51.100.7")
    assert refused.value.code == "signup_address_limit" and refused.value.http_status == 429
    assert refused.value.retry_after > 0
    stack.clock.advance(minutes=2)
    with pytest.raises(SignupAddressLimit):
        stack.signup.resend(first.id, client="198.51.100.7")
    assert _sent(stack) == 3
    stack.signup.start("0722000003", client="203.0.113.9")
    assert stack.signup.budget.counts.snapshot() == (4, {"range": 0, "number": 0, "address": 2, "budget": 0})


def test_a_refused_resend_keeps_the_code_that_was_sent(stack: WalletStack):
    """A resend the budget refuses changes nothing: the code already sent still completes the sign-up."""
    for n in range(3):
        stack.signup.start(f"07120000{n:02d}", client=f"192.0.2.{n}")
    verification = stack.signup.start("0712000099", client="192.0.2.99")
    code = stack.last_code("0712000099")
    stack.clock.advance(minutes=2)
    with pytest.raises(SmsBudgetExhausted):
        stack.signup.resend(verification.id, client="192.0.2.99")
    assert stack.signup.complete(verification.id, code, password=PASSWORD).user.phone == "254712000099"


def test_the_deployment_s_budget_refuses_a_customer_s_number_like_any_other(stack: WalletStack):
    """Past the hour's budget every start is refused before the number is looked up: the owner of a wallet is not
    texted, and the refusal is the same as a stranger's; the next hour the budget is there again."""
    customer = stack.sign_up("0712000001")  # one SMS
    assert customer.phone == "254712000001"
    for n in range(2, 5):
        stack.signup.start(f"07120000{n:02d}", client=f"192.0.2.{n}")
    sent = _sent(stack)
    refusals = []
    for phone in ("0712000001", "0712000077"):
        with pytest.raises(SmsBudgetExhausted) as refused:
            stack.signup.start(phone, client="192.0.2.50")
        refusals.append((type(refused.value), refused.value.message, refused.value.details))
    assert refusals[0] == refusals[1] and _sent(stack) == sent
    stack.clock.advance(hours=1)
    stack.signup.start("0712000077", client="192.0.2.50")
    assert _sent(stack) == sent + 1


def test_the_number_s_own_hour_is_the_first_bound(stack: WalletStack):
    """Five codes an hour per number, as before; its refusal spends nothing of the address's or the budget."""
    rules = SignupSmsRules(per_hour=100, per_address_per_day=100)
    stack.signup.budget = SignupSmsBudget(ProcessRateLimiter(stack.clock), rules)
    for _ in range(5):
        stack.signup.start("0712000001", client="192.0.2.1")
    with pytest.raises(RateLimited) as refused:
        stack.signup.start("0712000001", client="192.0.2.1")
    assert refused.value.code == "rate_limited"
    assert stack.signup.budget.counts.snapshot()[1]["number"] == 1


@pytest.mark.parametrize("phone", ["0747123456", "0767123456", "0744123456", "0120123456", "0199123456"])
def test_a_range_outside_the_three_operators_is_refused_before_anything_is_spent(stack: WalletStack, phone: str):
    """Numbers of small or machine-to-machine operators and unassigned blocks get no code (422, field phone)."""
    with pytest.raises(SmsRangeRefused) as refused:
        stack.signup.start(phone, client="192.0.2.1")
    assert refused.value.code == "sms_range_refused" and refused.value.details["field"] == "phone"
    assert phone[4:] not in refused.value.message  # the number is masked
    assert _sent(stack) == 0 and stack.signup.budget.counts.snapshot()[1]["range"] == 1


def test_the_ranges_are_safaricom_airtel_and_telkom():
    """The data names the operator of each range it texts."""
    assert [mobile_operator("254" + p) for p in ("712345678", "733345678", "773345678", "110345678", "101345678")] == [
        "Safaricom",
        "Airtel",
        "Telkom",
        "Safaricom",
        "Airtel",
    ]


def test_the_rules_refuse_a_bound_below_one():
    """Each bound is at least one: a zero budget would close sign-up silently."""
    with pytest.raises(InvalidInput):
        SignupSmsRules(per_hour=0)
    assert attrs.asdict(SignupSmsRules()) == {"per_hour": 500, "per_address_per_day": 50, "per_phone_per_hour": 5}


@pytest.mark.parametrize(
    "name",
    [
        "admin",
        "ADMIN",
        "adm1n",
        "support",
        "Supp0rt",
        "s_u_p_p_o_r_t",
        "help",
        "official",
        "security",
        "kplc",
        "mpesa",
        "m_pesa",
        "mpesa_agent",
        "safaricom_care",
        "airtel_money",
        "cryptopay",
        "crypt0pay_help",
        "CryptoPay1",
        "rnpesa",
        "admin_kenya",  # review5 S1: admin is a brand
        "equity_bank",  # review5 S1: a settlement bank's name (banks.json)
        "kcb_bank_ke",
    ],
)
def test_reserved_names_and_their_look_alikes_cannot_be_taken(name: str):
    """H13: the platform's, partners' and authorities' names, in any case, with digits for letters, underscores
    between the letters, ``rn`` for ``m``, or a brand inside a longer name, are 422 reserved_username."""
    with pytest.raises(ReservedUsername) as refused:
        choosable_username(name)
    assert refused.value.code == "reserved_username" and refused.value.details["field"] == "username"


@pytest.mark.parametrize("name", ["wanjiku_k", "amina", "baraka", "otieno254", "helen", "supporter_of_arsenal"])
def test_ordinary_names_are_free(name: str):
    """People's names are not caught by the rule (an exact reserved word, or a brand, only)."""
    assert not reserved(name) and choosable_username(name) == name


def test_a_reserved_username_creates_nothing(stack: WalletStack):
    """Sign-up completion refuses the name before the code is tried: the same code then completes with another."""
    verification = stack.signup.start("0712000001")
    code = stack.last_code("0712000001")
    with pytest.raises(ReservedUsername):
        stack.signup.complete(verification.id, code, password=PASSWORD, username="support")
    assert stack.signup.complete(verification.id, code, password=PASSWORD, username="amina").wallet.username == "amina"
    assert skeleton("amina") == "amina"


def test_a_look_alike_of_a_taken_username_is_refused_and_creates_nothing(stack: WalletStack):
    """Review5 S1: beside ``bob_k``, ``b0b_k`` and ``bob__k`` read the same: 409 ``username_lookalike``; the same
    code then completes with a name that looks different."""
    first = stack.signup.start("0712000001")
    stack.signup.complete(first.id, stack.last_code("0712000001"), password=PASSWORD, username="bob_k")
    verification = stack.signup.start("0712000002")
    code = stack.last_code("0712000002")
    for name in ("b0b_k", "bob__k"):
        with pytest.raises(UsernameLookalike) as refused:
            stack.signup.complete(verification.id, code, password=PASSWORD, username=name)
        assert refused.value.http_status == 409 and "bob_k" not in refused.value.message
    assert stack.signup.complete(verification.id, code, password=PASSWORD, username="rob_k").wallet.username == "rob_k"
