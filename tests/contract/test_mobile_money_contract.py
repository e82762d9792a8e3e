"""The MobileMoneyGateway contract, held by the in-memory fake and by the Daraja adapter talking to the sandbox."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings
from cryptopay.core.mobile_money import (
    AccountBalanceRequest,
    B2BCommand,
    B2BRequest,
    B2CRequest,
    C2BRegistration,
    MpesaDuplicateRequest,
    MpesaResult,
    Outcome,
    PayloadKind,
    ReversalRequest,
    StkPushRequest,
    TransactionStatusRequest,
    parse_account_balance,
    parse_payload,
    status_outcome,
)
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.sandbox.certs import make_test_certificate
from cryptopay.sandbox.daraja import DarajaSandbox, DarajaSandboxConfig
from cryptopay.sandbox.sink import CallbackSink

CUSTOMER = "254708374149"


class Harness(Protocol):
    gateway: MobileMoneyGateway

    def url(self, path: str) -> str: ...

    def wait(self, url: str, count: int = 1) -> list[MpesaResult]: ...

    def scenario(self, phone: str, name: str) -> None: ...

    def complete_open(self) -> None: ...

    def balance(self, phone: str) -> Money: ...

    def float_balance(self) -> Money: ...


class FakeHarness:
    def __init__(self) -> None:
        self.fake = FakeMobileMoney(shortcode="174379")
        self.gateway: MobileMoneyGateway = self.fake

    def url(self, path: str) -> str:
        return "https://shop.example" + path

    def wait(self, url: str, count: int = 1) -> list[MpesaResult]:
        found = self.fake.callbacks(url)
        assert len(found) >= count
        return found

    def scenario(self, phone: str, name: str) -> None:
        self.fake.set_scenario(phone, name)

    def complete_open(self) -> None:
        self.fake.complete_open()

    def balance(self, phone: str) -> Money:
        return self.fake.balance(phone)

    def float_balance(self) -> Money:
        return self.fake.float_balance


class SandboxHarness:
    def __init__(self, sandbox: DarajaSandbox, sink: CallbackSink, certificate: Path) -> None:
        self.sandbox, self.sink = sandbox, sink
        settings = DarajaSettings(**sandbox.client_settings(), certificate_path=str(certificate), backoff_seconds=0.01)
        self.gateway: MobileMoneyGateway = DarajaGateway(settings)

    def url(self, path: str) -> str:
        return self.sink.url_for(path)

    def wait(self, url: str, count: int = 1) -> list[MpesaResult]:
        return [parse_payload(p) for p in self.sink.wait(url, count)]

    def scenario(self, phone: str, name: str) -> None:
        httpx.post(self.sandbox.url + "/sandbox/scenarios", json={"phone": phone, "scenario": name}).raise_for_status()

    def complete_open(self) -> None:
        httpx.post(self.sandbox.url + "/sandbox/complete").raise_for_status()

    def balance(self, phone: str) -> Money:
        return self.sandbox.balance(phone)

    def float_balance(self) -> Money:
        state = httpx.get(self.sandbox.url + "/sandbox/state").json()
        return Money.of(state["float"], KES)


@pytest.fixture(scope="module")
def certificate() -> Iterator[tuple[Path, bytes]]:
    pair = make_test_certificate()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mpesa.pem"
        path.write_bytes(pair.certificate_pem)
        yield path, pair.private_key_pem


@pytest.fixture(params=["fake", "daraja"])
def harness(request: pytest.FixtureRequest, certificate: tuple[Path, bytes]) -> Iterator[Harness]:
    if request.param == "fake":
        yield FakeHarness()
        return
    config = DarajaSandboxConfig(private_key_pem=certificate[1], callback_delay=0.02, late_delay=1.0)
    with DarajaSandbox(config) as sandbox, CallbackSink.start() as sink:
        yield SandboxHarness(sandbox, sink, certificate[0])


def _stk(h: Harness, phone: str = CUSTOMER, amount: int = 100, path: str = "/cb/stk/t1") -> StkPushRequest:
    return StkPushRequest(phone=phone, amount=amount, account_reference="INV-1", callback_url=h.url(path))


def _b2c(h: Harness, key: str, phone: str = CUSTOMER, amount: int = 500) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id=key,
        phone=phone,
        amount=amount,
        result_url=h.url(f"/cb/b2c/{key}"),
        timeout_url=h.url(f"/cb/timeout/{key}"),
    )


def test_stk_push_success_moves_money_once_and_reports_it(harness: Harness) -> None:
    """A paid STK push debits the customer, credits our float, and both callback and query say success."""
    before, float_before = harness.balance(CUSTOMER), harness.float_balance()
    accepted = harness.gateway.stk_push(_stk(harness))
    [callback] = harness.wait(harness.url("/cb/stk/t1"))
    assert callback.kind is PayloadKind.STK_CALLBACK and callback.success
    assert (callback.reference, callback.amount, callback.phone) == (
        accepted.checkout_request_id,
        Money.of(100, KES),
        CUSTOMER,
    )
    assert callback.receipt and callback.occurred_at is not None
    assert harness.gateway.stk_query(accepted.checkout_request_id).outcome is Outcome.SUCCEEDED
    assert harness.balance(CUSTOMER) == before - Money.of(100, KES)
    assert harness.float_balance() == float_before + Money.of(100, KES)


def test_cancelled_stk_push_moves_nothing(harness: Harness) -> None:
    """A prompt the customer cancels reports 1032 and leaves every balance alone."""
    phone = "254722000001"
    harness.scenario(phone, "cancelled")
    before, float_before = harness.balance(phone), harness.float_balance()
    accepted = harness.gateway.stk_push(_stk(harness, phone=phone, path="/cb/stk/t2"))
    [callback] = harness.wait(harness.url("/cb/stk/t2"))
    assert (callback.result_code, callback.success, callback.receipt) == ("1032", False, None)
    assert harness.gateway.stk_query(accepted.checkout_request_id).result_code == "1032"
    assert (harness.balance(phone), harness.float_balance()) == (before, float_before)


def test_stk_query_is_pending_while_the_prompt_is_open(harness: Harness) -> None:
    """Until the customer answers, the STK query says pending, never failed."""
    phone = "254722000002"
    harness.scenario(phone, "slow")
    accepted = harness.gateway.stk_push(_stk(harness, phone=phone, path="/cb/stk/t3"))
    assert harness.gateway.stk_query(accepted.checkout_request_id).outcome is Outcome.PENDING
    harness.complete_open()
    [callback] = harness.wait(harness.url("/cb/stk/t3"))
    assert callback.success and harness.gateway.stk_query(accepted.checkout_request_id).success


def test_b2c_payout_pays_the_customer_once(harness: Harness) -> None:
    """A payout credits the customer and debits our float; its result names our OriginatorConversationID."""
    before, float_before = harness.balance(CUSTOMER), harness.float_balance()
    ack = harness.gateway.b2c(_b2c(harness, "po_1"))
    assert ack.originator_conversation_id == "po_1" and ack.conversation_id
    [result] = harness.wait(harness.url("/cb/b2c/po_1"))
    assert (result.kind, result.success, result.reference, result.phone) == (PayloadKind.RESULT, True, "po_1", CUSTOMER)
    assert result.amount == Money.of(500, KES) and result.receipt
    assert harness.balance(CUSTOMER) == before + Money.of(500, KES)
    assert harness.float_balance() == float_before - Money.of(500, KES)


def test_a_reused_originator_conversation_id_is_refused_not_paid_twice(harness: Harness) -> None:
    """The same OriginatorConversationID twice is a duplicate; only one payment happens."""
    before = harness.balance(CUSTOMER)
    harness.gateway.b2c(_b2c(harness, "po_dup"))
    with pytest.raises(MpesaDuplicateRequest):
        harness.gateway.b2c(_b2c(harness, "po_dup"))
    harness.wait(harness.url("/cb/b2c/po_dup"))
    assert harness.balance(CUSTOMER) == before + Money.of(500, KES)


def test_payout_to_an_unregistered_customer_fails_and_moves_nothing(harness: Harness) -> None:
    """B2C to a number without M-Pesa reports 2040 and keeps our float."""
    phone = "254722000003"
    harness.scenario(phone, "unregistered")
    float_before = harness.float_balance()
    harness.gateway.b2c(_b2c(harness, "po_2040", phone=phone))
    [result] = harness.wait(harness.url("/cb/b2c/po_2040"))
    assert (result.result_code, result.success) == ("2040", False)
    assert harness.float_balance() == float_before


def test_transaction_status_finds_a_payout_whose_callback_was_lost(harness: Harness) -> None:
    """With the result callback lost, a status query by our id reports the completed payout and its receipt."""
    phone = "254722000004"
    harness.scenario(phone, "lost_callback")
    harness.gateway.b2c(_b2c(harness, "po_lost", phone=phone))
    harness.complete_open()
    request = TransactionStatusRequest(
        originator_conversation_id="po_lost",
        result_url=harness.url("/cb/status/1"),
        timeout_url=harness.url("/cb/status-timeout/1"),
    )
    ack = harness.gateway.transaction_status(request)
    [status] = harness.wait(harness.url("/cb/status/1"))
    assert status.reference == ack.originator_conversation_id
    assert status_outcome(status) is Outcome.SUCCEEDED and status.param("OriginatorConversationID") == "po_lost"
    assert status.receipt and status.amount == Money.of(500, KES) and status.phone == phone
    assert harness.balance(phone) == Money.of(100_500, KES)
    assert not _received(harness, "/cb/b2c/po_lost")


def _received(harness: Harness, path: str) -> list[Any]:
    if isinstance(harness, SandboxHarness):
        return harness.sink.at(path)
    return harness.fake.callbacks(harness.url(path))  # type: ignore[attr-defined]


def test_transaction_status_of_an_unknown_payout_is_not_found(harness: Harness) -> None:
    """A status query for an id M-Pesa never saw says NOT_FOUND (safe to pay with that same id)."""
    request = TransactionStatusRequest(
        originator_conversation_id="po_never",
        result_url=harness.url("/cb/status/2"),
        timeout_url=harness.url("/cb/status-timeout/2"),
    )
    harness.gateway.transaction_status(request)
    [status] = harness.wait(harness.url("/cb/status/2"))
    assert status_outcome(status) is Outcome.NOT_FOUND


def test_b2b_paybill_pays_a_bill_from_our_float(harness: Harness) -> None:
    """A KPLC prepaid payment debits our float and reports success."""
    float_before = harness.float_balance()
    request = B2BRequest(
        command=B2BCommand.PAYBILL,
        receiver="888880",
        account_reference="37141234567",
        amount=1000,
        result_url=harness.url("/cb/b2b/1"),
        timeout_url=harness.url("/cb/b2b-timeout/1"),
    )
    ack = harness.gateway.b2b(request)
    [result] = harness.wait(harness.url("/cb/b2b/1"))
    assert result.success and result.reference == ack.originator_conversation_id
    assert result.amount == Money.of(1000, KES)
    assert harness.float_balance() == float_before - Money.of(1000, KES)


def test_b2b_to_a_bank_paybill_echoes_the_account_and_is_found_by_status(harness: Harness) -> None:
    """BusinessPayBill to a bank's paybill: the result names the paybill and returns the account as
    BillReferenceNumber; Transaction Status by M-Pesa's originator id finds it, naming the paybill."""
    request = B2BRequest(
        command=B2BCommand.PAYBILL,
        receiver="247247",
        account_reference="0170123456789",
        amount=25000,
        result_url=harness.url("/cb/b2b/bank"),
        timeout_url=harness.url("/cb/b2b-timeout/bank"),
    )
    ack = harness.gateway.b2b(request)
    [result] = harness.wait(harness.url("/cb/b2b/bank"))
    assert result.success and result.account_reference == "0170123456789"
    assert (result.param("ReceiverPartyPublicName") or "").startswith("247247 - ")
    status_request = TransactionStatusRequest(
        originator_conversation_id=ack.originator_conversation_id,
        result_url=harness.url("/cb/status/bank"),
        timeout_url=harness.url("/cb/status-timeout/bank"),
    )
    harness.gateway.transaction_status(status_request)
    [status] = harness.wait(harness.url("/cb/status/bank"))
    assert status_outcome(status) is Outcome.SUCCEEDED and status.amount == Money.of(25000, KES)
    assert (status.param("CreditPartyName") or "").startswith("247247 - ") and status.receipt == (
        result.receipt or result.transaction_id
    )


