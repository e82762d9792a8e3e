"""Wallet deposits: the repository, the wallet side of the deposit addresses, and the use case, the same on the
in-memory fakes, SQLite and PostgreSQL; and no address ever shared by two owners (a property over many users and
invoices)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cryptopay.adapters.evm.addresses import EvmAddressDeriver
from cryptopay.core.errors import Conflict
from cryptopay.core.money import KES, Money
from cryptopay.core.payments import DepositAddress, StoreSettings
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.rails import Finality, rail_for
from cryptopay.core.testing.system import SequentialIds
from cryptopay.core.wallets.deposit import Deposit, DepositRequirement, DepositState, HoldReason
from cryptopay.core.wallets.deposits import Deposits
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.http.test_http_wallet_deposits import XPUB
from tests.support.deposit_stack import deposit_stack, memory_deposit_backend
from tests.support.sql_backends import Backend

AT = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py)."""
    return memory_deposit_backend()


def _deposit(did: str, user: str = "usr_1", *, tx: str = "0xAA", index: int = 0, network: str = "polygon") -> Deposit:
    return Deposit(
        id=did,
        user_id=user,
        network=network,
        address="0xab",
        tx_hash=tx,
        index=index,
        amount=Money.of("12.5", "USDT"),
        requirement=DepositRequirement(finality=Finality.FINALIZED),
        seen_at=AT,
        from_address="0xsender",
        block_number=7,
        block_hash="0xblock",
    )


def test_a_deposit_round_trips_and_one_transfer_is_one_deposit(backend: Backend):
    """Every field survives; the same transfer (hash in any case) twice is a conflict; found by its transfer."""
    with backend.uow() as uow:
        uow.wallet_deposits.add(_deposit("dep_1"))
    with backend.uow() as uow, pytest.raises(Conflict):
        uow.wallet_deposits.add(_deposit("dep_2", tx="0xaa"))
    with backend.uow() as uow:
        found = uow.wallet_deposits.by_transfer("polygon", "0xaA", 0, lock=True)
        assert found == _deposit("dep_1")
        assert uow.wallet_deposits.by_transfer("polygon", "0xaa", 1) is None
        found.state, found.hold_reason, found.entries = DepositState.HELD, HoldReason.BELOW_MINIMUM, ("ent_1",)
        found.watching = False
        uow.wallet_deposits.update(found)
    with backend.uow() as uow:
        assert uow.wallet_deposits.get("dep_1") == found


def test_deposits_are_listed_watched_per_network_per_user_newest_first_and_all_by_id(backend: Backend):
    """``watching`` per network oldest first, ``for_user`` newest first before a cursor, ``every`` after one."""
    with backend.uow() as uow:
        for n, (user, network) in enumerate([("usr_1", "polygon"), ("usr_2", "polygon"), ("usr_1", "tron")]):
            uow.wallet_deposits.add(_deposit(f"dep_{n}", user, tx=f"0x{n}", network=network))
        stopped = uow.wallet_deposits.get("dep_1")
        stopped.watching = False
        uow.wallet_deposits.update(stopped)
    with backend.uow() as uow:
        assert [d.id for d in uow.wallet_deposits.watching("polygon", limit=10)] == ["dep_0"]
        assert [d.id for d in uow.wallet_deposits.for_user("usr_1", before=None, limit=10)] == ["dep_2", "dep_0"]
        assert [d.id for d in uow.wallet_deposits.for_user("usr_1", before="dep_2", limit=10)] == ["dep_0"]
        assert [d.id for d in uow.wallet_deposits.every(after="dep_0", limit=10)] == ["dep_1", "dep_2"]


def test_wallet_addresses_share_the_invoices_table_counter_and_uniqueness(backend: Backend):
    """A wallet address and an invoice's come from one counter; one address cannot be both owners'."""
    with backend.uow() as uow:
        first = uow.deposit_addresses.allocate_index("polygon")
        uow.deposit_addresses.add(DepositAddress("polygon", "0xA1", first, "inv_1", "m1", AT))
        second = uow.deposit_addresses.allocate_index("polygon")
        uow.deposit_addresses.add(DepositAddress("polygon", "0xB2", second, None, None, AT, "usr_1"))
    assert second != first
    with backend.uow() as uow, pytest.raises(Conflict):
        uow.deposit_addresses.add(DepositAddress("polygon", "0xa1", 99, None, None, AT, "usr_2"))
    with backend.uow() as uow:
        assert uow.deposit_addresses.owned_by("usr_1") == [
            DepositAddress("polygon", "0xB2", second, None, None, AT, "usr_1")
        ]
        assert uow.deposit_addresses.wallet_addresses("polygon") == ["0xB2"]
        assert uow.deposit_addresses.addresses_for("polygon") == ["0xA1", "0xB2"]
        assert uow.deposit_addresses.by_address("polygon", "0xb2").user_id == "usr_1"


