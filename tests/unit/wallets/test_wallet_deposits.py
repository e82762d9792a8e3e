"""Wallet deposits over the in-memory fakes: addresses, crediting after the wallet policy, reorgs, holds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cryptopay.core import flows
from cryptopay.core.compliance.cases import AlertStatus, CaseStatus
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.flows import custody, deposits_held
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import USDC, USDT, Money
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.rails import Finality
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.wallets.deposit import (
    DepositMinimums,
    DepositState,
    HoldReason,
    StablecoinConversion,
    WalletSpeed,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.deposit_stack import DepositStack, deposit_stack


@pytest.fixture
def stack() -> DepositStack:
    return deposit_stack()


def usdt(amount: str) -> Money:
    return Money.of(amount, "USDT")


def test_each_user_gets_one_address_per_network_and_asking_again_gives_the_same(stack):
    """Addresses are allocated once per network and are the user's for good."""
    wanjiku = stack.sign_up("0712345678")
    first = stack.deposits.addresses(wanjiku.id)
    assert [a.network for a in first] == ["bitcoin", "bsc", "ethereum", "polygon", "tron"]
    assert stack.deposits.addresses(wanjiku.id) == first
    polygon = stack.deposits.address(wanjiku.id, "Polygon")
    assert polygon.assets == ("USDT", "USDC") and polygon.requirement == "3 confirmations"
    assert polygon.minimums == (("USDT", "1"), ("USDC", "1"))
    assert stack.deposits.address(wanjiku.id, "tron").assets == ("USDT",)
    assert polygon.uri.startswith("ethereum:0xc2132D05D31c914a87C6611C10748AEb04B58e8F@137/transfer?address=0x")
    assert stack.deposits.address(wanjiku.id, "bitcoin").uri.startswith("bitcoin:bc1q")


def test_an_unknown_network_or_user_is_not_found(stack):
    """No address on a network the deployment does not run, none for a user without a wallet."""
    user = stack.sign_up("0712345678")
    with pytest.raises(NotFound):
        stack.deposits.address(user.id, "solana")
    with pytest.raises(NotFound):
        stack.deposits.addresses("usr_nobody")


def test_a_deposit_is_credited_only_after_the_wallet_confirmations(stack):
    """Seen at once, credited at the third confirmation, in the balance and the history."""
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "25")
    stack.sync()
    assert stack.deposit_of(user).state is DepositState.SEEN
    assert stack.balance(user, "USDT") == usdt("0")
    stack.mine("polygon", 1)
    assert stack.deposit_of(user).state is DepositState.SEEN  # two confirmations
    stack.mine("polygon", 1)
    deposit = stack.deposit_of(user)
    assert deposit.state is DepositState.CREDITED and deposit.confirmations == 3
    assert stack.balance(user, "USDT") == usdt("25")
    assert stack.wallet.ledger.balance(custody("polygon", deposit.asset)).posted == usdt("25")
    lines = stack.wallet.wallets.history(user.id, kind="deposit")
    assert [(h.amount, h.balance_after) for h in lines] == [(usdt("25"), usdt("25"))]
    assert stack.wallet.ledger.trial_balance()["USDT"] == 0


def test_usdt_is_one_balance_whatever_the_network(stack):
    """USDT from Polygon and from Tron add up in one balance."""
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "10")
    stack.pay(user, "tron", "5.5")
    for network in ("polygon", "tron"):
        stack.mine(network, 3)
    assert stack.balance(user, "USDT") == usdt("15.5")


def test_a_reorg_before_the_credit_books_nothing_and_a_remined_transfer_is_credited_once(stack):
    """The block leaves the chain: withdrawn; mined again: seen again and credited once."""
    user = stack.sign_up("0712345678")
    paid = stack.pay(user, "polygon", "25")
    stack.sync()
    stack.chains["polygon"].reorg(1)
    stack.sync()
    assert stack.deposit_of(user).state is DepositState.WITHDRAWN
    stack.chains["polygon"].include(paid)
    stack.mine("polygon", 2)
    deposit = stack.deposit_of(user)
    assert (deposit.state, deposit.generation) == (DepositState.CREDITED, 1)
    assert stack.balance(user, "USDT") == usdt("25")


def test_a_reorg_after_the_credit_takes_it_back(stack):
    """A credited deposit whose block is reorganised away is reversed in the ledger (kind deposit_reversed)."""
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "25")
    stack.mine("polygon", 2)
    assert stack.balance(user, "USDT") == usdt("25")
    stack.chains["polygon"].reorg(3)
    stack.mine("polygon", 1)
    deposit = stack.deposit_of(user)
    assert deposit.state is DepositState.WITHDRAWN and not deposit.clawback_pending
    assert stack.balance(user, "USDT") == usdt("0")
    kinds = [h.kind for h in stack.wallet.wallets.history(user.id, asset=usdt("0").asset)]
    assert kinds == ["deposit_reversed", "deposit"]
    assert stack.wallet.ledger.balance(custody("polygon", deposit.asset)).posted == usdt("0")


