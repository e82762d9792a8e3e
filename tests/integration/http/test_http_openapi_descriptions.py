"""The OpenAPI document is an integrator's front door: every operation says what it does, who may call it and which
problems it can answer with, and every problem it names is one the app can produce.

The whole app's document (``create_app``, every blueprint; no test-only routes), built once. Whether a given
operation can really answer with each problem it lists is not proven here (that takes a call graph from each view
into its use case); what is checked is that each listed problem is a real one: an error class that production code
raises (found by reading the source), a plain HTTP problem the edge answers with (sent for real below), or a code the
edge writes itself.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from http import HTTPStatus
from pathlib import Path

import pytest
from cryptopay.core.errors import CryptopayError
from cryptopay_http import ApiSettings, create_app
from cryptopay_http.openapi import EDGE_PROBLEMS, HTTP_PROBLEMS, build_document
from flask import Flask

from tests.integration.http.http_support import TOKEN_SECRET
from tests.support.services import in_memory_services, with_api

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [*ROOT.glob("packages/*/src"), *ROOT.glob("apps/*/src")]


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(with_api(in_memory_services(), ApiSettings(token_secret=TOKEN_SECRET, cookie_secure=False)))


@pytest.fixture(scope="module")
def document(app: Flask) -> dict:
    with app.app_context():
        return build_document(app)


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, methods in document["paths"].items() for method, op in methods.items()]


def _documented_views(app: Flask) -> list[tuple[str, dict]]:
    """(endpoint, its OpenAPI facts) of every route the document shows."""
    found = []
    for rule in app.url_map.iter_rules():
        meta = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if rule.endpoint != "static" and meta and "summary" in meta and "internal" not in meta.get("tags", ()):
            found.append((rule.endpoint, meta))
    return found


def test_every_operation_has_a_one_line_summary_and_a_description_of_its_own(app, document):
    """Each operation: a summary of one line, a description its view states (what it does), then the generated
    paragraphs (who may call it) and its problems."""
    operations = _operations(document)
    assert len(operations) > 100
    for path, method, op in operations:
        assert op.get("summary", "").strip(), (method, path)
        assert "\n" not in op["summary"] and len(op["summary"]) <= 120, (method, path, op["summary"])
        assert "**Who may call:**" in op.get("description", ""), (method, path)
        if any(status.isdigit() and int(status) >= 400 for status in op["responses"]):
            assert "**Problems**" in op["description"] or "**Also**" in op["description"], (method, path)
    missing = [endpoint for endpoint, meta in _documented_views(app) if not str(meta.get("description", "")).strip()]
    assert missing == [], "operations without a description of what they do: " + ", ".join(sorted(missing))


def test_the_generated_paragraphs_follow_the_decorators(document):
    """Step-up, idempotency and amounts are said wherever the operation has them, from one place each."""
    for path, method, op in _operations(document):
        headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
        described = op["description"]
        assert ("X-Step-Up-Token" in headers) == ("**Step-up:**" in described), (method, path)
        assert ("Idempotency-Key" in headers) == ("**Idempotency:**" in described), (method, path)
    withdrawal = document["paths"]["/v1/wallet/withdrawals"]["post"]["description"]
    assert "**Amounts:** decimal strings" in withdrawal and "`insufficient_funds`" in withdrawal
    refund = document["paths"]["/v1/invoices/{invoice_id}/refunds"]["post"]
    assert "for user sessions (not for API keys)" in refund["description"]
    assert "`step_up_required`" in refund["responses"]["403"]["description"]


def _calls_step_up(view: object) -> bool:
    """Whether the view's own body (not its decorators) calls ``check_step_up`` or ``check_step_up_audited``."""
    function = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(view)))).body[0]  # type: ignore[arg-type]
    assert isinstance(function, ast.FunctionDef)
    calls = [n for statement in function.body for n in ast.walk(statement) if isinstance(n, ast.Call)]
    return any(getattr(c.func, "id", "").startswith("check_step_up") for c in calls)


def test_a_view_that_checks_a_step_up_itself_documents_it(app):
    """A view that asks for a step-up in its body (after its own checks) says so (``documents_step_up``...): the
    header, its 403 and the paragraph are never missing because the check is not a decorator."""
    undocumented = [
        endpoint
        for endpoint, meta in _documented_views(app)
        if _calls_step_up(app.view_functions[endpoint]) and "step_up" not in meta
    ]
    assert undocumented == []


def _problem_codes(document: dict) -> dict[str, set[tuple[int, str]]]:
    """Each (status, code) the document lists, by operation, read back from its response descriptions."""
    found: dict[str, set[tuple[int, str]]] = {}
    for path, method, op in _operations(document):
        for status, response in op["responses"].items():
            if status.isdigit() and int(status) >= 400:
                codes = re.findall(r"`([a-z0-9_]+)`", response["description"])
                found.setdefault(f"{method} {path}", set()).update((int(status), c) for c in codes)
    return found


def _called_names() -> set[str]:
    """The names production code calls (``raise Refused(...)``, ``not_found(...)`` building ``NotFound(...)``),
    outside the in-memory fakes of ``cryptopay.core.testing``."""
    names: set[str] = set()
    for source in SOURCES:
        for path in source.rglob("*.py"):
            if "testing" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    func = node.func
                    names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def _error_classes() -> dict[str, list[type[CryptopayError]]]:
    """Every error class the app knows, by its ``code``."""
    by_code: dict[str, list[type[CryptopayError]]] = {}
    pending: list[type[CryptopayError]] = [CryptopayError]
    while pending:
        kind = pending.pop()
        by_code.setdefault(kind.code, []).append(kind)
        pending.extend(kind.__subclasses__())
    return by_code


