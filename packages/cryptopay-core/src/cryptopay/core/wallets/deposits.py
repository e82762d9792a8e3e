"""Deposits into personal wallets: addresses per network, transfers seen on chain, credits after the wallet policy.

Addresses. ``addresses(user)`` gives the user one address per configured network, allocated (once, under the
wallet's row lock) from the same per-network index counters and derived by the same xpub derivers as invoices'
addresses, and stored in the same table: no address is ever two owners' (the table's unique keys make it a database
rule, not a hope). On the EVM networks one index is taken on every one of their counters at once
(``allocate_shared_index`` over ``payments.model.index_families``, as invoices do), so the user's address is the
same on each and is nobody else's on any of them: USDT sent on the wrong EVM network still reaches the user's own
address. An EVM network added to the deployment later gets the index the user already holds on the others (reserved
there since it was taken), so the user still has one EVM address. They never expire, so the chain scanners always
watch them (``watched_addresses``).

Detection. ``record`` turns transfers to those addresses into ``Deposit``s (``seen``), idempotently by
``(network, tx, index)``; ``confirm`` reads each watched deposit's depth (and finality signal) before any
transaction, then per deposit in one unit of work: a deposit whose block left the chain is ``withdrawn`` and, if
it was booked, reversed (Dr wallet / Cr custody); one that reached its requirement is booked. A transfer mined
again after a reorg is a new generation of the same deposit, booked under new keys.

Booking (decision). Before a deposit reaches the wallet it is checked, in this order: an asset the wallet holds
(USDT, BTC) or converts (USDC: a price for its conversion into USDT, below), the asset's minimum (dust), the sending
address against the sanctions lists
(``ScreeningPort.screen_address``), and the monitoring's blocking rules (``Monitoring.check``, which journals the
movement). A deposit failing one, or sent to a frozen wallet, is **held**: booked Dr custody / Cr
``liabilities:deposits_held:<ASSET>`` (the coins are ours to account for either way) and never credited silently;
a sanctioned sender raises a blocking alert in the same transaction. An operator may ``release`` a held deposit to
the wallet (audited); one held for compliance or beyond its wallet's KYC tier (``Deposit.by_two_officers``) is
released by two officers instead (``propose_release``, then ``approve_release`` by a second: four-eyes).
Otherwise it is **credited**: Dr ``assets:custody:<network>:<ASSET>`` / Cr ``liabilities:wallet:<user>:<ASSET>``,
keyed ``deposit:<id>:g<generation>:credit``, and it shows in the wallet's history (kind ``deposit``). Every booked
deposit is journaled for the batch monitoring rules.

USDC. The wallet keeps one USDT balance: a confirmed USDC deposit is converted at confirmation, at the mids of a
USDC/USD and a USDT/USD quote from the pricer (its peg bands refuse a depegged coin) less the stablecoin conversion
spread (``StablecoinConversion``), and credited through the treasury's inventory (``flows.book_deposit`` converted: Dr
custody:USDC / Cr trading:USDC, Dr trading:USDT / Cr wallet:USDT / Cr ``revenue:fx_spread:USDT``), so USDC enters
custody and the user is owed USDT; the ``Conversion`` (rate, spread, quote ids) is kept with the deposit and its
KES value for monitoring is that of the USDT. Without a price it is held (``awaiting_conversion``: Dr custody:USDC /
Cr deposits_held:USDC), still watched, and every ``confirm`` step tries again (the checks again, then the conversion
out of the suspense account): nothing is lost and nothing is credited at a guess. An officer's ``release`` of a held
USDC deposit converts it the same way. A reorg reverses a converted deposit exactly
(``flows.reverse_deposit`` of the recorded amounts).

Reorgs. A booked deposit stays watched until it is settled (``DepositRequirement.settled``). If its block leaves
the chain, the credit is reversed (kind ``deposit_reversed``); if the wallet no longer holds the amount (already
spent), the wallet is frozen, the deposit keeps ``clawback_pending`` and the reversal is retried at every step;
if the transfer is mined again meanwhile, nothing is owed: the booking stands and that freeze is lifted (audited).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.cases import Alert, CaseStatus
from cryptopay.core.compliance.four_eyes import FourEyes
from cryptopay.core.compliance.monitoring import Blocked, Monitoring
from cryptopay.core.compliance.own_party import PartiesOf, refuse_own_party
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.compliance.screening import AddressMatch
from cryptopay.core.errors import (
    Conflict,
    CryptopayError,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    NotFound,
    Refused,
    Unavailable,
)
from cryptopay.core.fx import Pair
from cryptopay.core.kyc import Product, check_wallet_movement, product_limited
from cryptopay.core.ledger import Entry, Ledger
from cryptopay.core.money import USD, USDT, Money
from cryptopay.core.payments.model import DepositAddress, index_families
from cryptopay.core.ports.chains import (
    AddressDeriver,
    ChainWatcher,
    FinalitySource,
    MempoolWatcher,
    ObservedTransfer,
    TxState,
)
from cryptopay.core.ports.compliance import ScreeningPort
from cryptopay.core.ports.deposits import DepositUnitOfWork, DepositUowFactory
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import Finality, Rail
from cryptopay.core.wallets.deposit import (
    CONVERTED,
    WALLET_DEPOSIT_ASSETS,
    Conversion,
    Deposit,
    DepositMinimums,
    DepositState,
    HoldReason,
    ReleaseProposal,
    StablecoinConversion,
    WalletSpeed,
)
from cryptopay.core.wallets.model import Usage
from cryptopay.core.wallets.service import kes_value, spending
from cryptopay.core.wallets.wording import REVERSAL_REASONS

__all__ = ["DEPOSIT_PRODUCT", "Deposits", "WalletAddress"]

log = logging.getLogger(__name__)

DEPOSIT_PRODUCT = "wallet_deposit"  # the monitoring journal's product name for these movements
_ACTOR = "system:deposits"
_PAGE = 500
# A reversal's ``why`` by its code, kept in the reversing entry for the wallet's history (``wallets.wording``).
_REASON_CODES = {why: code for code, why in REVERSAL_REASONS.items()}


@attrs.frozen
class WalletAddress:
    """A user's deposit address on one network: what it credits, how long a deposit waits, the least it credits."""

    network: str
    address: str
    assets: tuple[str, ...]
    requirement: str
    minimums: tuple[tuple[str, str], ...]
    uri: str  # for wallets' QR scanners and deep links: the bare address in the network's URI scheme


@attrs.frozen
class _Reading:
    """What the chain says about one watched deposit, read before its transaction."""

    deposit: Deposit
    gone: bool = False
    depth: int = 0
    reached: Finality | None = None
    why: str = REVERSAL_REASONS["reorg"]