def test_a_deposit_is_credited_after_its_confirmations_and_a_reorg_takes_it_back(backend: Backend):
    """The whole use case on each backend: seen, credited at depth, reversed by a reorg, books balanced."""
    stack = deposit_stack(backend)
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "25")
    stack.mine("polygon", 2)
    assert stack.balance(user, "USDT") == Money.of("25", "USDT")
    stack.chains["polygon"].reorg(3)
    stack.mine("polygon", 1)
    assert stack.deposit_of(user).state is DepositState.WITHDRAWN
    assert stack.balance(user, "USDT") == Money.of("0", "USDT")
    assert set(stack.wallet.ledger.trial_balance().values()) == {0}


def test_a_shared_index_is_free_on_every_network_and_taken_on_all(backend: Backend):
    """The greatest next index among the networks, then every one of their counters is past it."""
    with backend.uow() as uow:
        for _ in range(3):
            uow.deposit_addresses.allocate_index("polygon")
        assert uow.deposit_addresses.allocate_index("ethereum") == 0
        assert uow.deposit_addresses.allocate_shared_index(["polygon", "ethereum", "bsc"]) == 3
        assert [uow.deposit_addresses.allocate_index(n) for n in ("polygon", "ethereum", "bsc")] == [4, 4, 4]
        assert uow.deposit_addresses.allocate_shared_index(["tron"]) == 0


EVM_NETWORKS = ("ethereum", "polygon", "bsc")
OWNERS = ["user", "polygon invoice", "ethereum invoice", "bsc invoice", "tron invoice", "polygon+ethereum invoice"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(OWNERS), min_size=1, max_size=25))
def test_no_address_is_ever_given_to_two_owners(owners: list[str]):
    """Any interleaving of wallet users asking for addresses and merchant invoices on one or several EVM networks
    (``Invoicing``, the same derivers: the real EVM one over one xpub): on every network each address is one
    owner's, and an EVM address has exactly one owner across all the EVM networks (a wallet's is the same on each,
    an invoice's is the same on each of its networks); each is found as its owner's."""
    evm = EvmAddressDeriver(XPUB)
    stack = deposit_stack(memory_deposit_backend(), derivers=dict.fromkeys(EVM_NETWORKS, evm))
    with stack.uow() as uow:
        rails = [rail_for(n, "USDT") for n in (*EVM_NETWORKS, "tron")]
        uow.stores.put(StoreSettings(merchant_id="m1", rails=rails))
    invoicing = Invoicing(
        uow=stack.uow,
        clock=stack.clock,
        ids=SequentialIds(),
        ledger=stack.wallet.ledger,
        pricer=stack.wallet.wallets.quoter(),
        derivers=stack.derivers,
    )
    taken: dict[tuple[str, str], str] = {}
    evm_owner: dict[str, str] = {}  # an EVM address -> its one owner, on whichever EVM network
    for n, owner in enumerate(owners):
        if owner == "user":
            user = stack.sign_up(f"0712{n:06d}")
            found = [(a.network, a.address, user.id) for a in stack.deposits.addresses(user.id)]
        else:
            keys = [f"usdt-{network}" for network in owner.split()[0].split("+")]
            invoice = invoicing.create_invoice("m1", Money.of("1000", KES), rails=keys)
            found = [(o.rail.network.name, o.address, invoice.id) for o in invoice.options]
        for network, address, who in found:
            assert (network, address) not in taken, f"{address} on {network} given to {taken.get((network, address))}"
            taken[(network, address)] = who
            if network in EVM_NETWORKS:
                held = evm_owner.setdefault(address.lower(), who)
                assert held == who, f"{address} on {network} is {who}'s and {held}'s on another EVM network"
    with stack.uow() as uow:
        for (network, address), who in taken.items():
            owner = uow.deposit_addresses.by_address(network, address)
            assert who in (owner.user_id, owner.invoice_id)


