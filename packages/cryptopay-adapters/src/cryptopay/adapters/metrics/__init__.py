"""The ``Metrics`` port as Prometheus gauges and counters, kept in memory and written to a node-exporter text file.

Batch jobs (the worker's reconciliation) do not serve ``/metrics``; node-exporter's textfile collector reads
``*.prom`` files instead. Each ``gauge`` or ``counter`` call rewrites the file atomically (write aside, then
rename), in the Prometheus text exposition format, so a scrape never sees half a file. A counter is reported at
the running total its caller read (e.g. from Redis); it is typed ``counter`` so that ``increase()`` applies.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "recon.prom"
>>> metrics = PrometheusMetrics(textfile=path)
>>> metrics.gauge("cryptopay_reconciliation_clean", 1, about="1 when clean")
>>> print(path.read_text().strip())
# HELP cryptopay_reconciliation_clean 1 when clean
# TYPE cryptopay_reconciliation_clean gauge
cryptopay_reconciliation_clean 1

``worker_textfiles`` reads those files back for the API's ``/metrics`` (a single host scraping only the API still
sees the treasury and business gauges): each sample labelled with the file it came from, stale files left out.

>>> print(worker_textfiles(path.parent, max_age_seconds=3600).strip())
# HELP cryptopay_reconciliation_clean 1 when clean
# TYPE cryptopay_reconciliation_clean gauge
cryptopay_reconciliation_clean{textfile="recon.prom"} 1
# HELP cryptopay_textfile_age_seconds Seconds since the worker last wrote this metrics file (served when fresh)
# TYPE cryptopay_textfile_age_seconds gauge
cryptopay_textfile_age_seconds{textfile="recon.prom"} 0

>>> metrics.counter("cryptopay_job_failures_total", 2, about="failed attempts", labels={"outcome": "dead"})
>>> print(metrics.render().strip())
# HELP cryptopay_job_failures_total failed attempts
# TYPE cryptopay_job_failures_total counter
cryptopay_job_failures_total{outcome="dead"} 2
# HELP cryptopay_reconciliation_clean 1 when clean
# TYPE cryptopay_reconciliation_clean gauge
cryptopay_reconciliation_clean 1
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["PrometheusMetrics", "worker_textfiles"]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$")
_AGE = "cryptopay_textfile_age_seconds"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    escaped = (
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in labels.items()
    )
    return "{" + ",".join(escaped) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class PrometheusMetrics:
    """Gauges and counters by name and labels; ``render()`` is the exposition text, also written to ``textfile`` if
    given."""

    def __init__(self, *, textfile: Path | None = None) -> None:
        self._textfile = textfile
        self._about: dict[str, str] = {}
        self._kinds: dict[str, str] = {}
        self._values: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def gauge(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        self._set("gauge", name, value, about, labels)

    def counter(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        self._set("counter", name, value, about, labels)

    def _set(self, kind: str, name: str, value: float, about: str, labels: Mapping[str, str] | None) -> None:
        with self._lock:
            self._about[name], self._kinds[name] = about, kind
            self._values.setdefault(name, {})[_labels(dict(sorted((labels or {}).items())))] = value
            text = self._render()
        if self._textfile is not None:
            self._write(text)

    def render(self) -> str:
        with self._lock:
            return self._render()

    def _render(self) -> str:
        lines: list[str] = []
        for name in sorted(self._values):
            lines += [f"# HELP {name} {self._about[name]}", f"# TYPE {name} {self._kinds[name]}"]
            lines += [f"{name}{labels} {_number(v)}" for labels, v in sorted(self._values[name].items())]
        return "\n".join(lines) + "\n"

    def _write(self, text: str) -> None:
        assert self._textfile is not None
        self._textfile.parent.mkdir(parents=True, exist_ok=True)
        aside = self._textfile.with_name(f".{self._textfile.name}.{os.getpid()}")
        aside.write_text(text)
        aside.replace(self._textfile)


def worker_textfiles(directory: Path, *, max_age_seconds: int, now: float | None = None) -> str:
    """The ``*.prom`` files the worker wrote in ``directory``, as one exposition for the API's ``/metrics``.

    Read on each call (no cache, no database): every sample gains a ``textfile="<file name>"`` label saying which
    worker file it comes from, families with the same name in several files are merged under one HELP/TYPE, and a
    file last written more than ``max_age_seconds`` ago is left out (its worker stopped: its figures would be
    presented as current). ``cryptopay_textfile_age_seconds{textfile=...}`` is given for every file found, stale
    or not, so an alert can say which worker job went quiet. ``max_age_seconds`` 0 serves nothing; a missing
    directory is an empty exposition. Lines that are not HELP/TYPE comments or samples are skipped.
    """
    if max_age_seconds <= 0 or not directory.is_dir():
        return ""
    moment = time.time() if now is None else now
    families: dict[str, tuple[list[str], list[str]]] = {}  # name -> (HELP/TYPE lines, samples)
    ages: list[str] = []
    for path in sorted(directory.glob("*.prom")):
        try:
            written = path.stat().st_mtime
            text = path.read_text()
        except OSError:
            continue  # renamed or removed between listing and reading: the next scrape sees the new one
        age = max(0, int(moment - written))
        label = _labels({"textfile": path.name})
        ages.append(f"{_AGE}{label} {age}")
        if age > max_age_seconds:
            continue
        _merge(families, text, path.name)
    if not ages:
        return ""
    about = "Seconds since the worker last wrote this metrics file (served when fresh)"
    families[_AGE] = ([f"# HELP {_AGE} {about}", f"# TYPE {_AGE} gauge"], ages)
    return "".join("\n".join(head + samples) + "\n" for head, samples in families.values())


def _merge(families: dict[str, tuple[list[str], list[str]]], text: str, textfile: str) -> None:
    tag = _labels({"textfile": textfile})[1:-1]
    for line in text.splitlines():
        if line.startswith(("# HELP ", "# TYPE ")):
            name = line.split()[2]
            head, _ = families.setdefault(name, ([], []))
            if not any(h.startswith(line[:7]) for h in head):
                head.append(line)
            continue
        match = _SAMPLE.match(line.strip())
        if match is None or match.group(1) == _AGE:
            continue
        name, labels, value = match.group(1), match.group(2), match.group(3)
        inner = f"{tag},{labels[1:-1]}" if labels and labels != "{}" else tag
        _, samples = families.setdefault(name, ([], []))
        samples.append(f"{name}{{{inner}}} {value}")