@attrs.frozen
class _Verdict:
    """How a deposit that reached its requirement is booked: held (and why) or credited."""

    reason: HoldReason | None = None
    detail: str | None = None
    movement: Movement | None = None
    alert: Alert | None = None
    alert_ids: tuple[str, ...] = ()  # the blocking alerts a monitoring rule raised when it refused the deposit
    conversion: Conversion | None = None  # a converted asset's conversion, when it is credited
    # Its KES value for the tier's receive limits, or why it cannot be valued now: asked with the verdict, before the
    # booking's transaction (``_valued``: a quote is locked in a transaction of its own), when no movement valued it
    valued: Money | str | None = None


class Deposits:
    """The wallet deposit use cases over the deployment's networks (those with an address deriver)."""

    def __init__(
        self,
        *,
        uow: DepositUowFactory,
        ledger: Ledger,
        clock: Clock,
        ids: IdGenerator,
        derivers: Mapping[str, AddressDeriver],
        rails: Sequence[Rail],
        speed: WalletSpeed | None = None,
        minimums: DepositMinimums | None = None,
        screening: Callable[[], ScreeningPort | None] = lambda: None,
        monitoring: Callable[[], Monitoring | None] = lambda: None,
        quoter: Callable[[], Quoter | None] = lambda: None,
        conversion: StablecoinConversion | None = None,
        parties_of: PartiesOf | None = None,
        four_eyes: FourEyes | None = None,
    ) -> None:
        self._uow, self._ledger, self._clock, self._ids = uow, ledger, clock, ids
        self._derivers = dict(derivers)
        self._rails = {r.network.name: r for r in rails if r.asset in WALLET_DEPOSIT_ASSETS}
        self._converted = {r.network.name: r for r in rails if r.asset in CONVERTED}  # USDC, credited as USDT
        self._speed, self._minimums = speed or WalletSpeed(), minimums or DepositMinimums()
        self._screening, self._monitoring, self._quoter = screening, monitoring, quoter
        self._conversion = conversion or StablecoinConversion()
        self._parties_of = parties_of  # the parties an officer belongs to: no officer releases their own deposit
        self.four_eyes = four_eyes or FourEyes()  # a release's approval (``compliance.four_eyes``)

    # -- addresses ---------------------------------------------------------------------------------------------
    @property
    def networks(self) -> list[str]:
        """The networks a wallet can receive on: a deriver for its addresses and a rail of a wallet asset."""
        return sorted(n for n in self._rails if n in self._derivers)

    def addresses(self, user_id: str) -> list[WalletAddress]:
        """The user's deposit address on every network, allocated on first ask (``NotFound`` without a wallet)."""
        owned = in_transaction(self._uow, lambda uow: uow.deposit_addresses.owned_by(user_id))
        if not set(self.networks) <= {a.network for a in owned}:  # a first ask (or a network added since)
            owned = in_transaction(self._uow, partial(self._allocate, user_id=user_id))
        return [self._view(a) for a in owned if a.network in self._rails]

    def address(self, user_id: str, network: str) -> WalletAddress:
        """The user's deposit address on ``network`` (``NotFound`` for a network this deployment does not offer)."""
        wanted = network.strip().lower()
        if wanted not in self.networks:
            offered = ", ".join(self.networks) or "none"
            raise NotFound(f"no deposits on {network!r} here; networks: {offered}", field="network")
        return next(a for a in self.addresses(user_id) if a.network == wanted)

    def watched_addresses(self, network: str) -> list[str]:
        """Every wallet address on ``network``: the scanners watch them always."""
        return in_transaction(self._uow, lambda uow: uow.deposit_addresses.wallet_addresses(network))

    def _allocate(self, uow: DepositUnitOfWork, user_id: str) -> list[DepositAddress]:
        wallet = uow.wallets.get(user_id, lock=True)  # two first asks at once allocate once
        if wallet is None:
            raise NotFound(f"{user_id} has no wallet")
        owned = {a.network: a for a in uow.deposit_addresses.owned_by(user_id)}
        now = self._clock.now()
        for counters, group in index_families(self.networks).items():
            missing = [n for n in group if n not in owned]
            if not missing:
                continue
            index = self._family_index(uow, owned, counters, missing)
            for network in missing:
                derived = self._derivers[network].derive(index)
                address = DepositAddress(network, derived, index, None, None, now, user_id)
                uow.deposit_addresses.add(address)
                owned[network] = address
                details = _text(network=network, index=index)
                uow.audit.append(
                    AuditEvent(f"user:{user_id}", "wallet.deposit_address", f"user:{user_id}", now, details)
                )
        return [owned[n] for n in sorted(owned)]

    def _family_index(
        self,
        uow: DepositUnitOfWork,
        owned: Mapping[str, DepositAddress],
        counters: Sequence[str],
        missing: Sequence[str],
    ) -> int:
        """The index of the user's addresses on ``missing``: on the EVM networks, the index the user already holds on
        another of them (a network added to the deployment since they first asked), so the address is the same on
        every EVM network. It is theirs on the new one too: an EVM index was taken on every EVM network's counter
        when it was allocated (``index_families``: all known EVM networks, configured or not), so nobody else was
        ever given it there; checked all the same (an address another owner holds gets a fresh index). Otherwise a
        fresh index on every counter of the family."""
        held = sorted((a for n, a in owned.items() if n in counters), key=lambda a: a.network)
        if len(counters) > 1 and held:
            index = held[0].index
            free = all(
                (found := uow.deposit_addresses.by_address(n, self._derivers[n].derive(index))) is None
                or found.user_id == held[0].user_id
                for n in missing
            )
            if free:
                return index
        return uow.deposit_addresses.allocate_shared_index(counters)

    def _view(self, address: DepositAddress) -> WalletAddress:
        rail = self._rails[address.network]
        assets = [rail.asset] + ([r.asset] if (r := self._converted.get(address.network)) else [])
        minimums = [(a.code, format(self._minimums.minimum(a).amount.normalize(), "f")) for a in assets]
        return WalletAddress(
            network=address.network,
            address=address.address,
            assets=tuple(a.code for a in assets),
            requirement=self._speed.requirement(address.network).describe(),
            minimums=tuple(minimums),
            uri=_uri(rail, address.address),
        )

    # -- detection ---------------------------------------------------------------------------------------------
    def record(self, network: str, transfers: Sequence[ObservedTransfer]) -> list[Deposit]:
        """Record transfers to wallet addresses as deposits (others are ignored); idempotent."""
        if any(t.network != network for t in transfers):
            raise InvalidInput(f"every transfer passed for {network} must be on {network}")
        changed: list[Deposit] = []
        for transfer in transfers:
            found = in_transaction(self._uow, partial(self._record, transfer=transfer))
            changed += [found] if found is not None else []
        return changed

    def record_mempool(self, network: str, mempool: MempoolWatcher) -> list[Deposit]:
        """Unconfirmed payments to wallet addresses (Bitcoin's mempool): shown as seen before their first block."""
        addresses = self.watched_addresses(network)
        return self.record(network, mempool.pending(addresses)) if addresses else []

    def confirm(
        self,
        network: str,
        watcher: ChainWatcher,
        finality: FinalitySource | None = None,
        mempool: MempoolWatcher | None = None,
    ) -> list[Deposit]:
        """Follow every watched deposit on ``network``: withdraw those gone, book those that reached the wallet
        requirement, stop watching settled ones, retry owed reversals."""
        watched = in_transaction(self._uow, lambda uow: uow.wallet_deposits.watching(network, limit=10_000))
        finals = _Finals(finality)
        changed: list[Deposit] = []
        for deposit in watched:
            reading = _read(deposit, watcher, finals, mempool)
            if reading is None:
                continue
            verdict = None
            awaiting = _awaiting(deposit)
            if not reading.gone and (awaiting or (deposit.state is DepositState.SEEN and self._due(reading))):
                verdict = self._verdict(deposit)
                if verdict is None or (awaiting and verdict.reason is HoldReason.AWAITING_CONVERSION):
                    continue  # cannot be valued (or converted) now: the next step asks again
                if awaiting and verdict.reason is not None and verdict.reason is deposit.hold_reason:
                    continue  # held for the same reason still
            found = in_transaction(self._uow, partial(self._confirm, reading=reading, verdict=verdict))
            changed += [found] if found is not None else []
        return changed

    def _due(self, reading: _Reading) -> bool:
        return reading.deposit.requirement.met(reading.depth, reading.reached)

    # -- reads and operator actions --------------------------------------------------------------------------
    def deposits(self, user_id: str, *, before: str | None = None, limit: int = 50) -> list[Deposit]:
        """The user's deposits, newest first."""
        return in_transaction(self._uow, lambda uow: uow.wallet_deposits.for_user(user_id, before=before, limit=limit))

    def deposit(self, deposit_id: str, *, user_id: str | None = None) -> Deposit:
        """A deposit (``NotFound`` for another user's when ``user_id`` is given)."""
        found: Deposit | None = in_transaction(self._uow, lambda uow: uow.wallet_deposits.get(deposit_id))
        if found is None or (user_id is not None and found.user_id != user_id):
            raise NotFound(f"no deposit {deposit_id!r}")
        return found

    def waiting(self, *, after: str | None = None, limit: int = 50) -> list[Deposit]:
        """Deposits awaiting two officers' release (``Deposit.by_two_officers``: held for compliance, review8 R7, or
        beyond the wallet's KYC tier, review10 R10-15), by id: compliance's queue; the held ones read a page at a time,
        the ordinary holds skipped."""
        found: list[Deposit] = []
        while len(found) < limit:
            page = in_transaction(self._uow, partial(_held_page, after=after))
            found += [d for d in page if d.by_two_officers]
            if len(page) < _PAGE:
                break
            after = page[-1].id
        return found[:limit]

    def release(self, deposit_id: str, *, actor: str, note: str) -> Deposit:
        """An operator's decision on an ordinary hold (dust, an asset, a price): credit a held deposit to
        its wallet (Dr deposits_held / Cr wallet; USDC converted into USDT at a price now, ``Unavailable`` without
        one), counted in what the wallet received as a credited deposit is (``_released_value``), audited.

        A deposit held for compliance (``Deposit.for_compliance``: a listed sender, a blocking rule, a frozen wallet,
        or any compliance alert raised on it), or whose sender a sanctions list names now (dust from a listed address
        is held as dust: the lists are read after the minimum), is never released by one person: ``Refused``
        (the shell's exit 5), audited ``wallet.deposit_release_refused`` by ``actor``, nothing changes; two officers
        release it (``propose_release`` and ``approve_release``, review8 R7). So is a deposit held beyond its wallet's
        KYC tier (``Deposit.by_two_officers``, review10 R10-15: what an unverified person may receive past the tier's
        limits is two officers' decision), refused and audited alike. A wallet (or a holder) frozen now receives
        nothing (``Refused``)."""
        why = _note(note)
        found = self.deposit(deposit_id)
        alerts = in_transaction(self._uow, lambda uow: _alerts_of(uow, found))
        if found.state is DepositState.HELD and (found.by_two_officers or alerts or self._sanctioned(found)):
            reason = found.hold_reason.value if found.hold_reason else "hold"
            details = _text(user=found.user_id, reason=reason, alerts=",".join(alerts), note=why)
            event = AuditEvent(
                actor, "wallet.deposit_release_refused", f"deposit:{found.id}", self._clock.now(), details
            )
            in_transaction(self._uow, lambda uow: uow.audit.append(event))
            why = "beyond its wallet's KYC tier" if found.hold_reason is HoldReason.TIER_LIMIT else "for compliance"
            raise Refused(
                f"deposit {found.id} is held {why}: its release is proposed by one officer and approved by a "
                "second, each signed in with their second factor, on the API (POST /v1/admin/compliance/"
                f"held-deposits/{found.id}/release, then .../approve), never by one person or from the shell"
            )
        return self._credit_release(found, actor=actor, note=why)

    def propose_release(self, deposit_id: str, *, officer: str, note: str, operator: str | None = None) -> Deposit:
        """Propose releasing a held deposit to its wallet (four-eyes, as held payments: ``payments.held``); a second
        officer ``approve_release``s it. Nothing moves and its alerts stay open; audited
        ``wallet.deposit_release_proposed``; a second proposal while one waits is a ``Conflict``. Never from a shell
        (``operator`` given: ``Refused``, audited ``wallet.deposit_shell_proposal_refused`` by the operator): the
        shell cannot prove which officer is at the keyboard. No officer decides their own deposit (``OwnParty``)."""
        why = _note(note)
        found = self.deposit(deposit_id)
        if operator is not None:
            details = _text(user=found.user_id, officer=officer, note=why)
            event = AuditEvent(
                operator, "wallet.deposit_shell_proposal_refused", f"deposit:{found.id}", self._clock.now(), details
            )
            in_transaction(self._uow, lambda uow: uow.audit.append(event))
            raise Refused(
                f"a release of held deposit {found.id} moves money, so it is proposed only by an officer signed in "
                f"with their second factor (POST /v1/admin/compliance/held-deposits/{found.id}/release), not from the "
                "shell: the shell cannot prove which officer is at the keyboard"
            )
        self._own_party(found, officer, "wallet.deposit_release_proposed")
        return in_transaction(self._uow, partial(self._proposed, deposit_id=deposit_id, officer=officer, note=why))

    def approve_release(self, deposit_id: str, *, officer: str, operator: str | None = None) -> Deposit:
        """Carry out the release another officer proposed, with its note, in the approver's name: the deposit is
        credited as ``release`` credits it and its alerts concluded (closed with no action, ``Monitoring.conclude``)
        in the same unit of work, so nothing is concluded unless the money moves. ``SameOfficer`` (409, audited
        ``wallet.deposit_same_officer_refused``) for its proposer, ``RelatedOfficers`` / ``OfficerCoolingOff`` for an
        officer four-eyes refuses (``compliance.four_eyes``, audited ``wallet.deposit_<code>_refused``); ``Refused``
        from a shell (``operator`` given)."""
        if operator is not None:
            raise Refused(
                f"held deposit {deposit_id} is released when a second officer approves it: approve it on the API "
                "(signed in with your second factor), not from the shell"
            )
        found = self.deposit(deposit_id)
        if found.state is not DepositState.HELD or found.proposal is None:
            raise InvalidState(f"no release of deposit {deposit_id} is proposed")
        proposal = found.proposal
        now = self._clock.now()
        refused = self.four_eyes.refusal(proposal.by, officer, now=now, what="release")
        if refused is not None:
            details = _text(user=found.user_id, proposed_at=proposal.at.isoformat(), **refused.audit_details)
            action = refused.action("wallet.deposit")
            event = AuditEvent(f"user:{officer}", action, f"deposit:{found.id}", now, details)
            in_transaction(self._uow, lambda uow: uow.audit.append(event))
            raise refused
        self._own_party(found, officer, "wallet.deposit_released")
        return self._credit_release(found, actor=f"user:{officer}", note=proposal.note, approved=(officer, proposal))

    def decline_release(self, deposit_id: str, *, officer: str, note: str) -> Deposit:
        """Decline (or, its proposer, withdraw) the release proposed: nothing moves, audited
        ``wallet.deposit_release_declined``; the deposit stays held."""
        why = _note(note)
        found = self.deposit(deposit_id)
        self._own_party(found, officer, "wallet.deposit_release_declined")

        def work(uow: DepositUnitOfWork) -> Deposit:
            deposit = uow.wallet_deposits.get(deposit_id, lock=True)
            if deposit is None or deposit.state is not DepositState.HELD or deposit.proposal is None:
                raise InvalidState(f"no release of deposit {deposit_id} is proposed")
            proposed_by, deposit.proposal = deposit.proposal.by, None
            uow.wallet_deposits.update(deposit)
            details = _text(user=deposit.user_id, proposed_by=proposed_by, note=why)
            uow.audit.append(
                AuditEvent(
                    f"user:{officer}",
                    "wallet.deposit_release_declined",
                    f"deposit:{deposit.id}",
                    self._clock.now(),
                    details,
                )
            )
            return deposit

        return in_transaction(self._uow, work)

    def _proposed(self, uow: DepositUnitOfWork, deposit_id: str, officer: str, note: str) -> Deposit:
        deposit = uow.wallet_deposits.get(deposit_id, lock=True)
        if deposit is None:
            raise NotFound(f"no deposit {deposit_id!r}")
        if deposit.state is not DepositState.HELD:
            raise InvalidState(f"deposit {deposit_id} is {deposit.state.value}: only a held deposit can be released")
        if deposit.proposal is not None:
            raise Conflict(f"a release of deposit {deposit_id} is proposed already: approve or decline it")
        now = self._clock.now()
        deposit.proposal = ReleaseProposal(by=officer, at=now, note=note)
        uow.wallet_deposits.update(deposit)
        details = _text(user=deposit.user_id, note=note)
        uow.audit.append(
            AuditEvent(f"user:{officer}", "wallet.deposit_release_proposed", f"deposit:{deposit.id}", now, details)
        )
        return deposit

    def _own_party(self, deposit: Deposit, officer: str, action: str) -> None:
        refuse_own_party(
            self._uow,
            self._parties_of,
            officer,
            deposit.user_id,
            scope="compliance",
            action=action,
            subject=f"deposit:{deposit.id}",
            at=self._clock.now(),
        )

    def _credit_release(
        self,
        found: Deposit,
        *,
        actor: str,
        note: str,
        approved: tuple[str, ReleaseProposal] | None = None,
    ) -> Deposit:
        conversion = self._convert(found) if found.asset in CONVERTED and found.state is DepositState.HELD else None
        valued = self._valued(found, conversion)  # before the transaction: a quote is locked in one of its own
        release = partial(
            self._release,
            deposit_id=found.id,
            actor=actor,
            note=note,
            conversion=conversion,
            valued=valued,
            approved=approved,
            monitoring=self._monitoring() if approved is not None else None,
        )
        return in_transaction(self._uow, release)

    def _valued(self, deposit: Deposit, conversion: Conversion | None) -> Money | str:
        """What an officer's release of ``deposit`` is worth in KES now, or why it cannot be valued (the refusal's
        words). Read before the release's transaction: ``kes_value`` locks and stores a quote in a transaction of its
        own, which inside the release's was a nested write on SQLite (``NestedWriteTransaction``) and, on PostgreSQL,
        the rate sources asked while the deposit's and the wallet's rows were locked."""
        credited = conversion.into if conversion is not None else deposit.amount
        try:
            return kes_value(credited, self._quoter())
        except CryptopayError as error:
            return error.message

    def _convert(self, deposit: Deposit) -> Conversion:
        """The deposit in USDT now: the mids of its asset's and USDT's dollar quotes, less the spread (the pricer
        refuses a stale or depegged price: ``Unavailable``, ``Depegged``)."""
        quoter = self._quoter()
        if quoter is None:
            raise InvalidInput(f"{deposit.asset.code} cannot be converted here (no price source)")
        deposited, usdt = quoter.quote(Pair(deposit.asset, USD)), quoter.quote(Pair(USDT, USD))
        at = self._clock.now()
        return self._conversion.convert(deposit.amount, deposited.mid, usdt.mid, at, (deposited.id, usdt.id))

    # -- decisions before a transaction -------------------------------------------------------------------------
    def _verdict(self, deposit: Deposit) -> _Verdict | None:
        """Held or credited, decided outside the booking's transaction (screening and monitoring use their own);
        None when monitoring is on and no price can value the deposit now (it waits for the next step)."""
        if deposit.asset not in WALLET_DEPOSIT_ASSETS and deposit.asset not in CONVERTED:
            return _Verdict(HoldReason.UNSUPPORTED_ASSET, f"the wallet holds no {deposit.asset.code}")
        minimum = self._minimums.minimum(deposit.asset)
        if deposit.amount < minimum:
            return _Verdict(HoldReason.BELOW_MINIMUM, f"less than the minimum deposit of {minimum}")
        conversion, unpriced = None, None
        if deposit.asset in CONVERTED:
            try:
                conversion = self._convert(deposit)
            except CryptopayError as error:
                unpriced = f"no {deposit.asset.code}/USDT price now ({error.message}); converted when one is had"
            if conversion is not None and not conversion.into.is_positive():
                return _Verdict(HoldReason.BELOW_MINIMUM, f"worth {conversion.into} after the conversion spread")
        try:
            movement = self._movement(deposit, conversion.into if conversion else None) if unpriced is None else None
        except CryptopayError as error:
            log.warning("deposit %s waits: it cannot be valued for monitoring (%s)", deposit.id, error.message)
            return None
        matches = self._sanctioned(deposit)
        if matches:
            detail = f"sender {deposit.from_address} is listed on {matches[0].source} ({matches[0].ref})"
            alert = self._alert(deposit, movement, matches[0])
            return _Verdict(HoldReason.SANCTIONED_SENDER, detail, movement, alert)
        if unpriced is not None:
            log.warning("deposit %s is held: %s", deposit.id, unpriced)
            return _Verdict(HoldReason.AWAITING_CONVERSION, unpriced)
        monitoring = self._monitoring()
        if monitoring is not None and movement is not None:
            try:
                monitoring.check(movement)
            except Blocked as blocked:
                return _Verdict(HoldReason.COMPLIANCE, blocked.message, movement, alert_ids=blocked.alert_ids)
        valued = movement.amount if movement is not None else self._valued(deposit, conversion)
        return _Verdict(movement=movement, conversion=conversion, valued=valued)

    def _movement(self, deposit: Deposit, credited: Money | None = None) -> Movement | None:
        """The deposit as the monitoring journal's movement, valued in KES (a converted one by the USDT it is
        credited as; None without monitoring)."""
        if self._monitoring() is None:
            return None
        return Movement(
            id=_movement_id(deposit),
            party_id=deposit.user_id,
            product=DEPOSIT_PRODUCT,
            direction=Direction.IN,
            amount=kes_value(credited or deposit.amount, self._quoter()),
            at=self._clock.now(),
            counterparty=deposit.from_address,
            network=deposit.network,
            asset=deposit.asset.code,
        )

    def _sanctioned(self, deposit: Deposit) -> list[AddressMatch]:
        screening = self._screening()
        if screening is None or not deposit.from_address:
            return []
        return screening.screen_address(deposit.network, deposit.from_address)

    def _alert(self, deposit: Deposit, movement: Movement | None, match: AddressMatch) -> Alert:
        movement_id = movement.id if movement is not None else _movement_id(deposit)
        return Alert(
            id=self._ids.new_id("alr"),
            key=f"sanctioned-deposit:1:{movement_id}",
            rule_id="sanctioned-deposit",
            rule_version=1,
            kind="sanctioned_counterparty",
            party_id=deposit.user_id,
            movement_id=movement_id,
            created_at=self._clock.now(),
            blocking=True,
            evidence={
                "deposit": deposit.id,
                "network": deposit.network,
                "address": match.address,
                "list": match.source,
                "ref": match.ref,
                "amount": str(deposit.amount),
            },
        )

    # -- transactions ------------------------------------------------------------------------------------------
    def _record(self, uow: DepositUnitOfWork, transfer: ObservedTransfer) -> Deposit | None:
        owner = uow.deposit_addresses.by_address(transfer.network, transfer.to_address)
        if owner is None or owner.user_id is None:
            return None
        now = self._clock.now()
        found = uow.wallet_deposits.by_transfer(transfer.network, transfer.tx_hash, transfer.index, lock=True)
        if found is None:
            deposit = Deposit(
                id=self._ids.new_id("dep"),
                user_id=owner.user_id,
                network=transfer.network,
                address=owner.address,
                tx_hash=transfer.tx_hash,
                index=transfer.index,
                amount=transfer.amount,
                requirement=self._speed.requirement(transfer.network),
                seen_at=now,
                from_address=transfer.from_address,
                block_number=transfer.block_number,
                block_hash=transfer.block_hash,
            )
            uow.wallet_deposits.add(deposit)
            self._audit(uow, "wallet.deposit_seen", deposit, now, amount=deposit.amount, tx=_tx(deposit))
            return deposit
        return self._sighted_again(uow, found, transfer, now)

    def _sighted_again(
        self, uow: DepositUnitOfWork, deposit: Deposit, transfer: ObservedTransfer, now: datetime
    ) -> Deposit | None:
        """A known transfer seen again: in the same block (nothing to do), mined at last, or in another block (its
        first block left the chain). A booked generation is reversed and a new one waits for its confirmations;
        when the wallet cannot give the credit back, or a reversal was owed, the coins did arrive after all: the
        booking stands, watched in its new block."""
        if transfer.block_hash is None or (deposit.block_hash or "").lower() == transfer.block_hash.lower():
            return None  # a mempool sighting of a known transfer, or the same block again
        stands = False
        if deposit.booked:
            stands = not self._unbook(uow, deposit, "mined again in another block")
        elif deposit.clawback_pending:
            deposit.state = DepositState.HELD if deposit.hold_reason is not None else DepositState.CREDITED
            deposit.clawback_pending, stands = False, True
            self._audit(uow, "wallet.deposit_clawback_cancelled", deposit, now, amount=deposit.amount)
            self._unfreeze(uow, deposit, now)  # nothing is owed: the freeze the owed reversal put on goes
        if not stands and deposit.state is not DepositState.SEEN:
            deposit.generation += 1  # booked under new keys once confirmed again
            deposit.state, deposit.entries = DepositState.SEEN, ()
            deposit.hold_reason = deposit.hold_detail = deposit.credited_at = None
            deposit.conversion, deposit.proposal = None, None
        deposit.block_number, deposit.block_hash = transfer.block_number, transfer.block_hash
        deposit.watching, deposit.confirmations = True, 0
        deposit.withdrawn_at = deposit.withdrawn_why = None
        uow.wallet_deposits.update(deposit)
        self._audit(uow, "wallet.deposit_seen", deposit, now, amount=deposit.amount, tx=_tx(deposit))
        return deposit

    def _confirm(self, uow: DepositUnitOfWork, reading: _Reading, verdict: _Verdict | None) -> Deposit | None:
        deposit = uow.wallet_deposits.get(reading.deposit.id, lock=True)
        if deposit is None or _moved(deposit, reading.deposit):
            return None  # changed since it was read: the next step looks again
        now = self._clock.now()
        if deposit.state is DepositState.WITHDRAWN:
            return self._retry_clawback(uow, deposit, now)
        if reading.gone:
            return self._withdraw(uow, deposit, reading.why, now)
        deposit.confirmations = reading.depth
        if verdict is not None and _awaiting(deposit):
            self._rebook(uow, deposit, verdict, now)
        elif verdict is not None:
            self._book(uow, deposit, verdict, now)
        elif deposit.booked and deposit.requirement.settled(reading.depth, reading.reached) and not _awaiting(deposit):
            deposit.watching = False
        uow.wallet_deposits.update(deposit)
        return deposit if verdict is not None or not deposit.watching else None

    def _book(self, uow: DepositUnitOfWork, deposit: Deposit, verdict: _Verdict, now: datetime) -> None:
        reason, detail, received = self._receivable(uow, deposit, verdict, now)
        deposit.conversion = verdict.conversion if reason is None else None
        entry = flows.book_deposit(
            self._ledger,
            key=deposit.key("credit"),
            deposit_id=deposit.id,
            user_id=deposit.user_id,
            network=deposit.network,
            amount=deposit.amount,
            held=reason is not None,
            converted=_amounts(deposit.conversion),
            quote_id=deposit.conversion.quotes[0] if deposit.conversion else None,
            session=uow.ledger,
        )
        deposit.state = DepositState.HELD if reason is not None else DepositState.CREDITED
        deposit.hold_reason, deposit.hold_detail = reason, detail
        deposit.entries, deposit.credited_at = (entry.id,), now
        deposit.watching = deposit.watching or reason in _RECHECKED
        self._journal(uow, deposit, verdict, now)
        self._count(uow, deposit, received, now)
        action = "wallet.deposit_held" if reason is not None else "wallet.deposit_credited"
        self._audit(uow, action, deposit, now, amount=deposit.credited, entry=entry.id, reason=detail or "")

    def _rebook(self, uow: DepositUnitOfWork, deposit: Deposit, verdict: _Verdict, now: datetime) -> None:
        """A deposit held for want of a price or beyond its wallet's tier, checked again: credited out of the
        suspense account (converted, for USDC) once the checks pass and its tier may receive it (released: the
        holder's KYC was approved, or a new day or month left room), else held for the reason found (quietly when it
        is the same as before: it stays in the suspense account)."""
        reason, detail, received = self._receivable(uow, deposit, verdict, now)
        if reason is None and verdict.conversion is None and deposit.asset in CONVERTED:
            reason, detail = HoldReason.AWAITING_CONVERSION, deposit.hold_detail
        if reason is not None:
            same = reason is deposit.hold_reason
            deposit.hold_reason, deposit.hold_detail = reason, detail
            deposit.watching = deposit.watching or reason in _RECHECKED
            if not same:
                self._journal(uow, deposit, verdict, now)
                self._audit(uow, "wallet.deposit_held", deposit, now, amount=deposit.amount, reason=detail or "")
            return
        held_for = deposit.hold_reason
        entry = self._credit_held(uow, deposit, "convert" if verdict.conversion else "release", verdict.conversion)
        deposit.state, deposit.hold_reason, deposit.hold_detail = DepositState.CREDITED, None, None
        deposit.entries, deposit.credited_at = (*deposit.entries, entry.id), now
        deposit.proposal = None  # a release proposed while it waited for its tier: moot, the tier took it
        self._journal(uow, deposit, verdict, now)
        self._count(uow, deposit, received, now)
        if held_for is HoldReason.TIER_LIMIT:
            deposit.hold_detail = "released from tier_limit: the wallet's tier receives it now"
            note = "the wallet's KYC tier receives it now"
            self._audit(uow, "wallet.deposit_released", deposit, now, note=note, entry=entry.id)
        else:
            self._audit(
                uow, "wallet.deposit_credited", deposit, now, amount=deposit.credited, entry=entry.id, reason=""
            )

    def _receivable(
        self, uow: DepositUnitOfWork, deposit: Deposit, verdict: _Verdict, now: datetime
    ) -> tuple[HoldReason | None, str | None, Money | None]:
        """Whether the wallet may receive the deposit now: no hold and its KES value, or the hold. The wallet is read
        and locked first; then the verdict's hold, a missing or frozen wallet's (``wallet_frozen``), and whether its
        KYC tier may receive it (``Product.RECEIVE``: tier 0 only small amounts, counted with what it received today
        and this month, read under its receive lock when the tier limits receiving). A deposit that cannot be valued
        now is held only when the tier limits receiving; a wallet frozen by compliance is held for compliance."""
        wallet = uow.wallets.get(deposit.user_id, lock=True)
        if verdict.reason is not None:
            return verdict.reason, verdict.detail, None
        if wallet is None or wallet.frozen:
            return HoldReason.WALLET_FROZEN, "the wallet is frozen", None
        profile = uow.kyc.get(deposit.user_id)
        if profile is None:
            return HoldReason.TIER_LIMIT, "the wallet's owner has no KYC tier", None
        value = verdict.valued  # valued before the transaction (``_verdict``), never a quote locked under its locks
        if not isinstance(value, Money):
            if not product_limited(profile, Product.RECEIVE, at=now):
                return None, None, None
            why = value or "not valued"
            return HoldReason.TIER_LIMIT, f"cannot be valued in KES now ({why}) for the tier's limits", None
        if product_limited(profile, Product.RECEIVE, at=now):  # after the wallet's row, before any balance
            uow.wallet_usage.lock_receiving(deposit.user_id)  # the lock order in ``cryptopay.core.wallets.service``
        decision = check_wallet_movement(
            profile, Product.RECEIVE, value, spent=spending(uow, deposit.user_id, now), at=now
        )
        if decision.allowed:
            return None, None, value
        if decision.limit == "frozen":
            return HoldReason.COMPLIANCE, decision.reason, None
        return HoldReason.TIER_LIMIT, decision.reason, None

    def _count(self, uow: DepositUnitOfWork, deposit: Deposit, received: Money | None, now: datetime) -> None:
        """A credited deposit's KES value counted in what its wallet received (``Product.RECEIVE``)."""
        if received is not None and deposit.state is DepositState.CREDITED:
            usage = Usage(self._ids.new_id("use"), deposit.user_id, Product.RECEIVE.value, received, now, deposit.id)
            uow.wallet_usage.add(usage)

    def _credit_held(self, uow: DepositUnitOfWork, deposit: Deposit, step: str, conversion: Conversion | None) -> Entry:
        """A held deposit into the wallet (converted into USDT when ``conversion`` is given), keyed ``step``."""
        deposit.conversion = conversion
        return flows.release_deposit(
            self._ledger,
            key=deposit.key(step),
            deposit_id=deposit.id,
            user_id=deposit.user_id,
            amount=deposit.amount,
            converted=_amounts(conversion),
            quote_id=conversion.quotes[0] if conversion else None,
            session=uow.ledger,
        )

    def _journal(self, uow: DepositUnitOfWork, deposit: Deposit, verdict: _Verdict, now: datetime) -> None:
        """The verdict's movement journaled and its alert raised, in the booking's transaction; the alerts held on
        (this one, or the blocking rule's) kept with the deposit: its release concludes them (review8 R7)."""
        if verdict.movement is not None:
            uow.movements.add(verdict.movement)  # journaled for the batch rules (``check`` may have already)
        raised = list(verdict.alert_ids)
        if verdict.alert is not None:
            if uow.alerts.add(verdict.alert):
                self._audit(
                    uow, "compliance.alert_raised", deposit, now, alert=verdict.alert.id, rule="sanctioned-deposit"
                )
                raised.append(verdict.alert.id)
            elif (earlier := uow.alerts.by_key(verdict.alert.key)) is not None:
                raised.append(earlier.id)
        deposit.alerts = tuple(dict.fromkeys((*deposit.alerts, *raised)))

    def _withdraw(self, uow: DepositUnitOfWork, deposit: Deposit, why: str, now: datetime) -> Deposit:
        if deposit.booked and not self._unbook(uow, deposit, why):
            deposit.clawback_pending = True  # the user spent it: the wallet is frozen and the reversal retried
            self._freeze(uow, deposit, now)
            self._audit(uow, "wallet.deposit_clawback_owed", deposit, now, amount=deposit.amount, why=why)
        deposit.state, deposit.withdrawn_at, deposit.withdrawn_why = DepositState.WITHDRAWN, now, why
        deposit.watching = deposit.clawback_pending  # an owed reversal is retried; otherwise sightings decide
        uow.wallet_deposits.update(deposit)
        self._audit(uow, "wallet.deposit_withdrawn", deposit, now, amount=deposit.amount, why=why)
        return deposit

    def _unbook(self, uow: DepositUnitOfWork, deposit: Deposit, why: str) -> bool:
        """Reverse the booked generation; False (nothing written) when the wallet no longer holds the amount."""
        try:
            self._reverse(uow, deposit, deposit.state is DepositState.HELD, why)
        except InsufficientFunds:
            return False
        deposit.entries = ()
        return True

    def _reverse(self, uow: DepositUnitOfWork, deposit: Deposit, held: bool, why: str) -> None:
        flows.reverse_deposit(
            self._ledger,
            key=deposit.key("reverse"),
            deposit_id=deposit.id,
            user_id=deposit.user_id,
            network=deposit.network,
            amount=deposit.amount,
            held=held,
            why=why,
            reason=_REASON_CODES.get(why),
            converted=_amounts(deposit.conversion),
            session=uow.ledger,
        )

    def _retry_clawback(self, uow: DepositUnitOfWork, deposit: Deposit, now: datetime) -> Deposit | None:
        if not deposit.clawback_pending:
            deposit.watching = False
            uow.wallet_deposits.update(deposit)
            return None
        try:
            self._reverse(uow, deposit, deposit.hold_reason is not None, deposit.withdrawn_why or "reorg")
        except InsufficientFunds:
            return None
        deposit.entries, deposit.clawback_pending, deposit.watching = (), False, False
        uow.wallet_deposits.update(deposit)
        self._audit(uow, "wallet.deposit_clawback_done", deposit, now, amount=deposit.amount)
        return deposit

    def _freeze(self, uow: DepositUnitOfWork, deposit: Deposit, now: datetime) -> None:
        wallet = uow.wallets.get(deposit.user_id, lock=True)
        if wallet is not None and not wallet.frozen:
            wallet.frozen_at, wallet.frozen_reason = now, _owed(deposit)
            uow.wallets.update(wallet)
            uow.audit.append(
                AuditEvent(_ACTOR, "wallet.frozen", f"user:{deposit.user_id}", now, _text(deposit=deposit.id))
            )

    def _unfreeze(self, uow: DepositUnitOfWork, deposit: Deposit, now: datetime) -> None:
        """Lift the freeze ``_freeze`` put on for this deposit's owed reversal, and only that one (a freeze an
        officer put on since, for their own reason, stays)."""
        wallet = uow.wallets.get(deposit.user_id, lock=True)
        if wallet is not None and wallet.frozen and wallet.frozen_reason == _owed(deposit):
            wallet.frozen_at, wallet.frozen_reason = None, None
            uow.wallets.update(wallet)
            details = _text(deposit=deposit.id, why="the transfer was mined again: nothing is owed")
            uow.audit.append(AuditEvent(_ACTOR, "wallet.unfrozen", f"user:{deposit.user_id}", now, details))

    def _release(
        self,
        uow: DepositUnitOfWork,
        deposit_id: str,
        actor: str,
        note: str,
        conversion: Conversion | None,
        valued: Money | str,
        approved: tuple[str, ReleaseProposal] | None = None,
        monitoring: Monitoring | None = None,
    ) -> Deposit:
        deposit = uow.wallet_deposits.get(deposit_id, lock=True)
        if deposit is None:
            raise NotFound(f"no deposit {deposit_id!r}")
        if deposit.state is not DepositState.HELD:
            raise InvalidState(f"deposit {deposit_id} is {deposit.state.value}: only a held deposit can be released")
        if deposit.asset not in WALLET_DEPOSIT_ASSETS and conversion is None:
            raise InvalidState(f"the wallet holds no {deposit.asset.code}: return it to the sender instead")
        if approved is not None and deposit.proposal != approved[1]:
            raise Conflict(f"the proposal on held deposit {deposit_id} changed meanwhile: read it again")
        if approved is None and (deposit.by_two_officers or deposit.proposal is not None):
            raise Conflict(f"deposit {deposit_id} is held for compliance or its tier now: two officers release it")
        wallet = uow.wallets.get(deposit.user_id, lock=True)  # the deposit's row, then the wallet's (``_confirm``)
        if wallet is None or wallet.frozen:
            raise Refused(f"the wallet of deposit {deposit_id} is frozen: it receives nothing until it is unfrozen")
        holder = uow.kyc.get(deposit.user_id)
        if holder is not None and holder.frozen:  # a compliance freeze of its holder: nothing reaches them
            raise Refused(f"the holder of deposit {deposit_id} is frozen by compliance: it is released once unfrozen")
        now = self._clock.now()
        cases: list[str] = []
        alerts = _alerts_of(uow, deposit)
        if approved is not None and monitoring is not None and alerts:  # concluded with the credit, or not at all
            cases = monitoring.conclude(uow, approved[0], alerts, CaseStatus.CLOSED_NO_ACTION, f"held deposit: {note}")
        received = self._released_value(uow, deposit, valued, now)
        entry = self._credit_held(uow, deposit, "release", conversion)
        deposit.state, deposit.entries = DepositState.CREDITED, (*deposit.entries, entry.id)
        self._count(uow, deposit, received, now)
        deposit.hold_reason, deposit.hold_detail = (
            None,
            f"released from {deposit.hold_reason.value if deposit.hold_reason else 'hold'} by {actor}: {note}",
        )
        deposit.proposal = None
        uow.wallet_deposits.update(deposit)
        four_eyes = {"proposed_by": approved[1].by, "cases": ",".join(cases)} if approved is not None else {}
        self._audit(uow, "wallet.deposit_released", deposit, now, actor=actor, note=note, entry=entry.id, **four_eyes)
        return deposit

    def _released_value(
        self, uow: DepositUnitOfWork, deposit: Deposit, valued: Money | str, now: datetime
    ) -> Money | None:
        """The KES value an officer's release counts in what the wallet received (``Product.RECEIVE``), as a credited
        deposit's is: the officer decides past the tier's limits, never around its count. Taken under the wallet's
        row and receive lock when the tier limits receiving (the lock order of ``_receivable``); such a deposit that
        cannot be valued now is ``Unavailable`` (released later, once a price is had); None (not counted) only for a
        tier that receives without limits, as for a deposit credited unvalued."""
        profile = uow.kyc.get(deposit.user_id)
        limited = profile is not None and product_limited(profile, Product.RECEIVE, at=now)
        if isinstance(valued, str):  # no price now (``_valued``)
            if limited:
                raise Unavailable(
                    f"the deposit cannot be valued in KES now ({valued}) for the tier's receive limits: "
                    "release it again once a price is had"
                )
            return None
        if limited:
            uow.wallets.get(deposit.user_id, lock=True)
            uow.wallet_usage.lock_receiving(deposit.user_id)
        return valued

    def _audit(self, uow: DepositUnitOfWork, action: str, deposit: Deposit, at: datetime, **details: object) -> None:
        actor = str(details.pop("actor", _ACTOR))
        uow.audit.append(AuditEvent(actor, action, f"deposit:{deposit.id}", at, _text(user=deposit.user_id, **details)))


