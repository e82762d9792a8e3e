"""Untrusted JSON is measured before it is parsed (cryptopay.core.jsontext)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.jsontext import json_depth
from cryptopay.core.mobile_money.parsing import load_json
from hypothesis import given
from hypothesis import strategies as st

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\ab'), children, max_size=3)
    ),
    max_leaves=20,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(_json)
def test_the_bracket_count_matches_the_parsed_depth(value):
    """Brackets inside strings (escaped quotes included) never count; containers do."""
    assert json_depth(json.dumps(value)) == _depth(value)


def test_a_deep_daraja_payload_is_refused_before_parsing():
    """A callback nesting 100,000 arrays is an InvalidInput, not a crash."""
    with pytest.raises(InvalidInput):
        load_json("[" * 100_000 + "]" * 100_000)


def test_deep_json_cannot_crash_a_process_that_imported_web3():
    """web3 (py_ecc) lifts the recursion limit to 100,000; the HTTP parser must still answer 400, not segfault."""
    code = (
        "import web3, sys\n"
        "assert sys.getrecursionlimit() >= 100000\n"
        "from flask import Flask\n"
        "from werkzeug.exceptions import BadRequest\n"
        "from cryptopay_http.convert import parse_json\n"
        "try:\n"
        "    parse_json(b'[' * 200000 + b']' * 200000)\n"
        "except BadRequest:\n"
        "    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "refused"
