"""The Flask app factory: the root's ``Services`` in, a wired app with every blueprint out."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from cryptopay.adapters.bootstrap import Services
from cryptopay.core import redaction
from cryptopay.core.errors import InvalidInput
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cryptopay_http.blueprints import (
    admin,
    admin_audit,
    admin_paybill,
    api_keys,
    compliance,
    compliance_deposits,
    daraja_hooks,
    fx,
    identity,
    invoices,
    kyc,
    merchants,
    payment_links,
    payout_conclusions,
    payout_receipts,
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
    wallet_cashouts,
    wallet_deposits,
    wallet_withdrawals,
    webhooks,
    wrong_network,
)
from cryptopay_http.edge import RequestEdge
from cryptopay_http.headers import SecurityHeaders
from cryptopay_http.metrics import HttpMetrics
from cryptopay_http.pages import install_pages
from cryptopay_http.problems import install_problem_handlers
from cryptopay_http.query import refuse_undeclared_before_view
from cryptopay_http.runtime import Runtime

__all__ = ["BLUEPRINTS", "create_app"]

P = ParamSpec("P")
R = TypeVar("R")

BLUEPRINTS = [system.bp, identity.bp, security.bp, merchants.bp, api_keys.bp]
BLUEPRINTS += [
    invoices.bp,
    refunds.bp,
    wrong_network.bp,
    payment_links.bp,
    stores.bp,
    settlements.bp,
    payouts.bp,
    payout_conclusions.bp,
    payout_receipts.bp,
    webhooks.bp,
    fx.bp,
    daraja_hooks.bp,
    admin.bp,
    admin_audit.bp,
    admin_paybill.bp,
]
BLUEPRINTS += [reports.bp, teams.bp]
BLUEPRINTS += [wallet.bp, wallet_bills.bp, wallet_withdrawals.bp, wallet_cashouts.bp, remittances.bp]
BLUEPRINTS += [wallet_deposits.bp]
BLUEPRINTS += [kyc.bp, compliance.bp, compliance_deposits.bp, privacy.bp]
BLUEPRINTS += [treasury.bp]


class _Flask(Flask):
    """Flask that asks once per function, not on every call, whether a view or hook is a coroutine function
    (``ensure_sync`` runs for each hook and view of each request; ``inspect`` made it a few percent of an invoice
    read's CPU)."""

    _SYNC_CACHE_MAX = 4096

    def __init__(self, import_name: str) -> None:
        super().__init__(import_name, static_folder=None)
        self._sync: dict[object, object] = {}

    def ensure_sync(self, func: Callable[P, R]) -> Callable[P, R]:
        found = self._sync.get(func)
        if found is None:
            found = super().ensure_sync(func)
            if len(self._sync) < self._SYNC_CACHE_MAX:  # views and hooks are few; bound methods may not be
                self._sync[func] = found
        return cast("Callable[P, R]", found)


def create_app(services: Services) -> Flask:
    """Build the API over ``services``; its settings are ``services.settings.api`` (``CRYPTOPAY_TOKEN_SECRET``)."""
    redaction.install()  # no secret in any log line, werkzeug's and httpx's included
    settings = services.settings.api
    if settings is None:
        raise InvalidInput("CRYPTOPAY_TOKEN_SECRET must be set to a random string of at least 32 characters")
    app = _Flask("cryptopay_http")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["cryptopay"] = Runtime.wire(settings, services)
    app.extensions["cryptopay.metrics"] = metrics = HttpMetrics()
    # Request ids, rate-limit and security headers, metrics: around the app, for every response (``edge``).
    security = SecurityHeaders(production=settings.production)
    app.wsgi_app = RequestEdge(app.wsgi_app, metrics=metrics, security=security)  # type: ignore[method-assign]
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count)  # type: ignore[method-assign]
    install_problem_handlers(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    # Review H1: an unknown or repeated query parameter is a 422; on a public operation before its view, on one
    # behind a credential once the caller is known (``require``): an anonymous caller gets the 401 first.
    app.before_request(refuse_undeclared_before_view)
    install_pages(app)  # the HTML pages: checkout, dashboard (cryptopay_http.pages)
    return app
