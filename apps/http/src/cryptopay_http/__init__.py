"""cryptopay REST API (Flask): ``create_app(services)``, the ``require`` guard and the resource helpers."""

from cryptopay_http.app import BLUEPRINTS, create_app
from cryptopay_http.auth import current_principal, limit_by_client, not_found, require
from cryptopay_http.convert import converter, json_response, read_body
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import Page, paginate, paginated
from cryptopay_http.problems import problem
from cryptopay_http.services import Services
from cryptopay_http.settings import ApiSettings

__all__ = [
    "BLUEPRINTS",
    "ApiSettings",
    "Page",
    "PageOf",
    "Services",
    "converter",
    "create_app",
    "current_principal",
    "idempotent",
    "json_response",
    "limit_by_client",
    "not_found",
    "operation",
    "paginate",
    "paginated",
    "problem",
    "read_body",
    "require",
]
