"""The in-memory payment repositories keep the rules the SQL ones must: uniqueness and all-or-nothing work."""

from datetime import UTC, datetime

import pytest
from cryptopay.core.errors import Conflict
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments import DepositAddress
from cryptopay.core.settlement import Settlement, SettlementMethod
from cryptopay.core.testing.payments_stack import PaymentsStack

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class BrokenDeriver:
    """A deriver that fails, as a misconfigured key would, after the index was allocated."""

    def derive(self, index: int) -> str:
        raise RuntimeError("no key for this network")


def test_a_failed_invoice_creation_leaves_nothing_behind(stack: PaymentsStack) -> None:
    """An invoice that fails half-way stores no address and writes no message or audit record. The index it took is
    a gap (harmless): indexes are taken before the invoice's transaction, so that the counters every creation shares
    are not held until it commits (#17)."""
    healthy = stack.invoicing._derivers["tron"]
    stack.invoicing._derivers["tron"] = BrokenDeriver()
    with pytest.raises(RuntimeError):
        stack.invoicing.create_invoice("m1", Money.of("10", USDT))
    stack.invoicing._derivers["tron"] = healthy
    invoice = stack.invoicing.create_invoice("m1", Money.of("10", USDT))
    with stack.uow() as uow:
        address = uow.deposit_addresses.by_address("tron", invoice.options[0].address)
    assert address is not None and address.index == 1
    assert stack.topics() == ["invoice.created"] and len(stack.storage.audit_records()) == 1


def test_an_address_or_an_index_is_never_stored_twice(stack: PaymentsStack) -> None:
    """A second record of the same address, or of the same index on a network, is a Conflict."""
    with stack.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("ethereum", "0xAbC", 0, "inv_1", "m1", AT))
        with pytest.raises(Conflict):
            uow.deposit_addresses.add(DepositAddress("ethereum", "0xabc", 1, "inv_2", "m1", AT))
        with pytest.raises(Conflict):
            uow.deposit_addresses.add(DepositAddress("ethereum", "0xdef", 0, "inv_3", "m1", AT))


def test_a_merchant_is_settled_once_per_cut_off(stack: PaymentsStack) -> None:
    """A second settlement of one merchant at one cut-off is a Conflict."""

    def settlement(settlement_id: str) -> Settlement:
        return Settlement(
            id=settlement_id,
            merchant_id="m1",
            cutoff=AT,
            created_at=AT,
            complete_by=AT,
            method=SettlementMethod.MPESA_B2C,
            destination="254712345678",
        )

    with stack.uow() as uow:
        uow.settlements.add(settlement("stl_1"))
        with pytest.raises(Conflict):
            uow.settlements.add(settlement("stl_2"))
