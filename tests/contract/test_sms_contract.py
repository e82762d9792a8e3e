"""The SmsSender port: the in-memory fake and the Africa's Talking adapter (over the SMS simulator) agree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import httpx
import pytest
from cryptopay.adapters.sms import AfricasTalkingSms, SmsSettings
from cryptopay.core.errors import InvalidInput, SmsUndeliverable, Unavailable
from cryptopay.core.ports.sms import SmsMessage, SmsSender
from cryptopay.core.testing.sms import InMemorySms
from cryptopay.sandbox._server import serve_in_thread
from cryptopay.sandbox.sms import SANDBOX_API_KEY, SmsSimulatorState, create_sms_simulator

CODE_TEXT = "Your cryptopay code is 481516"


class Harness(Protocol):
    sender: SmsSender

    def delivered(self, phone: str) -> list[str]: ...

    def refuse(self, phone: str) -> None: ...

    def go_down(self) -> None: ...


class MemoryHarness:
    def __init__(self) -> None:
        self.fake = InMemorySms()
        self.sender: SmsSender = self.fake

    def delivered(self, phone: str) -> list[str]:
        return [message.text for message in self.fake.sent_to(phone)]

    def refuse(self, phone: str) -> None:
        self.fake.refuse(phone)

    def go_down(self) -> None:
        self.fake.go_down()


class SimulatorHarness:
    def __init__(self, url: str, state: SmsSimulatorState) -> None:
        self.url, self.state = url, state
        settings = SmsSettings(provider="africastalking", username="sandbox", api_key=SANDBOX_API_KEY, base_url=url)
        self.sender: SmsSender = AfricasTalkingSms(settings)

    def delivered(self, phone: str) -> list[str]:
        return [sms.text for sms in self.state.sent_to(SmsMessage.to_phone(phone, "").to)]

    def refuse(self, phone: str) -> None:
        number = SmsMessage.to_phone(phone, "").to
        httpx.post(f"{self.url}/_sandbox/sms/scenarios/{number}", json={"scenario": "blacklisted"}).raise_for_status()

    def go_down(self) -> None:
        httpx.post(f"{self.url}/_sim/fail", json={"count": -1}).raise_for_status()


@pytest.fixture(params=["memory", "africastalking"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "memory":
        yield MemoryHarness()
        return
    state = SmsSimulatorState()
    with serve_in_thread(create_sms_simulator(state)) as server:
        yield SimulatorHarness(server.url, state)


def test_a_message_reaches_its_number_and_has_a_message_id(harness):
    """Each send returns its own provider id; the text arrives intact, at that number only."""
    first = harness.sender.send(SmsMessage.to_phone("0712345678", CODE_TEXT))
    second = harness.sender.send(SmsMessage.to_phone("+254 110 123 456", "second"))
    assert first and second and first != second
    assert harness.delivered("254712345678") == [CODE_TEXT]
    assert harness.delivered("0110123456") == ["second"]


def test_a_refused_number_is_undeliverable_and_names_it_masked(harness):
    """A number the provider refuses is SmsUndeliverable; nothing is delivered and the text is not in the error."""
    harness.refuse("0722000111")
    with pytest.raises(SmsUndeliverable) as raised:
        harness.sender.send(SmsMessage.to_phone("0722000111", CODE_TEXT))
    assert harness.delivered("0722000111") == []
    assert "481516" not in str(raised.value) and "0722000111" not in str(raised.value)


def test_a_provider_outage_is_unavailable(harness):
    """When the provider fails, the send is Unavailable (retry later) and nothing is delivered."""
    harness.go_down()
    with pytest.raises(Unavailable):
        harness.sender.send(SmsMessage.to_phone("0712345678", CODE_TEXT))
    assert harness.delivered("0712345678") == []


def test_a_number_that_is_not_kenyan_mobile_is_refused_before_sending():
    """An SmsMessage for anything but a Kenyan mobile number is an InvalidInput; no port is reached."""
    for bad in ("0201234567", "+255712345678", "hello"):
        with pytest.raises(InvalidInput):
            SmsMessage.to_phone(bad, "x")


@pytest.fixture
def simulator() -> Iterator[tuple[str, SmsSimulatorState]]:
    state = SmsSimulatorState()
    with serve_in_thread(create_sms_simulator(state)) as server:
        yield server.url, state


def test_africastalking_sends_the_wire_format_with_the_sender_id(simulator):
    """The adapter posts username, +254 number, message and ``from``; the simulator's outbox shows them."""
    url, state = simulator
    settings = SmsSettings(
        provider="africastalking", username="sandbox", api_key=SANDBOX_API_KEY, sender_id="CRYPTOPAY", base_url=url
    )
    message_id = AfricasTalkingSms(settings).send(SmsMessage.to_phone("0712345678", "hi"))
    (sent,) = state.sent_to("254712345678")
    assert message_id.startswith("ATXid_") and (sent.message_id, sent.sender, sent.text) == (
        message_id,
        "CRYPTOPAY",
        "hi",
    )


def test_africastalking_bad_credentials_are_unavailable_and_never_show_the_key(simulator):
    """A wrong API key is Unavailable naming the refusal; the key is neither in the error nor in the settings' repr."""
    url, state = simulator
    settings = SmsSettings(provider="africastalking", username="sandbox", api_key="wrong-key-123", base_url=url)
    with pytest.raises(Unavailable, match="credentials") as raised:
        AfricasTalkingSms(settings).send(SmsMessage.to_phone("0712345678", CODE_TEXT))
    assert "wrong-key-123" not in str(raised.value) and "wrong-key-123" not in repr(settings)
    assert state.outbox == []


def test_africastalking_unreachable_is_unavailable():
    """A provider that cannot be reached is Unavailable (no retry: a timed-out send may have gone out)."""
    settings = SmsSettings(provider="africastalking", username="u", api_key="k", base_url="http://127.0.0.1:1")
    with pytest.raises(Unavailable, match="could not be reached"):
        AfricasTalkingSms(settings).send(SmsMessage.to_phone("0712345678", "x"))


def test_africastalking_no_balance_is_unavailable_not_undeliverable(simulator):
    """405 InsufficientBalance is the provider's problem, not the number's: Unavailable."""
    url, _ = simulator
    httpx.post(f"{url}/_sandbox/sms/scenarios/254712345678", json={"scenario": "no_balance"}).raise_for_status()
    settings = SmsSettings(provider="africastalking", username="sandbox", api_key=SANDBOX_API_KEY, base_url=url)
    with pytest.raises(Unavailable, match="InsufficientBalance"):
        AfricasTalkingSms(settings).send(SmsMessage.to_phone("0712345678", "x"))
