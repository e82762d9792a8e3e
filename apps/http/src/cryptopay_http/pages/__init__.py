"""The web pages of the Flask shell: server-rendered Jinja templates, htmx for the live parts, no SPA.

- ``checkout``: the hosted checkout page ``/pay/<public id>`` (public, by an unguessable id).
- ``links``: payment-link pages ``/link/<public id>`` (an invoice per use, then its checkout page).
- ``dashboard``: the merchant dashboard ``/dashboard`` (a page session: ``session``); ``dashboard_business``: its
  analytics (``charts``: SVG drawn on the server), statements and tax report (PDF: ``printables``), till posters,
  team and KYB pages.
- ``portal``: the customer portal ``/app`` (personal wallets: sign-up by phone, balances, send, buy, history);
  ``portal_deposit`` its deposit page; ``portal_account`` its identity verification (camera photos) and settings (2FA,
  language, password) pages.
- ``console``: the admin console ``/console`` (staff with 2FA): the KYC queue, AML alerts and cases, accounts,
  reconciliation, treasury, health and the audit log with its hash-chain status.
- ``recovery``: the password-reset page ``/reset-password`` the emailed link opens.
- ``pwa``: the installable shell (manifest, service worker caching only the shell, offline page).
- ``web``: what every page shares (errors as HTML, the strict page CSP, the language switch ``/lang/<code>``);
  ``assets``: fingerprinted static files; ``i18n``: English and Swahili.

Pages call the same use cases as the REST API through the app's ``Services``; API keys are never read here.
"""

from __future__ import annotations

from flask import Flask

from cryptopay_http.pages import (
    assets,
    checkout,
    console,
    dashboard,
    dashboard_account,
    dashboard_business,
    links,
    portal,
    pwa,
    recovery,
    web,
)
from cryptopay_http.pages import portal_account as portal_account  # its routes are the portal's (``/app/verify``)
from cryptopay_http.pages import portal_deposit as portal_deposit  # its routes are the portal's (``/app/deposit``)
from cryptopay_http.pages import portal_withdraw as portal_withdraw  # its routes are the portal's (``/app/withdraw``)

__all__ = ["PAGE_BLUEPRINTS", "install_pages"]

# HTML, not the REST API: the OpenAPI document leaves these blueprints' routes out.
PAGE_BLUEPRINTS = frozenset({"assets", "web", "checkout", "links", "dashboard", "console", "pwa", "portal", "recovery"})


assert dashboard_account and dashboard_business  # their routes are on the dashboard's blueprint: imported first


def install_pages(app: Flask) -> None:
    """Register the page blueprints and their Jinja setup on ``app``."""
    web.install_web(app)
    app.register_blueprint(assets.bp)
    for blueprint in (web.bp, checkout.bp, links.bp, dashboard.bp, console.bp, portal.bp, pwa.bp, recovery.bp):
        app.register_blueprint(blueprint)