class _Finals:
    """The network's final blocks per signal, asked at most once per step and only when a deposit needs one."""

    def __init__(self, source: FinalitySource | None) -> None:
        self._source, self._blocks = source, dict[Finality, int | None]()

    def reached(self, block: int) -> Finality | None:
        if self._source is None:
            return None
        for finality in (Finality.FINALIZED, Finality.SAFE):
            if finality not in self._blocks:
                try:
                    self._blocks[finality] = self._source.final_block(finality)
                except CryptopayError:
                    self._blocks[finality] = None
            final = self._blocks[finality]
            if final is not None and block <= final:
                return finality
        return None


def _read(deposit: Deposit, watcher: ChainWatcher, finals: _Finals, mempool: MempoolWatcher | None) -> _Reading | None:
    """The chain's word on one deposit (None: nothing to read, e.g. unmined with no mempool to ask)."""
    if deposit.state is DepositState.WITHDRAWN:
        return _Reading(deposit)  # only an owed reversal keeps it watched
    if deposit.block_number is None:
        if mempool is not None and mempool.transfer_state(_observed(deposit)) is TxState.DROPPED:
            return _Reading(deposit, gone=True, why=REVERSAL_REASONS["dropped"])
        return None
    canonical = watcher.block_hash(deposit.block_number)
    if canonical is None or deposit.block_hash is None or canonical.lower() != deposit.block_hash.lower():
        return _Reading(deposit, gone=True)
    depth = watcher.confirmations(_observed(deposit))
    reached = finals.reached(deposit.block_number) if deposit.requirement.finality is not None else None
    return _Reading(deposit, depth=depth, reached=reached)


