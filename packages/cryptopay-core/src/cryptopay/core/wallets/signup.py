"""Signing up for a personal wallet: verify a Kenyan phone by a one-time SMS code, then choose a password.

``start`` sends a code within the verification SMS budget (``cryptopay.core.wallets.sms_budget``: the number's range,
``per_phone_per_hour`` codes a number, ``per_address_per_day`` a client address, ``per_hour`` for the whole
deployment, through the ``RateLimiter``; a number that has an account gets the same answer but no code, and its
owner a text, which spends the budget alike), ``resend`` replaces it (within the address's and the deployment's
budget) (not before a minute, at most five times), ``complete`` checks it (five tries) and, in one
transaction, creates the user (role personal, the phone verified, the email optional), the wallet with its KES,
USDT and BTC balances, the KYC profile at tier 0, and delivers any transfer that was waiting for this number.
An email that already has an account is a 409 that uses the code up (review 3, I12: one code tested address after
address), so each such answer costs a fresh SMS code to a real phone.
Every step is in the audit log; codes are never logged, only the masked number. The transfers it claimed are
journaled for AML monitoring on the recipient's side (``p2p``, in) once that transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.errors import Conflict, NotFound, Refused, Unavailable
from cryptopay.core.flows import open_wallet_accounts
from cryptopay.core.identity.model import Role, User
from cryptopay.core.identity.service import check_password, valid_email
from cryptopay.core.kyc import KycProfile, PartyKind, Requirement
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money.phones import mask_msisdn, normalize_msisdn
from cryptopay.core.money import Asset
from cryptopay.core.ports.identity import AuditTrail, PasswordHasher, RateLimiter
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.sms import SmsMessage, SmsSender
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.wallets import WalletUnitOfWork, WalletUowFactory
from cryptopay.core.text import TextKind, checked_text
from cryptopay.core.wallets import codes
from cryptopay.core.wallets.claims import claim_prices, claimed_movements, deliver_waiting
from cryptopay.core.wallets.model import PhoneVerification, Transfer, Wallet
from cryptopay.core.wallets.sms_budget import SignupSmsBudget, SignupSmsRules
from cryptopay.core.wallets.usernames import UsernameLookalike, choosable_username

__all__ = ["SignUp", "WalletSignup"]


@attrs.frozen
class SignUp:
    """A finished sign-up: the new user and wallet, and the waiting transfers it received."""

    user: User
    wallet: Wallet
    transfers: tuple[Transfer, ...] = ()

    @property
    def claimed(self) -> int:
        """How many waiting transfers it received."""
        return len(self.transfers)


class WrongCode(Refused):
    """The one-time code is wrong, expired, used or out of tries: the phone is not proven (403, like a bad proof)."""

    code = "wrong_code"
    http_status = 403


@attrs.define
class WalletSignup:
    """Phone-first sign-up for personal wallets."""

    uow: WalletUowFactory
    ledger: Ledger
    sms: Callable[[], SmsSender | None]
    hasher: PasswordHasher
    limiter: RateLimiter
    audit: AuditTrail
    clock: Clock
    ids: IdGenerator
    policy: codes.CodePolicy = codes.DEFAULT_CODES
    sms_rules: SignupSmsRules = attrs.Factory(SignupSmsRules)  # what verification SMS may cost (review H8)
    new_code: Callable[[], str] = codes.new_code
    quoter: Callable[[], Quoter | None] = lambda: None  # values a claimed USDT transfer in KES for monitoring
    monitor: MonitoringFeed = attrs.Factory(MonitoringFeed)  # AML: claimed transfers journaled (recipient's side)
    budget: SignupSmsBudget = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.budget = SignupSmsBudget(self.limiter, self.sms_rules)

    def start(self, phone: str, *, client: str | None = None) -> PhoneVerification:
        """Send a one-time code to ``phone`` asked by ``client`` (its address, as the per-address limits count it;
        None when unknown). A number that already has an account gets the same answer (anyone may call this: a
        different one would tell them who is a customer) but no code: its owner is told instead. Every bound of the
        SMS budget is checked before the number is looked up, so its refusals are the same for both."""
        number = normalize_msisdn(phone)
        self.budget.check_range(number)
        sender = self._sender()
        self.budget.spend(msisdn=number, client=client)
        now, code = self.clock.now(), self.new_code()
        verification = codes.new_verification(self.ids.new_id("ver"), number, code, at=now, policy=self.policy)

        def work(uow: WalletUnitOfWork) -> bool:
            uow.phone_verifications.add(verification)  # never completed when taken: its code is sent to no one
            return uow.users.by_phone(number) is not None

        if in_transaction(self.uow, work):
            self._tell_owner(sender, verification)  # an SMS too: the budget was spent alike
        else:
            self._send(sender, verification, code)
        return verification

    def resend(self, verification_id: str, *, client: str | None = None) -> PhoneVerification:
        """Send a fresh code for the same verification (not before a minute, at most five sends), within the
        address's and the deployment's SMS budget."""
        sender, code = self._sender(), self.new_code()

        def work(uow: WalletUnitOfWork) -> tuple[PhoneVerification, bool]:
            found = self._verification(uow, verification_id)
            codes.resend(found, code, at=self.clock.now(), policy=self.policy)
            # after the verification's own checks (a resend they refuse is free), before the new code is kept
            self.budget.spend(msisdn=None, client=client)
            uow.phone_verifications.update(found)
            return found, uow.users.by_phone(found.phone) is not None

        verification, taken = in_transaction(self.uow, work)
        if taken:  # the owner was told once, at the start; a resend only adds to the audit trail
            self.audit.append(self._event("wallet.signup_of_a_customer", verification.phone, resend="true"))
        else:
            self._send(sender, verification, code)
        return verification

    def complete(
        self,
        verification_id: str,
        code: str,
        *,
        password: str,
        email: str | None = None,
        username: str | None = None,
        display_name: str | None = None,
    ) -> SignUp:
        """Check the code and create the account, its wallet and its tier-0 profile (all or nothing)."""
        address = valid_email(email) if email else None
        name = choosable_username(username) if username else None  # a reserved name or look-alike: 422
        if display_name is not None:
            checked_text(display_name, field="display_name", kind=TextKind.NAME)
        check_password(password, address or "")
        outcome = self._try(verification_id, code)
        if outcome != "ok":
            raise WrongCode(_WHY[outcome], field="code")
        password_hash = self.hasher.hash(password)
        phone = in_transaction(self.uow, lambda uow: self._verification(uow, verification_id).phone)
        prices = claim_prices(self.uow, self.quoter(), phone=phone)  # before the sign-up's transaction (review6 F5)
        try:
            done = in_transaction(
                self.uow,
                lambda uow: self._create(uow, verification_id, password_hash, address, name, display_name, prices),
            )
        except Conflict as refused:
            if refused.details.get("field") != "email":
                raise
            in_transaction(self.uow, lambda uow: self._use_up(uow, verification_id))
            raise Conflict(
                "an account with this email already exists; this code is now used up: start again, with another "
                "email or none",
                field="email",
            ) from None
        if done.transfers:
            claimed = done.transfers
            self.monitor.after_valued(f"claims of {done.user.id}", lambda: claimed_movements(claimed, self.quoter()))
        return done

    def _try(self, verification_id: str, code: str) -> str:
        """Count the try in its own transaction: a wrong code must use up a try even though the sign-up fails."""

        def work(uow: WalletUnitOfWork) -> str:
            found = self._verification(uow, verification_id)
            outcome = codes.check_code(found, code, at=self.clock.now(), policy=self.policy)
            uow.phone_verifications.update(found)
            if outcome != "ok":
                self._record(uow, "wallet.code_failed", found.phone, outcome=outcome, attempts=str(found.attempts))
            return outcome

        return in_transaction(self.uow, work)

    def _create(
        self,
        uow: WalletUnitOfWork,
        verification_id: str,
        password_hash: str,
        email: str | None,
        username: str | None,
        display_name: str | None,
        prices: Mapping[Asset, Decimal],
    ) -> SignUp:
        verification = self._verification(uow, verification_id)
        if verification.used_at is not None or verification.verified_at is None:
            raise WrongCode("this code was used already; start again", field="code")
        now, phone = self.clock.now(), verification.phone
        if uow.users.by_phone(phone) is not None:
            raise Conflict("this number already has an account: log in instead", field="phone")
        if username is not None and uow.wallets.by_username(username) is not None:
            raise Conflict("this username is taken", field="username")
        if username is not None and uow.wallets.username_lookalike_taken(username):
            # review5 S1: a look-alike of a taken username (its skeleton); which one it resembles is not said
            raise UsernameLookalike(
                f"{username!r} reads like a username someone has already: choose one that looks different",
                field="username",
            )
        user = User(self.ids.new_id("usr"), email, password_hash, Role.PERSONAL, now, display_name, phone=phone)
        uow.users.add(user)
        wallet = Wallet(user_id=user.id, phone=phone, created_at=now, username=username)
        uow.wallets.add(wallet)
        profile = KycProfile(party_id=user.id, kind=PartyKind.PERSONAL)
        profile.submit(0, {Requirement.PHONE}, at=now)
        uow.kyc.add(profile)
        open_wallet_accounts(self.ledger, user.id, session=uow.ledger)
        verification.used_at = now
        uow.phone_verifications.update(verification)
        claimed = deliver_waiting(uow, self.ledger, wallet, at=now, ids=self.ids, prices=prices)
        self._record(uow, "wallet.signup", phone, user=user.id, claimed=str(len(claimed)))
        return SignUp(user, wallet, tuple(claimed))

    def _use_up(self, uow: WalletUnitOfWork, verification_id: str) -> None:
        """Spend the verification whose sign-up named a taken email: the next try needs a new code by SMS."""
        verification = self._verification(uow, verification_id)
        if verification.used_at is None:
            verification.used_at = self.clock.now()
            uow.phone_verifications.update(verification)
        self._record(uow, "wallet.signup_email_taken", verification.phone)

    def _sender(self) -> SmsSender:
        sender = self.sms()
        if sender is None:
            raise Unavailable("SMS is not configured (CRYPTOPAY_SMS_PROVIDER): phone numbers cannot be verified")
        return sender

    def _send(self, sender: SmsSender, verification: PhoneVerification, code: str) -> None:
        self.budget.counts.count_sent()
        minutes = int(self.policy.ttl.total_seconds() // 60)
        text = (  # English, then Swahili (as every SMS to a number whose language we do not know)
            f"Your cryptopay code is {code}. It expires in {minutes} minutes. Never share it with anyone. / "
            f"Nambari yako ya cryptopay ni {code}. Itaisha baada ya dakika {minutes}. Usimpe mtu yeyote."
        )
        try:
            sender.send(SmsMessage(verification.phone, text))
        except Refused as error:  # the provider refuses this number: say so; the code is useless anyway
            self.audit.append(self._event("wallet.code_undeliverable", verification.phone, reason=error.code))
            raise
        self.audit.append(self._event("wallet.code_sent", verification.phone, sends=str(verification.sends)))

    def _tell_owner(self, sender: SmsSender, verification: PhoneVerification) -> None:
        text = (
            "Someone asked to open a cryptopay wallet with this number, which already has one. If it was you, log in "
            "(or reset your password). If not, you need do nothing. / Mtu ameomba kufungua pochi ya cryptopay kwa "
            "nambari hii, ambayo tayari ina pochi. Kama ni wewe, ingia (au badilisha nenosiri). Kama si wewe, "
            "huhitaji kufanya lolote."
        )
        self.budget.counts.count_sent()
        sender.send(SmsMessage(verification.phone, text))
        self.audit.append(self._event("wallet.signup_of_a_customer", verification.phone))

    @staticmethod
    def _verification(uow: WalletUnitOfWork, verification_id: str) -> PhoneVerification:
        found = uow.phone_verifications.get(verification_id, lock=True)
        if found is None:
            raise NotFound(f"no phone verification {verification_id!r}")
        return found

    def _event(self, action: str, phone: str, **details: str) -> AuditEvent:
        return AuditEvent(
            f"phone:{mask_msisdn(phone)}", action, f"phone:{mask_msisdn(phone)}", self.clock.now(), details
        )

    def _record(self, uow: WalletUnitOfWork, action: str, phone: str, **details: str) -> None:
        uow.audit.append(self._event(action, phone, **details))


_WHY = {
    "wrong": "the code is wrong",
    "expired": "the code has expired: ask for a new one",
    "exhausted": "too many wrong codes: ask for a new one",
    "used": "this code was used already; start again",
}
