"""The ``Metrics`` port as Prometheus gauges, kept in memory and written to a node-exporter text file.

Batch jobs (the worker's reconciliation) do not serve ``/metrics``; node-exporter's textfile collector reads
``*.prom`` files instead. Each ``gauge`` call rewrites the file atomically (write aside, then rename), in the
Prometheus text exposition format, so a scrape never sees half a file.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "recon.prom"
>>> metrics = PrometheusMetrics(textfile=path)
>>> metrics.gauge("cryptopay_reconciliation_clean", 1, about="1 when clean")
>>> print(path.read_text().strip())
# HELP cryptopay_reconciliation_clean 1 when clean
# TYPE cryptopay_reconciliation_clean gauge
cryptopay_reconciliation_clean 1
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

__all__ = ["PrometheusMetrics"]


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
    """Gauges by name and labels; ``render()`` is the exposition text, also written to ``textfile`` if given."""

    def __init__(self, *, textfile: Path | None = None) -> None:
        self._textfile = textfile
        self._about: dict[str, str] = {}
        self._values: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def gauge(self, name: str, value: float, *, about: str, labels: Mapping[str, str] | None = None) -> None:
        with self._lock:
            self._about[name] = about
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
            lines += [f"# HELP {name} {self._about[name]}", f"# TYPE {name} gauge"]
            lines += [f"{name}{labels} {_number(v)}" for labels, v in sorted(self._values[name].items())]
        return "\n".join(lines) + "\n"

    def _write(self, text: str) -> None:
        assert self._textfile is not None
        self._textfile.parent.mkdir(parents=True, exist_ok=True)
        aside = self._textfile.with_name(f".{self._textfile.name}.{os.getpid()}")
        aside.write_text(text)
        aside.replace(self._textfile)
