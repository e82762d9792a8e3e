"""A wallet stack that can withdraw crypto: the wallet stack plus withdrawals, sanctions screening (the OFAC fixture
list, which names 0x8576aCC5C05D6Ce88f4e49bf65BdF0C62F91353C), monitoring, the Travel Rule and a hot-wallet sender
per network (``FakeChainSender`` in memory; a real one on anvil in the real-parts features).

``fund_hot_wallet`` books the platform's coins in custody (what the hot wallet holds), as sweeps would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
from cryptopay.adapters.sanctions import RapidfuzzMatcher, parse_list
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import default_rules
from cryptopay.core.compliance.screening import Screening
from cryptopay.core.compliance.travel_rule import ThresholdPolicy, TravelRule
from cryptopay.core.fees import FeeBook
from cryptopay.core.flows import custody
from cryptopay.core.identity import User
from cryptopay.core.kyc import PartyKind
from cryptopay.core.kyc.applications import ApplicationState, KycApplication, PersonDetails
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.payments.internal import PlatformAddresses
from cryptopay.core.ports.chains import ChainSender
from cryptopay.core.ports.withdrawals import NetworkFeeEstimator
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.kyc import InMemoryKycApplications
from cryptopay.core.testing.payments_stack import FakeChainSender
from cryptopay.core.testing.travel_rule import InMemoryTravelRule
from cryptopay.core.testing.withdrawals import InMemoryWithdrawals
from cryptopay.core.wallets.withdrawal_model import DEFAULT_WITHDRAWAL_FEES
from cryptopay.core.wallets.withdrawals import Withdrawals

from tests.support.sql_backends import Backend
from tests.support.wallet_stack import WalletStack, memory_wallet_storage, wallet_stack

SDN = Path(__file__).resolve().parents[1] / "fixtures" / "sanctions" / "sdn.xml"
SANCTIONED = "0x8576aCC5C05D6Ce88f4e49bf65BdF0C62F91353C"


def memory_withdraw_backend() -> Backend:
    """In memory: the wallet repositories, the payments', withdrawals, Travel Rule records, KYC applications,
    and the monitoring journal, alerts, cases and sanctions lists."""
    return Backend(
        "memory",
        memory_wallet_storage(
            kyc_applications=InMemoryKycApplications(),
            withdrawals=InMemoryWithdrawals(),
            travel_rule=InMemoryTravelRule(),
            **monitoring_repositories(),
        ),
    )


@attrs.define
class WithdrawStack:
    wallet: WalletStack
    withdrawals: Withdrawals
    senders: Mapping[str, Any]
    screening: Screening
    monitoring: Monitoring
    travel_rule: TravelRule

    @property
    def clock(self) -> Any:
        return self.wallet.clock

    def fund_hot_wallet(self, network: str, amount: str, asset: str = "USDT") -> None:
        money = Money.of(amount, asset_by_code(asset))
        ledger = self.wallet.ledger
        source = f"assets:inventory:{money.asset.code}"
        ledger.open_account(Account(source, AccountKind.ASSET, money.asset, allow_negative=True))
        ledger.open_account(Account(custody(network, money.asset), AccountKind.ASSET, money.asset))
        key = f"test-hot:{network}:{asset}:{amount}:{self.clock.now().isoformat()}"
        ledger.transfer(key, debit=custody(network, money.asset), credit=source, amount=money)

    def verify_identity(self, user: User, legal_name: str, id_number: str = "12345678") -> None:
        """An approved KYC application with the person's particulars (what the Travel Rule names them by)."""
        now = self.clock.now()
        person = PersonDetails(
            legal_name=legal_name,
            date_of_birth=date(1990, 4, 1),
            id_type=IdType.NATIONAL_ID,
            id_number=id_number,
            phone=user.phone or "254700000000",
            address="Moi Avenue 12, Nairobi",
        )
        application = KycApplication(
            id=f"kya_{user.id}",
            party_id=user.id,
            kind=PartyKind.PERSONAL,
            level=1,
            created_at=now,
            submitted_by=user.id,
            person=person,
            state=ApplicationState.APPROVED,
            decided_at=now,
        )
        with self.wallet.backend.uow() as uow:
            uow.kyc_applications.add(application)


def withdraw_stack(
    backend: Backend | None = None,
    *,
    senders: Mapping[str, ChainSender] | None = None,
    rails: Mapping[str, Rail] | None = None,
    threshold_usd: str = "1000",
    cool_off: timedelta = timedelta(hours=24),
    validators: Mapping[str, Callable[[str], str]] | None = None,
    estimators: Mapping[str, NetworkFeeEstimator] | None = None,
    fees: FeeBook = DEFAULT_WITHDRAWAL_FEES,
    hot_wallets: Mapping[str, str] | None = None,
    screening_required: bool = False,
    lists: bool = True,
) -> WithdrawStack:
    """``lists=False``: no sanctions list is imported; ``screening_required``: ``CRYPTOPAY_SCREENING_REQUIRED``."""
    stack = wallet_stack(backend or memory_withdraw_backend())
    uow, clock, ids = stack.backend.uow, stack.clock, RandomIds()
    screening = Screening(uow=uow, matcher=RapidfuzzMatcher(), clock=clock, ids=ids, required=screening_required)
    if lists:
        parsed = parse_list(SDN.read_bytes())
        screening.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    monitoring = Monitoring(
        uow=uow,
        rules=default_rules(),
        clock=clock,
        ids=ids,
        screen=lambda m: screening.sanctioned_counterparty(m.network, m.counterparty),
    )
    pricer = stack.wallets.quoter()
    assert pricer is not None
    travel = TravelRule(
        quoter=pricer, clock=clock, ids=ids, policy=ThresholdPolicy(Money.of(threshold_usd, asset_by_code("USD")))
    )
    the_senders = senders if senders is not None else {"polygon": FakeChainSender("polygon")}  # kept: tests swap
    the_rails = dict(rails or {r.key: r for r in (rail_for("polygon", "USDT"), rail_for("tron", "USDT"))})
    withdrawals = Withdrawals(
        uow=uow,
        ledger=stack.ledger,
        clock=clock,
        ids=ids,
        quoter=lambda: pricer,
        rails=lambda: the_rails,
        senders=lambda: the_senders,
        screening=screening,
        monitoring=monitoring,
        travel_rule=travel,
        cool_off=cool_off,
        validators=dict(validators or {}),
        estimators=lambda: dict(estimators or {}),
        fees=fees,
        platform=PlatformAddresses(hot_wallets or {}),
    )
    return WithdrawStack(stack, withdrawals, the_senders, screening, monitoring, travel)


__all__ = ["SANCTIONED", "WithdrawStack", "memory_withdraw_backend", "withdraw_stack"]
