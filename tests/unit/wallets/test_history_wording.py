"""A wallet history line's words (``core.wallets.wording``): derived from the movement's kind and data, so a shell can
say them in its reader's language; in English they read as the ledger's own description (the API's, unchanged)."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptopay.core.flows import wallet_account
from cryptopay.core.money import KES, USDC, USDT, Money
from cryptopay.core.payouts import Payout, PayoutKind
from cryptopay.core.ports.chains import TxState
from cryptopay.core.settlement.model import SettlementMethod
from cryptopay.core.wallets.bills import Bills
from cryptopay.core.wallets.claims import return_expired_claims
from cryptopay.core.wallets.history import KINDS, HistoryLine, statement_csv
from cryptopay.core.wallets.quotes import QuotePurpose
from cryptopay.core.wallets.wording import REVERSAL_REASONS, Wording, payout_wording

from tests.support import paybill
from tests.support.deposit_stack import deposit_stack
from tests.support.wallet_stack import wallet_stack
from tests.support.withdraw_stack import withdraw_stack

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"  # an EIP-55 example address


def _quoted(message: str) -> str:
    """A "language" any message can be told apart in: the whole message in quotes, its placeholders kept."""
    return f"«{message}»"


def _as_told(line: HistoryLine) -> tuple[str, str]:
    """The line's kind and its words, checked against the ledger entry's own English on the way."""
    assert line.wording is not None, line
    assert str(line.wording) == line.description
    return line.kind, line.description


def test_every_movement_a_product_writes_has_words_that_read_as_the_ledger_s_english() -> None:
    """Transfers sent, received, claimed and returned, a buy, a sale and its payout, a bill, a paybill payment: each
    line's words are derived from its kind and ids, say in English what the ledger says, and translate as a whole."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    baraka = stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "5000", "KES")
    stack.fund(amina, "50", "USDT")
    sent = stack.wallets.send(amina.id, "0712000002", Money.of("250", KES))
    waited = stack.wallets.send(amina.id, "0733000003", Money.of("100", KES))
    unclaimed = stack.wallets.send(amina.id, "0733000004", Money.of("50", KES))
    chebet = stack.sign_up("0733000003")
    stack.clock.advance(days=8)
    assert return_expired_claims(stack.backend.uow, stack.ledger, now=stack.clock.now()) == 1
    buy = stack.buys.start(amina.id, Money.of(1000, KES))
    stack.deliver_callbacks()
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    bill = bills.pay(amina.id, "KPLC_PREPAID", "01234567890", Money.of(1000, KES))
    sale = stack.sells.start(amina.id, Money.of(10, USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    desk, _ = paybill.registered(stack)
    paid_in = paybill.pay(stack, desk, "254712000001", 300, "0712000001")

    lines = stack.wallets.history(amina.id)
    told = [_as_told(line) for line in lines if line.kind != "other"]  # "other": the test's own funding
    assert told == [
        ("paybill", f"paybill payment {paid_in.id} to wallet {amina.id}"),
        (
            "sell",
            f"sale {sale.id}: {sale.payout.amount} sent to your M-Pesa number, M-Pesa charge {sale.payout.charge}",
        ),
        ("bill", f"bill {bill.id} paid to paybill 888880, account 01234567890"),
        ("sell", f"sale {sale.id} at the bid"),
        ("sell", f"sale {sale.id} at the bid"),
        ("buy", f"buy {buy.id} paid by M-Pesa"),
        ("p2p_return", f"transfer {unclaimed.id} returned to its sender"),
        ("p2p", f"transfer {unclaimed.id}"),
        ("p2p", f"transfer {waited.id}"),
        ("p2p", f"transfer {sent.id}"),
    ]
    for line in lines:  # an entry a product wrote with its kind: its words in English are the ledger's text
        entry = stack.ledger.entry(line.entry_id)
        assert entry is not None
        if "kind" in dict(entry.metadata):
            assert line.description == entry.description
    assert [_as_told(line) for line in stack.wallets.history(baraka.id)] == [("p2p", f"transfer {sent.id}")]
    assert [_as_told(line) for line in stack.wallets.history(chebet.id)] == [
        ("p2p_claim", f"transfer {waited.id} claimed")
    ]
    assert all(line.kind in KINDS for line in lines)
    for line in lines:  # in another language the whole message is translated, then the ids filled in
        if line.wording is not None:
            told = line.wording.text(_quoted)
            assert told == f"«{line.description}»", told


def test_the_demo_s_sale_says_what_m_pesa_sent_and_the_charge_as_the_sms_does() -> None:
    """Review12 R12-2, the wallet demo's figures: a sale worth KES 1,430.61 at the bid takes 1,430.00 from the wallet;
    M-Pesa's SMS (and its statement) says 1,425.00 was sent, and the line says so with the KES 5.00 charge, in English
    and in Swahili, on the history, the CSV and the amounts' own formatter."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000101", tier=1)
    stack.fund(amina, "11.06", "USDT")  # at the stack's bid of 129.35: KES 1,430.61
    sale = stack.sells.start(amina.id, Money.of("11.06", USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert (sale.payout.amount, sale.payout.charge) == (Money.of(1425, KES), Money.of(5, KES))
    [line] = stack.wallets.history(amina.id, kind="sell", asset=KES, limit=1)
    assert line.amount == Money.of(-1430, KES)
    expected = f"sale {sale.id}: 1425.00 KES sent to your M-Pesa number, M-Pesa charge 5.00 KES"
    assert _as_told(line) == ("sell", expected)
    assert line.wording is not None
    assert ("sent", Money.of(1425, KES)) in line.wording.values and ("charge", Money.of(5, KES)) in line.wording.values
    assert line.wording.text(amount=lambda m: f"KES {m.amount:,}") == (
        f"sale {sale.id}: KES 1,425.00 sent to your M-Pesa number, M-Pesa charge KES 5.00"
    )
    swahili = {
        "sale %(sale)s: %(sent)s sent to your M-Pesa number, M-Pesa charge %(charge)s": (
            "mauzo %(sale)s: %(sent)s yametumwa kwa nambari yako ya M-Pesa, ada ya M-Pesa %(charge)s"
        )
    }
    assert line.wording.text(swahili.__getitem__, lambda m: f"KES {m.amount:,}") == (
        f"mauzo {sale.id}: KES 1,425.00 yametumwa kwa nambari yako ya M-Pesa, ada ya M-Pesa KES 5.00"
    )
    csv_row = statement_csv([line]).splitlines()[1]
    assert csv_row.endswith(f',KES,-1430.00,{line.balance_after.amount},sell,"{expected}",{line.entry_id}'), csv_row


def test_a_sale_with_no_charge_names_only_what_was_sent() -> None:
    """A payout charged nothing says no charge (not "M-Pesa charge 0.00 KES")."""
    payout = Payout(
        id="po_1",
        settlement_id="sel_1",
        merchant_id="usr_1",
        originator_id=None,
        method=SettlementMethod.MPESA_B2C,
        destination="254712000101",
        amount=Money.of(100, KES),
        charge=Money.zero(KES),
        hold_id="hld_1",
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
        kind=PayoutKind.SALE,
    )
    named = payout_wording(payout)
    assert named is not None and (named[0], str(named[1])) == (
        "sell",
        "sale sel_1: 100.00 KES sent to your M-Pesa number",
    )


def test_a_bill_paid_from_usdt_shows_its_conversion_as_the_bill_s_not_a_sale() -> None:
    """Review12 R12-2: the USDT sold to pay a bill is ``bill``, "converted for bill bil_..." on both of its lines (the
    ledger's own words for it), not a ``sell`` "sale bil_... at the bid"; the bill's payment follows as before."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    quote = stack.buys.quote(amina.id, QuotePurpose.SELL)
    bill = bills.pay(amina.id, "DSTV", "7012345678", Money.of(1000, KES), pay_with="USDT", quote_id=quote.id)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    lines = [line for line in stack.wallets.history(amina.id) if line.kind != "other"]
    assert sorted(_as_told(line) for line in lines) == [
        ("bill", f"bill {bill.id} paid to paybill 444900, account 7012345678"),
        ("bill", f"converted for bill {bill.id}"),
        ("bill", f"converted for bill {bill.id}"),
    ]
    assert {line.amount.asset.code for line in lines if "converted" in line.description} == {"USDT", "KES"}
    for line in lines:
        entry = stack.ledger.entry(line.entry_id)
        assert entry is not None
        if "kind" in dict(entry.metadata):
            assert line.description == entry.description
    assert not stack.wallets.history(amina.id, kind="sell")
    assert len(stack.wallets.history(amina.id, kind="bill")) == 3


def test_a_withdrawal_s_line_is_a_withdrawal_not_other() -> None:
    """A confirmed withdrawal's hold, posted, is the wallet's line: kind ``withdrawal`` (which ``?kind=`` offers),
    words naming the withdrawal (it read ``other`` before)."""
    stack = withdraw_stack()
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "10000")
    sent = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    stack.clock.advance(hours=25)
    stack.withdrawals.send_due()
    stack.senders["polygon"].finish(sent.id, TxState.CONFIRMED)
    stack.withdrawals.check_sent()
    [line] = stack.wallet.wallets.history(user.id, kind="withdrawal")
    assert _as_told(line) == ("withdrawal", f"withdrawal {sent.id}")
    assert line.amount == Money.of("-101", USDT)


def test_a_deposit_s_lines_name_the_network_the_amount_converted_and_why_it_was_reversed() -> None:
    """A USDC deposit credited as USDT names what was credited (an amount, left to the shell's formatter); its
    reversal after a reorg says why, the reason a message of its own."""
    stack = deposit_stack()
    stack.wallet.rates.set("USDC/USD", "1")
    user = stack.sign_up("0712345678", tier=1)
    paid = stack.send(stack.address(user, "polygon"), "polygon", Money.of("250", USDC))
    stack.mine("polygon", 2)
    deposit = stack.deposit_of(user)
    chain = stack.chains["polygon"]
    chain.reorg(chain.head() - (paid.block_number or 0) + 1)
    stack.mine("polygon", 1)
    reversed_, credited = stack.wallet.wallets.history(user.id)
    into = credited.amount
    assert _as_told(credited) == ("deposit", f"deposit {deposit.id} on polygon credited as {into}")
    assert credited.wording is not None and ("credited", into) in credited.wording.values
    assert credited.wording.text(amount=lambda m: "<amount>").endswith("credited as <amount>")
    why = REVERSAL_REASONS["reorg"]
    assert _as_told(reversed_) == ("deposit_reversed", f"deposit {deposit.id} on polygon reversed: {why}")
    assert reversed_.wording is not None and ("why", Wording(why)) in reversed_.wording.values
    entry = stack.wallet.ledger.entry(reversed_.entry_id)
    assert entry is not None and dict(entry.metadata)["reason"] == "reorg"
    assert entry.description == reversed_.description


def test_an_entry_no_product_wrote_keeps_the_ledger_s_text_and_has_no_words() -> None:
    """A hand-made entry (the tests' funding; an operator's correction) has no kind to derive words from: the line
    keeps the ledger's description, ``other``, and no words a page could translate."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001")
    stack.ledger.transfer(
        "hand:1", debit="assets:mpesa_float:KES", credit=wallet_account(amina.id, KES), amount=Money.of(5, KES)
    )
    [line] = stack.wallets.history(amina.id)
    assert (line.kind, line.description, line.wording) == ("other", "", None)