def test_account_balance_reports_our_float(harness: Harness) -> None:
    """The Account Balance result's Utility Account equals the float."""
    request = AccountBalanceRequest(result_url=harness.url("/cb/balance/1"), timeout_url=harness.url("/cb/bt/1"))
    harness.gateway.account_balance(request)
    [result] = harness.wait(harness.url("/cb/balance/1"))
    assert parse_account_balance(result.param("AccountBalance") or "")["Utility Account"] == harness.float_balance()


def test_reversal_refunds_once(harness: Harness) -> None:
    """Reversing a paid STK push refunds the customer; reversing it again is refused with R000002."""
    phone = "254722000005"
    harness.gateway.stk_push(_stk(harness, phone=phone, amount=300, path="/cb/stk/t5"))
    [paid] = harness.wait(harness.url("/cb/stk/t5"))
    assert paid.receipt
    for attempt in (1, 2):
        request = ReversalRequest(
            transaction_id=paid.receipt,
            amount=300,
            result_url=harness.url(f"/cb/rev/{attempt}"),
            timeout_url=harness.url(f"/cb/rev-timeout/{attempt}"),
        )
        harness.gateway.reversal(request)
    [first] = harness.wait(harness.url("/cb/rev/1"))
    [second] = harness.wait(harness.url("/cb/rev/2"))
    assert first.success and (second.success, second.result_code) == (False, "R000002")
    assert harness.balance(phone) == Money.of(100_000, KES)


def test_c2b_url_registration_is_acknowledged(harness: Harness) -> None:
    """Registering confirmation and validation URLs is accepted."""
    ack = harness.gateway.register_c2b_urls(
        C2BRegistration(confirmation_url=harness.url("/cb/c2b/confirm"), validation_url=harness.url("/cb/c2b/validate"))
    )
    assert ack.response_code == "0"
