"""Trivially weak passwords (review G6): refused at registration, password change and reset with ``WeakPassword``
(422 ``weak_password``), by a small rule rather than a strength estimator (the core imports only the standard
library; zxcvbn would need a port and an adapter):

- fewer than 5 different characters (``111111111111``, ``abababababab``), or one piece repeated
  (``passwordpassword``);
- a run of a simple sequence: digits or letters up or down, or a keyboard row (``123456789012``, ``qwertyuiopas``);
- one of the most common passwords of ``data/common_passwords.txt``, alone or with only digits and symbols around
  it (``password2024!``, ``Safaricom123``).

A random string of digits and symbols passes (its core is empty, which is no common password).

>>> weakness("correct horse battery staple") is None
True
>>> weakness("123456789012")
'a simple sequence'
>>> weakness("Password2024!")
'one of the most common passwords'
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from cryptopay.core.errors import InvalidInput

__all__ = ["WeakPassword", "check_not_weak", "weakness"]

MIN_DISTINCT = 5
_SEQUENCES = (
    "0123456789" * 3,
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertyuiop" * 2,
    "asdfghjkl" * 2,
    "zxcvbnm" * 2,
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)
_AROUND = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$")


class WeakPassword(InvalidInput):
    """A password too easy to guess (``weakness`` says why)."""

    code = "weak_password"


@functools.cache
def _common() -> frozenset[str]:
    text = resources.files("cryptopay.core.identity").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _sequence(text: str) -> bool:
    return any(text in known or text in known[::-1] for known in _SEQUENCES)


def _repeated(text: str) -> bool:
    return any(len(text) % n == 0 and text[:n] * (len(text) // n) == text for n in range(1, len(text) // 2 + 1))


def weakness(password: str) -> str | None:
    """Why ``password`` is trivially weak, or None."""
    text = password.strip().lower()
    if len(set(text)) < MIN_DISTINCT:
        return f"fewer than {MIN_DISTINCT} different characters"
    if _repeated(text):
        return "one piece repeated"
    if _sequence(text):
        return "a simple sequence"
    match = _AROUND.match(text)
    core = match.group(1) if match is not None else text  # without the digits and symbols around it
    if text in _common() or core in _common():
        return "one of the most common passwords"
    return None


def check_not_weak(password: str) -> None:
    """``WeakPassword`` (on the ``password`` field) when ``weakness`` finds one."""
    why = weakness(password)
    if why is not None:
        raise WeakPassword(f"this password is too easy to guess ({why}): choose a longer phrase", field="password")