def _held_page(uow: DepositUnitOfWork, after: str | None) -> list[Deposit]:
    return uow.wallet_deposits.held(after=after, limit=_PAGE)


def _note(note: str) -> str:
    if not note.strip():
        raise InvalidInput("releasing a held deposit needs a note saying why", field="note")
    return note.strip()


def _alerts_of(uow: DepositUnitOfWork, deposit: Deposit) -> list[str]:
    """The compliance alerts held on the deposit: those kept with it, and its listed sender's alert by its key (for a
    deposit held before the alerts were kept with it)."""
    found = dict.fromkeys(deposit.alerts)
    listed = uow.alerts.by_key(f"sanctioned-deposit:1:{_movement_id(deposit)}")
    if listed is not None:
        found[listed.id] = None
    return list(found)


def _amounts(conversion: Conversion | None) -> tuple[Money, Money] | None:
    """What the ledger flows need of a conversion: the USDT credited and its worth at the mids."""
    return (conversion.into, conversion.at_mid) if conversion is not None else None


_RECHECKED = frozenset({HoldReason.AWAITING_CONVERSION, HoldReason.TIER_LIMIT})  # held, checked again each step


def _awaiting(deposit: Deposit) -> bool:
    """Held for want of a conversion price or beyond the wallet's tier: every step tries again."""
    return deposit.state is DepositState.HELD and deposit.hold_reason in _RECHECKED


