"""The Prometheus alerting rules file loads, is well formed, and alerts only on metrics the project exports."""

import re
from datetime import datetime
from pathlib import Path

import yaml
from cryptopay.core.compliance.screening import Snapshot
from cryptopay.core.money import USDT, Money
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.treasury import TreasuryStack
from cryptopay.core.wallets.sms_budget import SignupSmsCounts
from cryptopay_http.signup_metrics import signup_sms_exposition

RULES = Path(__file__).resolve().parents[3] / "docs" / "alerts.rules.yml"
REQUIRED = {
    "CryptopayPayoutStuck",
    "CryptopayRemittanceAwaitingStatus",
    "CryptopaySettlementOverdue",
    "CryptopayFloatLow",
    "CryptopayScannerLag",
    "CryptopayReconciliationDifference",
    "CryptopayWebhookDeadLetters",
    "CryptopayQueueBacklog",
    "CryptopayNotificationQueueFilling",
}
OPERATIONS = RULES.parent / "operations.md"
_DURATION = re.compile(r"\d+[smhd]")
_METRIC = re.compile(r"\bcryptopay_[a-z_]+\b")
_HTTP = {"cryptopay_http_requests_total", "cryptopay_http_request_duration_seconds"}  # the API's own /metrics


def rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def runbook_sections() -> dict[str, str]:
    """docs/operations.md's sections by their GitHub anchor (lower case, punctuation dropped, spaces to dashes)."""
    sections: dict[str, str] = {}
    anchor = ""
    for line in OPERATIONS.read_text().splitlines():
        if line.startswith("#"):
            anchor = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            sections[anchor] = ""
        elif anchor:
            sections[anchor] += line + "\n"
    return sections


def test_every_alert_has_a_runbook_section_in_operations_md_that_names_it() -> None:
    """Each alert links a heading of docs/operations.md that exists, and that section says what to do about this
    alert by name (an alert without a runbook, or pointing at another alert's, fails)."""
    sections = runbook_sections()
    for rule in rules():
        name, runbook = rule["alert"], rule["annotations"].get("runbook")
        assert runbook, f"{name} has no runbook annotation"
        path, _, anchor = runbook.partition("#")
        assert path == "docs/operations.md" and anchor in sections, (name, runbook)
        assert f"`{name}`" in sections[anchor], f"{runbook} does not mention {name}"


def exported_by_a_working_day() -> set[str]:
    """Every gauge name the use cases set on a day with a payout, a float answer, a scan and a reconciliation."""
    return set(working_day())


def working_day() -> dict[str, str]:
    """Every metric the use cases set on that day, and its kind ("gauge" or "counter")."""
    stack = PaymentsStack()
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.settling.run_settlements()
    stack.payouts.submit_payouts()
    stack.float_balance.ask()
    stack.deliver_callbacks()
    stack.payouts.report_overdue_payouts()
    stack.reconciliation.reconcile_and_alert()
    stack.sanctions_lists.append(_snapshot(stack.clock.now()))
    stack.observing.measure()
    kinds = {name: "counter" if name in stack.metrics.counters else "gauge" for name, _labels in stack.metrics.values}
    http = {name: "counter" if name.endswith("_total") else "histogram" for name in _HTTP}
    seals = dict.fromkeys(seal_day(), "gauge")
    return (
        kinds
        | http
        | signup_sms()
        | dict.fromkeys(treasury_day(), "gauge")
        | dict.fromkeys(buys_day(), "gauge")
        | seals
    )


def seal_day() -> set[str]:
    """The ledger seal's gauge on a run of the worker's ``ledger.seal`` (ledger_seal.prom)."""
    from cryptopay.core.ledger.sealing import LedgerSealing
    from cryptopay.core.testing.ledger_seals import InMemoryLedgerSeals
    from cryptopay.core.testing.metrics import RecordingMetrics
    from cryptopay.core.testing.storage import InMemoryStorage
    from cryptopay.core.testing.system import ManualClock

    metrics = RecordingMetrics()
    LedgerSealing(InMemoryLedgerSeals(InMemoryStorage()), ManualClock(), metrics=metrics).seal()
    return {name for name, _labels in metrics.values}