def test_a_transfer_remined_in_another_block_after_its_credit_is_credited_again_after_its_confirmations(stack):
    """The scanner sees the credited transfer in a new block: reversed, then credited again at depth."""
    user = stack.sign_up("0712345678")
    paid = stack.pay(user, "polygon", "25")
    stack.mine("polygon", 2)
    stack.chains["polygon"].reorg(3)
    stack.chains["polygon"].include(paid)
    stack.sync()
    assert stack.balance(user, "USDT") == usdt("0")
    stack.mine("polygon", 2)
    assert stack.balance(user, "USDT") == usdt("25")
    assert stack.deposit_of(user).generation == 1


def test_a_reversal_the_wallet_cannot_cover_freezes_it_and_is_retried(stack):
    """The user sent the deposit on before the reorg: the wallet is frozen and the reversal owed until covered
    (here an operator unfreezes it once the friend agreed to send the money back)."""
    user, friend = stack.sign_up("0712345678", tier=1), stack.sign_up("0722000000", tier=1)
    stack.pay(user, "polygon", "25")
    stack.mine("polygon", 2)
    stack.wallet.wallets.send(user.id, "0722000000", usdt("20"))
    stack.chains["polygon"].reorg(3)
    stack.mine("polygon", 1)
    deposit = stack.deposit_of(user)
    assert deposit.state is DepositState.WITHDRAWN and deposit.clawback_pending
    assert stack.wallet.wallets.wallet(user.id).frozen
    assert stack.balance(user, "USDT") == usdt("5")
    stack.wallet.wallets.unfreeze(user.id, actor="usr_admin")
    stack.wallet.wallets.send(friend.id, "0712345678", usdt("20"))  # the friend sends it back
    stack.mine("polygon", 1)
    deposit = stack.deposit_of(user)
    assert not deposit.clawback_pending and stack.balance(user, "USDT") == usdt("0")
    assert stack.wallet.ledger.trial_balance()["USDT"] == 0


def test_dust_and_unpriced_usdc_are_held_not_credited(stack):
    """Below the minimum, or USDC with no USDC/USD price to convert it at: booked to deposits_held, the balance
    unchanged."""
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "0.5")
    stack.send(stack.address(user, "ethereum"), "ethereum", Money.of("30", "USDC"))
    stack.mine("polygon", 2)
    stack.mine("ethereum", 2)
    reasons = {d.network: d.hold_reason for d in stack.deposits.deposits(user.id)}
    assert reasons == {"polygon": HoldReason.BELOW_MINIMUM, "ethereum": HoldReason.AWAITING_CONVERSION}
    assert stack.balance(user, "USDT") == usdt("0")
    assert stack.wallet.ledger.balance(deposits_held(usdt("0").asset)).posted == usdt("0.5")


def test_a_deposit_from_a_sanctioned_address_is_held_with_a_blocking_alert(stack):
    """The sender is on a sanctions list: held, an alert raised for an officer, nothing credited."""
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", "0xBAD0000000000000000000000000000000000bad")
    stack.pay(user, "polygon", "25", sender="0xbad0000000000000000000000000000000000BAD")
    stack.mine("polygon", 2)
    deposit = stack.deposit_of(user)
    assert (deposit.state, deposit.hold_reason) == (DepositState.HELD, HoldReason.SANCTIONED_SENDER)
    assert deposit.shown_hold_reason is HoldReason.REVIEW  # its holder is not told a list matched (P6)
    assert stack.balance(user, "USDT") == usdt("0")
    alerts = stack.monitoring.alerts(status=AlertStatus.OPEN)
    assert [(a.rule_id, a.party_id, a.blocking) for a in alerts] == [("sanctioned-deposit", user.id, True)]


def test_an_officer_releases_a_held_deposit_to_the_wallet(stack):
    """Release needs a note, credits the wallet once, and refuses a deposit that is not held (two officers, since
    it was held for a listed sender: review8 R7)."""
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", "0xbad0000000000000000000000000000000000bad")
    stack.pay(user, "polygon", "25", sender="0xbad0000000000000000000000000000000000bad")
    stack.mine("polygon", 2)
    deposit = stack.deposit_of(user)
    with pytest.raises(InvalidInput):
        stack.deposits.propose_release(deposit.id, officer="usr_officer", note=" ")
    stack.deposits.propose_release(deposit.id, officer="usr_officer", note="false positive: checked")
    released = stack.deposits.approve_release(deposit.id, officer="usr_second")
    assert released.state is DepositState.CREDITED and stack.balance(user, "USDT") == usdt("25")
    with pytest.raises(InvalidState):
        stack.deposits.release(deposit.id, actor="usr_officer", note="again")
    stack.chains["polygon"].reorg(3)
    stack.mine("polygon", 1)
    assert stack.balance(user, "USDT") == usdt("0")
    assert stack.wallet.ledger.balance(deposits_held(usdt("0").asset)).posted == usdt("0")


