"""The Travel Rule (FATF Recommendation 16): who sent and who receives a crypto transfer at or above a threshold,
kept per transfer in IVMS101 terms, with the user's attestation when coins leave for a wallet they host themselves.

The whole API, in the order a product uses it:

1. ``TravelRule.assess(amount)`` values the amount in the threshold's currency (default USD 1,000) with a locked
   FX quote (a ``Quoter``: the pricer) and says whether the rule applies. Call it before the unit of work: it may
   ask the rate sources.
2. ``TravelRule.keep(uow, transfer, assessment, originator=..., beneficiary=..., attestation=...)`` inside the
   product's own unit of work: below the threshold it keeps nothing and returns None; at or above it checks the data
   is complete (an originator's name, account number and one of address, identity number, customer number or date and
   place of birth; a beneficiary's name and account number; for a withdrawal to a self-hosted wallet, the owner's
   attestation naming that very address), stores a ``TravelRuleRecord`` and audits it, in the same transaction as
   the transfer it describes.
3. ``record.ivms101()`` is the IVMS101 ``IdentityPayload`` JSON to hand to a counterparty VASP or a regulator.

Values (equivalent amounts) are Decimal all the way; the comparison with the threshold is made on the unrounded
product, so 999.999 USD is below 1,000 and 1,000.00 is at it.

>>> from cryptopay.core.fx import Pair
>>> from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
>>> from cryptopay.core.testing.system import ManualClock, SequentialIds
>>> from cryptopay.core.pricing import Pricer
>>> clock, ids = ManualClock(), SequentialIds()
>>> market = FixedRateSource("market", clock, {"USDT/USD": "1.0000", "BTC/USD": "97000"})
>>> pricer = Pricer([market], clock=clock, ids=ids, quotes=InMemoryQuoteRepository())
>>> rule = TravelRule(quoter=pricer, clock=clock, ids=ids)
>>> rule.assess(Money.of("999.99", "USDT")).applies, rule.assess(Money.of("0.011", "BTC")).applies
(False, True)
>>> rule.assess(Money.of("0.011", "BTC")).equivalent
Money('1067.00', 'USD')
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.ivms101 import (
    Address,
    AddressType,
    DateAndPlaceOfBirth,
    LegalName,
    LegalNameType,
    LegalPerson,
    NameIdentifier,
    NameIdentifierType,
    NationalIdentification,
    NationalIdentifierType,
    NaturalPerson,
    Party,
    Person,
    party_from_json,
    party_json,
    person_from_json,
    person_json,
)
from cryptopay.core.errors import InvalidInput, Refused
from cryptopay.core.fx import Pair
from cryptopay.core.money import USD, Asset, Money
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.system import Clock, IdGenerator

if TYPE_CHECKING:
    from cryptopay.core.ports.travel_rule import TravelRuleUnitOfWork

__all__ = [
    "DEFAULT_THRESHOLD",
    "SELF_HOSTED_STATEMENT",
    "Address",
    "AddressType",
    "Assessment",
    "DateAndPlaceOfBirth",
    "IncompleteTravelRuleData",
    "LegalName",
    "LegalNameType",
    "LegalPerson",
    "NameIdentifier",
    "NameIdentifierType",
    "NationalIdentification",
    "NationalIdentifierType",
    "NaturalPerson",
    "Party",
    "Person",
    "SelfHostedAttestation",
    "ThresholdPolicy",
    "Transfer",
    "TransferDirection",
    "TravelRule",
    "TravelRuleRecord",
    "record_from_json",
    "record_json",
]

DEFAULT_THRESHOLD = Money.of("1000", USD)
SELF_HOSTED_STATEMENT = "I own and control this wallet address; no one else holds its keys."


class IncompleteTravelRuleData(Refused):
    """A transfer at or above the Travel Rule threshold lacks originator or beneficiary data, or the attestation."""

    code = "travel_rule_incomplete"


class TransferDirection(enum.Enum):
    IN = "in"  # coins arriving from outside (a remittance, a deposit)
    OUT = "out"  # coins leaving (a withdrawal)


@attrs.frozen
class ThresholdPolicy:
    """From what value (in ``threshold``'s currency, at or above) the rule applies. A setting, USD 1,000 by default."""

    threshold: Money = DEFAULT_THRESHOLD

    def __attrs_post_init__(self) -> None:
        if self.threshold.amount < 0:
            raise InvalidInput("the Travel Rule threshold cannot be negative")


@attrs.frozen
class Assessment:
    """The amount, its value in the threshold's currency (rounded for display), the quote that valued it (None when
    the amount is already in that currency), and whether the rule applies."""

    amount: Money
    equivalent: Money
    quote_id: str | None
    applies: bool


@attrs.frozen
class Transfer:
    """The crypto movement a record describes: ``reference`` is the product's own id (``wdr_...``, ``rmt_...``),
    unique per direction; ``party_id`` is our customer (the withdrawing user, the remittance order)."""

    direction: TransferDirection
    network: str = attrs.field(validator=attrs.validators.min_len(1))
    amount: Money
    reference: str = attrs.field(validator=attrs.validators.min_len(1))
    party_id: str = attrs.field(validator=attrs.validators.min_len(1))
    tx_hash: str = ""


@attrs.frozen
class SelfHostedAttestation:
    """A user's statement that they own and control ``address`` on ``network`` (a wallet no VASP hosts)."""

    owner_id: str
    network: str
    address: str
    attested_at: datetime
    statement: str = SELF_HOSTED_STATEMENT


@attrs.frozen
class TravelRuleRecord:
    """What the Travel Rule keeps for one transfer. ``vasp`` is us (the originating VASP when ``OUT``, the
    beneficiary VASP when ``IN``); the other side's VASP is None for a self-hosted wallet or when unknown."""

    id: str
    transfer: Transfer
    originator: Party
    beneficiary: Party
    assessment: Assessment
    created_at: datetime
    attestation: SelfHostedAttestation | None = None
    vasp: LegalPerson | None = None
    counterparty_vasp: LegalPerson | None = None

    def ivms101(self) -> dict[str, Any]:
        """The IVMS101 ``IdentityPayload``: originator, beneficiary and the VASPs we know."""
        ours, theirs = self.vasp, self.counterparty_vasp
        sending, receiving = (ours, theirs) if self.transfer.direction is TransferDirection.OUT else (theirs, ours)
        payload: dict[str, Any] = {
            "originator": party_json(self.originator, "originator"),
            "beneficiary": party_json(self.beneficiary, "beneficiary"),
        }
        if sending is not None:
            payload["originatingVASP"] = {"originatingVASP": person_json(sending)}
        if receiving is not None:
            payload["beneficiaryVASP"] = {"beneficiaryVASP": person_json(receiving)}
        return payload


class TravelRule:
    """Values transfers against the threshold and keeps the records (see the module docstring)."""

    def __init__(
        self,
        *,
        quoter: Quoter,
        clock: Clock,
        ids: IdGenerator,
        policy: ThresholdPolicy | None = None,
        vasp: LegalPerson | None = None,
    ) -> None:
        self.policy = policy or ThresholdPolicy()
        self.vasp = vasp
        self._quoter, self._clock, self._ids = quoter, clock, ids

    def assess(self, amount: Money) -> Assessment:
        """Value ``amount`` in the threshold's currency (a locked quote of ``amount``/reference, else the inverse of
        reference/``amount``: USD/KES for shillings) and say whether the rule applies."""
        return self.valuer(amount.asset)(amount)

    def valuer(self, asset: Asset) -> Callable[[Money], Assessment]:
        """``assess`` for any amount of ``asset`` at one quote, locked now: for a caller that values again inside a
        transaction, where no quote is locked (a remittance's sum with its originator's other orders, under the
        originator's lock)."""
        threshold = self.policy.threshold
        reference = threshold.asset
        if asset == reference:
            return lambda amount: Assessment(amount, amount, None, amount >= threshold)
        inverse = not self._quoter.prices(Pair(asset, reference))
        quote = self._quoter.quote(Pair(reference, asset) if inverse else Pair(asset, reference))

        def assess(amount: Money) -> Assessment:
            value = amount.amount / quote.mid if inverse else amount.amount * quote.mid
            shown = Money.rounded(value, reference, ROUND_HALF_UP)
            return Assessment(amount, shown, quote.id, value >= threshold.amount)

        return assess

    def keep(
        self,
        uow: TravelRuleUnitOfWork,
        transfer: Transfer,
        assessment: Assessment,
        *,
        originator: Party,
        beneficiary: Party,
        attestation: SelfHostedAttestation | None = None,
        counterparty_vasp: LegalPerson | None = None,
        actor: str,
    ) -> TravelRuleRecord | None:
        """Store and audit the record when ``assessment.applies`` (None, nothing stored, below the threshold).
        Refuses (``IncompleteTravelRuleData``) incomplete data; a second record for the same transfer is a conflict."""
        if assessment.amount != transfer.amount:
            raise InvalidInput("the assessment values another amount than the transfer's")
        if not assessment.applies:
            return None
        check_complete(transfer, originator, beneficiary, attestation, counterparty_vasp)
        record = TravelRuleRecord(
            id=self._ids.new_id("trr"),
            transfer=transfer,
            originator=originator,
            beneficiary=beneficiary,
            assessment=assessment,
            created_at=self._clock.now(),
            attestation=attestation,
            vasp=self.vasp,
            counterparty_vasp=counterparty_vasp,
        )
        uow.travel_rule.add(record)
        details = {
            "reference": transfer.reference,
            "direction": transfer.direction.value,
            "equivalent": str(assessment.equivalent),
            "self_hosted": "yes" if attestation else "no",
        }
        uow.audit.append(
            AuditEvent(actor, "travel_rule.record", f"travel_rule:{record.id}", record.created_at, details)
        )
        return record


def check_complete(
    transfer: Transfer,
    originator: Party,
    beneficiary: Party,
    attestation: SelfHostedAttestation | None,
    counterparty_vasp: LegalPerson | None,
) -> None:
    """Refuse, naming what is missing, unless the data satisfies R.16 for a transfer at or above the threshold."""
    if not originator.account_numbers:
        raise IncompleteTravelRuleData("the originator's account number (wallet address or account) is missing")
    if not all(p.identifies for p in originator.persons):
        raise IncompleteTravelRuleData(
            "the originator needs, besides a name, an address, an identity number, a customer number, "
            "or date and place of birth"
        )
    if not beneficiary.account_numbers:
        raise IncompleteTravelRuleData("the beneficiary's account number (wallet address or account) is missing")
    if transfer.direction is TransferDirection.OUT and counterparty_vasp is None:
        if attestation is None:
            raise IncompleteTravelRuleData("a withdrawal to a self-hosted wallet needs the owner's attestation")
        if attestation.owner_id != transfer.party_id or attestation.network != transfer.network:
            raise IncompleteTravelRuleData("the attestation is not the withdrawing user's for this network")
        if attestation.address not in beneficiary.account_numbers:
            raise IncompleteTravelRuleData("the attestation names another address than the beneficiary's")


# -- the record as one JSON document (the SQL adapter stores this; the IVMS101 part is the standard's own JSON) ----


def record_json(record: TravelRuleRecord) -> dict[str, Any]:
    """``record`` as JSON: the transfer, the valuation, the attestation, and the IVMS101 payload."""
    t, a, att = record.transfer, record.assessment, record.attestation
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(),
        "transfer": {
            "direction": t.direction.value,
            "network": t.network,
            "amount": str(t.amount.amount),
            "asset": t.amount.asset.code,
            "reference": t.reference,
            "party_id": t.party_id,
            "tx_hash": t.tx_hash,
        },
        "assessment": {
            "equivalent": str(a.equivalent.amount),
            "currency": a.equivalent.asset.code,
            "quote_id": a.quote_id,
            "applies": a.applies,
        },
        "attestation": att
        and {
            "owner_id": att.owner_id,
            "network": att.network,
            "address": att.address,
            "attested_at": att.attested_at.isoformat(),
            "statement": att.statement,
        },
        "vasp": record.vasp and person_json(record.vasp),
        "counterparty_vasp": record.counterparty_vasp and person_json(record.counterparty_vasp),
        "ivms101": {
            "originator": party_json(record.originator, "originator"),
            "beneficiary": party_json(record.beneficiary, "beneficiary"),
        },
    }


