"""Steps for kyc_limits.feature: tier limits on a customer's movements and two-admin approval."""

from cryptopay.core.kyc import KycProfile, PartyKind, Requirement, check_movement
from cryptopay.core.money import KES, Money
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("kyc_limits.feature")


def shillings(context, text: str) -> Money:
    return Money.of(context.amount(text), KES)


@given("a customer who has verified a phone number, an email and a national ID")
def verified_customer(context):
    customer = KycProfile(party_id="usr_wanjiku", kind=PartyKind.PERSONAL)
    customer.submit(0, {Requirement.PHONE, Requirement.EMAIL}, at=context["now"])
    customer.submit(1, {Requirement.NATIONAL_ID}, at=context["now"])
    customer.approve("adm_otieno", at=context["now"])
    context["customer"] = customer


@given(parsers.parse("the customer has already moved KES {today} today and KES {month} this month"))
def already_moved(context, today, month):
    context["today"], context["month"] = shillings(context, today), shillings(context, month)


@when(parsers.parse("the customer tries to send KES {value}"))
def tries_to_send(context, value):
    context["decision"] = check_movement(
        context["customer"],
        shillings(context, value),
        spent_today=context["today"],
        spent_this_month=context["month"],
        at=context["now"],
    )


@then(parsers.parse("the movement is refused because of the {limit} limit"))
def refused(context, limit):
    decision = context["decision"]
    assert (decision.allowed, decision.limit) == (False, limit)


@then(parsers.parse('the customer is told "{message}"'))
def told(context, message):
    assert context["decision"].reason == message


@then("the movement is allowed")
def allowed(context):
    assert context["decision"].allowed


@given("the customer applies for tier 2 with an ID document and a selfie")
def applies_for_tier_2(context):
    context["customer"].submit(2, {Requirement.ID_DOCUMENT, Requirement.SELFIE}, at=context["now"])


@when("one administrator approves")
def first_approval(context):
    context["customer"].approve("adm_otieno", at=context["now"])


@when("a second administrator approves")
def second_approval(context):
    context["customer"].approve("adm_akinyi", at=context["now"])


@then(parsers.parse("the customer is still on tier {level:d}"))
@then(parsers.parse("the customer is on tier {level:d}"))
def on_tier(context, level):
    assert context["customer"].tier_at(context["now"]).level == level