def test_a_blocking_monitoring_rule_holds_a_deposit_and_others_are_journaled(stack):
    """A huge deposit trips the deployment's blocking rule; an ordinary one is journaled for the batch rules."""
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "50000")  # KES 6.5 million at 130
    stack.mine("polygon", 2)
    deposit = stack.deposit_of(user)
    assert (deposit.state, deposit.hold_reason) == (DepositState.HELD, HoldReason.COMPLIANCE)
    assert "huge-deposit" in (deposit.hold_detail or "")
    assert deposit.shown_hold_reason is HoldReason.REVIEW  # its holder is not told of compliance (review7 F8)


def test_a_frozen_wallet_receives_nothing(stack):
    """A deposit to a frozen wallet is held (wallet_frozen)."""
    user = stack.sign_up("0712345678")
    stack.address(user, "tron")
    stack.wallet.wallets.freeze(user.id, reason="court order", actor="usr_admin")
    stack.pay(user, "tron", "10")
    stack.mine("tron", 2)
    assert stack.deposit_of(user).hold_reason is HoldReason.WALLET_FROZEN


def test_bitcoin_deposits_credit_the_btc_balance(stack):
    """BTC on bitcoin, after the bitcoin requirement."""
    user = stack.sign_up("0712345678", tier=1)  # identified: tier 0 receives small amounts only
    stack.pay(user, "bitcoin", "0.01")
    stack.mine("bitcoin", 1)
    assert stack.balance(user, "BTC") == Money.of("0.01", "BTC")


def test_a_finality_requirement_waits_for_the_networks_signal():
    """tron=finalized: depth alone does not credit; the solidified block does."""
    stack = deposit_stack(speed="tron=finalized")
    user = stack.sign_up("0712345678")
    paid = stack.pay(user, "tron", "10")
    stack.mine("tron", 30)
    assert stack.balance(user, "USDT") == usdt("0")
    stack.chains["tron"].finals[Finality.FINALIZED] = paid.block_number
    stack.sync()
    assert stack.balance(user, "USDT") == usdt("10")


def test_the_wallet_speed_and_minimums_settings_are_checked():
    """Bad settings are refused with what is wrong; good ones override the defaults only where named."""
    assert WalletSpeed.parse("").requirement("ethereum").confirmations == 12
    assert WalletSpeed.parse("bitcoin=6").requirement("bitcoin").confirmations == 6
    for bad in ("bitcoin=finalized", "polygon", "polygon=0", "solana=3", "tron=safe"):
        with pytest.raises(InvalidInput):
            WalletSpeed.parse(bad)
    assert DepositMinimums.parse("BTC=0.001").minimum(Money.of("0", "BTC").asset) == Money.of("0.001", "BTC")
    for bad in ("KES=1", "USDT=-1", "USDT", "BTC=0.000000001"):
        with pytest.raises(InvalidInput):
            DepositMinimums.parse(bad)


def test_reconciliation_covers_deposits_credited_held_and_reversed(stack):
    """After credits, holds and a reversal the books reconcile, custody with the chain at the wallets' addresses
    included; a deposit booked behind the records' back does not."""
    from cryptopay.core.reconciliation.service import Reconciliation
    from cryptopay.core.testing.treasury import FakeBalances

    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "25")
    stack.pay(user, "tron", "0.2")
    stack.mine("polygon", 2)
    stack.mine("tron", 2)
    stack.chains["polygon"].reorg(3)
    stack.mine("polygon", 1)
    stack.pay(user, "polygon", "7")
    stack.mine("polygon", 2)
    chains = {n: FakeBalances(stack.chains[n]) for n in ("polygon", "tron")}  # what our addresses hold on chain
    reconciliation = Reconciliation(
        uow=stack.uow,
        ledger=stack.wallet.ledger,
        clock=stack.clock,
        wallets=stack.uow,
        deposits=stack.uow,
        chains=chains,
    )
    report = reconciliation.reconcile()
    names = {r.check.name: r for r in report.results}
    assert not names["wallet-deposits"].skipped and not names["deposits-held"].skipped
    assert not names["custody-on-chain"].skipped  # the custody held for wallets is what their addresses hold
    assert [(r.check.name, r.differences) for r in report.results if r.differences] == []
    # An operator books a deposit by hand: custody and the suspense account no longer match the records.
    stack.wallet.ledger.transfer(
        "manual", debit=custody("polygon", usdt("0").asset), credit=deposits_held(usdt("0").asset), amount=usdt("1")
    )
    differences = {r.check.name for r in reconciliation.reconcile().results if r.differences}
    assert {"custody", "deposits-held"} <= differences


