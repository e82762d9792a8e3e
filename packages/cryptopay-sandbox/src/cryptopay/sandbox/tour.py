"""The core tour behind ``cryptopay demo tour``: a merchant payment through the core on the in-memory ledger.

An invoice of KES 5,000 payable in USDT on Ethereum is priced at a locked quote, paid and confirmed, credited
net of the merchant fee, converted to shillings at the quote, split into M-Pesa payouts and paid, and the trial
balance is shown to be zero. It runs on the in-memory fakes (a manual clock, sequential ids, the in-memory ledger
store), which is why it lives in the sandbox and not in the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from cryptopay.core import flows
from cryptopay.core.fees import FeeProduct, FeeSchedule
from cryptopay.core.fx import Pair, Rate, lock_quote
from cryptopay.core.invoices import Invoice
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money.limits import B2C_TARIFF
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import rail_for
from cryptopay.core.settlement import SettlementMethod, SettlementSchedule
from cryptopay.core.settlement.policy import SettlementPolicy, plan_payouts
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.system import ManualClock, SequentialIds

__all__ = ["run_tour"]


def run_tour(say: Callable[[str, str], None]) -> dict[str, object]:
    """Run the tour, narrating each step through ``say(step, text)``; the summary (``trial_balance_zero`` and more)."""
    started = time.monotonic()
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    store = InMemoryLedgerStore()
    ledger = Ledger(store, clock=clock, ids=SequentialIds())
    now = clock.now()

    pair = Pair(USDT, KES)
    rates = [Rate(pair, Decimal("129.05"), "exchangerate", now), Rate(pair, Decimal("129.35"), "binance", now)]
    quote = lock_quote(rates, now=now, quote_id="qt_demo_1")
    say(
        "quote",
        f"USDT/KES bid {quote.bid} ask {quote.ask} from {', '.join(quote.sources)}, "
        f"locked until {quote.expires_at:%H:%M} UTC ({quote.id})",
    )

    rail = rail_for("ethereum", "USDT", confirmations=12)
    address = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    invoice, events = Invoice.create(
        invoice_id="inv_demo_1",
        merchant_id="m_duka",
        price=Money.of("5000", KES),
        addresses={rail: address},
        now=now,
        quotes=[quote],
    )
    due = invoice.options[0].due
    say("invoice", f"{invoice.id}: KES 5,000.00 -> pay {due} on ethereum to {address}")

    clock.advance(minutes=3)
    transfer = ObservedTransfer(
        "ethereum",
        "0x" + "ab" * 32,
        7,
        address,
        due,
        19_000_001,
        "0x" + "cd" * 32,
        clock.now(),
        from_address="0x" + "11" * 20,
        token_contract=rail.token.contract,
    )
    events += invoice.record_transfer(transfer, now=clock.now())
    events += invoice.confirm_transfer(transfer.key, 12, now=clock.now())
    say("chain", f"payment seen in block 19000001, 12 confirmations -> invoice {invoice.state.value}")

    merchant_fee = FeeSchedule(
        product=FeeProduct.MERCHANT, asset=USDT, version=1, effective_from=now, percent=Decimal("1.0")
    )
    flows.open_platform_accounts(ledger, "m_duka", "ethereum", USDT)
    entry, fee = flows.credit_invoice_payment(
        ledger, invoice_id=invoice.id, merchant_id="m_duka", network="ethereum", received=due, fees=merchant_fee
    )
    say("ledger", f"credited {fee.net} to the merchant, fee {fee.fee} ({merchant_fee.id})")
    for line in entry.lines:
        say("ledger", f"    {line.account:<40} {line.amount.amount:>14}")

    clock.advance(minutes=2)
    conversion, kes = flows.convert_for_settlement(
        ledger, settlement_id="stl_demo_1", merchant_id="m_duka", amount=fee.net, quote=quote, at=clock.now()
    )
    say("settle", f"converted {fee.net} to {kes} at bid {quote.bid} (quote {conversion.quote_id})")

    charges = FeeSchedule(
        product=FeeProduct.MPESA_PAYOUT, asset=KES, version=1, effective_from=now, fixed=Money.of("15", KES)
    )
    policy = SettlementPolicy(
        schedule=SettlementSchedule.INSTANT,
        method=SettlementMethod.MPESA_B2C,
        destination="0712345678",
        charges=charges,
    )
    plan = plan_payouts(kes, policy=policy, now=clock.now())
    say(
        "payout",
        f"plan: {[str(p.amount) for p in plan.parts]} to {plan.destination}, charges {plan.total_fees}, "
        f"{plan.remainder} stays for the next run",
    )
    for part in plan.parts:
        payout_id = f"po_demo_{part.sequence}"
        hold = flows.start_payout(
            ledger, payout_id=payout_id, merchant_id="m_duka", amount=part.amount, charge=part.fee
        )
        mpesa = B2C_TARIFF.charge(part.amount)  # what M-Pesa itself takes from the float: the platform's expense
        flows.complete_payout(
            ledger, payout_id=payout_id, hold_id=hold.id, amount=part.amount, charge=part.fee, mpesa_charge=mpesa
        )
        say("payout", f"{payout_id}: B2C {part.amount} held, sent, result 0 -> hold posted")

    trial = ledger.trial_balance()
    zero = all(v == 0 for v in trial.values())
    say("books", "balances:")
    for balance in store.balances():
        say("books", f"    {balance.account.code:<40} {balance.posted.amount:>14}")
    say("books", f"trial balance per asset: {', '.join(f'{k} {v}' for k, v in trial.items())}")
    summary: dict[str, object] = {
        "invoice": invoice.state.value,
        "events": [e.name for e in events],
        "kes_paid_out": str(plan.total_paid.amount),
        "trial_balance_zero": zero,
        "seconds": round(time.monotonic() - started, 3),
    }
    return summary