def test_each_documented_problem_is_one_the_app_produces(app, document):
    """A documented code is an error class production code raises (with the status documented), a plain HTTP
    problem or a code the edge writes: never a name made up for the document."""
    called, classes = _called_names(), _error_classes()
    edge_codes = {
        m.group(1) for p in SOURCES for f in p.rglob("*.py") for m in re.finditer(r'code="(\w+)"', f.read_text())
    }
    unknown = []
    for operation, codes in _problem_codes(document).items():
        for status, code in codes:
            if code in HTTP_PROBLEMS:
                ok = HTTP_PROBLEMS[code] == status
            elif code in EDGE_PROBLEMS:
                ok = EDGE_PROBLEMS[code] == status and code in edge_codes
            else:
                ok = any(k.http_status == status and k.__name__ in called for k in classes.get(code, []))
            if not ok:
                unknown.append(f"{operation}: {status} {code}")
    assert unknown == [], "documented problems the app cannot produce:\n" + "\n".join(sorted(unknown))


def test_the_plain_http_problems_are_answered_with_the_documented_codes(app):
    """The problems without an error class (``HTTP_PROBLEMS``) are what the edge really answers, code and status."""
    client = app.test_client()
    settings_limit = app.config["MAX_CONTENT_LENGTH"]
    sent = {
        "bad_request": client.post("/v1/auth/login", data=b"{not json", content_type="application/json"),
        "unsupported_media_type": client.post("/v1/auth/login", data=b"email=a", content_type="text/plain"),
        "request_entity_too_large": client.post(
            "/v1/auth/login", data=b" " * (settings_limit + 1), content_type="application/json"
        ),
    }
    assert set(sent) == set(HTTP_PROBLEMS)
    for code, response in sent.items():
        assert (response.status_code, response.json["code"]) == (HTTP_PROBLEMS[code], code)
        assert response.json["type"] == f"urn:cryptopay:problem:{code}"  # review3 I19: one type per code
        assert HTTPStatus(HTTP_PROBLEMS[code]).phrase.lower().replace(" ", "_") == code


def test_the_document_says_once_what_the_shared_problems_mean(document):
    """The problems every operation of a kind shares are explained once, in the document's description."""
    said = document["info"]["description"]
    for code in ("unauthenticated", "forbidden", "rate_limited", "validation_failed", "idempotency_conflict"):
        assert f"`{code}`:" in said, code


def test_the_docs_page_shows_each_operations_description(app):
    """/docs, the readable index, unfolds each operation's description (escaped text)."""
    page = app.test_client().get("/docs").get_data(as_text=True)
    assert page.count("<details>") > 100 and "**Who may call:**" in page and "`payment_link_closed`" in page


# Review3 I19: codes an operation's use case sends that an integrator must switch on, each in the operation's
# description (the ``problems=`` declaration lists it), so a client never falls through to "unknown error".
SENT_CODES = {
    ("/v1/wallet/remittances", "post"): (
        "blocked_by_compliance",
        "recipient_not_mpesa",
        "implausible_sender",
        "travel_rule_incomplete",
        "internal_address",
    ),
    ("/v1/wallet/buys", "post"): ("not_mpesa_number", "quote_purpose", "quote_used", "quote_expired"),
    ("/v1/wallet/sells", "post"): ("not_mpesa_number", "quote_purpose", "quote_used", "quote_expired"),
    ("/v1/wallet/cashouts", "post"): ("not_mpesa_number",),
}


@pytest.mark.parametrize(("path", "method"), list(SENT_CODES))
def test_the_codes_an_operation_sends_are_in_its_description(document, path, method):
    description = document["paths"][path][method]["description"]
    missing = [code for code in SENT_CODES[path, method] if f"`{code}`" not in description]
    assert missing == [], (path, method, missing)


def test_logout_says_the_logins_access_tokens_are_refused_at_once(document):
    """Review R21: logout ends the login's access tokens at once (each request checks its login), not "shortly"."""
    text = document["paths"]["/v1/auth/logout"]["post"]["description"]
    assert "refused at once (401)" in text and "expire on their own" not in text


def test_every_operation_with_a_path_parameter_lists_the_path_s_422(document):
    """R9-3: a path value outside its pattern (a control character, 201 characters) is refused 422
    ``validation_failed`` before the view: every operation with a path parameter says so, in its 422 response and
    among the problems its description lists."""
    missing = [
        (path, method)
        for path, method, op in _operations(document)
        if any(p["in"] == "path" for p in op.get("parameters", ()))
        and (
            "`validation_failed`" not in op["responses"]["422"]["description"]
            or "validation_failed" not in op["description"]
        )
    ]
    assert missing == []


def test_a_bad_path_value_is_the_validation_failed_the_document_lists(app):
    """The refusal the document lists is the one answered (no credential needed to see it)."""
    answer = app.test_client().get("/v1/invoices/%E2%80%AE")
    assert (answer.status_code, answer.get_json()["code"]) == (422, "validation_failed"), answer.get_json()