def test_custody_on_chain_counts_a_wallet_deposit_mined_but_short_of_its_depth(stack):
    """review5 S9: a deposit in a block, not yet deep enough to be booked, is on the chain and not in the books:
    custody-on-chain expects it there and reports nothing, before and after it is credited."""
    from cryptopay.core.reconciliation.service import Reconciliation
    from cryptopay.core.testing.treasury import FakeBalances

    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "25")
    stack.mine("polygon", 1)
    chains = {"polygon": FakeBalances(stack.chains["polygon"])}
    reconciliation = Reconciliation(
        uow=stack.uow,
        ledger=stack.wallet.ledger,
        clock=stack.clock,
        wallets=stack.uow,
        deposits=stack.uow,
        chains=chains,
    )
    assert stack.balance(user, "USDT") == usdt("0")  # seen, mined, not booked
    (on_chain,) = [r for r in reconciliation.reconcile().results if r.check.name == "custody-on-chain"]
    assert not on_chain.skipped and on_chain.differences == ()
    stack.mine("polygon", 200)
    assert stack.balance(user, "USDT") == usdt("25")
    assert [(r.check.name, r.differences) for r in reconciliation.reconcile().results if r.differences] == []


def test_the_workers_chain_scan_watches_wallet_addresses_beside_invoices(stack):
    """``chains.scan`` (``bootstrap.chains.scan_chains``) scans wallet addresses too and hands what pays no invoice
    to the deposits: the transfer is recorded as the wallet's deposit."""
    from cryptopay.adapters.bootstrap.chains import scan_chains
    from cryptopay.core.payments.detection import Detection
    from cryptopay.core.system import RandomIds

    detection = Detection(
        uow=stack.uow, clock=stack.clock, ids=RandomIds(), ledger=stack.wallet.ledger, cursors=stack.cursors
    )
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "25")
    assert scan_chains({"polygon": stack.scanners["polygon"]}, detection, None, stack.deposits) == 1
    deposit = stack.deposit_of(user)
    assert (deposit.state, deposit.amount) == (DepositState.SEEN, usdt("25"))


def test_usdc_is_credited_as_usdt_and_a_reorg_undoes_the_conversion_exactly(stack):
    """USDC at 0.9998 USD and USDT at 1.0002: credited at the ratio of the mids less 0.5%, through the inventory;
    the spread is USDT revenue; a reorg leaves every account as it was."""
    stack.wallet.rates.set("USDC/USD", "0.9998")
    stack.wallet.rates.set("USDT/USD", "1.0002")
    user = stack.sign_up("0712345678", tier=1)  # identified: 250 USDC is above what tier 0 may receive
    paid = stack.send(stack.address(user, "polygon"), "polygon", Money.of("250", "USDC"))
    stack.mine("polygon", 2)
    deposit = stack.deposit_of(user)
    assert deposit.state is DepositState.CREDITED and deposit.conversion is not None
    assert deposit.conversion.into == usdt("248.650519") == stack.balance(user, "USDT")
    assert deposit.conversion.at_mid == usdt("249.900019")
    ledger = stack.wallet.ledger
    assert ledger.balance(custody("polygon", USDC)).posted == Money.of("250", USDC)
    assert ledger.balance(flows.fx_spread(USDT)).posted == usdt("1.249500")
    chain = stack.chains["polygon"]
    chain.reorg(chain.head() - (paid.block_number or 0) + 1)
    stack.mine("polygon", 1)
    assert stack.deposit_of(user).state is DepositState.WITHDRAWN and stack.balance(user, "USDT") == usdt("0")
    for code in (custody("polygon", USDC), flows.fx_spread(USDT), "equity:trading:USDC", "equity:trading:USDT"):
        assert ledger.balance(code).posted.is_zero(), code
    assert set(ledger.trial_balance().values()) <= {0}


