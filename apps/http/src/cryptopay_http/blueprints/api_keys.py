"""Merchant API keys: create (the secret is shown once), list (never the secret), revoke."""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import ApiKey, Role
from cryptopay.core.identity.model import MERCHANT_SCOPES, TeamRole
from cryptopay.core.text import TextKind
from flask import Blueprint, Response

from cryptopay_http.auth import current_principal, not_found, require, step_up
from cryptopay_http.blueprints.merchants import load_merchant
from cryptopay_http.convert import TRIMMED_HINT, TRIMMED_NAME_PATTERN, json_response, limits, read_body
from cryptopay_http.openapi import PageOf, operation
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.runtime import runtime

__all__ = ["ApiKeyView", "bp"]

bp = Blueprint("api_keys", __name__)
_STAFF = (Role.MERCHANT, Role.ADMIN)


@attrs.frozen
class CreateApiKey:
    """A named key holding some of the merchant scopes."""

    name: str = attrs.field(
        metadata=limits(
            min_length=1, max_length=100, pattern=TRIMMED_NAME_PATTERN, hint=TRIMMED_HINT, text=TextKind.NAME
        )
    )
    scopes: frozenset[str] = attrs.field(
        metadata=limits("e.g. invoices:write, invoices:read", min_items=1, choices=lambda: MERCHANT_SCOPES)
    )


@attrs.frozen
class ApiKeyView:
    """An API key without its secret; ``prefix`` is how the key string starts, to recognise it; ``created_by`` the
    user who minted it (a team member's keys are revoked when they are removed or demoted below admin)."""

    id: str
    prefix: str
    merchant_id: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            key.id,
            f"cp_{key.id}",
            key.merchant_id,
            key.name,
            key.scopes,
            key.created_at,
            key.created_by,
            key.revoked_at,
        )


@attrs.frozen
class NewApiKeyView:
    """A just-created API key: ``secret`` is the full key string, shown this once and never again."""

    key: ApiKeyView
    secret: str = attrs.field(repr=False)


@bp.post("/v1/merchants/<merchant_id>/api-keys")
@operation(
    "Create an API key (its secret is shown once)",
    request=CreateApiKey,
    example={"name": "shop", "scopes": ["invoices:write", "invoices:read"]},
    response=NewApiKeyView,
    status=201,
    tags=("api keys",),
    description=(
        "Creates an API key for the merchant with the `scopes` listed (e.g. `invoices:write`); the "
        "response shows the full key (`secret`, `cp_<id>.<secret>`) once (`Cache-Control: no-store`), "
        "never again. Send it as `X-Api-Key` or `Authorization: Bearer`. Audited."
    ),
    problems=((InvalidInput, "scopes empty or not among the known ones, or a name not 1 to 100 characters"),),
)
@require(roles=_STAFF, tenant_arg="merchant_id", team=(TeamRole.OWNER, TeamRole.ADMIN), proven_email=True)
@step_up
def create_api_key(merchant_id: str) -> Response:
    body = read_body(CreateApiKey)
    merchant = load_merchant(merchant_id)
    key, secret = runtime().api_keys.create(
        merchant.id, name=body.name, scopes=body.scopes, created_by=current_principal().id
    )
    return json_response(NewApiKeyView(ApiKeyView.of(key), secret), 201, headers={"Cache-Control": "no-store"})


@bp.get("/v1/merchants/<merchant_id>/api-keys")
@operation(
    "List a merchant's API keys (without secrets)",
    response=PageOf(ApiKeyView),
    tags=("api keys",),
    description=(
        "The merchant's API keys, newest first, with their prefix, name, scopes, creator and revocation "
        "time; never their secrets."
    ),
)
@require(roles=_STAFF, tenant_arg="merchant_id", team=(TeamRole.OWNER, TeamRole.ADMIN))
@paginated("key")
def list_api_keys(merchant_id: str) -> Response:
    merchant = load_merchant(merchant_id)
    repo = runtime().services.api_keys
    page = paginate(lambda before, limit: repo.for_merchant(merchant.id, before=before, limit=limit), ApiKeyView.of)
    return json_response(page)


@bp.delete("/v1/merchants/<merchant_id>/api-keys/<key_id>")
@operation(
    "Revoke an API key",
    status=204,
    tags=("api keys",),
    description=(
        "Revokes the key at once: requests with it are 401 from then on. Revoking it again changes nothing. Audited."
    ),
)
@require(roles=_STAFF, tenant_arg="merchant_id", team=(TeamRole.OWNER, TeamRole.ADMIN))
def revoke_api_key(merchant_id: str, key_id: str) -> Response:
    merchant = load_merchant(merchant_id)
    key = runtime().services.api_keys.get(key_id)
    if key is None or key.merchant_id != merchant.id:
        raise not_found("api key", key_id)
    principal = current_principal()
    runtime().api_keys.revoke(key, actor=f"{principal.kind.value}:{principal.id}")
    return Response(status=204)
