"""The console's held wallet sends (``/console/held-transfers``, review4 R6): the compliance officers' list and page,
a release or a return by one officer with a note and a fresh code (a wrong code or no note refused, nothing moves), an
officer who would receive the send refused (403, audited), a decided send read-only; in English and Swahili."""

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


def _held_send(wallets: WalletStack, amount: str = "200") -> tuple[str, object, object]:
    """Amina sends ``amount`` KES to Baraka, whose wallet is frozen: the send is held."""
    amina, baraka = wallets.sign_up("0712000001", tier=1), wallets.sign_up("0712000002", tier=1)
    wallets.fund(amina, "500", "KES")
    wallets.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    sent = wallets.wallets.send(amina.id, "0712000002", Money.of(amount, KES))
    return sent.id, amina, baraka


def _recipient(wallets: WalletStack, transfer_id: str, user_id: str) -> None:
    def change(uow) -> None:
        uow.wallet_transfers.update(attrs.evolve(uow.wallet_transfers.get(transfer_id), recipient_id=user_id))

    in_transaction(wallets.wallets.uow, change)


def _records(wallets: WalletStack, services: Services, action: str) -> list:
    with wallets.wallets.uow() as uow:
        stored = list(uow.audit.records())
    return [r for r in [*stored, *services.audit.records()] if r.action == action]


def test_an_officer_releases_a_held_send_with_a_note_and_a_fresh_code(wallets, services, ann):
    """The send is listed and shown (audited reads); a wrong code or no note is refused and nothing moves; with both
    the recipient is credited, the decision audited, and the send leaves the list and reads as released."""
    sent_id, _amina, baraka = _held_send(wallets)
    status, html = ann.get(PAGE)
    assert status == 200 and sent_id in html and 'aria-current="page"' in html and 'scope="col"' in html
    detail = f"{PAGE}/{sent_id}"
    status, html = ann.get(detail)
    assert status == 200 and baraka.id in html and 'for="decide-note"' in html and 'for="decide-code"' in html
    form = {"decision": "release", "note": "the police closed the report"}
    status, html, _ = ann.post(f"{detail}/decide", detail, **form, code="000000")
    assert status == 403 and 'role="alert"' in html
    status, html, _ = ann.post(f"{detail}/decide", detail, decision="release", note=" ", code=ann.code())
    assert status == 422 and 'role="alert"' in html
    assert wallets.balance(baraka, "KES").is_zero()
    assert ann.post(f"{detail}/decide", detail, **form, code=ann.code())[2] == detail
    assert wallets.balance(baraka, "KES").amount == 200
    [released] = _records(wallets, services, "wallet.held_send_released")
    assert dict(released.details)["officer"] == ann.id and "police" in dict(released.details)["note"]
    status, html = ann.get(detail)
    assert "released to the recipient" in html and f"{detail}/decide" not in html
    assert sent_id not in ann.get(PAGE)[1]
    assert _records(wallets, services, "compliance.held_transfers_viewed")
    assert _records(wallets, services, "compliance.held_transfer_viewed")


def test_a_held_send_is_returned_and_one_the_officer_would_receive_is_refused(wallets, services, ann):
    """A return gives the amount back to the sender; an officer who is the recipient is refused (403, audited) and
    nothing moves."""
    sent_id, amina, baraka = _held_send(wallets)
    _recipient(wallets, sent_id, ann.id)  # the officer is the one the send would reach
    detail = f"{PAGE}/{sent_id}"
    form = {"decision": "release", "note": "mine"}
    status, html, _ = ann.post(f"{detail}/decide", detail, **form, code=ann.code())
    assert status == 403 and 'role="alert"' in html
    assert _records(wallets, services, "compliance.own_party_refused")
    _recipient(wallets, sent_id, baraka.id)
    before = wallets.balance(amina, "KES").amount
    form = {"decision": "return", "note": "the phone was stolen"}
    assert ann.post(f"{detail}/decide", detail, **form, code=ann.code())[2] == detail
    assert wallets.balance(amina, "KES").amount == before + 200 and wallets.balance(baraka, "KES").is_zero()
    assert "returned to the sender" in ann.get(detail)[1]


def test_the_held_sends_pages_are_the_compliance_officers_and_speak_swahili(app, auth, wallets, ann):
    """An admin is refused the page; an officer's page in Swahili has no untranslated heading."""
    _held_send(wallets)
    admin = Staff(app, auth, "chief@cryptopay.example", Role.ADMIN)
    assert admin.get(PAGE)[0] == 403
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Wallet sends held" not in html and "Malipo ya pochi" in html
