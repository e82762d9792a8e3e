"""Transaction monitoring and case work, the use cases.

``check`` runs before money moves: it evaluates the *blocking* rules (a sanctioned counterparty, typically) against
the party's journaled history; a hit opens an alert, commits it, and refuses the movement (``Blocked``, naming the
rule); otherwise it journals the movement, unless told not to. ``observe`` journals a movement once it happened;
products call both through ``compliance.feed.MonitoringFeed`` (``check(journal=False)`` before, ``observe`` after),
so a movement refused later, by the limits or the funds, never feeds the batch rules.
``run_batch`` (the worker's ``compliance.monitor`` job) evaluates
the other rules over the journal's movements of a period; an alert's key (rule, version, movement) makes a rerun
raise nothing twice. ``screen_names`` screens the parties a product names (a remittance's sender and recipient) against
the sanctions lists before money moves, per the rule set's ``sanctioned_name`` rules: a match at the screening's
threshold opens a blocking alert (list, entry, listed name, score) and refuses (``Blocked``, naming the rule only:
the caller never learns which entry matched); a possible match (from the rule's ``review_score``) opens a
non-blocking alert the product holds its payout on. Officers group alerts into cases, assign them, add notes and
move them to a conclusion (``reported`` only by ``file``, recording the STR's filing with the FRC: R12-8); every
step is audited. No officer reads or works a case of a party they belong to
(outside review R12: ``parties_of``, the one check of ``compliance.own_party``): opening, reading, assigning, noting
or moving it is refused (403 ``own_party``), the refusal audited ``compliance.own_party_refused``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from functools import partial

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.cases import (
    Alert,
    AlertStatus,
    Case,
    CaseStatus,
    Clearance,
    StrReferenceInUse,
    filing_reference,
)
from cryptopay.core.compliance.own_party import PartiesOf, owns, refuse_own_party
from cryptopay.core.compliance.rules import Hit, Movement, Rule, RuleSet, evaluate
from cryptopay.core.compliance.screening import Snapshot
from cryptopay.core.errors import Conflict, InvalidInput, NotFound, Refused
from cryptopay.core.mobile_money.phones import masked_party
from cryptopay.core.ports.compliance import MonitoringUnitOfWork, PartyHolds, ScreeningPort
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator

__all__ = ["CASE_DEADLINE", "NAMED", "PAYEE", "Blocked", "Monitoring", "UnderReview"]

CASE_DEADLINE = timedelta(days=7)  # a case is concluded (closed or reported) within a week unless extended
LOOKBACK = timedelta(days=31)  # the longest history a rule reads
Screen = Callable[[Movement], bool]  # is the movement's counterparty sanctioned?
NAMED = "sanctioned_name"  # the rule kind whose names ``screen_names`` screens
PAYEE = "payee_name_mismatch"  # the rule kind a product raises when a payee's registered name is not the one given


class Blocked(Refused):
    """A blocking monitoring rule refused the movement before anything moved (``alert_ids``: the blocking alerts it
    raised, for a product that holds money on them; never in the problem a caller is shown)."""

    code = "blocked_by_compliance"
    alert_ids: tuple[str, ...] = ()


class UnderReview(Refused):
    """Money held on compliance alerts is released only once compliance cleared every one of them (each in a case
    closed with no action); the details name the alerts still waiting."""

    code = "under_compliance_review"


@attrs.define(kw_only=True)
class Monitoring:
    uow: Callable[[], AbstractContextManager[MonitoringUnitOfWork]]
    rules: RuleSet
    clock: Clock
    ids: IdGenerator
    screen: Screen = attrs.field(default=lambda _movement: False)
    screening: ScreeningPort | None = None  # names for ``screen_names`` (None: no name is screened)
    case_deadline: timedelta = CASE_DEADLINE
    # The parties an officer belongs to (``identity.teams.parties_of``); None: only their own user id.
    parties_of: PartiesOf | None = None
    # Where a rescreen's blocking alert holds its party (``kyc.holds.SanctionsHolds``); None: nothing is held.
    holds: PartyHolds | None = None

    # -- movements -----------------------------------------------------------------------------------------------
    def check(self, movement: Movement, *, journal: bool = True) -> list[Alert]:
        """Apply the blocking rules to a movement about to happen; ``Blocked`` (after the alerts commit) on a hit.

        ``journal``: also journal the movement when nothing blocks it (the deposit and withdrawal flows rely on
        it); ``False`` leaves that to ``observe`` once the money moved (``compliance.feed``: a movement refused
        afterwards then never feeds the batch rules). Nothing is read when no blocking rule watches the movement."""
        rules = [rule for rule in self.rules.blocking() if rule.watches(movement) and rule.kind != NAMED]
        if not rules:
            if journal:
                self.observe(movement)
            return []
        sanctioned = any(r.kind == "sanctioned_counterparty" for r in rules) and self.screen(movement)

        def work(uow: MonitoringUnitOfWork) -> list[Alert]:
            history = uow.movements.for_party(movement.party_id, since=movement.at - LOOKBACK)
            hits = self._hits(rules, movement, history, sanctioned)
            alerts = self._raise(uow, hits, blocking=True)
            if journal and not hits:
                uow.movements.add(movement)
            return alerts

        alerts = in_transaction(self.uow, work)
        blocking = [a for a in alerts if a.blocking]
        if blocking:
            rule = blocking[0].rule_id
            blocked = Blocked(f"refused by compliance rule {rule!r}: the movement was not made", rule=rule)
            blocked.alert_ids = tuple(a.id for a in blocking)
            raise blocked
        return alerts

    def screen_names(self, movement: Movement, names: Sequence[tuple[str, str]], *, refuse: bool = True) -> list[Alert]:
        """Screen (role, name) pairs of a movement about to happen, per the ``sanctioned_name`` rules watching it.

        A match at the screening's threshold opens an alert (blocking when its rule is) and, when blocking, raises
        ``Blocked`` naming the rule once the alerts (and their audit records) committed; a possible match (from the
        rule's ``review_score``, below the threshold) opens a non-blocking alert. Returns the non-blocking alerts
        raised (what the product holds its payout on). Each list is scanned once per name. ``refuse=False``: no
        ``Blocked``; every alert raised is returned, blocking ones included, for a product that must not tell the
        party a list matched (a remittance's sender: it opens, and is held once paid)."""
        alerts = self._name_alerts(movement, names)
        if not alerts:
            return []
        raised = in_transaction(self.uow, lambda uow: [a for alert in alerts for a in self._keep(uow, alert)])
        if not refuse:
            return raised
        blocking = [a.rule_id for a in alerts if a.blocking]  # refused even if raised already
        if blocking:
            raise Blocked(f"refused by compliance rule {blocking[0]!r}: the movement was not made", rule=blocking[0])
        return [a for a in raised if not a.blocking]

    def rescreen_names(self, movement: Movement, names: Sequence[tuple[str, str]]) -> list[Alert]:
        """Screen the parties of a movement already under way again, as ``screen_names`` does, when the lists
        changed: returns every alert the matches hold, raised now or by an earlier screening (the keys name the
        list snapshot: one alert per match and snapshot, however often this runs), blocking ones included; nothing
        is refused (the product decides what a match does to money it already holds)."""
        return self._raised_or_earlier(self._name_alerts(movement, names))

    def payee_name_mismatch(self, movement: Movement, evidence: Mapping[str, str]) -> list[Alert]:
        """A movement made to a payee whose registered name (M-Pesa's ``ReceiverPartyPublicName``) is not the name
        the product was given: one non-blocking alert per ``payee_name_mismatch`` rule watching it (keyed by rule,
        version and movement, so asking again returns the one raised before), with ``evidence`` (the names, the
        score, ``ref``: what paid it); none when no rule watches the movement."""
        rules = [rule for rule in self.rules.rules if rule.kind == PAYEE and rule.watches(movement)]
        if not rules:
            return []
        now = self.clock.now()
        facts = {"amount": str(movement.amount.amount), "product": movement.product, **evidence}
        alerts = [
            Alert(
                id=self.ids.new_id("alr"),
                key=f"{rule.id}:{rule.version}:{movement.id}",
                rule_id=rule.id,
                rule_version=rule.version,
                kind=rule.kind,
                party_id=movement.party_id,
                movement_id=movement.id,
                created_at=now,
                blocking=False,
                evidence=facts,
            )
            for rule in rules
        ]
        return self._raised_or_earlier(alerts)

    def _raised_or_earlier(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Each alert raised now (kept and audited, ``_keep``), or the one raised before under its key, in one
        transaction; none asked, none read."""

        def work(uow: MonitoringUnitOfWork) -> list[Alert]:
            return [(self._keep(uow, alert) or [uow.alerts.by_key(alert.key) or alert])[0] for alert in alerts]

        return in_transaction(self.uow, work) if alerts else []

    def _name_alerts(self, movement: Movement, names: Sequence[tuple[str, str]]) -> list[Alert]:
        """The alerts the ``sanctioned_name`` rules watching ``movement`` would raise on its named parties (not
        stored): a match at the screening's threshold (blocking when its rule is) or a possible one."""
        rules = [rule for rule in self.rules.rules if rule.kind == NAMED and rule.watches(movement)]
        if self.screening is None or not rules:
            return []
        strong = self.screening.threshold
        now, alerts = self.clock.now(), []
        for role, name in names:
            for rule in rules:
                review = float(rule.params.get("review_score", strong))
                for match in self.screening.screen_name(name, threshold=min(review, strong)):
                    certain = match.score >= strong
                    alerts.append(
                        Alert(
                            id=self.ids.new_id("alr"),
                            key=f"{rule.id}:{rule.version}:{movement.id}:{role}:{match.snapshot_id}:{match.ref}",
                            rule_id=rule.id,
                            rule_version=rule.version,
                            kind=rule.kind,
                            party_id=movement.party_id,
                            movement_id=movement.id,
                            created_at=now,
                            blocking=certain and rule.blocking,
                            evidence={
                                "amount": str(movement.amount.amount),
                                "product": movement.product,
                                "role": role,
                                "counterparty": name,
                                "listed_name": match.listed_name,
                                "list": match.source,
                                "ref": match.ref,
                                "score": f"{match.score:g}",
                                "match": "strong" if certain else "possible",
                            },
                        )
                    )
        return alerts

    def observe(self, movement: Movement) -> bool:
        """Journal a movement that happened (for the batch rules); False if it was journaled already."""

        def work(uow: MonitoringUnitOfWork) -> bool:
            return uow.movements.add(movement)

        return in_transaction(self.uow, work)

    def journals_to(self, uow: object) -> bool:
        """Whether ``uow`` is this monitor's unit-of-work factory (the same storage's ``unit_of_work``): a product
        on it may journal its movements in its own transaction, as ``observe`` would in one of its own."""
        return uow == self.uow

    def run_batch(self, since: datetime, until: datetime | None = None) -> list[Alert]:
        """Evaluate the non-blocking rules over the movements journaled in [since, until); new alerts only."""
        end = until or self.clock.now()
        raised: list[Alert] = []
        after: str | None = None
        while True:
            page = in_transaction(self.uow, partial(_page, since=since, until=end, after=after))
            if not page:
                return raised
            for movement in page:
                raised += self._batch_one(movement)
            after = page[-1].id

    def _batch_one(self, movement: Movement) -> list[Alert]:
        """The batch rules watching ``movement``; the screening (which reads the lists in a unit of work of its
        own) is asked before the movement's transaction opens, as ``check`` does, and only when a rule needs it."""
        rules = [rule for rule in self.rules.batch() if rule.watches(movement)]
        if not rules:
            return []
        sanctioned = any(r.kind == "sanctioned_counterparty" for r in rules) and self.screen(movement)

        def work(uow: MonitoringUnitOfWork) -> list[Alert]:
            history = uow.movements.for_party(movement.party_id, since=movement.at - LOOKBACK)
            return self._raise(uow, self._hits(rules, movement, history, sanctioned), blocking=False)

        return in_transaction(self.uow, work)

    @staticmethod
    def _hits(rules: Sequence[Rule], movement: Movement, history: list[Movement], sanctioned: bool) -> list[Hit]:
        found = (evaluate(rule, movement, history, sanctioned=sanctioned) for rule in rules)
        return [hit for hit in found if hit is not None]

    def _raise(self, uow: MonitoringUnitOfWork, hits: Sequence[Hit], *, blocking: bool) -> list[Alert]:
        now, raised = self.clock.now(), []
        for hit in hits:
            alert = Alert(
                id=self.ids.new_id("alr"),
                key=f"{hit.rule_id}:{hit.rule_version}:{hit.movement_id}",
                rule_id=hit.rule_id,
                rule_version=hit.rule_version,
                kind=hit.kind,
                party_id=hit.party_id,
                movement_id=hit.movement_id,
                created_at=now,
                blocking=blocking,
                evidence=dict(hit.evidence),
            )
            if uow.alerts.add(alert):
                _audit(
                    uow,
                    "system:monitoring",
                    "compliance.alert_raised",
                    f"alert:{alert.id}",
                    now,
                    rule=hit.rule_id,
                    version=hit.rule_version,
                    party=hit.party_id,
                    movement=hit.movement_id,
                )
                raised.append(alert)
        return raised

    def rescreen(self, parties: Iterable[tuple[str, str]], screening: ScreeningPort) -> list[Alert]:
        """Screen every (party id, name) against the latest lists; a new match opens an alert (once per party, list
        entry and snapshot), for a list update or the rescreening of everyone (the worker's, every 6 hours).

        A match at the screening's threshold is a blocking alert, and its party is held at once (``holds``: the
        compliance freeze, review14 R14-7) until an officer clears it (``move`` to closed with no action). An alert
        open in no case is held again at every rescreen (a hold lost between the alert's commit and its own), and one
        raised non-blocking before matches held is made blocking (audited ``compliance.alert_blocking``)."""
        raised: list[Alert] = []
        snapshots: list[Snapshot] | None = None  # read once, at the first match
        for party_id, name in parties:
            for match in screening.screen_name(name):
                snapshots = screening.snapshots() if snapshots is None else snapshots
                earlier = [s.id for s in snapshots if s.source == match.source and s.id != match.snapshot_id]
                alert = Alert(
                    id=self.ids.new_id("alr"),
                    key=f"sanctions:{match.snapshot_id}:{party_id}:{match.ref}",
                    rule_id="sanctions-name-match",
                    rule_version=1,
                    kind="sanctioned_name",
                    party_id=party_id,
                    movement_id="",
                    created_at=self.clock.now(),
                    blocking=match.score >= screening.threshold,
                    evidence={
                        "name": name,
                        "listed_name": match.listed_name,
                        "list": match.source,
                        "ref": match.ref,
                        "score": f"{match.score:g}",
                    },
                )
                new, holding = in_transaction(self.uow, partial(self._keep_listed, alert=alert, earlier=earlier))
                raised += new
                if holding is not None and self.holds is not None:
                    self.holds.hold(holding.party_id, holding.id)
        return raised

    def _keep_listed(
        self, uow: MonitoringUnitOfWork, alert: Alert, earlier: Sequence[str]
    ) -> tuple[list[Alert], Alert | None]:
        """A rescreen's alert kept (``_keep``: new ones) and the one its party is to be held on: blocking, open in
        no case (one raised non-blocking before matches held is made blocking, audited
        ``compliance.alert_blocking``). A match of the same list entry an officer cleared under an ``earlier``
        snapshot of its list (a namesake: its case closed with no action) is raised again for the officers but
        holds nothing (non-blocking, ``cleared_in``: that case)."""
        if alert.blocking and (cleared := _cleared_before(uow, alert, earlier)) is not None:
            alert = attrs.evolve(alert, blocking=False, evidence={**alert.evidence, "cleared_in": cleared})
        if raised := self._keep(uow, alert):
            return raised, alert if alert.blocking else None
        kept = uow.alerts.by_key(alert.key)
        if kept is None or kept.status is not AlertStatus.OPEN or not alert.blocking:
            return [], None
        if not kept.blocking:
            kept.blocking = True
            uow.alerts.update(kept)
            subject, now = f"alert:{kept.id}", self.clock.now()
            _audit(uow, "system:screening", "compliance.alert_blocking", subject, now, party=kept.party_id)
        return [], kept

    def _keep(self, uow: MonitoringUnitOfWork, alert: Alert) -> list[Alert]:
        if not uow.alerts.add(alert):
            return []
        _audit(
            uow,
            "system:screening",
            "compliance.alert_raised",
            f"alert:{alert.id}",
            alert.created_at,
            rule=alert.rule_id,
            party=alert.party_id,
            ref=alert.evidence["ref"],
            **({"movement": alert.movement_id} if alert.movement_id else {}),
            **({"blocking": alert.blocking} if alert.movement_id or alert.blocking else {}),
        )
        return [alert]

    # -- alerts and cases ----------------------------------------------------------------------------------------
    def clearance(self, alert_ids: Sequence[str]) -> list[Clearance]:
        """Where compliance's review of each alert stands, in ``alert_ids``' order (see ``Clearance``)."""

        def work(uow: MonitoringUnitOfWork) -> list[Clearance]:
            found = []
            for alert_id in alert_ids:
                alert = uow.alerts.get(alert_id)
                case = uow.cases.get(alert.case_id) if alert is not None and alert.case_id else None
                if alert is None:
                    found.append(Clearance(alert_id, None, "missing"))
                elif case is None:
                    found.append(Clearance(alert_id, None, alert.status.value))
                else:
                    found.append(Clearance(alert_id, case.id, case.status.value))
            return found

        return in_transaction(self.uow, work)

    def alerts(self, *, status: AlertStatus | None = None, after: str | None = None, limit: int = 100) -> list[Alert]:
        with self.uow() as uow:
            return uow.alerts.list(status=status, after=after, limit=limit)

    def cases(self, *, status: CaseStatus | None = None, after: str | None = None, limit: int = 100) -> list[Case]:
        with self.uow() as uow:
            return uow.cases.list(status=status, after=after, limit=limit)

    def case(self, case_id: str) -> Case:
        with self.uow() as uow:
            return _case(uow, case_id)

    def case_alerts(self, case_id: str, *, officer: str | None = None) -> tuple[Case, list[Alert]]:
        """A case with its alerts (rule, version, evidence), for an officer reading it (``OwnParty`` for a case of
        a party ``officer`` belongs to)."""
        with self.uow() as uow:
            case = _case(uow, case_id)
            found = case, [a for a in (uow.alerts.get(i) for i in case.alert_ids) if a is not None]
        if officer is not None:
            self.refuse_own(officer, case.party_id, "compliance.case_viewed", f"case:{case.id}")
        return found

    def refuse_own(self, officer: str, party: str, action: str, subject: str) -> None:
        """``OwnParty`` (audited ``compliance.own_party_refused`` on ``subject``) when ``officer`` belongs to
        ``party``: an officer's compliance work on their own account or merchant (outside review R12)."""
        refuse_own_party(
            self.uow,
            self.parties_of,
            officer,
            party,
            scope="compliance",
            action=action,
            subject=subject,
            at=self.clock.now(),
        )

    def open_case(self, officer: str, alert_ids: Sequence[str], *, assignee: str | None = None) -> Case:
        """Group open alerts (of one party) into a new case, due within ``case_deadline``."""
        if not alert_ids:
            raise InvalidInput("a case groups at least one alert", field="alert_ids")
        now = self.clock.now()

        def work(uow: MonitoringUnitOfWork) -> Case | str:
            alerts = [_alert(uow, a) for a in dict.fromkeys(alert_ids)]
            parties = {a.party_id for a in alerts}
            if len(parties) != 1:
                raise InvalidInput("a case is about one party: these alerts concern several", field="alert_ids")
            if owns(officer, party := next(iter(parties)), self.parties_of):
                return party  # refused outside this transaction (its audit record commits in one of its own)
            taken = [a.id for a in alerts if a.status is not AlertStatus.OPEN]
            if taken:
                raise Conflict(f"already in a case: {', '.join(taken)}")
            return self._new_case(uow, officer, alerts, assignee or officer, now)

        opened = in_transaction(self.uow, work)
        if isinstance(opened, str):
            self.refuse_own(officer, opened, "compliance.case_opened", f"party:{opened}")
            raise AssertionError("unreachable: refuse_own raised")  # pragma: no cover
        return opened

    def assign(self, officer: str, case_id: str, assignee: str) -> Case:
        return self._change(
            officer, case_id, "compliance.case_assigned", lambda c, at: _assign(c, assignee), assignee=assignee
        )

    def note(self, officer: str, case_id: str, text: str) -> Case:
        return self._change(officer, case_id, "compliance.case_noted", lambda c, at: c.add_note(officer, text, at=at))

    def move(
        self, officer: str, case_id: str, status: CaseStatus, note: str | None = None, *, operator: str | None = None
    ) -> Case:
        """Move a case on; closed with no action (its alerts false positives), the holds on its alerts go
        (``holds.release``: a sanctions match's freeze is lifted once none of its alerts is left). ``operator``: the
        shell's (``ops:<login>``), which cannot prove who is at the keyboard: closing a case that holds a sanctions
        freeze moves the party's money, so from there it is ``Refused`` (exit 5), audited, nothing changed
        (lastread L3-3, as every release of money held on a sanctions or AML alert)."""
        if operator is not None and status is CaseStatus.CLOSED_NO_ACTION and self.holds is not None:
            found = in_transaction(self.uow, lambda uow: _case(uow, case_id))
            if self.holds.holding(found.party_id, found.alert_ids):
                details = {"officer": officer, "case": case_id}
                in_transaction(
                    self.uow,
                    lambda uow: _audit(
                        uow,
                        operator,
                        "compliance.sanctions_release_shell_refused",
                        f"case:{case_id}",
                        self.clock.now(),
                        **details,
                    ),
                )
                raise Refused(
                    f"case {case_id} holds a sanctions freeze: closing it releases the party's money, so it is "
                    "closed on the console or the API by an officer signed in with their second factor, not from the "
                    "shell"
                )
        case = self._change(
            officer,
            case_id,
            "compliance.case_status",
            lambda c, at: c.move(status, officer, at=at, note=note),
            status=status.value,
        )
        if status is CaseStatus.CLOSED_NO_ACTION and self.holds is not None:
            self.holds.release(officer, case.party_id, case.alert_ids)
        return case

    def file(self, officer: str, case_id: str, reference: str, filed_on: date, note: str | None = None) -> Case:
        """Record the case's STR filing with the FRC (goAML report id, filing date) and move it to reported: the one
        use case the API, the CLI and the console run (``Case.file`` says what is refused), audited
        ``compliance.str_filed`` with the report id, the date and the digest of the export filed."""
        reference = filing_reference(reference)  # a malformed id is refused before anything is read
        now = self.clock.now()
        self.refuse_own(officer, self.case(case_id).party_id, "compliance.str_filed", f"case:{case_id}")

        def work(uow: MonitoringUnitOfWork) -> Case:
            case = _case(uow, case_id)
            elsewhere = uow.cases.filed_as(reference)
            if elsewhere is not None and elsewhere != case.id:
                raise StrReferenceInUse(f"goAML report {reference} is recorded on case {elsewhere}", field="reference")
            filing = case.file(officer, reference, filed_on, at=now, note=note)
            uow.cases.update(case)
            details = {"reference": reference, "filed_on": filed_on.isoformat(), "digest": filing.export_digest}
            _audit(uow, f"user:{officer}", "compliance.str_filed", f"case:{case.id}", now, **details)
            return case

        return in_transaction(self.uow, work)

    def conclude(
        self, uow: MonitoringUnitOfWork, officer: str, alert_ids: Sequence[str], status: CaseStatus, note: str
    ) -> list[str]:
        """Conclude the alerts with an officer's decision on the money held on them (``payments.held``), in the
        decision's own unit of work ``uow`` (so nothing is concluded unless the money moves): the open ones grouped
        into a case of their own (audited ``compliance.case_opened``), every case they are in moved to ``status``
        (``closed_no_action``, or ``escalated``: money kept, the case to be reported, which only a recorded STR
        filing moves on, ``file``; a case already reported is left as it is) with ``note`` (audited
        ``compliance.case_status``); a case already at ``status`` is left as it is (a decision retried), one
        concluded otherwise is a ``Conflict`` (the caller's work rolls back). The cases' ids. Missing alerts are
        skipped (none raised: no rule watched the payer)."""
        if status not in (CaseStatus.CLOSED_NO_ACTION, CaseStatus.ESCALATED):  # reported: only by a filing
            raise InvalidInput("a decision closes the case with no action or escalates it", field="status")
        now = self.clock.now()
        alerts = [a for a in (uow.alerts.get(i) for i in dict.fromkeys(alert_ids)) if a is not None]
        cases = {c.id: c for c in (uow.cases.get(a.case_id) for a in alerts if a.case_id) if c is not None}
        # escalated ("to be reported", a kept payment): a case already reported is further along, left as it is
        further = (CaseStatus.REPORTED,) if status is CaseStatus.ESCALATED else ()
        clash = [c.id for c in cases.values() if c.status.final and c.status is not status and c.status not in further]
        if clash:
            raise Conflict(f"case {', '.join(clash)} is concluded otherwise: the decision would contradict it")
        fresh = [a for a in alerts if a.status is AlertStatus.OPEN]
        if fresh:
            case = self._new_case(uow, officer, fresh, officer, now)
            cases[case.id] = case
        for case in cases.values():
            if case.status is status or case.status in further:
                continue
            case.move(status, officer, at=now, note=note)
            uow.cases.update(case)
            _audit(uow, f"user:{officer}", "compliance.case_status", f"case:{case.id}", now, status=status.value)
        return sorted(cases)

    def _new_case(
        self, uow: MonitoringUnitOfWork, officer: str, alerts: Sequence[Alert], assignee: str, now: datetime
    ) -> Case:
        """A new case of the (one party's, open) ``alerts``, due within ``case_deadline``, audited ``case_opened``."""
        case = Case(
            id=self.ids.new_id("cas"),
            party_id=alerts[0].party_id,
            alert_ids=tuple(a.id for a in alerts),
            created_at=now,
            deadline=now + self.case_deadline,
            assignee=assignee,
        )
        uow.cases.add(case)
        for alert in alerts:
            alert.status, alert.case_id = AlertStatus.IN_CASE, case.id
            uow.alerts.update(alert)
        _audit(
            uow,
            f"user:{officer}",
            "compliance.case_opened",
            f"case:{case.id}",
            now,
            alerts=",".join(case.alert_ids),
            assignee=case.assignee,
        )
        return case

    def overdue(self) -> list[Case]:
        """Open cases past their deadline (the worker's daily reminder)."""
        now, found, after = self.clock.now(), [], None
        while page := self.cases(after=after, limit=200):
            found += [c for c in page if c.overdue(now)]
            after = page[-1].id
        return found

    def _change(
        self, officer: str, case_id: str, action: str, change: Callable[[Case, datetime], None], **details: str
    ) -> Case:
        now = self.clock.now()
        party = self.case(case_id).party_id
        self.refuse_own(officer, party, action, f"case:{case_id}")

        def work(uow: MonitoringUnitOfWork) -> Case:
            case = _case(uow, case_id)
            change(case, now)
            uow.cases.update(case)
            _audit(uow, f"user:{officer}", action, f"case:{case.id}", now, **details)
            return case

        return in_transaction(self.uow, work)


def _cleared_before(uow: MonitoringUnitOfWork, alert: Alert, earlier: Sequence[str]) -> str | None:
    """The case that cleared (closed with no action) the rescreen alert of ``alert``'s party and list entry under
    one of the ``earlier`` snapshots of its list, if any."""
    for snapshot_id in earlier:
        before = uow.alerts.by_key(f"sanctions:{snapshot_id}:{alert.party_id}:{alert.evidence['ref']}")
        case = uow.cases.get(before.case_id) if before is not None and before.case_id else None
        if case is not None and case.status is CaseStatus.CLOSED_NO_ACTION:
            return case.id
    return None


def _page(uow: MonitoringUnitOfWork, *, since: datetime, until: datetime, after: str | None) -> list[Movement]:
    return uow.movements.between(since, until, after=after, limit=200)


def _assign(case: Case, assignee: str) -> None:
    if case.status.final:
        raise InvalidInput(f"case {case.id} is {case.status.value}: it cannot be reassigned")
    case.assignee = assignee


def _alert(uow: MonitoringUnitOfWork, alert_id: str) -> Alert:
    alert = uow.alerts.get(alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def _case(uow: MonitoringUnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def _audit(uow: MonitoringUnitOfWork, actor: str, action: str, subject: str, at: datetime, **details: object) -> None:
    """Append to the chain; a party that is a phone number is kept masked there (``masked_party``: R13-5), the
    alert's own row keeps it whole for the desk."""
    uow.audit.append(AuditEvent(actor, action, subject, at, {k: masked_party(str(v)) for k, v in details.items()}))