def test_an_evm_network_added_later_gives_a_user_the_evm_address_they_already_hold(backend: Backend):
    """A user who asked for addresses when only Ethereum (and Tron) took deposits gets, once Polygon and BSC are
    added, the same address there (their EVM index, reserved on every EVM counter when it was taken), never another
    user's; a user who first asks after gets one address of their own on every EVM network."""
    evm = EvmAddressDeriver(XPUB)
    stack = deposit_stack(backend, derivers=dict.fromkeys(EVM_NETWORKS, evm))
    before = Deposits(
        uow=stack.uow,
        ledger=stack.wallet.ledger,
        clock=stack.clock,
        ids=SequentialIds(),
        derivers=stack.derivers,
        rails=[rail_for("ethereum", "USDT"), rail_for("tron", "USDT")],
    )
    early = stack.sign_up("0712000001")
    [first_evm] = [a.address for a in before.addresses(early.id) if a.network == "ethereum"]
    other = stack.sign_up("0712000002")
    [other_evm] = [a.address for a in before.addresses(other.id) if a.network == "ethereum"]
    later = {a.network: a.address for a in stack.deposits.addresses(early.id)}
    assert {n: later[n] for n in EVM_NETWORKS} == dict.fromkeys(EVM_NETWORKS, first_evm)
    assert {a.network: a.address for a in stack.deposits.addresses(early.id)} == later  # allocated once
    assert {a.address for a in stack.deposits.addresses(other.id) if a.network in EVM_NETWORKS} == {other_evm}
    newcomer = stack.sign_up("0712000003")
    mine = {a.address for a in stack.deposits.addresses(newcomer.id) if a.network in EVM_NETWORKS}
    assert len(mine) == 1 and mine.isdisjoint({first_evm, other_evm})
    with stack.uow() as uow:
        assert {uow.deposit_addresses.by_address(n, first_evm).user_id for n in EVM_NETWORKS} == {early.id}


def test_a_deposit_racing_sends_to_a_tier_0_wallet_never_passes_its_daily_limit(backend: Backend):
    """A confirmed 30 USDT deposit (KES 3,900) and three KES 3,000 sends reach one tier-0 wallet (KES 10,000 a day)
    at once, threads released together: whatever order they commit in, what the wallet received today stays within
    KES 10,000 (the deposit held ``tier_limit`` if the sends came first, or one send refused ``recipient_limit``),
    and the books balance. Deposits take the wallet's receive lock before they read what it received."""
    from cryptopay.core.errors import CryptopayError
    from cryptopay.core.kyc import day_bounds, month_bounds

    from tests.support.sql_engines import race

    stack = deposit_stack(backend)
    amina = stack.sign_up("0712345678")
    senders = [stack.sign_up(f"07120000{n:02d}", tier=1) for n in range(1, 4)]
    for sender in senders:
        stack.wallet.fund(sender, "3000", "KES")
    stack.pay(amina, "polygon", "30")
    stack.mine("polygon", 1)
    stack.clock.advance(seconds=12)
    stack.chains["polygon"].mine()  # its third block: the next sync credits it (or holds it)

    def work(i: int) -> object:
        try:
            if i == 0:
                return stack.sync()
            return stack.wallet.wallets.send(senders[i - 1].id, "0712345678", Money.of("3000", KES))
        except CryptopayError as error:
            return error

    outcomes = race(4, work)
    assert all(getattr(o, "code", "recipient_limit") == "recipient_limit" for o in outcomes), outcomes
    now = stack.clock.now()
    with backend.uow() as uow:
        totals = uow.wallet_usage.totals(amina.id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0])
    received = totals["receive"][0].amount
    deposit = stack.deposit_of(amina)
    credited = Decimal(3900) if deposit.state is DepositState.CREDITED else Decimal(0)
    assert received <= 10000 and received == stack.balance(amina, "KES").amount + credited, (received, deposit.state)
    assert deposit.state is DepositState.CREDITED or deposit.hold_reason is HoldReason.TIER_LIMIT
    assert set(stack.wallet.ledger.trial_balance().values()) == {0}


def test_two_officers_release_is_valued_before_its_transaction_with_quotes_stored_as_wired(backend: Backend):
    """The deposits' pricer storing its quotes as wired (the database's table, each in a transaction of its own): two
    officers release a deposit held beyond tier 0's single limit (proposed, approved: review10 R10-15), and it is
    credited and counted in what the wallet received today. Valued inside the release's transaction (724e88cb), the quote's own transaction was a nested
    write on SQLite (``NestedWriteTransaction``: no release ever went through) and, on PostgreSQL, the rate sources
    were asked while the deposit's and the wallet's rows were locked."""
    from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
    from cryptopay.core.kyc import day_bounds, month_bounds
    from cryptopay.core.ports.fx import QuoteRepository
    from cryptopay.core.testing.fx import InMemoryQuoteRepository

    quotes: QuoteRepository = (
        InMemoryQuoteRepository() if backend.engine is None else SqlQuoteRepository(backend.engine)
    )
    stack = deposit_stack(backend, quotes=quotes)
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "40")  # KES 5,200: above tier 0's single limit
    stack.mine("polygon", 3)
    held = stack.deposit_of(user)
    assert (held.state, held.hold_reason) == (DepositState.HELD, HoldReason.TIER_LIMIT)

    stack.deposits.propose_release(held.id, officer="usr_a", note="known customer, ID on file")
    released = stack.deposits.approve_release(held.id, officer="usr_officer")

    assert released.state is DepositState.CREDITED and stack.balance(user, "USDT") == Money.of("40", "USDT")
    now = stack.clock.now()
    with stack.uow() as uow:
        totals = uow.wallet_usage.totals(user.id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0])
    assert totals["receive"][0] == Money.of("5200", KES)


