"""Werkzeug's URL builders compiled once per test process, not once per app.

Every ``create_app`` binds its ~260 routes, and werkzeug compiles two URL-builder functions per route from a
generated AST (``Rule._compile_builder``): about 0.1 s of CPU per app, most of the cost of an app, paid again by every
HTTP test that builds its own app. The generated function is determined by the rule's text and its parsed trace (it
reads the rule's converters through ``self`` when called, and each rule binds it to itself), so rules of the same text
share one compiled function: the apps, their routes and the URLs they build are the same as without the cache. Rules
with defaults are compiled as before (their defaults are folded into the code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_Builder = Callable[..., tuple[str, str]]


def share_url_builders() -> None:
    """Install the cache on ``werkzeug.routing.Rule`` (idempotent)."""
    from werkzeug.routing.rules import Rule

    original: Callable[[Rule, bool], _Builder] = Rule._compile_builder
    if getattr(original, "shared", False):
        return
    compiled: dict[tuple[Any, ...], _Builder] = {}

    def _compile_builder(self: Rule, append_unknown: bool = True) -> _Builder:
        if self.defaults:
            return original(self, append_unknown)
        key = (self.rule, self.host, self.subdomain, tuple(self._trace), append_unknown)
        builder = compiled.get(key)
        if builder is None:
            builder = compiled[key] = original(self, append_unknown)
        return builder

    _compile_builder.shared = True  # type: ignore[attr-defined]
    Rule._compile_builder = _compile_builder  # type: ignore[method-assign,assignment]