def test_an_officer_releases_a_held_usdc_deposit_as_usdt(stack):
    """A sanctioned sender's USDC is held as USDC; released, it is converted at a price of the moment."""
    stack.wallet.rates.set("USDC/USD", "1")
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", "0xbad0000000000000000000000000000000000bad")
    sender = "0xbad0000000000000000000000000000000000bad"
    stack.send(stack.address(user, "polygon"), "polygon", Money.of("40", "USDC"), sender)
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert (held.state, held.hold_reason, held.conversion) == (DepositState.HELD, HoldReason.SANCTIONED_SENDER, None)
    assert stack.wallet.ledger.balance(deposits_held(USDC)).posted == Money.of("40", USDC)
    stack.deposits.propose_release(held.id, officer="usr_officer", note="the listing was a false positive")
    released = stack.deposits.approve_release(held.id, officer="usr_second")
    assert released.state is DepositState.CREDITED and stack.balance(user, "USDT") == usdt("39.8")
    assert stack.wallet.ledger.balance(deposits_held(USDC)).posted.is_zero()
    with pytest.raises(InvalidState):
        stack.deposits.release(held.id, actor="usr_officer", note="again")
    assert stack.balance(user, "USDT") == usdt("39.8")


def test_the_stablecoin_spread_setting_is_checked():
    """A percentage from 0 to 5; anything else is refused by name."""
    assert StablecoinConversion.parse("0.25%").spread == Decimal("0.0025")
    for bad in ("-1", "6", "half", "nan"):
        with pytest.raises(InvalidInput):
            StablecoinConversion.parse(bad)


prices = st.decimals(min_value=Decimal("0.98"), max_value=Decimal("1.02"), places=4)


@settings(max_examples=60, deadline=None)
@given(
    amount=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("10000000"), places=6),
    usdc=prices,
    usdt_price=prices,
    spread=st.decimals(min_value=Decimal(0), max_value=Decimal("0.05"), places=4),
    held_first=st.booleans(),
)
def test_a_conversion_never_credits_more_than_the_mids_and_its_reversal_restores_every_account(
    amount, usdc, usdt_price, spread, held_first
):
    """Whatever the amount, prices and spread: credited <= at the mids <= the amount's worth, each asset balances,
    and the reversal (from custody, whether it was converted at once or after a hold) leaves every account at 0."""
    at = datetime(2026, 12, 6, 9, tzinfo=UTC)
    deposited = Money.of(amount, USDC)
    conversion = StablecoinConversion(spread).convert(deposited, usdc, usdt_price, at, ("q1", "q2"))
    assert Money.zero(USDT) <= conversion.into <= conversion.at_mid
    assert conversion.at_mid.amount <= amount * usdc / usdt_price
    assert conversion.charge.amount <= conversion.at_mid.amount * spread + Decimal("0.000001")
    ledger = Ledger(InMemoryLedgerStore(), clock=ManualClock(at), ids=SequentialIds())
    flows.open_wallet_accounts(ledger, "usr_1")
    common = {"deposit_id": "dep_1", "user_id": "usr_1", "network": "polygon", "amount": deposited}
    converted = (conversion.into, conversion.at_mid)
    if held_first:
        flows.book_deposit(ledger, key="k:held", held=True, **common)
        flows.release_deposit(
            ledger, key="k:convert", deposit_id="dep_1", user_id="usr_1", amount=deposited, converted=converted
        )
    else:
        flows.book_deposit(ledger, key="k:credit", held=False, converted=converted, quote_id="q1", **common)
    assert ledger.balance(flows.wallet_account("usr_1", USDT)).posted == conversion.into
    assert set(ledger.trial_balance().values()) <= {0}
    flows.reverse_deposit(ledger, key="k:reverse", held=False, why="reorg", converted=converted, **common)
    for code in (
        custody("polygon", USDC),
        deposits_held(USDC),
        flows.wallet_account("usr_1", USDT),
        flows.fx_spread(USDT),
        "equity:trading:USDC",
        "equity:trading:USDT",
    ):
        found = ledger.balances([code]).get(code)
        assert found is None or found.posted.is_zero(), code