def buys_day() -> set[str]:
    """The STK buys' gauges on a run of the worker's STK Query job (buys.prom)."""
    from cryptopay.core.testing.metrics import RecordingMetrics

    from tests.support.wallet_stack import wallet_stack

    stack = wallet_stack()
    stack.buys.metrics = metrics = RecordingMetrics()
    stack.buys.follow_up()
    return {name for name, _labels in metrics.values}


def signup_sms() -> dict[str, str]:
    """The API's wallet sign-up SMS metrics, by kind, as its /metrics renders them."""
    text = signup_sms_exposition(SignupSmsCounts(), per_hour=500).decode()
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))


def treasury_day() -> set[str]:
    """The treasury's gauges on a day with a held payout, a failed sweep and a measure."""
    treasury = TreasuryStack(baseline="0", low_alert="1000")
    payments = treasury.payments
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
    payments.add_merchant("m1", settlement=profile)
    invoice = payments.invoicing.create_invoice("m1", Money.of("100", USDT))
    payments.pay(invoice.id)
    payments.confirm(3)
    payments.settling.run_settlements()
    payments.payouts.submit_payouts()
    treasury.sweepers["tron"].fail = True
    for _ in range(3):
        treasury.sweeps.run()
    treasury.treasury.measure()
    return {name for name, _labels in payments.metrics.values}


def test_every_rule_is_well_formed() -> None:
    """Each rule has a unique alert name, an expression, a duration, a severity and a summary."""
    found = rules()
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names)) and set(names) >= REQUIRED
    for rule in found:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert _DURATION.fullmatch(rule["for"]) and rule["labels"]["severity"] in {"page", "warning"}
        assert rule["annotations"]["summary"] and rule["expr"].count("(") == rule["expr"].count(")")


def test_every_alert_watches_a_metric_the_project_exports() -> None:
    """No alert can stay silent for want of its metric: each metric named in an expression is set by the code."""
    exported = exported_by_a_working_day()
    for rule in rules():
        watched = set(_METRIC.findall(rule["expr"]))
        assert watched and watched <= exported, (rule["alert"], watched - exported)


def test_webhook_dead_letters_alert_on_the_increase_of_a_counter_a_redelivery_cannot_hide() -> None:
    """Dead-lettered webhooks are kept for weeks: their alert watches the last hour only, so one failure does not keep
    it firing until it expires; and it is the increase of the dead-lettering counter the database keeps, not a change
    of the dead-deliveries gauge, which a redelivery lowers (a death and a redelivery in the same hour, or between two
    measures, left ``delta`` over the gauge silent)."""
    expr = {rule["alert"]: rule["expr"] for rule in rules()}["CryptopayWebhookDeadLetters"].replace(" ", "")
    assert expr == "increase(cryptopay_webhook_dead_letters_total[1h])>0"
    assert working_day()["cryptopay_webhook_dead_letters_total"] == "counter"


def test_dead_jobs_alert_on_the_increase_of_a_counter_a_requeue_cannot_hide() -> None:
    """A job that fails on every attempt fires CryptopayJobsDead even if it was requeued (or expired) before the
    next measure: the alert is the increase over an hour of the dead-outcome failure counter the worker keeps, not
    a change of the dead-jobs gauge, which a requeue lowers."""
    expr = {rule["alert"]: rule["expr"] for rule in rules()}["CryptopayJobsDead"].replace(" ", "")
    assert expr == 'sumby(queue)(increase(cryptopay_job_failures_total{outcome="dead"}[1h]))>0'
    assert "cryptopay_jobs_dead" not in expr


def test_increase_and_rate_apply_only_to_counters() -> None:
    """``increase()`` and ``rate()`` read a drop as a counter reset: over a gauge they would invent failures."""
    kinds = working_day()
    for rule in rules():
        for metric in re.findall(r"\b(?:increase|rate)\((cryptopay_[a-z_]+)", rule["expr"]):
            assert kinds.get(metric) == "counter", (rule["alert"], metric)


