"""A KYC review rig for tests: the use cases over a storage backend, a real envelope vault, Pillow and a notifier.

Images are made with Pillow at test time (``photo``); PDFs are the smallest well-formed ones (``pdf``).
"""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime
from typing import Any

from cryptopay.adapters.documents import PillowProbe
from cryptopay.adapters.vault import EnvelopeVault, generate_kek
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.kyc.applications import BusinessDetails, Director, KycApplication, PersonDetails
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.documents import DocumentKind
from cryptopay.core.kyc.gate import PayoutGate
from cryptopay.core.kyc.review import KycReview
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.payouts.service import Payouts
from cryptopay.core.ports.kyc import DocumentStore
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.settlement.service import Settling
from cryptopay.core.testing.kyc import InMemoryDocumentStore, InMemoryKycApplications, InMemoryKycProfiles
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from PIL import Image

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def photo(width: int = 800, height: int = 600, *, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def camera_photo(width: int, height: int, *, fmt: str = "JPEG") -> bytes:
    """A real image as large in bytes as a phone camera's (noise compresses as badly as a photo's detail):
    1200 x 900 JPEG ~1.3 MB; 1700 x 1700 PNG ~8.7 MB."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def person(id_type: IdType = IdType.NATIONAL_ID, id_number: str = "23456789") -> PersonDetails:
    return PersonDetails(
        legal_name="Wanjiku Kamau",
        date_of_birth=date(1990, 5, 17),
        id_type=id_type,
        id_number=id_number,
        phone="254712345678",
        address="Moi Avenue 12, Nairobi",
    )


def director(
    name: str = "Otieno Odhiambo", id_type: IdType = IdType.NATIONAL_ID, id_number: str = "12345678"
) -> Director:
    return Director(
        name=name,
        id_type=id_type,
        id_number=id_number,
        date_of_birth=date(1980, 1, 2),
        phone="254722000111",
        address="Ngong Road 5, Nairobi",
    )


def business(registration_number: str = "PVT-AB12CD3", *directors: Director) -> BusinessDetails:
    return BusinessDetails(
        registered_name="Duka Ltd",
        registration_number=registration_number,
        kra_pin="P051234567Q",
        phone="254712345678",
        address="Kenyatta Avenue 1, Nairobi",
        directors=directors or (director(),),
    )


ALL_PHOTOS = (DocumentKind.ID_FRONT, DocumentKind.ID_BACK, DocumentKind.SELFIE)


class KycRig:
    """The review use cases with everything a test looks at afterwards."""

    def __init__(
        self, storage: Any | None = None, documents: DocumentStore | None = None, *, screening: Any | None = None
    ) -> None:
        self.storage = storage or InMemoryStorage(kyc=InMemoryKycProfiles(), kyc_applications=InMemoryKycApplications())
        self.clock = ManualClock(START)
        self.documents = documents or InMemoryDocumentStore(self.clock)
        self.notifier = InMemoryNotifier()
        self.vault = EnvelopeVault.from_spec(f"k1:{generate_kek()}")
        self.review = KycReview(
            uow=self.storage.unit_of_work,
            documents=self.documents,
            vault=self.vault,
            probe=PillowProbe(),
            notifier=self.notifier,
            clock=self.clock,
            ids=SequentialIds(),
            screening=screening,
        )

    def personal(self, user: str = "usr_wanjiku", level: int = 2, **details: Any) -> str:
        """An application with every photo its tier needs, submitted; its id."""
        application = self.review.apply_personal(user, level, person(**details), notify_to=f"{user}@example.co.ke")
        kinds = ALL_PHOTOS if level == 2 else ()
        for kind in kinds:
            self.review.upload(user, application.id, kind, photo())
        self.review.submit(user, application.id)
        return application.id

    def kyb(self, merchant: str = "mer_duka", owner: str = "usr_owner", details: BusinessDetails | None = None) -> str:
        """A KYB with its certificate and every director's ID photos and selfie, submitted; its id."""
        application = self.review.apply_business(
            merchant, details or business(), owner_id=owner, notify_to="owner@duka.co.ke"
        )
        self.review.upload(merchant, application.id, DocumentKind.CERTIFICATE_OF_INCORPORATION, pdf())
        for each in application.directors:
            for kind in each.needed_documents():
                self.review.upload(merchant, application.id, kind, photo(), director=each.id)
        self.review.submit(merchant, application.id)
        return application.id

    def decide(self, officer: str, application_id: str) -> None:
        """Claim, verify every director (a KYB), approve."""
        self.review.claim(officer, application_id)
        with self.storage.unit_of_work() as uow:
            application = uow.kyc_applications.get(application_id)
        for each in application.directors if application else ():
            self.review.verify_director(officer, application_id, each.id)
        approve_after_reading(self.review, officer, application_id)

    def audit_actions(self) -> list[str]:
        with self.storage.unit_of_work() as uow:
            return [r.action for r in uow.audit.records()]

    def audit_records(self) -> list[Any]:
        with self.storage.unit_of_work() as uow:
            return list(uow.audit.records())


def read_everything(review: KycReview, officer: str, application_id: str) -> None:
    """What an officer does on the console's review page before deciding: read the particulars and open every
    document (each read audited, as approving requires)."""
    for document in review.application(officer, application_id).documents:
        review.document(officer, application_id, document.id)


def approve_after_reading(review: KycReview, officer: str, application_id: str) -> KycApplication:
    """``read_everything``, then approve."""
    read_everything(review, officer, application_id)
    return review.approve(officer, application_id)


class GatedStack:
    """A payment deployment whose settlement and payouts ask the compliance gate, and the officers' review."""

    def __init__(self, *, require_kyb: bool, monitor: MonitoringFeed | None = None) -> None:
        self.kyc = KycRig()
        self.stack = stack = PaymentsStack()
        self.gate = PayoutGate(uow=self.kyc.storage.unit_of_work, clock=stack.clock, require_kyb=require_kyb)
        stack.settling = Settling(
            uow=stack.uow,
            clock=stack.clock,
            ids=stack.ids,
            ledger=stack.ledger,
            pricer=stack.pricer,
            merchants=stack.merchants,
            gate=self.gate,
            monitor=monitor,
        )
        stack.payouts = Payouts(
            uow=stack.uow,
            clock=stack.clock,
            ids=stack.ids,
            ledger=stack.ledger,
            gateway=stack.mpesa,
            urls=stack.urls,
            gate=self.gate,
        )
        stack.refunds = Refunds(  # the stack's refunds, asking the gate (review6 F9)
            uow=stack.uow,
            clock=stack.clock,
            ids=stack.ids,
            ledger=stack.ledger,
            senders=stack.senders,
            pricer=stack.pricer,
            quotes=stack.quotes,
            merchants=stack.merchants,
            gate=self.gate,
        )
        profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
        stack.add_merchant("mer_duka", settlement=profile)

    def paid(self, usdt: str = "100") -> None:
        invoice = self.stack.invoicing.create_invoice("mer_duka", Money.of(usdt, USDT))
        self.stack.pay(invoice.id)
        self.stack.confirm(3)

    def kyb_approved(self) -> None:
        app_id = self.kyc.kyb("mer_duka", "usr_owner")
        self.kyc.decide("usr_ann", app_id)
        self.kyc.decide("usr_bob", app_id)