def test_tier_0_takes_small_deposits_and_holds_the_rest_counted_with_what_people_send_it(stack):
    """Review H14: tier 0 receives KES 5,000 at a time and 10,000 a day, deposits and P2P together. Deposits within
    are credited and counted; one above the single limit is held ``tier_limit`` (watched, checked again every step,
    quietly) and two officers may release it (proposed by one, approved by a second, audited: review10 R10-15); one
    above the day's limit is credited the next day."""
    from cryptopay.core.wallets.service import RecipientLimit

    user = stack.sign_up("0712345678")
    friend = stack.sign_up("0712000009", tier=1)
    stack.wallet.fund(friend, "50000", "KES")
    stack.pay(user, "polygon", "10")  # KES 1,300
    stack.mine("polygon", 2)
    stack.pay(user, "polygon", "30")  # KES 3,900: 5,200 today
    stack.mine("polygon", 2)
    assert stack.balance(user, "USDT") == usdt("40")
    stack.pay(user, "polygon", "40")  # KES 5,200: above the single limit
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert (held.state, held.hold_reason, held.watching) == (DepositState.HELD, HoldReason.TIER_LIMIT, True)
    assert "receive single limit" in (held.hold_detail or "") and stack.balance(user, "USDT") == usdt("40")
    stack.mine("polygon", 3)  # checked again, still beyond: held once, audited once
    with stack.uow() as uow:
        assert [r.action for r in uow.audit.records()].count("wallet.deposit_held") == 1
    with pytest.raises(RecipientLimit):  # 5,200 received today: a P2P of 5,000 would pass the day's 10,000
        stack.wallet.wallets.send(friend.id, "0712345678", Money.of("5000", "KES"))
    stack.wallet.wallets.send(friend.id, "0712345678", Money.of("4800", "KES"))
    stack.deposits.propose_release(held.id, officer="usr_a", note="known customer, ID on file")
    released = stack.deposits.approve_release(held.id, officer="usr_officer")
    assert released.state is DepositState.CREDITED and stack.balance(user, "USDT") == usdt("80")
    with stack.uow() as uow:
        record = [r for r in uow.audit.records() if r.action == "wallet.deposit_released"][-1]
    assert (record.actor, dict(record.details)["proposed_by"]) == ("user:usr_officer", "usr_a")
    stack.pay(user, "polygon", "20")  # KES 2,600: today's 10,000 is used up
    stack.mine("polygon", 2)
    waiting = stack.deposit_of(user)
    assert (waiting.state, waiting.hold_reason) == (DepositState.HELD, HoldReason.TIER_LIMIT)
    assert "today's receive total" in (waiting.hold_detail or "")
    stack.clock.advance(days=1)
    stack.mine("polygon", 1)
    assert stack.deposit_of(user).state is DepositState.CREDITED and stack.balance(user, "USDT") == usdt("100")
    assert set(stack.wallet.ledger.trial_balance().values()) == {0}


def test_an_officers_release_counts_in_what_a_tier_0_wallet_received(stack):
    """A deposit held beyond tier 0's single limit (KES 5,200) and released by two officers is a receive like a credited
    deposit: counted in the day's receive total, so a P2P of KES 5,000 to the wallet the same day would pass its KES
    10,000 and is refused, while one of KES 4,800 arrives. Before, the release was not counted and both arrived."""
    from cryptopay.core.kyc import day_bounds, month_bounds
    from cryptopay.core.wallets.service import RecipientLimit

    user = stack.sign_up("0712345678")
    friend = stack.sign_up("0712000009", tier=1)
    stack.wallet.fund(friend, "50000", "KES")
    stack.pay(user, "polygon", "40")  # KES 5,200: above the single limit
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert (held.state, held.hold_reason) == (DepositState.HELD, HoldReason.TIER_LIMIT)
    stack.deposits.propose_release(held.id, officer="usr_a", note="known customer, ID on file")
    stack.deposits.approve_release(held.id, officer="usr_officer")
    now = stack.clock.now()
    with stack.uow() as uow:
        totals = uow.wallet_usage.totals(user.id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0])
    assert totals["receive"][0] == Money.of("5200", "KES")
    with pytest.raises(RecipientLimit):
        stack.wallet.wallets.send(friend.id, "0712345678", Money.of("5000", "KES"))
    stack.wallet.wallets.send(friend.id, "0712345678", Money.of("4800", "KES"))
    assert set(stack.wallet.ledger.trial_balance().values()) == {0}


def test_one_operator_never_credits_a_deposit_held_beyond_the_wallets_tier(stack):
    """Review10 R10-15: 40 USDT (KES 5,200) to a tier-0 wallet is held ``tier_limit``; one operator's release is
    refused (``Refused``, the shell's exit 5), audited ``wallet.deposit_release_refused``, nothing credited; it is in
    the officers' queue, and its proposer cannot approve it. Ordinary dust stays one operator's call."""
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "40")
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert held.hold_reason is HoldReason.TIER_LIMIT and held.by_two_officers and not held.for_compliance
    with pytest.raises(Refused, match="beyond its wallet's KYC tier"):
        stack.deposits.release(held.id, actor="ops:root", note="known customer")
    assert _audited(stack, "wallet.deposit_release_refused")[0][0] == "ops:root"
    assert stack.deposit_of(user).state is DepositState.HELD and stack.balance(user, "USDT").is_zero()
    assert [d.id for d in stack.deposits.waiting()] == [held.id]
    stack.deposits.propose_release(held.id, officer="usr_a", note="known customer, ID on file")
    with pytest.raises(SameOfficer):
        stack.deposits.approve_release(held.id, officer="usr_a")
    assert stack.deposits.approve_release(held.id, officer="usr_b").state is DepositState.CREDITED
    assert stack.balance(user, "USDT") == usdt("40") and stack.deposits.waiting() == []


