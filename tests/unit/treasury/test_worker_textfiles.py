"""The worker's node-exporter text files read back for the API's /metrics (``worker_textfiles``): labelled by file,
families merged, stale files left out but their age still given, nothing served when turned off."""

from __future__ import annotations

import os
import time

from cryptopay.adapters.metrics import PrometheusMetrics, worker_textfiles
from prometheus_client.parser import text_string_to_metric_families


def _write(directory, name, age_seconds=0, **gauges):
    metrics = PrometheusMetrics(textfile=directory / name)
    for gauge, (value, labels) in gauges.items():
        metrics.gauge(gauge, value, about=f"{gauge} about", labels=labels)
    written = time.time() - age_seconds
    os.utime(directory / name, (written, written))


def _samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_fresh_files_are_served_with_the_file_they_came_from(tmp_path):
    """Each sample keeps its labels and gains textfile=<name>; the result parses as one valid exposition."""
    _write(tmp_path, "treasury.prom", cryptopay_float_kes=(1250000, {"account": "utility"}))
    _write(tmp_path, "business.prom", cryptopay_invoices=(3, {"state": "new"}))
    samples = _samples(worker_textfiles(tmp_path, max_age_seconds=3600))
    assert samples[("cryptopay_float_kes", (("account", "utility"), ("textfile", "treasury.prom")))] == 1250000
    assert samples[("cryptopay_invoices", (("state", "new"), ("textfile", "business.prom")))] == 3
    assert samples[("cryptopay_textfile_age_seconds", (("textfile", "treasury.prom"),))] <= 2


def test_a_stale_file_is_left_out_but_its_age_is_reported(tmp_path):
    """A file older than the limit (its worker stopped) serves no figures; its age says since when."""
    _write(tmp_path, "treasury.prom", age_seconds=7200, cryptopay_float_kes=(5, {}))
    _write(tmp_path, "scanner.prom", cryptopay_scanner_lag_blocks=(2, {"network": "tron"}))
    samples = _samples(worker_textfiles(tmp_path, max_age_seconds=3600))
    assert not any(name == "cryptopay_float_kes" for name, _ in samples)
    assert samples[("cryptopay_scanner_lag_blocks", (("network", "tron"), ("textfile", "scanner.prom")))] == 2
    assert samples[("cryptopay_textfile_age_seconds", (("textfile", "treasury.prom"),))] >= 7199


def test_a_family_in_two_files_is_one_family_with_both_samples(tmp_path):
    """The same gauge written by two jobs keeps one HELP/TYPE and both samples, told apart by textfile."""
    _write(tmp_path, "a.prom", cryptopay_jobs_dead=(1, {}))
    _write(tmp_path, "b.prom", cryptopay_jobs_dead=(4, {}))
    text = worker_textfiles(tmp_path, max_age_seconds=3600)
    assert text.count("# TYPE cryptopay_jobs_dead gauge") == 1
    samples = _samples(text)
    assert samples[("cryptopay_jobs_dead", (("textfile", "a.prom"),))] == 1
    assert samples[("cryptopay_jobs_dead", (("textfile", "b.prom"),))] == 4


def test_nothing_is_served_when_turned_off_missing_or_empty(tmp_path):
    """Max age 0 turns it off; no directory or no *.prom file is an empty exposition; other files are ignored."""
    _write(tmp_path, "treasury.prom", cryptopay_float_kes=(5, {}))
    assert worker_textfiles(tmp_path, max_age_seconds=0) == ""
    assert worker_textfiles(tmp_path / "absent", max_age_seconds=3600) == ""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("cryptopay_float_kes 1\n")
    (tmp_path / "empty" / ".treasury.prom.123").write_text("cryptopay_float_kes 1\n")  # a write in progress
    assert worker_textfiles(tmp_path / "empty", max_age_seconds=3600) == ""
