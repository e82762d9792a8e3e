"""Wallet sign-up's verification SMS for ``/metrics`` (review H8: SMS pumping), this process's counts since it started.

``cryptopay_signup_sms_sent_total`` (codes sent, and texts telling a number's owner of a sign-up attempt),
``cryptopay_signup_sms_refused_total{reason}`` (``range``: not a Safaricom, Airtel or Telkom number; ``number``:
its hourly codes; ``address``: the client address's day; ``budget``: the deployment's hour) and the
``cryptopay_signup_sms_budget_per_hour`` gauge (``CRYPTOPAY_SIGNUP_SMS_PER_HOUR``). Sum the counters over the API
processes; the alerts in ``docs/alerts.rules.yml`` compare an hour's sends with the budget.

>>> from cryptopay.core.wallets.sms_budget import SignupSmsCounts
>>> counts = SignupSmsCounts()
>>> counts.count_sent()
>>> text = signup_sms_exposition(counts, per_hour=500).decode()
>>> "cryptopay_signup_sms_sent_total 1.0" in text, 'cryptopay_signup_sms_refused_total{reason="budget"} 0.0' in text
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptopay.core.wallets.sms_budget import SignupSmsCounts
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["signup_sms_exposition"]


class _SignupSms(Collector):
    def __init__(self, counts: SignupSmsCounts, per_hour: int) -> None:
        self._counts, self._per_hour = counts, per_hour

    def collect(self) -> Iterator[Metric]:
        sent, refused = self._counts.snapshot()
        yield CounterMetricFamily(
            "cryptopay_signup_sms_sent", "Verification SMS wallet sign-up sent (codes and owners told)", value=sent
        )
        refusals = CounterMetricFamily(
            "cryptopay_signup_sms_refused", "Verification SMS wallet sign-up refused, by bound", labels=("reason",)
        )
        for reason, count in refused.items():
            refusals.add_metric((reason,), count)
        yield refusals
        yield GaugeMetricFamily(
            "cryptopay_signup_sms_budget_per_hour",
            "The deployment's verification SMS an hour (CRYPTOPAY_SIGNUP_SMS_PER_HOUR)",
            value=self._per_hour,
        )


def signup_sms_exposition(counts: SignupSmsCounts, *, per_hour: int) -> bytes:
    """``counts`` and the budget in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SignupSms(counts, per_hour))
    return generate_latest(registry)
