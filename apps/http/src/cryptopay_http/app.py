"""The Flask app factory: the root's ``Services`` in, a wired app with every blueprint out."""

from __future__ import annotations

from cryptopay.adapters.bootstrap import Services
from cryptopay.core import redaction
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import RateDecision
from flask import Flask, Response, g
from werkzeug.middleware.proxy_fix import ProxyFix

from cryptopay_http import request_ids
from cryptopay_http.blueprints import (
    admin,
    api_keys,
    compliance,
    daraja_hooks,
    fx,
    identity,
    invoices,
    kyc,
    merchants,
    payment_links,
    payouts,
    privacy,
    refunds,
    remittances,
    reports,
    security,
    settlements,
    stores,
    system,
    teams,
    treasury,
    wallet,
    wallet_bills,
    wallet_deposits,
    wallet_withdrawals,
    webhooks,
)
from cryptopay_http.headers import install_security_headers
from cryptopay_http.metrics import HttpMetrics
from cryptopay_http.pages import install_pages
from cryptopay_http.problems import install_problem_handlers
from cryptopay_http.runtime import Runtime

__all__ = ["BLUEPRINTS", "create_app"]

BLUEPRINTS = [system.bp, identity.bp, security.bp, merchants.bp, api_keys.bp]
BLUEPRINTS += [
    invoices.bp,
    refunds.bp,
    payment_links.bp,
    stores.bp,
    settlements.bp,
    payouts.bp,
    webhooks.bp,
    fx.bp,
    daraja_hooks.bp,
    admin.bp,
]
BLUEPRINTS += [reports.bp, teams.bp]
BLUEPRINTS += [wallet.bp, wallet_bills.bp, wallet_withdrawals.bp, remittances.bp]
BLUEPRINTS += [wallet_deposits.bp]
BLUEPRINTS += [kyc.bp, compliance.bp, privacy.bp]
BLUEPRINTS += [treasury.bp]


def create_app(services: Services) -> Flask:
    """Build the API over ``services``; its settings are ``services.settings.api`` (``CRYPTOPAY_TOKEN_SECRET``)."""
    redaction.install()  # no secret in any log line, werkzeug's and httpx's included
    settings = services.settings.api
    if settings is None:
        raise InvalidInput("CRYPTOPAY_TOKEN_SECRET must be set to a random string of at least 32 characters")
    app = Flask("cryptopay_http", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count)  # type: ignore[method-assign]
    app.extensions["cryptopay"] = Runtime.wire(settings, services)
    request_ids.init_app(app)  # first: every later hook's log lines carry the request id
    app.extensions["cryptopay.metrics"] = metrics = HttpMetrics()
    metrics.init_app(app)
    install_problem_handlers(app)
    app.after_request(_common_headers)
    install_security_headers(app, production=settings.production)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    install_pages(app)  # the HTML pages: checkout, dashboard (cryptopay_http.pages)
    return app


def _common_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    decision: RateDecision | None = g.get("rate_decision")
    if decision is not None:
        response.headers["RateLimit-Limit"] = str(decision.limit)
        response.headers["RateLimit-Remaining"] = str(decision.remaining)
    return response
