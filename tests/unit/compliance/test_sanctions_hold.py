"""A verified customer a newly imported sanctions list names is held at once, until an officer clears it (R14-7)."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.sanctions import RapidfuzzMatcher, parse_list
from cryptopay.core.compliance.cases import CaseStatus
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import default_rules
from cryptopay.core.compliance.screening import Screening
from cryptopay.core.errors import MOVEMENT_UNAVAILABLE, MovementUnavailable, Refused
from cryptopay.core.kyc.holds import SCREENING, SanctionsHolds
from cryptopay.core.money import Money
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.kyc import InMemoryKycApplications, InMemoryKycProfiles
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.support.kyc_rig import KycRig, person
from tests.support.withdraw_stack import SDN, withdraw_stack

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"
LISTED = "Jose Ramon Nunez Garcia"  # ofac:30001 in the fixture list, scored 100


def test_a_rescreen_match_holds_every_outgoing_movement_neutrally_until_an_officer_clears_it():
    """The list arrives after Jose was verified: the rescreen's alert is blocking and his sells, sends and
    withdrawals are refused with a compliance freeze's neutral wording (never the list or the match), audited
    ``kyc.frozen`` by the screening; a case under investigation keeps the hold; closed with no action (a false
    positive) lifts it (``kyc.unfrozen`` by the officer, the alert named) and every movement works again; the next
    rescreen raises and holds nothing twice, and the list's next version raises the cleared entry again for the
    officers without holding him. Wanjiku, not listed, moves money throughout."""
    stack = withdraw_stack(lists=False)
    wallet = stack.wallet
    jose, wanjiku = wallet.sign_up("0712000001", tier=1), wallet.sign_up("0712000002", tier=1)
    stack.verify_identity(jose, LISTED)
    stack.verify_identity(wanjiku, "Wanjiku Kamau", id_number="23456789")
    for user in (jose, wanjiku):
        wallet.fund(user, "50", "USDT")
        wallet.fund(user, "1000", "KES")
    stack.fund_hot_wallet("polygon", "1000")
    monitoring = attrs.evolve(
        stack.monitoring, holds=SanctionsHolds(uow=wallet.backend.uow, clock=stack.clock, ids=RandomIds())
    )
    names = KycRig(wallet.backend.storage).review.screened_names
    parsed = parse_list(SDN.read_bytes())
    stack.screening.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")

    [alert] = monitoring.rescreen(names(), stack.screening)
    assert (alert.party_id, alert.blocking, alert.evidence["score"]) == (jose.id, True, "100")
    refusals = [
        lambda: wallet.sells.start(jose.id, Money.of("5", "USDT")),
        lambda: wallet.wallets.send(jose.id, "0712000002", Money.of("50", "KES")),
        lambda: stack.withdrawals.request(jose.id, "polygon", ADDRESS, Money.of("5", "USDT")),
    ]
    for attempt in refusals:
        with pytest.raises(MovementUnavailable) as refused:
            attempt()
        assert refused.value.message == MOVEMENT_UNAVAILABLE  # as any compliance freeze: nothing about a list
    assert wallet.balance(jose, "KES") == Money.of("1000", "KES")
    wallet.wallets.send(wanjiku.id, "0712000001", Money.of("50", "KES"))  # money in is not held
    [frozen] = [r for r in wallet.backend.storage.audit_records() if r.action == "kyc.frozen"]
    assert (frozen.actor, frozen.subject, dict(frozen.details)["alert"]) == (SCREENING, f"kyc:{jose.id}", alert.id)

    case = monitoring.open_case("usr_officer", [alert.id])
    monitoring.move("usr_officer", case.id, CaseStatus.INVESTIGATING)
    with pytest.raises(MovementUnavailable):
        refusals[1]()
    # lastread L3-3: the shell cannot prove who is at the keyboard: closing a case that holds the freeze is refused
    with pytest.raises(Refused):
        monitoring.move("usr_officer", case.id, CaseStatus.CLOSED_NO_ACTION, note="namesake", operator="ops:amina")
    refused_by_shell = [r for r in wallet.backend.storage.audit_records() if r.action.endswith("shell_refused")]
    assert [(r.actor, r.action) for r in refused_by_shell] == [
        ("ops:amina", "compliance.sanctions_release_shell_refused")
    ]
    with pytest.raises(MovementUnavailable):
        refusals[1]()
    monitoring.move("usr_officer", case.id, CaseStatus.CLOSED_NO_ACTION, note="a namesake: another date of birth")
    assert wallet.sells.start(jose.id, Money.of("5", "USDT")).state == "planned"
    wallet.wallets.send(jose.id, "0712000002", Money.of("50", "KES"))
    assert stack.withdrawals.request(jose.id, "polygon", ADDRESS, Money.of("5", "USDT")).amount.amount == 5
    [lifted] = [r for r in wallet.backend.storage.audit_records() if r.action == "kyc.unfrozen"]
    assert (lifted.actor, dict(lifted.details)["alerts"]) == ("user:usr_officer", alert.id)
    assert monitoring.rescreen(names(), stack.screening) == []
    wallet.wallets.send(jose.id, "0712000002", Money.of("50", "KES"))  # cleared: not held again
    changed = [*parsed.entries[:-1], attrs.evolve(parsed.entries[-1], programs=("CYBER2",))]
    stack.screening.import_list(parsed.source, "12/05/2026", changed, actor="operator:test")  # the list's next version
    [again] = monitoring.rescreen(names(), stack.screening)  # raised for the officers, holding nothing
    assert (again.blocking, again.evidence["cleared_in"]) == (False, case.id)
    wallet.wallets.send(jose.id, "0712000002", Money.of("50", "KES"))


def test_an_applicant_a_list_names_at_submission_is_held_at_once_as_a_rescreen_holds():
    """``KycReview.on_listed`` (wired to ``Monitoring.rescreen``): the match at submission raises the blocking alert
    and freezes the applicant now, not at the next 6-hourly rescreen; an applicant no list names is left alone."""
    storage = InMemoryStorage(
        kyc=InMemoryKycProfiles(), kyc_applications=InMemoryKycApplications(), **monitoring_repositories()
    )
    ids = SequentialIds()
    screening = Screening(uow=storage.unit_of_work, matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=ids)
    parsed = parse_list(SDN.read_bytes())
    screening.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    rig = KycRig(storage, screening=screening)
    holds = SanctionsHolds(uow=storage.unit_of_work, clock=rig.clock, ids=ids)
    monitoring = Monitoring(uow=storage.unit_of_work, rules=default_rules(), clock=rig.clock, ids=ids, holds=holds)
    rig.review.on_listed = lambda names: monitoring.rescreen(names, screening)
    details = attrs.evolve(person(id_number="34567890"), legal_name=LISTED)
    rig.review.submit("usr_jose", rig.review.apply_personal("usr_jose", 1, details, notify_to=None).id)
    rig.personal("usr_wanjiku", level=1)
    [alert] = monitoring.alerts()
    with storage.unit_of_work() as uow:
        jose, wanjiku = uow.kyc.get("usr_jose"), uow.kyc.get("usr_wanjiku")
    assert (alert.party_id, alert.blocking, jose.frozen_by, wanjiku.frozen) == ("usr_jose", True, SCREENING, False)
