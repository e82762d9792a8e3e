"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import html
import json
import logging
import re
from email.utils import format_datetime
from typing import Any

import attrs
from cryptopay.adapters.metrics import worker_textfiles
from cryptopay.core.errors import NotFound, Unavailable
from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cryptopay_http.amounts import SUNSET
from cryptopay_http.convert import ValidationFailed, json_response
from cryptopay_http.metrics import scraper_allowed
from cryptopay_http.openapi import WEBHOOK_SIGNING, build_document, operation
from cryptopay_http.problems import problem
from cryptopay_http.query import (
    after_credential,
    checked_after_credential,
    query_text_errors,
    refuse_undeclared_query,
    text_errors,
)
from cryptopay_http.read_metrics import invoice_read_exposition
from cryptopay_http.runtime import runtime
from cryptopay_http.signup_metrics import signup_sms_exposition

__all__ = ["bp", "readiness", "worker_metrics"]

bp = Blueprint("system", __name__)
_log = logging.getLogger("cryptopay.http")


@bp.before_app_request
def refuse_invalid_text() -> None:
    """Path segments and query parameters obey the same text rules as bodies (422 before any view runs); the query
    of an operation behind a credential is checked once the caller is known (``query.refuse_undeclared_query``)."""
    pairs = [(f"path.{k}", v) for k, v in (request.view_args or {}).items() if isinstance(v, str)]
    errors = text_errors(pairs)
    if not checked_after_credential():
        errors += query_text_errors()
    if errors:
        raise ValidationFailed(errors)


def readiness() -> dict[str, str]:
    """Each readiness check of the deployment: ``ok`` or ``failed`` (the reason goes to the log, not the caller)."""
    checks: dict[str, str] = {}
    for name, check in runtime().services.readiness_checks.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as error:  # any failure means not ready
            _log.warning("readiness check %s failed: %s", name, type(error).__name__)
            checks[name] = "failed"
    return checks


@attrs.frozen
class Health:
    status: str
    checks: dict[str, str] = attrs.Factory(dict)


@bp.get("/healthz")
@operation(
    "Liveness: the process is up",
    response=Health,
    tags=("system",),
    description=(
        "Answers 200 while the process serves requests, whatever its dependencies (for a liveness probe); "
        "see /readyz for those."
    ),
)
def healthz() -> Response:
    return json_response(Health("ok"))


@bp.get("/readyz")
@operation(
    "Readiness: the database answers and is migrated to head, and Redis when configured",
    response=Health,
    tags=("system",),
    errors=(503,),
    description=(
        "Runs the deployment's readiness checks (the database answers and its migrations are at head; "
        "Redis answers when configured) and answers 200 with each check `ok`, or 503 `not_ready` naming "
        "the checks that failed (the reasons go to the log). For a readiness probe or a load balancer."
    ),
    problems=(("not_ready", "a readiness check failed (`checks` names which)"),),
)
def readyz() -> Response:
    checks = readiness()
    if all(v == "ok" for v in checks.values()):
        return json_response(Health("ok", checks))
    return problem(503, "a dependency is not ready", code="not_ready", checks=checks)


@bp.get("/metrics")
@operation(
    "Prometheus metrics (with the scrape token)",
    tags=("system",),
    media_type="text/plain",
    errors=(404,),
    description=(
        "The Prometheus exposition of this process's request counts and durations by route and status, "
        "its invoice read cache and its wallet sign-up SMS (sent, refused by bound, the hourly budget), "
        "followed by the worker's fresh metrics text files (queues, scanners, "
        "treasury, business, payouts...) labelled `textfile`. Without the scrape token it is a 404, as if "
        "absent."
    ),
    problems=((NotFound, "no or a wrong scrape token, or none is configured"),),
    access=("the deployment's metrics scrape token as `Authorization: Bearer <token>` (none configured: nobody)."),
)
@after_credential  # without the token it is absent, whatever the query says
def metrics() -> Response:
    if not scraper_allowed(runtime().settings.metrics_token, request.headers.get("Authorization", "")):
        return problem(404, "not found", code="not_found")
    refuse_undeclared_query()
    registry = current_app.extensions["cryptopay.metrics"].registry
    exposition = generate_latest(registry) + _invoice_reads() + _signup_sms() + worker_metrics().encode()
    return Response(exposition, mimetype=CONTENT_TYPE_LATEST.split(";")[0])


