"""R9-2: a sender polling the public status cannot tell an order credited to a wallet from one paid by M-Pesa's B2C
by its state sequence: the wallet route reads ``paying_out`` for ``WALLET_ROUTE_SHOWN_AFTER`` after the credit."""

from __future__ import annotations

from cryptopay.core.remittances.model import WALLET_ROUTE_SHOWN_AFTER, RemittanceRoute, RemittanceState
from cryptopay.core.remittances.service import RetryPolicy

from tests.support.remittance_stack import remittance_stack


def _squeezed(states: list[str]) -> list[str]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


def test_both_routes_show_the_same_public_sequence():
    stack = remittance_stack(policy=RetryPolicy(attempts=2))
    stack.wallet.sign_up("0712345678", tier=1)
    to_wallet = stack.order(phone="0712345678", amount="1000", name="Achieng Otieno")
    to_mpesa = stack.order(phone="0712000999", amount="1000", name="Achieng Otieno")
    stack.pay(to_wallet)
    stack.pay(to_mpesa)
    stack.confirm()
    seen: dict[str, list[str]] = {"wallet": [], "mpesa": []}

    def look() -> None:
        for name, order in (("wallet", to_wallet), ("mpesa", to_mpesa)):
            state, paid_out_at, _ = stack.get(order).public_status(stack.clock.now())
            assert (paid_out_at is not None) == (state is RemittanceState.PAID_OUT)
            seen[name].append(state.value)

    look()
    stack.remittances.advance()
    look()
    assert (
        stack.get(to_wallet).route is RemittanceRoute.WALLET and stack.get(to_wallet).state is RemittanceState.PAID_OUT
    )
    assert seen["wallet"][-1] == seen["mpesa"][-1] == "paying_out"  # the credit is booked, not yet told
    stack.wallet.payouts.submit_payouts()
    stack.wallet.deliver_callbacks()
    stack.remittances.advance()
    look()
    stack.clock.advance(seconds=WALLET_ROUTE_SHOWN_AFTER.total_seconds())
    look()
    assert _squeezed(seen["wallet"]) == _squeezed(seen["mpesa"]) == ["awaiting_payment", "paying_out", "paid_out"]
    shown_at = stack.get(to_wallet).public_status(stack.clock.now())[1]
    assert shown_at == stack.get(to_wallet).paid_out_at + WALLET_ROUTE_SHOWN_AFTER  # not the credit's own moment
