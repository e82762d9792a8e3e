"""Reports for the Financial Reporting Centre: a suspicious transaction report (STR) in goAML's XML structure and as
CSV, and the monthly summary of virtual-asset flows by asset, network and product.

The STR is built from a case: its alerts (rule, version, evidence) are the reason, the movements they name (both
halves of a pattern: what arrived and what left, what went and what came back: ``named_movements``) are the
transactions, the party is the client (``t_from_my_client`` for money leaving, ``t_to_my_client`` for money arriving),
and the counterparty the other side. Element names and order follow the goAML report schema as the FRC's goAML
deployment uses it: ``report`` (``rentity_id``, ``submission_code``, ``report_code``, ``entity_reference``,
``submission_date``, ``currency_code_local``, ``reporting_person``, ``reason``, ``action``, ``transaction``...,
``report_indicators``). Validating against the FRC's XSD is the filer's last step (the XSD is not redistributable here).

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import KES, Money
>>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> move = Movement(id="mv_1", party_id="usr_1", product="p2p", direction=Direction.IN,
...                 amount=Money.of("140000", KES), at=at, asset="USDT", network="tron")
>>> [(r.asset, r.network, r.product, r.direction, r.count, r.total_kes) for r in monthly_flows([move])]
[('USDT', 'tron', 'p2p', 'in', 1, '140000.00')]
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.cases import Alert, Case
from cryptopay.core.compliance.own_party import PartiesOf, refuse_own_party
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.compliance import MonitoringUnitOfWork
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock
from cryptopay.core.system import NAIROBI
from cryptopay.core.text import spreadsheet_row

__all__ = [
    "FlowRow",
    "Reporter",
    "Reporting",
    "StrReport",
    "goaml_xml",
    "monthly_flows",
    "named_movements",
    "person_name",
    "str_csv",
]


@attrs.frozen(kw_only=True)
class Reporter:
    """The reporting entity (its goAML id at the FRC) and the officer filing: ``officer_name`` is the officer's
    account name (``User.display_name``: ``cryptopay users set-name``); an STR is not made without one (R14-5)."""

    rentity_id: str
    officer_name: str | None
    officer_email: str
    branch: str | None = None

    def person(self) -> tuple[str, str]:
        """The officer's first and last name for ``reporting_person``; ``InvalidInput`` (422, exit 2, a form error)
        naming how to set one when the account has no name of two words or more (the FRC's reporting person is a
        named person, never an email)."""
        words = (self.officer_name or "").split()
        if len(words) < 2:
            raise InvalidInput(
                f"the reporting officer {self.officer_email} has no first and last name for the STR's reporting "
                f'person: set one with `cryptopay users set-name {self.officer_email} "First Last"`, then export again',
                field="officer",
            )
        return person_name(" ".join(words))


def person_name(name: str) -> tuple[str, str]:
    """A full name as goAML's ``first_name`` and ``last_name``: the last word is the last name, the words before it
    the first name; a name of one word is both.

    >>> person_name("Ann Njeri  Wambui")
    ('Ann Njeri', 'Wambui')
    >>> person_name("Duka")
    ('Duka', 'Duka')
    """
    words = name.split()
    if len(words) < 2:
        return name.strip(), name.strip()
    return " ".join(words[:-1]), words[-1]


@attrs.frozen(kw_only=True)
class StrReport:
    reporter: Reporter
    case: Case
    alerts: tuple[Alert, ...]
    movements: tuple[Movement, ...]
    party_name: str
    submitted_at: datetime
    # Our clients on the other side of an internal transfer (a P2P send's recipient, a received send's sender) by
    # party id, their names as the KYC knows them: filed as ``t_*_my_client`` (review14 R14-5)
    counterparty_names: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def reference(self) -> str:
        return f"STR-{self.case.id}"

    def reason(self) -> str:
        rules = ", ".join(sorted({f"{a.rule_id} (v{a.rule_version})" for a in self.alerts}))
        notes = " ".join(n.text for n in self.case.notes)
        return f"Monitoring rules {rules} fired on the party's movements. {notes}".strip()


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _when(at: datetime) -> str:
    return at.astimezone(NAIROBI).replace(tzinfo=None).isoformat(timespec="seconds")


def goaml_xml(report: StrReport) -> bytes:
    """The STR as goAML XML (UTF-8, with declaration)."""
    root = ET.Element("report")
    _sub(root, "rentity_id", report.reporter.rentity_id)
    if report.reporter.branch:
        _sub(root, "rentity_branch", report.reporter.branch)
    _sub(root, "submission_code", "E")  # electronic
    _sub(root, "report_code", "STR")
    _sub(root, "entity_reference", report.reference)
    _sub(root, "submission_date", _when(report.submitted_at))
    _sub(root, "currency_code_local", "KES")
    person = _sub(root, "reporting_person")
    first, last = report.reporter.person()
    _sub(person, "first_name", first)
    _sub(person, "last_name", last)
    _sub(person, "email", report.reporter.officer_email)
    _sub(person, "occupation", "Compliance officer")
    _sub(root, "reason", report.reason())
    _sub(root, "action", f"Case {report.case.id} is {report.case.status.value}; the party's account is monitored.")
    for movement in report.movements:
        _transaction(root, movement, report.party_name, report)
    indicators = _sub(root, "report_indicators")
    for kind in sorted({a.kind for a in report.alerts}):
        _sub(indicators, "indicator", kind.upper())
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


# Movements between two wallets on the platform (a ledger transfer, never M-Pesa nor a chain: review14 R14-5)
INTERNAL_PRODUCTS = frozenset({"p2p"})
PLATFORM = "cryptopay"  # the institution of an internal transfer: the reporting entity's own platform


def _location(movement: Movement) -> str:
    if movement.product in INTERNAL_PRODUCTS:
        return f"{PLATFORM} (internal wallet transfer)"
    return movement.network or "M-Pesa"


def _transaction(root: ET.Element, movement: Movement, party_name: str, report: StrReport | None = None) -> None:
    tx = _sub(root, "transaction")
    _sub(tx, "transactionnumber", movement.id)
    _sub(tx, "internal_ref_number", movement.id)
    _sub(tx, "transaction_location", _location(movement))
    asset = f" {movement.asset}" if movement.asset else ""
    _sub(tx, "transaction_description", f"{movement.product}{asset} {movement.direction.value}")
    _sub(tx, "date_transaction", _when(movement.at))
    _sub(tx, "transmode_code", "VA" if movement.asset else "MM")  # virtual asset / mobile money
    _sub(tx, "amount_local", str(movement.amount.amount))
    # goAML's ``transaction`` is a sequence: the from-side (``t_from_my_client`` or ``t_from``) always comes before
    # the to-side, whichever of the two is our client (review12 R12-1). An internal transfer's other side is our
    # client too, named as the KYC knows them; else its account on the platform (review14 R14-5).
    names = report.counterparty_names if report is not None else {}
    other = movement.counterparty if movement.product in INTERNAL_PRODUCTS else None
    ours = other is not None and other in names
    first, second = ("from", "to") if movement.direction is Direction.OUT else ("to", "from")
    sides = {first: lambda: _client_side(tx, first, movement, movement.party_id, party_name)}
    if ours and other is not None:
        sides[second] = lambda: _client_side(tx, second, movement, other, names[other])
    else:
        sides[second] = lambda: _counterparty_side(tx, second, movement, report)
    sides["from"]()
    sides["to"]()


def _funds_code(movement: Movement) -> str:
    return "K" if movement.asset else "E"


def _client_side(tx: ET.Element, side: str, movement: Movement, party_id: str, party_name: str) -> None:
    """``t_{side}_my_client``: funds code, then the client as a person, or as an entity for a merchant."""
    mine = _sub(tx, f"t_{side}_my_client")
    _sub(mine, f"{side}_funds_code", _funds_code(movement))
    if party_id.startswith("mer_"):
        entity = _sub(mine, f"{side}_entity")
        _sub(entity, "name", party_name)
        _sub(entity, "comments", f"client id {party_id}")
    else:
        person = _sub(mine, f"{side}_person")
        first, last = person_name(party_name)
        _sub(person, "first_name", first)
        _sub(person, "last_name", last)
        _sub(person, "comments", f"client id {party_id}")
    _sub(mine, f"{side}_country", "KE")  # our clients are Kenyan parties


def _counterparty_side(tx: ET.Element, side: str, movement: Movement, report: StrReport | None = None) -> None:
    """``t_{side}``: the other side's account in ``t_account`` order (institution_name, institution_code,
    non_bank_institution, account), its country when known (a remittance's sender), else Kenya. An internal
    transfer's other side whom the KYC does not name (a send to a phone not yet signed up) is an account on the
    platform, the reporting entity's code its institution code."""
    theirs = _sub(tx, f"t_{side}")
    _sub(theirs, f"{side}_funds_code", _funds_code(movement))
    account = _sub(theirs, f"{side}_account")
    if movement.product in INTERNAL_PRODUCTS:
        institution, code = PLATFORM, (report.reporter.rentity_id if report is not None else PLATFORM.upper())
    else:
        institution = movement.network or "M-Pesa"
        code = institution.upper()
    _sub(account, "institution_name", institution)
    _sub(account, "institution_code", code)
    _sub(account, "non_bank_institution", "true")  # a blockchain network or M-Pesa, never a bank
    _sub(account, "account", movement.counterparty or "unknown")
    _sub(theirs, f"{side}_country", (movement.country or "KE").upper())


def str_csv(report: StrReport) -> str:
    """The STR's transactions as CSV, one row per movement, with the report's reference and the rules."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "report",
            "case",
            "party_id",
            "party_name",
            "movement",
            "at",
            "product",
            "direction",
            "asset",
            "network",
            "amount_kes",
            "counterparty",
            "rules",
        ]
    )
    rules = ";".join(sorted({f"{a.rule_id}@v{a.rule_version}" for a in report.alerts}))
    for m in report.movements:
        writer.writerow(
            spreadsheet_row(
                [
                    report.reference,
                    report.case.id,
                    m.party_id,
                    report.party_name,
                    m.id,
                    m.at.isoformat(),
                    m.product,
                    m.direction.value,
                    m.asset or "",
                    m.network or "",
                    str(m.amount.amount),
                    m.counterparty or "",
                    rules,
                ]
            )
        )
    return out.getvalue()


@attrs.frozen
class FlowRow:
    asset: str
    network: str
    product: str
    direction: str
    count: int
    total_kes: str


def monthly_flows(movements: Iterable[Movement]) -> list[FlowRow]:
    """Virtual-asset movements summed by asset, network, product and direction (KES values)."""
    groups: dict[tuple[str, str, str, str], tuple[int, Money]] = {}
    for m in movements:
        if m.asset is None:
            continue
        key = (m.asset, m.network or "off-chain", m.product, m.direction.value)
        count, total = groups.get(key, (0, Money.zero(KES)))
        groups[key] = (count + 1, total + m.amount)
    return [FlowRow(*key, count, str(total.amount)) for key, (count, total) in sorted(groups.items())]


# The evidence keys that list movements: a structuring's parts and what left in a rapid in-and-out (``movements``), what
# arrived before it (``arrivals``), a round trip's way out (``movements``) and back (``returning``).
_LISTING = ("movements", "arrivals", "returning")


def named_movements(alerts: Sequence[Alert], journal: Iterable[Movement]) -> list[Movement]:
    """The journal's movements the alerts name, in the journal's order: each alert's own movement and those its
    evidence lists, both halves of a pattern (review14 R14-5: a rapid in-and-out's STR showed what left, not what
    arrived). A ``rapid_in_out`` alert raised before its evidence listed ``arrivals`` names what arrived into the
    party's account within its window before its own movement."""
    named = {a.movement_id for a in alerts} | {
        m for a in alerts for key in _LISTING for m in a.evidence.get(key, "").split(",") if m
    }
    movements = list(journal)
    at = {m.id: m.at for m in movements}
    windows = [
        (at[a.movement_id] - timedelta(minutes=int(a.evidence["window_minutes"])), at[a.movement_id])
        for a in alerts
        if a.kind == "rapid_in_out" and "arrivals" not in a.evidence and a.movement_id in at
        if a.evidence.get("window_minutes", "").isdigit()
    ]

    def arrived(m: Movement) -> bool:
        return m.direction is Direction.IN and any(start <= m.at <= end for start, end in windows)

    return [m for m in movements if m.id in named or arrived(m)]


@attrs.define(kw_only=True)
class Reporting:
    """Builds reports from the monitoring journal, alerts and cases; each export is audited."""

    uow: Callable[[], AbstractContextManager[MonitoringUnitOfWork]]
    clock: Clock
    # The parties an officer belongs to (``identity.teams.parties_of``); None: only their own user id.
    parties_of: PartiesOf | None = None
    # A party's name as the KYC knows it, else its id (``KycReview.party_name``): an internal transfer's other side
    # (our client) is named in the STR; None: never named (an account on the platform).
    party_names: Callable[[str], str] | None = None

    def suspicious_transaction_report(
        self, case_id: str, reporter: Reporter, *, party_name: str, officer: str
    ) -> StrReport:
        """The STR of a case: its alerts and every movement they name (for the CSV; ``goaml_export`` for the XML
        that is filed). ``officer`` (the filing officer's user id) never reports on a party they belong to
        (``OwnParty``, audited ``compliance.own_party_refused``: outside review R12)."""
        return self._export(case_id, reporter, party_name=party_name, officer=officer, xml=False)[0]

    def goaml_export(
        self, case_id: str, reporter: Reporter, *, party_name: str, officer: str
    ) -> tuple[StrReport, bytes]:
        """The STR of a case as goAML XML, the export kept on the case (``Case.exported``: the officer, when, the
        XML's SHA-256) in the transaction of its audit record: a filing can then be recorded (R12-8)."""
        report, xml = self._export(case_id, reporter, party_name=party_name, officer=officer, xml=True)
        assert xml is not None
        return report, xml

    def _export(
        self, case_id: str, reporter: Reporter, *, party_name: str, officer: str, xml: bool
    ) -> tuple[StrReport, bytes | None]:
        now = self.clock.now()
        reporter.person()  # an officer without a name is refused before anything is read or audited (R14-5)

        def party(uow: MonitoringUnitOfWork) -> str:
            case = uow.cases.get(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}")
            return case.party_id

        refuse_own_party(
            self.uow,
            self.parties_of,
            officer,
            in_transaction(self.uow, party),
            scope="compliance",
            action="compliance.str_exported",
            subject=f"case:{case_id}",
            at=now,
        )

        def movements(uow: MonitoringUnitOfWork) -> tuple[Case, tuple[Alert, ...], list[Movement]]:
            case = uow.cases.get(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}")
            alerts = tuple(a for a in (uow.alerts.get(i) for i in case.alert_ids) if a is not None)
            since = min(a.created_at for a in alerts) - timedelta(days=62)
            return case, alerts, named_movements(alerts, uow.movements.for_party(case.party_id, since=since))

        names = self._counterparty_names(in_transaction(self.uow, movements)[2])

        def work(uow: MonitoringUnitOfWork) -> tuple[StrReport, bytes | None]:
            case, alerts, found = movements(uow)
            details = {"case": case.id, "movements": str(len(found)), "rentity": reporter.rentity_id}
            report = StrReport(
                reporter=reporter,
                case=attrs.evolve(case),
                alerts=alerts,
                movements=tuple(found),
                party_name=party_name,
                submitted_at=now,
                counterparty_names={k: v for k, v in names.items() if any(m.counterparty == k for m in found)},
            )
            body = goaml_xml(report) if xml else None
            details["format"] = "xml" if xml else "csv"
            if body is not None:
                details["digest"] = case.exported(officer, body, at=now).digest
                uow.cases.update(case)
            # the officer by user id, as every other officer action is audited (review14 R14-8)
            uow.audit.append(AuditEvent(f"user:{officer}", "compliance.str_exported", f"case:{case.id}", now, details))
            return report, body

        return in_transaction(self.uow, work)

    def _counterparty_names(self, movements: Sequence[Movement]) -> dict[str, str]:
        """The KYC names of the clients on the other side of the internal transfers among ``movements`` (read
        outside the report's transaction: the KYC is another unit of work); a party the KYC does not name is left
        out (filed as its account on the platform)."""
        if self.party_names is None:
            return {}
        others = {m.counterparty for m in movements if m.product in INTERNAL_PRODUCTS and m.counterparty}
        named = {other: self.party_names(other) for other in sorted(others) if other.startswith("usr_")}
        return {other: name for other, name in named.items() if name.strip() and name != other}

    def monthly(self, year: int, month: int) -> list[FlowRow]:
        """The virtual-asset flows of a Nairobi calendar month."""
        if not 1 <= month <= 12:
            raise InvalidInput("a month is 1 to 12", field="month")
        start = datetime(year, month, 1, tzinfo=NAIROBI)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=NAIROBI)
        movements: list[Movement] = []
        after: str | None = None
        while True:
            page = self._page(start, end, after)
            if not page:
                return monthly_flows(movements)
            movements += page
            after = page[-1].id

    def _page(self, start: datetime, end: datetime, after: str | None) -> Sequence[Movement]:
        with self.uow() as uow:
            return uow.movements.between(start, end, after=after, limit=1000)
