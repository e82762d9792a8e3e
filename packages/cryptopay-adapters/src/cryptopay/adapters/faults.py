"""Fault points for tests and ``make chaos``: stop or kill this process at a named recovery window.

``CRYPTOPAY_FAULT_POINTS`` is a comma-separated list of ``window=action``: a window from
``cryptopay.core.faults.WINDOWS`` (or ``*`` for all of them) and an action, ``kill`` (SIGKILL this process, as a
crash would) or ``stop`` (SIGSTOP: frozen there until someone kills or continues it). ``CRYPTOPAY_FAULT_RATE``
(0 to 1, default 1) is the chance each time a window is reached, drawn from ``CRYPTOPAY_FAULT_SEED``.
With ``CRYPTOPAY_FAULT_ONCE_DIR`` set, each window fires once per directory (a marker file is left there first), so
a restarted process runs through the window it died in. A test setting: production settings refuse it.

>>> points = FaultPlan.parse("payout.submitted=kill, status.recorded=stop")
>>> points.actions["payout.submitted"], points.actions["status.recorded"]
('kill', 'stop')
>>> FaultPlan.parse("payout.sent=explode")
Traceback (most recent call last):
cryptopay.core.errors.InvalidInput: CRYPTOPAY_FAULT_POINTS: 'explode' is not one of kill, stop
"""

from __future__ import annotations

import logging
import os
import random
import signal
from collections.abc import Mapping
from pathlib import Path

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.faults import NO_FAULTS, WINDOWS, FaultPoints

__all__ = ["FaultPlan", "fault_points_from_env"]

_ACTIONS = {"kill": signal.SIGKILL, "stop": signal.SIGSTOP}
_log = logging.getLogger("cryptopay.faults")


@attrs.define
class FaultPlan:
    """Which windows stop or kill this process, how often, and (optionally) only once each."""

    actions: dict[str, str]
    rate: float = 1.0
    seed: int | None = None
    once_dir: Path | None = None
    _random: random.Random = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @classmethod
    def parse(cls, text: str, *, rate: float = 1.0, seed: int | None = None, once_dir: Path | None = None) -> FaultPlan:
        actions: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            window, _, action = (s.strip() for s in part.partition("="))
            if window != "*" and window not in WINDOWS:
                raise InvalidInput(f"CRYPTOPAY_FAULT_POINTS: {window!r} is not one of {', '.join(sorted(WINDOWS))}")
            if action not in _ACTIONS:
                raise InvalidInput(f"CRYPTOPAY_FAULT_POINTS: {action!r} is not one of {', '.join(_ACTIONS)}")
            actions[window] = action
        if not 0 <= rate <= 1:
            raise InvalidInput("CRYPTOPAY_FAULT_RATE must be between 0 and 1")
        return cls(actions, rate, seed, once_dir)

    def reached(self, window: str) -> None:
        action = self.actions.get(window) or self.actions.get("*")
        if action is None or self._random.random() >= self.rate or not self._first_time(window):
            return
        _log.warning("fault point %s: %s this process (pid %d)", window, action, os.getpid())
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), _ACTIONS[action])

    def _first_time(self, window: str) -> bool:
        if self.once_dir is None:
            return True
        try:
            (self.once_dir / f"{window}.fired").touch(exist_ok=False)
        except FileExistsError:
            return False
        return True


def fault_points_from_env(env: Mapping[str, str], *, production: bool) -> FaultPoints:
    """The fault points the environment asks for; ``NO_FAULTS`` when none (always, in production)."""
    text = env.get("CRYPTOPAY_FAULT_POINTS", "").strip()
    if not text:
        return NO_FAULTS
    if production:
        raise InvalidInput("CRYPTOPAY_FAULT_POINTS is a test setting; production refuses it")
    once = env.get("CRYPTOPAY_FAULT_ONCE_DIR", "").strip()
    seed = env.get("CRYPTOPAY_FAULT_SEED", "").strip()
    try:
        rate = float(env.get("CRYPTOPAY_FAULT_RATE", "1") or "1")
        number = int(seed) if seed else None
    except ValueError:
        raise InvalidInput("CRYPTOPAY_FAULT_RATE is a number and CRYPTOPAY_FAULT_SEED an integer") from None
    return FaultPlan.parse(text, rate=rate, seed=number, once_dir=Path(once).resolve() if once else None)