def test_a_release_proposed_while_the_tier_waits_is_cleared_when_the_tier_takes_the_deposit(stack):
    """A deposit held ``tier_limit`` with a release proposed is credited by the deposit step once a new day leaves
    room (as before R10-15), and the proposal is cleared with it: nothing is left to approve."""
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "30")  # KES 3,900
    stack.mine("polygon", 2)
    stack.pay(user, "polygon", "38")  # KES 4,940: 8,840 today
    stack.mine("polygon", 2)
    stack.pay(user, "polygon", "30")  # KES 3,900: 12,740 today, beyond the day's 10,000
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert (held.state, held.hold_reason) == (DepositState.HELD, HoldReason.TIER_LIMIT)
    stack.deposits.propose_release(held.id, officer="usr_a", note="known customer")
    stack.clock.advance(days=1)
    stack.mine("polygon", 1)
    credited = stack.deposit_of(user)
    assert (credited.state, credited.proposal) == (DepositState.CREDITED, None)
    with pytest.raises(InvalidState):
        stack.deposits.approve_release(held.id, officer="usr_b")


def _audited(stack: DepositStack, action: str) -> list[tuple[str, dict[str, str]]]:
    with stack.uow() as uow:
        return [(r.actor, dict(r.details)) for r in uow.audit.records() if r.action == action]


def test_one_person_never_releases_a_deposit_held_for_a_sanctioned_sender(stack):
    """Review8 R7: a deposit held for a listed sender is not released by one person (the shell's operator, or an
    officer alone): ``Refused``, audited by them, nothing credited, its blocking alert still open. Proposing from the
    shell is refused too (audited by the OS operator)."""
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", "0xbad0000000000000000000000000000000000bad")
    stack.pay(user, "polygon", "20", sender="0xbad0000000000000000000000000000000000bad")
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert held.hold_reason is HoldReason.SANCTIONED_SENDER and len(held.alerts) == 1
    stack.pay(user, "polygon", "0.5")  # dust: an ordinary hold, not compliance's
    stack.mine("polygon", 2)
    assert [d.id for d in stack.deposits.waiting()] == [held.id]
    with pytest.raises(Refused):
        stack.deposits.release(held.id, actor="ops:root", note="looks fine to me")
    with pytest.raises(Refused):
        stack.deposits.propose_release(held.id, officer="usr_a", note="looks fine", operator="ops:root")
    assert stack.deposit_of(user).state is DepositState.HELD and stack.balance(user, "USDT").is_zero()
    assert [a for a, _ in _audited(stack, "wallet.deposit_release_refused")] == ["ops:root"]
    assert [a for a, _ in _audited(stack, "wallet.deposit_shell_proposal_refused")] == ["ops:root"]
    assert _audited(stack, "wallet.deposit_released") == []
    assert [a.status for a in stack.monitoring.alerts()] == [AlertStatus.OPEN]


def test_two_officers_release_a_sanctioned_deposit_once_and_conclude_its_alert(stack):
    """Review8 R7, four-eyes: one officer proposes (nothing moves, the alert stays open), the proposer cannot
    approve (``SameOfficer``, audited), a second officer's approval credits the wallet once and closes the alert in
    a case closed with no action, in the same unit of work; the audit names both officers."""
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", "0xbad0000000000000000000000000000000000bad")
    stack.pay(user, "polygon", "20", sender="0xbad0000000000000000000000000000000000bad")
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    proposed = stack.deposits.propose_release(held.id, officer="usr_a", note="the list named the wrong address")
    assert proposed.state is DepositState.HELD and proposed.proposal is not None
    with pytest.raises(Conflict):
        stack.deposits.propose_release(held.id, officer="usr_b", note="again")
    assert stack.balance(user, "USDT").is_zero() and [a.status for a in stack.monitoring.alerts()] == [AlertStatus.OPEN]
    with pytest.raises(SameOfficer):
        stack.deposits.approve_release(held.id, officer="usr_a")
    with pytest.raises(Refused):
        stack.deposits.approve_release(held.id, officer="usr_b", operator="ops:root")
    assert [a for a, _ in _audited(stack, "wallet.deposit_same_officer_refused")] == ["user:usr_a"]
    released = stack.deposits.approve_release(held.id, officer="usr_b")
    assert released.state is DepositState.CREDITED and released.proposal is None
    assert stack.balance(user, "USDT") == usdt("20")
    with pytest.raises(InvalidState):
        stack.deposits.approve_release(held.id, officer="usr_c")
    assert stack.balance(user, "USDT") == usdt("20")
    (alert,) = stack.monitoring.alerts()
    assert alert.status is AlertStatus.IN_CASE and alert.case_id is not None
    assert stack.monitoring.case(alert.case_id).status is CaseStatus.CLOSED_NO_ACTION
    ((actor, details),) = _audited(stack, "wallet.deposit_released")
    assert (actor, details["proposed_by"], details["cases"]) == ("user:usr_b", "usr_a", alert.case_id)
    assert set(stack.wallet.ledger.trial_balance().values()) == {0}


