"""The console's held wallet sends (``/console/held-transfers``, review4 R6): the compliance officers' list and page
with the sender's note, a release or a return proposed by one officer with a note and a fresh code (a wrong code or no
note refused, nothing moves) and carried out when a second officer approves it (four-eyes: the proposer cannot), a
proposal declined, a send kept held with a note (nothing moves), an officer who would receive the send refused (403,
audited), a decided send read-only; in English and Swahili."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.identity import Role
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.storage import in_transaction
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.web.test_console_officer_pages import Staff
from tests.support.services import in_memory_services, with_wallets
from tests.support.wallet_stack import WalletStack, wallet_stack

PAGE = "/console/held-transfers"


@pytest.fixture
def wallets() -> WalletStack:
    return wallet_stack()


@pytest.fixture
def services(wallets: WalletStack) -> Services:
    return with_wallets(in_memory_services(clock=wallets.clock, hasher=fast_hasher()), wallets)


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.COMPLIANCE)


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.COMPLIANCE)


def _held_send(wallets: WalletStack, amount: str = "200", tier: int = 1) -> tuple[str, object, object]:
    """Amina sends ``amount`` KES to Baraka (at ``tier``), whose wallet is frozen: the send is held."""
    amina, baraka = wallets.sign_up("0712000001", tier=1), wallets.sign_up("0712000002", tier=tier)
    wallets.fund(amina, "5000", "KES")
    wallets.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    sent = wallets.wallets.send(amina.id, "0712000002", Money.of(amount, KES), note="for the school fees")
    return sent.id, amina, baraka


def _recipient(wallets: WalletStack, transfer_id: str, user_id: str) -> None:
    def change(uow) -> None:
        uow.wallet_transfers.update(attrs.evolve(uow.wallet_transfers.get(transfer_id), recipient_id=user_id))

    in_transaction(wallets.wallets.uow, change)


def _records(wallets: WalletStack, services: Services, action: str) -> list:
    with wallets.wallets.uow() as uow:
        stored = list(uow.audit.records())
    return [r for r in [*stored, *services.audit.records()] if r.action == action]


def test_a_release_proposed_by_one_officer_is_carried_out_when_a_second_approves(wallets, services, ann, bob):
    """The send is listed and shown with the sender's note (audited reads); a wrong code or no note is refused and
    nothing moves; Ann's proposal moves nothing and she cannot approve it; Bob approves it with a fresh code: the
    recipient is credited, the decision audited naming both, and the send leaves the list and reads as released."""
    sent_id, _amina, baraka = _held_send(wallets)
    status, html = ann.get(PAGE)
    assert status == 200 and sent_id in html and "for the school fees" in html
    assert 'aria-current="page"' in html and 'scope="col"' in html
    detail = f"{PAGE}/{sent_id}"
    status, html = ann.get(detail)
    assert status == 200 and baraka.id in html and "for the school fees" in html
    assert "tier 1" in html and html.count("no limit") == 3  # a tier-1 wallet receives without a limit
    assert 'for="propose-note"' in html and 'for="propose-code"' in html
    form = {"decision": "release", "note": "the police closed the report"}
    status, html, _ = ann.post(f"{detail}/propose", detail, **form, code="000000")
    assert status == 403 and 'role="alert"' in html
    status, html, _ = ann.post(f"{detail}/propose", detail, decision="release", note=" ", code=ann.code())
    assert status == 422 and 'role="alert"' in html
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail
    assert wallets.balance(baraka, "KES").is_zero()
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and f"{detail}/approve" not in html
    status, html, _ = ann.post(f"{detail}/approve", detail, proposal="release", code=ann.code())
    assert status == 409 and 'role="alert"' in html and wallets.balance(baraka, "KES").is_zero()
    status, html = bob.get(detail)
    assert f"{detail}/approve" in html and "the police closed the report" in html
    assert bob.post(f"{detail}/approve", detail, proposal="release", code=bob.code())[2] == detail
    assert wallets.balance(baraka, "KES").amount == 200
    [released] = _records(wallets, services, "wallet.held_send_released")
    details = dict(released.details)
    assert (details["officer"], details["proposed_by"]) == (bob.id, ann.id) and "police" in details["note"]
    status, html = ann.get(detail)
    assert "released to the recipient" in html and f"{detail}/propose" not in html and f"{detail}/approve" not in html
    assert sent_id not in ann.get(PAGE)[1]
    assert _records(wallets, services, "compliance.held_transfers_viewed")
    assert _records(wallets, services, "compliance.held_transfer_viewed")


def test_a_proposal_is_declined_a_return_approved_and_an_officer_who_would_receive_it_refused(
    wallets, services, ann, bob
):
    """An officer who is the recipient is refused (403, audited) and nothing moves; a proposal declined with a note
    moves nothing; a return proposed again and approved gives the amount back to the sender."""
    sent_id, amina, baraka = _held_send(wallets)
    _recipient(wallets, sent_id, ann.id)  # the officer is the one the send would reach
    detail = f"{PAGE}/{sent_id}"
    form = {"decision": "release", "note": "mine"}
    status, html, _ = ann.post(f"{detail}/propose", detail, **form, code=ann.code())
    assert status == 403 and 'role="alert"' in html
    assert _records(wallets, services, "compliance.own_party_refused")
    _recipient(wallets, sent_id, baraka.id)
    before = wallets.balance(amina, "KES").amount
    form = {"decision": "return", "note": "the phone was stolen"}
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail
    status, html, _ = bob.post(f"{detail}/keep", detail, note="keep it after all")  # a proposal waits
    assert status == 409 and 'role="alert"' in html
    assert bob.post(f"{detail}/decline", detail, note=" ")[0] == 422
    assert bob.post(f"{detail}/decline", detail, note="the police say otherwise")[2] == detail
    assert _records(wallets, services, "wallet.held_send_proposal_declined")
    assert 'for="propose-note"' in ann.get(detail)[1] and wallets.balance(amina, "KES").amount == before
    assert 'for="keep-note"' in ann.get(detail)[1] and bob.post(f"{detail}/keep", detail, note=" ")[0] == 422
    assert bob.post(f"{detail}/keep", detail, note="the police asked us to keep it")[2] == detail  # nothing moves
    status, html = ann.get(detail)
    assert "the police asked us to keep it" in html and wallets.balance(amina, "KES").amount == before
    assert f"<code>{bob.id}</code> · " in ann.get(PAGE)[1]  # the list shows it kept, and by whom
    assert _records(wallets, services, "wallet.held_send_kept")
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail
    assert bob.post(f"{detail}/approve", detail, proposal="return", code=bob.code())[2] == detail
    assert wallets.balance(amina, "KES").amount == before + 200 and wallets.balance(baraka, "KES").is_zero()
    status, html = ann.get(detail)
    assert "returned to the sender" in html and "the police asked us to keep it" not in html  # returned, not kept


def test_the_held_sends_pages_are_the_compliance_officers_and_speak_swahili(app, auth, wallets, ann):
    """An admin is refused the page; an officer's page in Swahili has no untranslated heading."""
    _held_send(wallets)
    admin = Staff(app, auth, "chief@cryptopay.example", Role.ADMIN)
    assert admin.get(PAGE)[0] == 403
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Wallet sends held" not in html and "Malipo ya pochi" in html
    assert "Ujumbe wa mtumaji" in html and "Sender's note" not in html


def test_the_page_shows_the_recipient_s_tier_and_what_it_may_still_receive(wallets, ann):
    """Review7 F2's note: the officer decides a release knowing the recipient's tier and what it may still receive,
    by its receiving limits with the freeze set aside and this send counted: a tier-0 wallet held KES 3,000 may take
    KES 5,000 at once, 7,000 more today and 27,000 more this month; in Swahili too."""
    sent_id, _amina, _baraka = _held_send(wallets, amount="3000", tier=0)
    status, html = ann.get(f"{PAGE}/{sent_id}")
    assert status == 200 and "tier 0" in html, html
    facts = html[html.index("KYC tier") :]
    assert "5,000" in facts and "7,000" in facts and "27,000" in facts and "no limit" not in facts
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(f"{PAGE}/{sent_id}")
    assert status == 200 and "May still receive today" not in html and "KYC tier<" not in html
    assert "Anaweza kupokea leo" in html and "7,000" in html
