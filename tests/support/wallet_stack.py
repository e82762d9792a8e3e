"""A personal-wallet stack over one storage backend (in memory, SQLite or PostgreSQL) for tests and features.

``sign_up`` goes through the real sign-up (the code is read from the SMS the fake provider received, as a person
reads it from their phone); ``grant_tier`` records an admin's KYC approval (and claims what waited on it, as the
wiring's ``KycReview.on_granted`` does); ``fund`` books money into a wallet
from the M-Pesa float, standing in for a purchase.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from cryptopay.adapters.ratelimit import ProcessRateLimiter
from cryptopay.core.flows import FLOAT, wallet_account
from cryptopay.core.identity import User
from cryptopay.core.kyc import Requirement
from cryptopay.core.ledger import Account, AccountKind, Ledger
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.payouts import PayoutState
from cryptopay.core.payouts.service import Payouts, PayoutUrls
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.pricing import Pricer
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.identity import FastPasswordHasher, InMemoryUsers
from cryptopay.core.testing.kyc import InMemoryKycApplications, InMemoryKycProfiles
from cryptopay.core.testing.mobile_money import FakeMobileMoney, Scenario
from cryptopay.core.testing.paybill import InMemoryPaybillPayments, InMemoryUrlRegistrations
from cryptopay.core.testing.payments import payments_storage
from cryptopay.core.testing.remittances import InMemoryRemittances
from cryptopay.core.testing.sms import InMemorySms
from cryptopay.core.testing.storage import InMemoryAuditLog, InMemoryStorage
from cryptopay.core.testing.system import ManualClock
from cryptopay.core.testing.travel_rule import InMemoryTravelRule
from cryptopay.core.testing.wallets import (
    InMemoryBuys,
    InMemoryPhoneVerifications,
    InMemoryTransfers,
    InMemoryUsage,
    InMemoryWallets,
)
from cryptopay.core.wallets.buys import Buys
from cryptopay.core.wallets.claims import WaitingClaims
from cryptopay.core.wallets.sells import Sells
from cryptopay.core.wallets.service import Wallets
from cryptopay.core.wallets.signup import WalletSignup

from tests.support.sql_backends import Backend

PASSWORD = "a long passphrase"
HOOKS = "https://pay.example.com/hooks/daraja"
PAYOUT_URLS = PayoutUrls(
    result=f"{HOOKS}/payouts/result",
    timeout=f"{HOOKS}/payouts/timeout",
    status_result=f"{HOOKS}/status/result",
    status_timeout=f"{HOOKS}/status/timeout",
)


def memory_wallet_storage(**extra: Any) -> InMemoryStorage:
    """Every payment repository and a personal wallet's (users, KYC, wallets, phone checks, transfers, usage,
    buys), in memory, plus the ``extra`` ones a stack needs beside them.

    >>> storage = memory_wallet_storage(travel_rule=InMemoryTravelRule())
    """
    wallets = InMemoryWallets()
    return payments_storage(
        users=InMemoryUsers(),
        kyc=InMemoryKycProfiles(),
        wallets=wallets,
        phone_verifications=InMemoryPhoneVerifications(),
        wallet_transfers=InMemoryTransfers(wallets),
        wallet_usage=InMemoryUsage(),
        wallet_buys=InMemoryBuys(),
        paybill_payments=InMemoryPaybillPayments(),
        paybill_urls=InMemoryUrlRegistrations(),
        **extra,
    )


def memory_wallet_backend(**extra: Any) -> Backend:
    """In memory, with every payment repository too (a sale's payout goes through the payout machinery), and any
    ``extra`` repositories."""
    return Backend(
        "memory",
        memory_wallet_storage(
            remittances=InMemoryRemittances(),
            travel_rule=InMemoryTravelRule(),
            kyc_applications=InMemoryKycApplications(),  # a remittance reads a wallet holder's verified name
            **monitoring_repositories(),
            **extra,
        ),
    )


@attrs.define
class WalletStack:
    backend: Backend
    clock: ManualClock
    ledger: Ledger
    sms: InMemorySms
    signup: WalletSignup
    wallets: Wallets
    audit: Any
    buys: Buys
    mpesa: FakeMobileMoney
    rates: FixedRateSource
    sells: Sells
    payouts: Payouts
    waiting_claims: WaitingClaims

    def deliver_callbacks(self) -> int:
        """POST every STK callback M-Pesa has sent so far to our handler (as the HTTP hook does); how many."""
        delivered, self.mpesa.outbox[:] = list(self.mpesa.outbox), []
        for delivery in delivered:
            token, result = delivery.url.rsplit("/", 1)[-1], parse_payload(delivery.payload)
            purpose = PAYOUT_URLS.purpose_of(delivery.url)
            if purpose is not None:
                self.payouts.handle_payout_result(result, token=token, purpose=purpose)
            else:
                self.buys.on_callback(result, token=token)
        return len(delivered)

    def last_code(self, phone: str) -> str:
        text = self.sms.sent_to(phone)[-1].text
        found = re.search(r"\b(\d{6})\b", text)
        assert found, text
        return found.group(1)

    def sign_up(self, phone: str, *, tier: int = 0, username: str | None = None, email: str | None = None) -> User:
        verification = self.signup.start(phone)
        code = self.last_code(phone)
        done = self.signup.complete(verification.id, code, password=PASSWORD, username=username, email=email)
        if tier >= 1:
            self.grant_tier(done.user.id)
        return done.user

    def grant_tier(self, user_id: str) -> None:
        with self.backend.uow() as uow:
            profile = uow.kyc.get(user_id)
            profile.submit(1, {Requirement.NATIONAL_ID}, at=self.clock.now())
            profile.approve("usr_admin", at=self.clock.now())
            uow.kyc.update(profile)
        self.waiting_claims.after_verification(user_id)  # as ``KycReview.on_granted`` does in the wiring

    def fund(self, user: User, amount: str, asset: str) -> None:
        money = Money.of(amount, asset_by_code(asset))
        float_account = FLOAT if money.asset.code == "KES" else f"assets:inventory:{money.asset.code}"
        self.ledger.open_account(Account(float_account, AccountKind.ASSET, money.asset, allow_negative=True))
        key = f"test-fund:{user.id}:{asset}:{amount}:{self.clock.now().isoformat()}"
        self.ledger.transfer(key, debit=float_account, credit=wallet_account(user.id, money.asset), amount=money)
        self.clock.advance(seconds=1)  # what happens next happens after the money arrived

    def balance(self, user: User, asset: str) -> Money:
        return self.wallets.balances(user.id)[asset]

    def failed_sale(self, phone: str = "0712000001") -> tuple[User, Any]:
        """A tier-1 user who sold 10 USDT whose B2C failed (insufficient funds at M-Pesa): the payout ``FAILED``, its
        shillings back in the wallet, M-Pesa answering successfully again. The user and the sale."""
        user = self.sign_up(phone, tier=1)
        assert user.phone is not None
        self.fund(user, "10", "USDT")
        self.mpesa.set_scenario(user.phone, Scenario.INSUFFICIENT_FUNDS)
        sale = self.sells.start(user.id, Money.of(10, asset_by_code("USDT")))
        self.payouts.submit_payouts()
        self.deliver_callbacks()
        assert self.payouts.get_payout(sale.payout.id).state is PayoutState.FAILED
        self.mpesa.set_scenario(user.phone, Scenario.SUCCESS)
        return user, sale


def wallet_stack(
    backend: Backend | None = None, *, clock: ManualClock | None = None, quotes: QuoteRepository | None = None
) -> WalletStack:
    """``quotes``: where the pricer stores the quotes it locks (as wired: the database's own table, each in a
    transaction of its own; default in memory)."""
    the_backend = backend or memory_wallet_backend()
    the_clock = clock or ManualClock()
    ids = RandomIds()
    ledger = Ledger(the_backend.ledger_store, clock=the_clock, ids=ids)
    sms = InMemorySms()
    audit = InMemoryAuditLog()
    signup = WalletSignup(
        the_backend.uow,
        ledger,
        lambda: sms,
        FastPasswordHasher(),
        ProcessRateLimiter(the_clock),
        audit,
        the_clock,
        ids,
        quoter=lambda: pricer,
    )
    rates = FixedRateSource("market", the_clock, {"USDT/KES": "130", "USDT/USD": "1"})
    quotes = quotes if quotes is not None else InMemoryQuoteRepository()
    pricer = Pricer([rates], clock=the_clock, ids=ids, quotes=quotes)
    wallets = Wallets(the_backend.uow, ledger, the_clock, ids, sms=lambda: sms, quoter=lambda: pricer)
    mpesa = FakeMobileMoney(clock=the_clock)
    buys = Buys(
        the_backend.uow,
        ledger,
        lambda: pricer,
        lambda: quotes,
        lambda: mpesa,
        lambda token: f"{HOOKS}/stk/{token}",
        the_clock,
        ids,
    )
    sells = Sells(the_backend.uow, ledger, lambda: pricer, lambda: quotes, the_clock, ids)
    payouts = Payouts(uow=the_backend.uow, clock=the_clock, ids=ids, ledger=ledger, gateway=mpesa, urls=PAYOUT_URLS)
    claims = WaitingClaims(uow=the_backend.uow, ledger=ledger, clock=the_clock, ids=ids, quoter=lambda: pricer)
    return WalletStack(
        the_backend, the_clock, ledger, sms, signup, wallets, audit, buys, mpesa, rates, sells, payouts, claims
    )


__all__ = ["PASSWORD", "WalletStack", "memory_wallet_backend", "memory_wallet_storage", "wallet_stack"]
