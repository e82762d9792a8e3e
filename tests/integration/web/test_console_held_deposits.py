"""The console's held deposits (``/console/held-deposits``, review8 R7): a deposit from a listed sender is listed and
shown to compliance officers (audited reads); one officer proposes its release with a note and a fresh code (nothing
moves), cannot approve it (409), and a second officer's approval with a fresh code credits the wallet and closes its
alert; an admin is refused; in Swahili."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.compliance.cases import AlertStatus
from cryptopay.core.identity import Role
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.web.test_console_officer_pages import Staff
from tests.support.deposit_stack import DepositStack, deposit_stack
from tests.support.services import in_memory_services, with_wallets

PAGE = "/console/held-deposits"
LISTED = "0xbad0000000000000000000000000000000000bad"


@pytest.fixture
def deposits() -> DepositStack:
    return deposit_stack()


@pytest.fixture
def services(deposits: DepositStack) -> Services:
    base = with_wallets(in_memory_services(clock=deposits.clock, hasher=fast_hasher()), deposits.wallet)
    return attrs.evolve(base, wallet_deposits=ready(deposits.deposits))


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.COMPLIANCE)


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.COMPLIANCE)


def _held(deposits: DepositStack):
    user = deposits.sign_up("0712000001")
    deposits.list_address("polygon", LISTED)
    deposits.pay(user, "polygon", "20", sender=LISTED)
    deposits.mine("polygon", 2)
    return user, deposits.deposit_of(user)


def test_two_officers_release_a_held_deposit_on_the_console(deposits, services, ann, bob):
    user, held = _held(deposits)
    status, html = ann.get(PAGE)
    assert status == 200 and held.id in html and 'aria-current="page"' in html
    detail = f"{PAGE}/{held.id}"
    status, html = ann.get(detail)
    assert status == 200 and "sanctioned_sender" in html and held.alerts[0] in html
    assert 'for="propose-note"' in html and 'for="propose-code"' in html
    status, html, _ = ann.post(f"{detail}/propose", detail, note="wrong listing", code="000000")
    assert status == 403 and 'role="alert"' in html
    status, html, _ = ann.post(f"{detail}/propose", detail, note=" ", code=ann.code())
    assert status == 422 and 'role="alert"' in html
    assert ann.post(f"{detail}/propose", detail, note="the list named the wrong address", code=ann.code())[2] == detail
    assert deposits.balance(user, "USDT").is_zero()
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and f"{detail}/approve" not in html
    status, html, _ = ann.post(f"{detail}/approve", detail, code=ann.code())
    assert status == 409 and 'role="alert"' in html and deposits.balance(user, "USDT").is_zero()
    status, html = bob.get(detail)
    assert f"{detail}/approve" in html and "the list named the wrong address" in html
    assert bob.post(f"{detail}/approve", detail, code=bob.code())[2] == detail
    assert str(deposits.balance(user, "USDT").amount) == "20.000000"
    assert [a.status for a in deposits.monitoring.alerts()] == [AlertStatus.IN_CASE]
    assert held.id not in ann.get(PAGE)[1]
    status, html = ann.get(detail)
    assert f"{detail}/propose" not in html and f"{detail}/approve" not in html


def test_the_held_deposits_pages_are_the_compliance_officers_and_speak_swahili(app, auth, deposits, ann):
    _held(deposits)
    admin = Staff(app, auth, "chief@cryptopay.example", Role.ADMIN)
    assert admin.get(PAGE)[0] == 403
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Wallet deposits held" not in html and "Amana za pochi" in html


def test_a_deposit_beyond_the_wallets_tier_waits_for_two_officers_on_the_console(deposits, services, ann, bob):
    """Review10 R10-15: 40 USDT (KES 5,200) to a tier-0 wallet is held ``tier_limit``: it is on the console's queue,
    one officer proposes its release, the second's approval credits it (counted as received); no alert to close."""
    user = deposits.sign_up("0712000002")
    deposits.pay(user, "polygon", "40")
    deposits.mine("polygon", 2)
    held = deposits.deposit_of(user)
    status, html = ann.get(PAGE)
    assert status == 200 and held.id in html and "tier_limit" in html
    detail = f"{PAGE}/{held.id}"
    assert ann.post(f"{detail}/propose", detail, note="ID seen at the agent", code=ann.code())[2] == detail
    status, html, _ = ann.post(f"{detail}/approve", detail, code=ann.code())
    assert status == 409 and deposits.balance(user, "USDT").is_zero()
    assert bob.post(f"{detail}/approve", detail, code=bob.code())[2] == detail
    assert str(deposits.balance(user, "USDT").amount) == "40.000000"
    assert held.id not in ann.get(PAGE)[1]