def _legal(data: Any) -> LegalPerson | None:
    if data is None:
        return None
    person = person_from_json(data)
    if not isinstance(person, LegalPerson):
        raise InvalidInput("a VASP is a legal person")
    return person


def record_from_json(doc: dict[str, Any]) -> TravelRuleRecord:
    """The record ``record_json`` wrote."""
    t, a, att = doc["transfer"], doc["assessment"], doc.get("attestation")
    amount = Money.of(t["amount"], t["asset"])
    return TravelRuleRecord(
        id=doc["id"],
        transfer=Transfer(
            TransferDirection(t["direction"]), t["network"], amount, t["reference"], t["party_id"], t["tx_hash"]
        ),
        originator=party_from_json(doc["ivms101"]["originator"], "originator"),
        beneficiary=party_from_json(doc["ivms101"]["beneficiary"], "beneficiary"),
        assessment=Assessment(
            amount, Money.of(Decimal(a["equivalent"]), a["currency"]), a["quote_id"], bool(a["applies"])
        ),
        created_at=datetime.fromisoformat(doc["created_at"]),
        attestation=att
        and SelfHostedAttestation(
            att["owner_id"],
            att["network"],
            att["address"],
            datetime.fromisoformat(att["attested_at"]),
            att["statement"],
        ),
        vasp=_legal(doc.get("vasp")),
        counterparty_vasp=_legal(doc.get("counterparty_vasp")),
    )