def test_a_declined_proposal_moves_nothing_and_a_frozen_wallet_receives_nothing(stack):
    """A proposal declined leaves the deposit held (audited); a deposit held for a frozen wallet is released by two
    officers only once the wallet is unfrozen (``Refused`` before, nothing written)."""
    user = stack.sign_up("0712345678")
    stack.wallet.wallets.freeze(user.id, reason="court order", actor="usr_admin")
    stack.pay(user, "polygon", "20")
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert held.hold_reason is HoldReason.WALLET_FROZEN
    with pytest.raises(Refused):
        stack.deposits.release(held.id, actor="ops:root", note="the court order was lifted")
    stack.deposits.propose_release(held.id, officer="usr_a", note="first try")
    declined = stack.deposits.decline_release(held.id, officer="usr_b", note="the order stands")
    assert declined.proposal is None and declined.state is DepositState.HELD
    stack.deposits.propose_release(held.id, officer="usr_a", note="the court order was lifted")
    with pytest.raises(Refused):
        stack.deposits.approve_release(held.id, officer="usr_b")
    assert stack.balance(user, "USDT").is_zero() and stack.deposit_of(user).proposal is not None
    stack.wallet.wallets.unfreeze(user.id, actor="usr_admin")
    assert stack.deposits.approve_release(held.id, officer="usr_b").state is DepositState.CREDITED
    assert stack.balance(user, "USDT") == usdt("20")


def test_dust_from_a_listed_sender_is_not_one_persons_release_but_ordinary_dust_is(stack):
    """Dust is held before the lists are read; an operator's release of dust from an address a list names is refused
    all the same (the lists are read at the release), while ordinary dust stays the operator's call."""
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", "0xbad0000000000000000000000000000000000bad")
    stack.pay(user, "polygon", "0.5", sender="0xbad0000000000000000000000000000000000bad")
    stack.mine("polygon", 2)
    listed = stack.deposit_of(user)
    assert listed.hold_reason is HoldReason.BELOW_MINIMUM
    with pytest.raises(Refused):
        stack.deposits.release(listed.id, actor="ops:root", note="small enough")
    stack.pay(user, "polygon", "0.4")
    stack.mine("polygon", 2)
    ordinary = stack.deposit_of(user)
    assert ordinary.id != listed.id and ordinary.hold_reason is HoldReason.BELOW_MINIMUM
    released = stack.deposits.release(ordinary.id, actor="ops:root", note="the customer asked")
    assert released.state is DepositState.CREDITED and stack.balance(user, "USDT") == usdt("0.4")


def test_a_deposit_held_for_a_frozen_holder_waits_for_the_freeze_to_end_even_with_two_officers(stack):
    """Review8 R7: a deposit to a holder compliance froze is held ``compliance``; one person's release is refused,
    and two officers' approval is refused too while the holder is frozen (nothing written); once unfrozen it goes."""
    user = stack.sign_up("0712345678", tier=1)
    with stack.uow() as uow:
        profile = uow.kyc.get(user.id)
        profile.freeze("usr_officer", "a court order about this person", at=stack.clock.now())
        uow.kyc.update(profile)
    stack.pay(user, "polygon", "20")
    stack.mine("polygon", 2)
    held = stack.deposit_of(user)
    assert held.hold_reason is HoldReason.COMPLIANCE
    with pytest.raises(Refused):
        stack.deposits.release(held.id, actor="ops:root", note="the customer asked")
    stack.deposits.propose_release(held.id, officer="usr_a", note="the order was lifted")
    with pytest.raises(Refused):
        stack.deposits.approve_release(held.id, officer="usr_b")
    assert stack.balance(user, "USDT").is_zero() and stack.deposit_of(user).state is DepositState.HELD
    with stack.uow() as uow:
        profile = uow.kyc.get(user.id)
        profile.unfreeze("usr_officer", at=stack.clock.now())
        uow.kyc.update(profile)
    assert stack.deposits.approve_release(held.id, officer="usr_b").state is DepositState.CREDITED
    assert stack.balance(user, "USDT") == usdt("20")