def test_an_unverified_paybill_payment_alerts_on_the_increase_of_its_counter() -> None:
    """Nothing is booked for a paybill payment Transaction Status did not confirm, so its alert is all an operator
    sees besides the audit and a log line: the last hour's increase of the counter the measure sets."""
    expr = {rule["alert"]: rule["expr"] for rule in rules()}["CryptopayPaybillUnverified"].replace(" ", "")
    assert expr == "increase(cryptopay_paybill_unverified_total[1h])>0"
    assert working_day()["cryptopay_paybill_unverified_total"] == "counter"


def test_a_held_send_left_undecided_a_day_alerts_on_its_age() -> None:
    """A send held for a frozen recipient is seen by no one else (its sender was told it was delivered): the alert
    fires once the oldest undecided one has waited a day, on the gauge the measure sets every working day."""
    expr = {rule["alert"]: rule["expr"] for rule in rules()}["CryptopayHeldSendUndecided"].replace(" ", "")
    assert expr == "cryptopay_held_send_oldest_age_seconds>86400"
    kinds = working_day()
    assert kinds["cryptopay_held_send_oldest_age_seconds"] == kinds["cryptopay_held_sends_waiting"] == "gauge"


def test_sanctions_lists_missing_or_old_alert_on_the_gauges_the_measure_sets() -> None:
    """With no list imported every automatic screening finds nothing: one alert pages when none is loaded, another
    when a source's newest snapshot is over 7 days old, on the gauges the measure sets (business.prom)."""
    expr = {rule["alert"]: rule["expr"].replace(" ", "") for rule in rules()}
    assert expr["CryptopaySanctionsListsMissing"] == "cryptopay_sanctions_lists_loaded==0"
    assert expr["CryptopaySanctionsListOld"] == "cryptopay_sanctions_list_age_seconds>604800"
    stack = PaymentsStack()
    stack.observing.measure()
    assert stack.metrics.get("cryptopay_sanctions_lists_loaded") == 0
    stack.sanctions_lists.append(_snapshot(stack.clock.now()))
    stack.clock.advance(seconds=8 * 86400)
    stack.observing.measure()
    assert stack.metrics.get("cryptopay_sanctions_lists_loaded") == 1
    assert stack.metrics.get("cryptopay_sanctions_list_age_seconds", source="ofac") == 8 * 86400


def _snapshot(at: datetime) -> Snapshot:
    return Snapshot(id="snp_1", source="ofac", version="v1", digest="d" * 64, imported_at=at, entries=1, addresses=0)


def test_compliance_desks_alert_on_their_age_and_overdue_cases(tmp_path) -> None:
    """Held merchant payments, held deposits, held remittances and open AML alerts page once the oldest waited a
    day; any case past its deadline pages: each on a gauge the measure sets every working day (review12 R12-10)."""
    expr = {rule["alert"]: rule["expr"].replace(" ", "") for rule in rules()}
    assert expr["CryptopayHeldPaymentUndecided"] == "cryptopay_held_payment_oldest_age_seconds>86400"
    assert expr["CryptopayHeldDepositUndecided"] == "cryptopay_held_deposit_oldest_age_seconds>86400"
    assert expr["CryptopayRemittanceHeld"] == 'cryptopay_remittance_oldest_age_seconds{state="held"}>86400'
    assert expr["CryptopayAmlAlertUnreviewed"] == "cryptopay_aml_alert_oldest_age_seconds>86400"
    assert expr["CryptopayComplianceCaseOverdue"] == "cryptopay_compliance_cases_overdue>0"
    assert expr["CryptopayAmlBlockingAlertOpen"] == "cryptopay_aml_blocking_alerts_open>0"  # pages at once (R14-7)
    kinds = working_day()
    for name in (
        "cryptopay_held_payments_waiting",
        "cryptopay_held_payment_oldest_age_seconds",
        "cryptopay_held_deposits_waiting",
        "cryptopay_held_deposit_oldest_age_seconds",
        "cryptopay_aml_alerts_open",
        "cryptopay_aml_alert_oldest_age_seconds",
        "cryptopay_aml_blocking_alerts_open",
        "cryptopay_aml_blocking_alert_oldest_age_seconds",
        "cryptopay_compliance_cases_overdue",
        "cryptopay_compliance_case_overdue_seconds",
    ):
        assert kinds[name] == "gauge", name