def test_a_deposit_without_monitoring_is_valued_before_its_transaction_with_quotes_stored_as_wired(backend: Backend):
    """review6 F5's class: without transaction monitoring no movement values a deposit before its booking, and the
    tier's receive limit valued it inside the booking's transaction (``_receivable``): the quote's own transaction was
    a nested write on SQLite (the confirm step failed, the deposit never credited) and, on PostgreSQL, the rate
    sources were asked under the wallet's lock. Valued with the verdict, before: credited and counted."""
    from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
    from cryptopay.core.kyc import day_bounds, month_bounds
    from cryptopay.core.ports.fx import QuoteRepository
    from cryptopay.core.testing.fx import InMemoryQuoteRepository

    quotes: QuoteRepository = (
        InMemoryQuoteRepository() if backend.engine is None else SqlQuoteRepository(backend.engine)
    )
    stack = deposit_stack(backend, quotes=quotes, monitored=False)
    user = stack.sign_up("0712345678")
    stack.pay(user, "polygon", "10")  # KES 1,300: within tier 0's receive limits
    stack.mine("polygon", 3)
    deposit = stack.deposit_of(user)
    assert deposit.state is DepositState.CREDITED and stack.balance(user, "USDT") == Money.of("10", "USDT")
    now = stack.clock.now()
    with stack.uow() as uow:
        totals = uow.wallet_usage.totals(user.id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0])
    assert totals["receive"][0] == Money.of("1300", KES)


def test_two_officers_release_a_sanctioned_deposit_the_same_on_every_backend(backend: Backend):
    """Review8 R7 on every backend: the deposit keeps its alert and the proposal across units of work; one person's
    release is refused, the second officer's approval credits it once and closes its alert with no action."""
    from cryptopay.core.compliance.cases import AlertStatus, CaseStatus
    from cryptopay.core.errors import Refused

    stack = deposit_stack(backend)
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", "0xbad0000000000000000000000000000000000bad")
    stack.pay(user, "polygon", "20", sender="0xbad0000000000000000000000000000000000bad")
    stack.mine("polygon", 3)
    held = stack.deposit_of(user)
    assert held.hold_reason is HoldReason.SANCTIONED_SENDER and len(held.alerts) == 1
    with pytest.raises(Refused):
        stack.deposits.release(held.id, actor="ops:root", note="looks fine to me")
    stack.deposits.propose_release(held.id, officer="usr_a", note="the list named the wrong address")
    proposal = stack.deposit_of(user).proposal
    assert proposal is not None and (proposal.by, proposal.note) == ("usr_a", "the list named the wrong address")
    released = stack.deposits.approve_release(held.id, officer="usr_b")
    assert released.state is DepositState.CREDITED and stack.deposit_of(user).proposal is None
    assert stack.balance(user, "USDT") == Money.of("20", "USDT")
    (alert,) = stack.monitoring.alerts()
    assert alert.status is AlertStatus.IN_CASE and alert.case_id is not None
    assert stack.monitoring.case(alert.case_id).status is CaseStatus.CLOSED_NO_ACTION


def test_held_deposits_are_listed_by_id_after_a_cursor(backend: Backend):
    """``held``: only the deposits held now, by id, after ``after``, at most ``limit``."""
    with backend.uow() as uow:
        for n, state in enumerate((DepositState.HELD, DepositState.CREDITED, DepositState.HELD, DepositState.HELD)):
            deposit = _deposit(f"dep_{n}", tx=f"0x{n:02x}")
            deposit.state = state
            uow.wallet_deposits.add(deposit)
    with backend.uow() as uow:
        assert [d.id for d in uow.wallet_deposits.held(after=None, limit=10)] == ["dep_0", "dep_2", "dep_3"]
        assert [d.id for d in uow.wallet_deposits.held(after="dep_0", limit=1)] == ["dep_2"]
