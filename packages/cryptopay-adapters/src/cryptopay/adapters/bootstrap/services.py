"""``Services``: the one typed object the three shells take (the HTTP app factory, the CLI and the worker).

Each part is a ``Lazy`` cell, built on first use and then kept, so a command builds only what it touches: listing
invoices opens the database and never builds the FX sources or the M-Pesa client. ``build(settings)`` fills every
cell from the settings (``cryptopay.adapters.bootstrap.wiring``); tests and embedders construct ``Services``
with their own parts (``ready(port)``); a part nobody gave is ``missing``: using it is ``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
from cryptopay.adapters.bootstrap.lazy import Lazy, missing
from cryptopay.adapters.bootstrap.settings import Settings
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.reports import Reporting
from cryptopay.core.compliance.screening import Screening
from cryptopay.core.compliance.travel_rule import TravelRule
from cryptopay.core.dead_jobs import DeadJobs
from cryptopay.core.errors import Unavailable
from cryptopay.core.identity.teams import Teams
from cryptopay.core.kyc.review import KycReview
from cryptopay.core.ledger import Ledger
from cryptopay.core.listings import Listings
from cryptopay.core.mobile_money import SourceAllowlist
from cryptopay.core.payments.detection import Detection
from cryptopay.core.payments.held import HeldPayments
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.payments.links import PaymentLinks
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.payouts.service import Payouts
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.identity import (
    ApiKeyRepository,
    AuditTrail,
    ChangeEpoch,
    IdempotencyRepository,
    MerchantRepository,
    PasswordHasher,
    RateLimiter,
    RefreshTokenRepository,
    TeamRepository,
    TeamUowFactory,
    TotpEngine,
    UserRepository,
)
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.notifications import Notifier
from cryptopay.core.ports.payments import PaymentsUowFactory
from cryptopay.core.ports.printing import PdfRenderer
from cryptopay.core.ports.queue import JobHandler, JobQueue, JobRegistry
from cryptopay.core.ports.sms import SmsSender
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.vault import KeyStore, KeyVault
from cryptopay.core.ports.webhooks import WebhookSender
from cryptopay.core.pricing import Pricer
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.privacy.closing import MerchantClosing
from cryptopay.core.privacy.retention import RetentionPurge
from cryptopay.core.rails import Rail
from cryptopay.core.reconciliation import FloatBalance, Reconciliation
from cryptopay.core.remittances.service import Remittances
from cryptopay.core.reports import Reports
from cryptopay.core.search import TransactionSearch
from cryptopay.core.settlement.service import Settling
from cryptopay.core.treasury import Rebalancing, Sweeps, Treasury
from cryptopay.core.wallets.bills import Bills
from cryptopay.core.wallets.buys import Buys
from cryptopay.core.wallets.deposits import Deposits
from cryptopay.core.wallets.paybill import Paybill
from cryptopay.core.wallets.sells import Sells
from cryptopay.core.wallets.service import Wallets
from cryptopay.core.wallets.signup import WalletSignup
from cryptopay.core.wallets.withdrawals import Withdrawals
from cryptopay.core.webhooks import UowFactory
from cryptopay.core.webhooks.service import MAX_ENDPOINTS

__all__ = ["Services"]

ReadinessCheck = Callable[[], object]


def _fpdf_renderer() -> PdfRenderer:
    """The fpdf2 renderer, imported on the first PDF (fpdf and fontTools cost ~0.3 s to import, and most processes
    never draw one)."""
    from cryptopay.adapters.pdf import FpdfRenderer

    return FpdfRenderer()


@attrs.frozen(kw_only=True)
class Services:
    """The use cases and the ports they need; read a part as an attribute (``services.invoicing``)."""

    settings: Settings
    clock: Clock
    ids: IdGenerator
    # -- storage
    _uow: Lazy[PaymentsUowFactory] = attrs.field(factory=lambda: missing("payment storage"))
    _webhooks_uow: Lazy[UowFactory] = attrs.field(factory=lambda: missing("webhook storage"))
    _ledger: Lazy[Ledger] = attrs.field(factory=lambda: missing("ledger"))
    _quotes: Lazy[QuoteRepository] = attrs.field(factory=lambda: missing("quotes"))
    _personal_sealing: Lazy[Callable[[bool], Mapping[str, int]]] = attrs.field(
        factory=lambda: missing("personal data sealing")
    )
    # -- identity
    _users: Lazy[UserRepository] = attrs.field(factory=lambda: missing("users"))
    _refresh_tokens: Lazy[RefreshTokenRepository] = attrs.field(factory=lambda: missing("refresh tokens"))
    _merchants: Lazy[MerchantRepository] = attrs.field(factory=lambda: missing("merchants"))
    _api_keys: Lazy[ApiKeyRepository] = attrs.field(factory=lambda: missing("API keys"))
    _idempotency: Lazy[IdempotencyRepository] = attrs.field(factory=lambda: missing("idempotency records"))
    _team_store: Lazy[TeamRepository] = attrs.field(factory=lambda: missing("merchant teams"))
    # one transaction over teams and users (an invitation accepted); None: each store's call is its own (the fakes)
    _team_units: Lazy[TeamUowFactory | None] = attrs.Factory(lambda: Lazy(lambda: None))
    _password_hasher: Lazy[PasswordHasher] = attrs.field(factory=lambda: missing("password hashing"))
    _rate_limiter: Lazy[RateLimiter] = attrs.field(factory=lambda: missing("rate limits"))
    _audit: Lazy[AuditTrail] = attrs.field(factory=lambda: missing("the audit trail"))
    _notifier: Lazy[Notifier] = attrs.field(factory=lambda: missing("notifications"))
    _sms: Lazy[SmsSender | None] = attrs.Factory(lambda: Lazy(lambda: None))  # None: no SMS (notices skipped)
    _totp: Lazy[TotpEngine] = attrs.field(factory=lambda: missing("one-time codes"))
    _vault: Lazy[KeyVault] = attrs.field(factory=lambda: missing("the key vault"))
    _hot_key_store: Lazy[KeyStore] = attrs.field(factory=lambda: missing("hot-wallet key storage"))
    _session_epoch: Lazy[ChangeEpoch | None] = attrs.Factory(lambda: Lazy(lambda: None))  # None: one process
    # -- the outside world
    _pricer: Lazy[Pricer] = attrs.field(factory=lambda: missing("FX rates"))
    _mobile_money: Lazy[MobileMoneyGateway] = attrs.field(factory=lambda: missing("M-Pesa payouts"))
    _rails: Lazy[Mapping[str, Rail] | None] = attrs.Factory(lambda: Lazy(lambda: None))
    _queue: Lazy[JobQueue] = attrs.field(factory=lambda: missing("jobs"))
    _webhook_sender: Lazy[WebhookSender] = attrs.field(factory=lambda: missing("webhook sending"))
    # -- the use cases
    _invoicing: Lazy[Invoicing] = attrs.field(factory=lambda: missing("invoices"))
    _detection: Lazy[Detection] = attrs.field(factory=lambda: missing("chain payments"))
    _settling: Lazy[Settling] = attrs.field(factory=lambda: missing("settlements"))
    _payouts: Lazy[Payouts] = attrs.field(factory=lambda: missing("payouts"))
    _refunds: Lazy[Refunds] = attrs.field(factory=lambda: missing("refunds"))
    _held_payments: Lazy[HeldPayments] = attrs.field(factory=lambda: missing("held payments"))
    _payment_links: Lazy[PaymentLinks] = attrs.field(factory=lambda: missing("payment links"))
    _kyc_review: Lazy[KycReview] = attrs.field(factory=lambda: missing("KYC review"))
    _monitoring: Lazy[Monitoring] = attrs.field(factory=lambda: missing("transaction monitoring"))
    _screening: Lazy[Screening] = attrs.field(factory=lambda: missing("sanctions screening"))
    _travel_rule: Lazy[TravelRule] = attrs.field(factory=lambda: missing("the Travel Rule"))
    _reporting: Lazy[Reporting] = attrs.field(factory=lambda: missing("compliance reports"))
    _subject_exports: Lazy[SubjectExports] = attrs.field(factory=lambda: missing("data subject exports"))
    _retention: Lazy[RetentionPurge] = attrs.field(factory=lambda: missing("retention purges"))
    _closing: Lazy[MerchantClosing] = attrs.field(factory=lambda: missing("closing merchants"))
    # -- reconciliation and the read models
    _listings: Lazy[Listings] = attrs.field(factory=lambda: missing("listings"))
    _transactions: Lazy[TransactionSearch] = attrs.field(factory=lambda: missing("transaction search"))
    _reports: Lazy[Reports] = attrs.field(factory=lambda: missing("reports"))
    _wallets: Lazy[Wallets] = attrs.field(factory=lambda: missing("personal wallets"))
    _wallet_signup: Lazy[WalletSignup] = attrs.field(factory=lambda: missing("wallet sign-up"))
    _wallet_buys: Lazy[Buys] = attrs.field(factory=lambda: missing("buying with M-Pesa"))
    _paybill: Lazy[Paybill] = attrs.field(factory=lambda: missing("payments to the paybill (C2B)"))
    _wallet_sells: Lazy[Sells] = attrs.field(factory=lambda: missing("selling to M-Pesa"))
    _wallet_bills: Lazy[Bills] = attrs.field(factory=lambda: missing("paying bills"))
    _remittances: Lazy[Remittances] = attrs.field(factory=lambda: missing("remittances"))
    _withdrawals: Lazy[Withdrawals] = attrs.field(factory=lambda: missing("crypto withdrawals"))
    _wallet_deposits: Lazy[Deposits] = attrs.field(factory=lambda: missing("crypto deposits"))
    _reconciliation: Lazy[Reconciliation] = attrs.field(factory=lambda: missing("reconciliation"))
    _float_balance: Lazy[FloatBalance] = attrs.field(factory=lambda: missing("M-Pesa float checks"))
    # -- the treasury
    _treasury: Lazy[Treasury] = attrs.field(factory=lambda: missing("the treasury"))
    _sweeps: Lazy[Sweeps] = attrs.field(factory=lambda: missing("sweeps"))
    _rebalancing: Lazy[Rebalancing] = attrs.field(factory=lambda: missing("rebalancing records"))
    _dead_jobs: Lazy[DeadJobs] = attrs.field(factory=lambda: missing("dead jobs"))
    # -- the worker's use-case jobs by name (chains.scan, fx.refresh, ...: cryptopay_worker.jobs.LEAD_JOBS)
    _jobs: Lazy[Mapping[str, JobHandler]] = attrs.Factory(lambda: Lazy(dict))
    _job_registry: Lazy[JobRegistry] = attrs.Factory(lambda: Lazy(JobRegistry))  # what the inline queue runs
    _pdf: Lazy[PdfRenderer] = attrs.Factory(lambda: Lazy(_fpdf_renderer))  # no settings: every PDF is drawn alike
    # -- plain values
    readiness_checks: Mapping[str, ReadinessCheck] = attrs.Factory(dict)
    # what a server's worker runs once at start, before traffic (``cryptopay.adapters.bootstrap.warmup``): none writes
    warm_ups: Mapping[str, Callable[[], object]] = attrs.Factory(dict)
    daraja_callback_sources: SourceAllowlist | None = None  # None: Daraja callbacks from any address
    job_routes: Mapping[str, str] = attrs.Factory(dict)  # job name -> its own RQ queue (the Daraja queue)
    outbox_routes: Mapping[str, str] = attrs.Factory(dict)  # outbox topic -> the job that consumes it
    allow_insecure_urls: bool = False  # plain-http and private webhook endpoints (development and sandbox only)
    webhook_max_endpoints: int = MAX_ENDPOINTS  # enabled webhook endpoints per merchant
    _closers: list[Callable[[], None]] = attrs.Factory(list)

    @property
    def uow(self) -> PaymentsUowFactory:
        """A new payments unit of work: ``with services.uow() as uow``."""
        return self._uow.get()

    @property
    def webhooks_uow(self) -> UowFactory:
        """A new unit of work over the outbox and the webhook repositories."""
        return self._webhooks_uow.get()

    def seal_personal_data(self, *, all_rows: bool = False) -> Mapping[str, int]:
        """Seal the personal data still stored in the clear (``all_rows``: re-seal every row, after a key rotation);
        the rows rewritten per table (see ``cryptopay.adapters.sql.sealing``)."""
        return self._personal_sealing.get()(all_rows)

    @property
    def ledger(self) -> Ledger:
        return self._ledger.get()

    @property
    def quotes(self) -> QuoteRepository:
        return self._quotes.get()

    @property
    def team_store(self) -> TeamRepository:
        """Merchant team members and invitations."""
        return self._team_store.get()

    @property
    def teams(self) -> Teams:
        """The team use cases over this object's own stores (so a test's swapped merchants are the ones used)."""
        return Teams(
            teams=self.team_store,
            merchants=self.merchants,
            api_keys=self.api_keys,
            users=self.users,
            notifier=self.notifier,
            audit=self.audit,
            clock=self.clock,
            ids=self.ids,
            hasher=self.password_hasher,
            webhook_storage=self.webhook_storage_if_wired,
            units=self._team_units.get(),
            faults=self.settings.faults,
        )

    def webhook_storage_if_wired(self) -> UowFactory | None:
        """The webhook storage, or None where this deployment keeps no webhook endpoints (some tests' services)."""
        try:
            return self.webhooks_uow
        except Unavailable:
            return None

    @property
    def users(self) -> UserRepository:
        return self._users.get()

    @property
    def refresh_tokens(self) -> RefreshTokenRepository:
        return self._refresh_tokens.get()

    @property
    def merchants(self) -> MerchantRepository:
        return self._merchants.get()

    @property
    def api_keys(self) -> ApiKeyRepository:
        return self._api_keys.get()

    @property
    def idempotency(self) -> IdempotencyRepository:
        return self._idempotency.get()

    @property
    def password_hasher(self) -> PasswordHasher:
        return self._password_hasher.get()

    @property
    def rate_limiter(self) -> RateLimiter:
        return self._rate_limiter.get()

    @property
    def audit(self) -> AuditTrail:
        """Security and operator events outside a unit of work (logins, step-ups, keys, destinations)."""
        return self._audit.get()

    @property
    def notifier(self) -> Notifier:
        """Password resets and destination-change alerts."""
        return self._notifier.get()

    @property
    def sms(self) -> SmsSender | None:
        """Text messages to phones (the old payout number's alert); None: no SMS here, each skip is audited."""
        return self._sms.get()

    @property
    def totp(self) -> TotpEngine:
        return self._totp.get()

    @property
    def vault(self) -> KeyVault:
        """The key vault (``CRYPTOPAY_VAULT_KEKS``; outside production the data dir's development key): the one the
        API, the worker and ``cryptopay keys`` share, so a key the CLI stores is one the senders can unlock."""
        return self._vault.get()

    @property
    def hot_key_store(self) -> KeyStore:
        """Where hot-wallet keys are kept, encrypted by ``vault`` (``<data dir>/keys``)."""
        return self._hot_key_store.get()

    @property
    def session_epoch(self) -> ChangeEpoch | None:
        """Shared by every API process when Redis is configured: a logout or role change is seen everywhere at once."""
        return self._session_epoch.get()

    @property
    def pricer(self) -> Pricer:
        return self._pricer.get()

    @property
    def mobile_money(self) -> MobileMoneyGateway:
        return self._mobile_money.get()

    @property
    def rails(self) -> Mapping[str, Rail] | None:
        """The rails merchants may invoice on, by key (``usdt-tron``): the deployment's, on a network with an address
        deriver; None: the core's default rails."""
        return self._rails.get()

    @property
    def queue(self) -> JobQueue:
        return self._queue.get()

    @property
    def webhook_sender(self) -> WebhookSender:
        return self._webhook_sender.get()

    @property
    def invoicing(self) -> Invoicing:
        return self._invoicing.get()

    @property
    def detection(self) -> Detection:
        return self._detection.get()

    @property
    def settling(self) -> Settling:
        return self._settling.get()

    @property
    def payouts(self) -> Payouts:
        return self._payouts.get()

    @property
    def refunds(self) -> Refunds:
        return self._refunds.get()

    @property
    def held_payments(self) -> HeldPayments:
        return self._held_payments.get()

    @property
    def payment_links(self) -> PaymentLinks:
        return self._payment_links.get()

    @property
    def wallets(self) -> Wallets:
        return self._wallets.get()

    def holds_wallet(self, user_id: str) -> bool:
        """Whether ``user_id`` holds a personal wallet; False where wallets are not wired (none can exist)."""
        try:
            wallets = self.wallets
        except Unavailable:
            return False
        return wallets.holds(user_id)

    @property
    def wallet_signup(self) -> WalletSignup:
        return self._wallet_signup.get()

    @property
    def wallet_buys(self) -> Buys:
        return self._wallet_buys.get()

    @property
    def paybill(self) -> Paybill:
        """Top-ups of wallets by payments to our paybill (Daraja C2B) and the operators' decisions on the rest."""
        return self._paybill.get()

    @property
    def wallet_sells(self) -> Sells:
        return self._wallet_sells.get()

    @property
    def wallet_bills(self) -> Bills:
        return self._wallet_bills.get()

    @property
    def remittances(self) -> Remittances:
        return self._remittances.get()

    @property
    def withdrawals(self) -> Withdrawals:
        """Crypto withdrawals from personal wallets to outside addresses."""
        return self._withdrawals.get()

    @property
    def wallet_deposits(self) -> Deposits:
        return self._wallet_deposits.get()

    @property
    def kyc_review(self) -> KycReview:
        """KYC/KYB applications, their documents and the officers' review queue."""
        return self._kyc_review.get()

    @property
    def monitoring(self) -> Monitoring:
        """AML monitoring: rules, alerts and cases."""
        return self._monitoring.get()

    @property
    def screening(self) -> Screening:
        """Sanctions lists and screening of names and addresses (the ``ScreeningPort`` other products call)."""
        return self._screening.get()

    @property
    def travel_rule(self) -> TravelRule:
        """The Travel Rule (FATF R.16): value a transfer against the threshold, keep its IVMS101 record."""
        return self._travel_rule.get()

    @property
    def reporting(self) -> Reporting:
        """Suspicious transaction reports (goAML XML, CSV) and the monthly virtual-asset flows."""
        return self._reporting.get()

    @property
    def subject_exports(self) -> SubjectExports:
        """A data subject's export (the person's own, or an officer's), audited."""
        return self._subject_exports.get()

    @property
    def retention(self) -> RetentionPurge:
        """The retention rules applied to people whose relationship ended (the worker runs it daily)."""
        return self._retention.get()

    @property
    def closing(self) -> MerchantClosing:
        """An operator's close of a merchant: closed, its keys revoked, its unpaid invoices cancelled (R22)."""
        return self._closing.get()

    @property
    def listings(self) -> Listings:
        """The read models: per-merchant, cursor-paged listings."""
        return self._listings.get()

    @property
    def transactions(self) -> TransactionSearch:
        """The staff's transaction search (by id, phone, address, tx hash or M-Pesa receipt)."""
        return self._transactions.get()

    @property
    def reports(self) -> Reports:
        """Merchant reports: sales, fees and their taxes, settlements per day or month."""
        return self._reports.get()

    @property
    def reconciliation(self) -> Reconciliation:
        return self._reconciliation.get()

    @property
    def float_balance(self) -> FloatBalance:
        """Account Balance questions to M-Pesa and their answers, for reconciling the float."""
        return self._float_balance.get()

    @property
    def treasury(self) -> Treasury:
        """The float and the inventory; ``can_cover`` is the refusal before overdraft for every payment."""
        return self._treasury.get()

    @property
    def sweeps(self) -> Sweeps:
        return self._sweeps.get()

    @property
    def rebalancing(self) -> Rebalancing:
        """Operators' records of float top-ups and crypto sold for KES."""
        return self._rebalancing.get()

    @property
    def dead_jobs(self) -> DeadJobs:
        """The job queue's dead letters, for operators: list them, requeue one or all (audited)."""
        return self._dead_jobs.get()

    @property
    def jobs(self) -> Mapping[str, JobHandler]:
        return self._jobs.get()

    @property
    def job_registry(self) -> JobRegistry:
        """The handlers of ``jobs``, registered: what the inline queue runs."""
        return self._job_registry.get()

    @property
    def pdf(self) -> PdfRenderer:
        """Draws every PDF (statements, tax reports, posters): ``cryptopay.adapters.pdf``."""
        return self._pdf.get()

    def close(self) -> None:
        """Release what the built parts hold (connection pools, the inline queue's thread)."""
        while self._closers:
            self._closers.pop()()