def _observed(deposit: Deposit) -> ObservedTransfer:
    return ObservedTransfer(
        deposit.network,
        deposit.tx_hash,
        deposit.index,
        deposit.address,
        deposit.amount,
        deposit.block_number,
        deposit.block_hash,
        None,
        deposit.from_address,
    )


def _moved(now: Deposit, read: Deposit) -> bool:
    """The deposit changed between the chain read and its transaction (another worker's step, a new sighting)."""
    return (now.state, now.generation, now.block_hash) != (read.state, read.generation, read.block_hash)


def _uri(rail: Rail, address: str) -> str:
    """The address in its network's URI scheme, with no amount (the sender chooses it)."""
    if rail.network.name == "bitcoin":
        return f"bitcoin:{address}"
    if rail.network.name == "tron":
        return f"tron:{address}?token={rail.token.contract}" if rail.token.contract else f"tron:{address}"
    if rail.token.contract is None:
        return f"ethereum:{address}@{rail.network.chain_id}"
    return f"ethereum:{rail.token.contract}@{rail.network.chain_id}/transfer?address={address}"


def _tx(deposit: Deposit) -> str:
    return f"{deposit.network}:{deposit.tx_hash}#{deposit.index}"


def _text(**details: object) -> dict[str, str]:
    return {k: str(v) for k, v in details.items()}


def _owed(deposit: Deposit) -> str:
    """The reason of the freeze an uncovered reversal puts on the wallet (``_freeze``; ``_unfreeze`` matches it)."""
    return f"deposit {deposit.id} was reversed by the chain; it is owed"


def _movement_id(deposit: Deposit) -> str:
    return f"dep:{deposit.id}:g{deposit.generation}"