def _invoice_reads() -> bytes:
    """This process's invoice read cache (``cryptopay_http.read_metrics``); nothing where invoices are not wired."""
    try:
        invoicing = runtime().services.invoicing
    except Unavailable:
        return b""
    return invoice_read_exposition(invoicing.read_stats())


def _signup_sms() -> bytes:
    """This process's wallet sign-up SMS, sent and refused, and the budget (``cryptopay_http.signup_metrics``);
    nothing where wallets are not wired."""
    try:
        signup = runtime().services.wallet_signup
    except Unavailable:
        return b""
    return signup_sms_exposition(signup.budget.counts, per_hour=signup.sms_rules.per_hour)


def worker_metrics() -> str:
    """The worker's fresh metrics text files (queues, scanners, reconciliation, treasury...) as one exposition."""
    return worker_textfiles(
        runtime().services.settings.metrics_dir, max_age_seconds=runtime().settings.metrics_textfile_max_age_seconds
    )


@bp.get("/openapi.json")
@operation(
    "This API's OpenAPI 3.1 document",
    tags=("system",),
    description=(
        "This document: every public operation with its parameters, request and response schemas (the "
        "same declarations the server checks requests against), request examples, who may call it and the "
        "problems it can answer with; `webhooks` lists each event's signed body."
    ),
)
def openapi() -> Response:
    return json_response(build_document(current_app))


@bp.get("/docs")
@operation(
    "Human-readable list of the operations",
    tags=("system",),
    media_type="text/html",
    description=(
        "A self-contained HTML page listing every operation of this document with its method, path, "
        "summary, credentials and example body, and how amounts are written."
    ),
)
def docs() -> Response:
    return Response(_docs_page(build_document(current_app)), mimetype="text/html")


_AMOUNTS = (
    "<h2 id='amounts'>Amounts</h2><p>A request names an amount of money as <code>amount</code>, a decimal string "
    '(<code>"12.50"</code>, never a JSON number), and <code>currency</code>, an asset code (<code>KES</code>, '
    "<code>USDT</code>, <code>BTC</code>), with at most the currency's places (KES 2, USDT 6, BTC 8; whole "
    'shillings where M-Pesa pays). Responses show an amount as an object <code>{"amount": "12.50", '
    '"asset": "KES"}</code>. The wallet API\'s older shapes (<code>kes</code>, <code>usdt</code>, '
    "<code>asset</code> for <code>currency</code>, an amount object in a request, a bill's amount without a "
    "currency) are deprecated: still read until "
    f"{format_datetime(SUNSET, usegmt=True)}, answered with <code>Deprecation</code>, <code>Sunset</code> and "
    '<code>Link: rel="deprecation"</code> headers; a request mixing two shapes is a 422 '
    "<code>amount_shapes_mixed</code>.</p>"
)


def _details(op: dict[str, Any]) -> str:
    """The operation's description (who may call it, its problems...) as text the reader unfolds."""
    text = op.get("description")
    return f"<details><summary>Details</summary><div class='d'>{html.escape(text)}</div></details>" if text else ""


def _webhooks_section(document: dict[str, Any]) -> str:
    """The events a merchant's endpoint receives and how a delivery is signed (review12 R12-4)."""
    text = html.escape(WEBHOOK_SIGNING)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    events = "".join(
        f"<li><code>{html.escape(name)}</code>: {html.escape(ops['post']['summary'])}</li>"
        for name, ops in document.get("webhooks", {}).items()
    )
    return f"<h2 id='webhooks'>Webhooks</h2><p>{text}</p><ul>{events}</ul>"


def _docs_page(document: dict[str, Any]) -> str:
    rows = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            security = ", ".join(name for req in op.get("security", []) for name in req) or "public"
            example = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
            body = f"<code>{html.escape(json.dumps(example))}</code>" if example is not None else ""
            rows.append(
                f"<tr id='{html.escape(op['operationId'])}'><td><code>{method.upper()}</code></td>"
                f"<td><code>{html.escape(path)}</code></td><td>{html.escape(op['summary'])}{_details(op)}</td>"
                f"<td>{html.escape(security)}</td><td>{body}</td></tr>"
            )
    title = html.escape(document["info"]["title"])
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left;vertical-align:top}"
        ".d{white-space:pre-wrap;max-width:60em}</style></head>"
        f"<body><h1>{title}</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. "
        "Errors are RFC 9457 problem details (<code>application/problem+json</code>).</p>"
        f"{_AMOUNTS}{_webhooks_section(document)}"
        "<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Auth</th><th>Example body</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>"
    )
