"""Who is calling: ``require()`` resolves the principal (a user's access token or a merchant API key) and its tenant.

API keys are sent as ``Authorization: Bearer cp_<key id>.<secret>`` or ``X-Api-Key``; anything else after
``Bearer`` is an access token. Requests for another tenant's objects get 404, exactly as if they did not exist.

Each request reloads the user's role and checks that its login is still active (``Accounts.authenticate``).
Operations that redirect money or credentials also need a step-up: ``@step_up`` (or ``check_step_up()`` when only
some requests need it) wants an ``X-Step-Up-Token`` from ``POST /v1/auth/step-up``, younger than a few minutes and
bound to the caller's login. A staff login without a second factor may only enrol one (``enrolment=True``).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import ParamSpec, TypeVar

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import CryptopayError, NotFound
from cryptopay.core.identity import (
    API_KEY_PREFIX,
    EnrolmentRequired,
    Forbidden,
    MerchantClosed,
    Principal,
    PrincipalKind,
    RateLimited,
    Role,
    Unauthenticated,
)
from cryptopay.core.identity.email_proof import EmailUnverified, needs_proven_email, require_proven_email
from cryptopay.core.identity.model import StepUpRequired, TeamRole, check_merchant_open
from flask import g, request

from cryptopay_http.edge import RATE_DECISION
from cryptopay_http.openapi import annotate
from cryptopay_http.query import after_credential, refuse_undeclared_query
from cryptopay_http.runtime import Runtime, runtime
from cryptopay_http.settings import ApiSettings

__all__ = [
    "STEP_UP_HEADER",
    "STEP_UP_NOTE",
    "access_note",
    "audit_security",
    "audited_step_up",
    "check_proven_email",
    "check_step_up",
    "check_step_up_audited",
    "client_address",
    "current_principal",
    "documents_step_up",
    "documents_step_up_if",
    "documents_step_up_when",
    "limit_account",
    "limit_by_client",
    "limit_caller",
    "limit_login",
    "limit_merchant",
    "limit_payouts",
    "limit_sends",
    "not_found",
    "passed_account_check",
    "rate_limits",
    "refuse",
    "refuse_if_closed",
    "refused_if_closed",
    "require",
    "step_up",
    "step_up_refusal_audited",
    "stepped_up",
]

STEP_UP_HEADER = "X-Step-Up-Token"

P = ParamSpec("P")
R = TypeVar("R")


def not_found(kind: str, object_id: str) -> NotFound:
    """The one not-found error for an object, used both when it is missing and when it belongs to another tenant."""
    return NotFound(f"{kind} {object_id} not found")


def _presented(environ: Mapping[str, object]) -> tuple[bool, str] | None:
    """(is an API key, the credential) from the request headers, or None when none is sent.

    Every credential presented must be well formed and they must agree: a junk ``Authorization`` beside a valid
    ``X-Api-Key`` (or two different credentials) is a 401, never silently ignored.
    """
    found: set[tuple[bool, str]] = set()
    authorization = environ.get("HTTP_AUTHORIZATION")  # the WSGI names: no header object per look-up
    if isinstance(authorization, str):
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("the Authorization header must be: Bearer <access token or API key>")
        found.add((value.strip().startswith(API_KEY_PREFIX), value.strip()))
    api_key = environ.get("HTTP_X_API_KEY")
    if isinstance(api_key, str):
        if not api_key.strip():
            raise Unauthenticated("the X-Api-Key header is empty")
        found.add((True, api_key.strip()))
    if len(found) > 1:
        raise Unauthenticated("send one credential: Authorization and X-Api-Key name different ones")
    return found.pop() if found else None


def _resolve(rt: Runtime, environ: Mapping[str, object]) -> Principal:
    presented = _presented(environ)
    if presented is None:
        raise Unauthenticated("authentication required: send Authorization: Bearer <access token or API key>")
    is_key, credential = presented
    if is_key:
        return rt.api_keys.authenticate(credential)
    return with_team(rt.accounts.authenticate(credential))


def with_team(principal: Principal) -> Principal:
    """A merchant user's principal with the merchant it acts for and its team role: the owner's own merchant, else
    the team it is a member of (the API's bearer logins and the dashboard's page sessions both resolve it here)."""
    if principal.role is Role.MERCHANT:
        services = runtime().services
        merchant = services.merchants.by_owner(principal.id)
        if merchant is not None:
            return attrs.evolve(principal, merchant_id=merchant.id, team_role=TeamRole.OWNER)
        member = services.team_store.membership(principal.id)  # a team member acts for its merchant
        if member is not None:
            return attrs.evolve(principal, merchant_id=member.merchant_id, team_role=member.role)
    return principal


def current_principal() -> Principal:
    """The principal resolved by ``require`` for this request."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise Unauthenticated("authentication required")
    return principal


def _rate_limit(
    subject: str, limit: int, window: int | None = None, *, per_route: bool = True, rt: Runtime | None = None
) -> None:
    rt = rt or runtime()
    req = request._get_current_object()  # type: ignore[attr-defined]  # one context look-up, not one per attribute
    if per_route:
        rule = req.url_rule
        key = f"rl:{subject}:{req.method}:{rule.rule if rule else req.path}"
    else:
        key = _shared_key(subject)
    decision = rt.services.rate_limiter.hit(key, limit=limit, window_seconds=window or rt.settings.rate_window_seconds)
    req.environ[RATE_DECISION] = decision  # the response's RateLimit-* headers (``edge``)
    if not decision.allowed:
        raise RateLimited(
            f"too many requests; retry in {decision.retry_after} seconds", retry_after=decision.retry_after
        )


def _shared_key(subject: str) -> str:
    """The rate limiter's key of ``subject`` counted across routes (``_rate_limit(..., per_route=False)``)."""
    return f"rl:{subject}"


def _account_subject(user_id: str, purpose: str) -> str:
    """What ``limit_account`` counts for ``user_id`` and ``purpose`` (and ``passed_account_check`` takes back)."""
    return f"account:{purpose}:{user_id}"


def client_address(address: str | None = None) -> str:
    """The client as the per-address limits count it: an IPv4 address as itself (an IPv4-mapped IPv6 one too), an
    IPv6 address by its /64, the block one home or host is given (counted by the whole address, one host had
    2^64 fresh limits).

    >>> client_address("::ffff:203.0.113.9"), client_address("2001:DB8:1:2::7"), client_address("203.0.113.9")
    ('203.0.113.9', '2001:db8:1:2::/64', '203.0.113.9')
    """
    text = request.remote_addr if address is None else address
    try:
        parsed = ipaddress.ip_address((text or "").split("%", 1)[0])
    except ValueError:
        return text or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


_LIMITED_BY_CLIENT = (RateLimited, "too many requests from this client address (Retry-After says when to retry)")
_EMAIL_PROBLEM = (EmailUnverified, "a merchant user whose email is not proven yet (the emailed link; audited)")
_STEP_UP_PROBLEM = (StepUpRequired, f"no fresh {STEP_UP_HEADER} of the caller's own login (POST /v1/auth/step-up)")
STEP_UP_NOTE = (
    f"send `{STEP_UP_HEADER}`, a token from `POST /v1/auth/step-up` (the password or a one-time code again), "
    "younger than a few minutes and bound to the caller's login"
)

_NO_KEYS = ". An API key cannot step up, so it cannot call this operation."


def limit_by_client(view: Callable[P, R]) -> Callable[P, R]:
    """Rate-limit an unauthenticated view (login, register, refresh) by the client's address."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        _rate_limit(f"ip:{client_address()}", runtime().settings.auth_rate_limit)
        return view(*args, **kwargs)

    return annotate(wrapper, errors=(429,), problems=(_LIMITED_BY_CLIENT,))


def limit_reads_by_client(view: Callable[P, R]) -> Callable[P, R]:
    """Rate-limit an unauthenticated read (a public status page) by the client's address, at the general rate."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        _rate_limit(f"ip:{client_address()}", runtime().settings.rate_limit)
        return view(*args, **kwargs)

    return annotate(wrapper, errors=(429,), problems=(_LIMITED_BY_CLIENT,))


def limit_account(user_id: str, *, purpose: str = "password") -> None:
    """Per-account backoff for password and code checks (login, step-up, a page's step-up, two-factor and password
    changes), whatever the address: one count per account and ``purpose`` across every route and login form.

    Counted through the rate limiter port (Redis when configured), so every API process shares the count. Each
    attempt is counted before its check (so parallel guesses never pass the limit) and a login or step-up whose
    check passes takes its hit back (``passed_account_check``): only failures fill the count.
    """
    settings = runtime().settings
    _rate_limit(
        _account_subject(user_id, purpose),
        settings.login_account_limit,
        settings.login_account_window_seconds,
        per_route=False,
    )


def passed_account_check(user_id: str, *, login: bool = False) -> None:
    """The password or code check ``limit_account`` counted for ``user_id`` passed: its hit is taken back, so a
    person who logs in or steps up many times a window is never locked out while an attacker's failures still
    count. ``login`` (a whole login passed: the password, and the code when the account has a second factor) also
    clears the failures before it, as most systems do. Only the account's owner can: a right password with a wrong
    or missing code is a failure (``Accounts.login`` raises before this is called), so knowing the password never
    lets anyone alternate successes with guesses of the code; a step-up's success only takes back its own hit."""
    limiter, window = runtime().services.rate_limiter, runtime().settings.login_account_window_seconds
    key = _shared_key(_account_subject(user_id, "password"))  # what ``limit_account`` counted
    if login:
        limiter.clear(key, window_seconds=window)
    else:
        limiter.take_back(key, window_seconds=window)


def limit_login(name: str, *, purpose: str = "password") -> None:
    """``limit_account`` for a login name as typed (an email in any case, a phone in any spelling): counted
    against the account it names (``Accounts.login_subject``), so no spelling or second name has a count of its own."""
    limit_account(runtime().accounts.login_subject(name), purpose=purpose)


def _per_window(limit: int, window: int) -> str:
    return f"{limit} per minute" if window == 60 else f"{limit} per {window // 60} minutes"


def rate_limits(
    *, per_client: bool = False, per_account: bool = False, wallet_sends: bool = False, wallet_payouts: bool = False
) -> str:
    """The rate limits of an operation, for its OpenAPI description (the same defaults the limiter uses):
    ``wallet_sends`` is ``limit_sends``'s count, ``wallet_payouts`` ``limit_payouts``'s."""
    defaults = ApiSettings(token_secret="")
    parts = []
    if wallet_sends:
        pace = _per_window(defaults.send_rate_limit, defaults.rate_window_seconds)
        together = "send and bill checks and sends together, the API's and the portal's"
        parts.append(f"{pace} per wallet, {together} (`send_rate_limit`)")
    if wallet_payouts:
        pace = _per_window(defaults.payout_rate_limit, defaults.rate_window_seconds)
        parts.append(f"{pace} per wallet, sales, cash-outs and bills together, API and portal (`payout_rate_limit`)")
    if per_client:
        parts.append(f"{_per_window(defaults.auth_rate_limit, defaults.rate_window_seconds)} per client address")
    if per_account:
        window = defaults.login_account_window_seconds
        parts.append(f"{_per_window(defaults.login_account_limit, window)} per account, whatever the address")
    return f"Rate limited: {' and '.join(parts)}; beyond that 429 with Retry-After."


def limit_caller(limit: int, *, purpose: str | None = None) -> None:
    """A tighter per-principal limit for one route (e.g. operations that persist something each call); with
    ``purpose``, one count for that kind of action whichever route asks (an API operation and its page's form)."""
    scope = current_principal().idempotency_scope
    if purpose is None:
        _rate_limit(f"strict:{scope}", limit)
    else:
        _rate_limit(f"strict:{purpose}:{scope}", limit, per_route=False)


def limit_sends() -> None:
    """A wallet's pace of send checks and sends (``send_rate_limit`` a window): one count whichever route asks (the
    API's send, the portal's check and its confirmation), since each tells whether a number or username has a
    wallet and what it may receive; without it a wallet could probe numbers at the general rate (review6 F6). Bill
    checks (the API's ``bills/validate``, the portal's ``/app/bills/check``) share the count: each is a free probe
    of a biller's account format and limits."""
    limit_caller(runtime().settings.send_rate_limit, purpose="send")


def limit_payouts() -> None:
    """A wallet's pace of M-Pesa payouts (``payout_rate_limit`` a window): one count for sales, cash-outs and bills,
    whichever route asks (the API's, the portal's forms). Each is a B2C or B2B payment from the platform's shortcode,
    whose Daraja throughput merchants' settlements and remittances share: without it one wallet queued 60 free KES 10
    cash-outs in 4.5 s (review7 F12). Inside ``@idempotent`` views: a 429 does not use up the key (review7 F4) and
    a replay of a completed key never reaches it, so it never counts."""
    limit_caller(runtime().settings.payout_rate_limit, purpose="payout")


def limit_merchant(merchant_id: str, purpose: str, limit: int, window: int) -> None:
    """A per-merchant limit on one kind of action, whichever login or API key of the merchant asks and on whichever
    route (``purpose`` names the count): e.g. webhook test pings, ``limit`` per ``window`` seconds; 429 beyond it."""
    _rate_limit(f"merchant:{purpose}:{merchant_id}", limit, window, per_route=False)


def audit_security(action: str, subject: str, **details: str) -> None:
    """Append a security event by the current caller (``user:<id>`` or ``api_key:<id>``) to the audit trail."""
    principal = current_principal()
    actor = f"{principal.kind.value}:{principal.id}"
    at = runtime().services.clock.now()
    runtime().services.audit.append(AuditEvent(actor, action, subject, at, details))


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _audit_admin_action() -> None:
    """Every change an admin makes through the API is an audit record (route and method; never the body)."""
    route = request.url_rule.rule if request.url_rule else "?"
    audit_security("admin.request", f"route:{route}", method=request.method, path=request.path)


def check_step_up() -> None:
    """``StepUpRequired`` (403) unless the request carries a fresh step-up token of the caller's own login."""
    runtime().accounts.check_step_up(current_principal(), request.headers.get(STEP_UP_HEADER))


def check_step_up_audited() -> None:
    """``check_step_up``, and a refusal is also an audit record (``access.refused``, reason ``step_up_required``):
    for the actions a stolen session would try first (giving team roles, freezing and unfreezing accounts)."""
    with step_up_refusal_audited():
        check_step_up()


@contextlib.contextmanager
def step_up_refusal_audited() -> Iterator[None]:
    """A ``StepUpRequired`` raised inside (by ``check_step_up``, or by a use case that decides it under its own
    locks, as a wallet send past the day's allowance) is audited ``access.refused``, reason ``step_up_required``."""
    try:
        yield
    except StepUpRequired:
        _audit_refusal("step_up_required")
        raise


def stepped_up() -> bool:
    """Whether the request carries a fresh step-up token of the caller's own login (nothing raised or audited)."""
    if not request.headers.get(STEP_UP_HEADER):
        return False
    try:
        check_step_up()
    except StepUpRequired:
        return False
    return True


def _requiring(check: Callable[[], None]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            check()
            return view(*args, **kwargs)

        parameter = {"name": STEP_UP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
        note = STEP_UP_NOTE + ("; a refusal is audited" if check is check_step_up_audited else "") + _NO_KEYS
        return annotate(wrapper, parameters=(parameter,), errors=(403,), problems=(_STEP_UP_PROBLEM,), step_up=note)

    return decorate


def step_up(view: Callable[P, R]) -> Callable[P, R]:
    """Require a fresh step-up for this view (put it under ``require``)."""
    return _requiring(check_step_up)(view)


def audited_step_up(view: Callable[P, R]) -> Callable[P, R]:
    """``step_up`` whose refusals are audited (``check_step_up_audited``)."""
    return _requiring(check_step_up_audited)(view)


def documents_step_up_when(when: str, view: Callable[P, R]) -> Callable[P, R]:
    """The OpenAPI facts of a view that calls ``check_step_up`` only in some cases (``when`` says which): an
    optional ``X-Step-Up-Token`` header and its 403. ``when="always"``: a view that always calls it, after checks of
    its own (e.g. that the object is the caller's, so another tenant's is a 404 first): the header is required."""
    always = when == "always"
    parameter = {"name": STEP_UP_HEADER, "in": "header", "required": always, "schema": {"type": "string"}}
    parameter |= {} if always else {"description": f"required {when}"}
    note = STEP_UP_NOTE + (_NO_KEYS if always else f", {when}.")
    return annotate(view, parameters=(parameter,), errors=(403,), problems=(_STEP_UP_PROBLEM,), step_up=note)


def documents_step_up_if(when: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``documents_step_up_when`` as a decorator, for a view that calls ``check_step_up`` only ``when``."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        return documents_step_up_when(when, view)

    return decorate


def documents_step_up(view: Callable[P, R]) -> Callable[P, R]:
    """``documents_step_up_when("always", view)``: for a view that calls ``check_step_up`` itself on every request."""
    return documents_step_up_when("always", view)


def refuse(reason: str) -> Forbidden:
    """A 403 for the current caller, audited (``access.refused``: the route, the method and why; never the body).

    A caller trying what its role, scope or team role does not allow is a security event an officer can search for.
    """
    _audit_refusal(reason)
    return Forbidden(reason)


def _audit_refusal(reason: str) -> None:
    """Audit ``access.refused`` by the current caller: the route (its rule, not the URL), the method and why."""
    route = request.url_rule.rule if request.url_rule else request.path
    audit_security("access.refused", f"route:{route}", method=request.method, reason=reason)


def check_proven_email() -> None:
    """403 ``email_unverified`` (audited ``access.refused``) when the calling user is a merchant user whose email is
    not proven yet (``identity.email_proof``); API keys (made before the rule) and other users pass."""
    principal = current_principal()
    if principal.kind is not PrincipalKind.USER:
        return
    user = runtime().services.users.get(principal.id)
    if user is not None and needs_proven_email(user):
        _audit_refusal("email_unverified")
        require_proven_email(user)


def _check(principal: Principal, scope: str | None, roles: frozenset[Role], accept_keys: bool) -> None:
    if principal.kind is PrincipalKind.API_KEY and not accept_keys:
        raise refuse("this operation needs a user login; API keys cannot use it")
    if roles and principal.role not in roles:
        raise refuse("this operation needs the role " + " or ".join(sorted(r.value for r in roles)))
    if scope is not None and not principal.has_scope(scope):
        raise refuse(f"this operation needs the scope {scope}")


_CLOSED_PROBLEM = (
    MerchantClosed,
    "a write by a closed merchant's login or API key: it takes no new business (audited)",
)


def refuse_if_closed(principal: Principal) -> None:
    """403 ``merchant_closed`` (audited ``access.refused``) when the caller acts for a merchant an operator closed
    (the API's merchant writes, the dashboard's forms)."""
    if principal.role is Role.MERCHANT and principal.merchant_id is not None:
        try:
            check_merchant_open(runtime().services.merchants.get(principal.merchant_id))  # uncached: at once
        except MerchantClosed:
            _audit_refusal("merchant_closed")
            raise


def refused_if_closed(read: Callable[[], R]) -> R:
    """``read()``, a use case's read that refuses a closed merchant itself (``MerchantClosed``: as
    ``Invoicing.open_store`` does, in the read of the store that an invoice creation makes anyway), its refusal
    audited as ``refuse_if_closed`` audits the door's. The view of a ``require(closing_read_by_view=True)`` route
    calls it before it writes anything: its door reads no merchant row of its own."""
    try:
        return read()
    except MerchantClosed:
        _audit_refusal("merchant_closed")
        raise


def _check_tenant(principal: Principal, name: str, object_id: str) -> None:
    if not principal.can_access(object_id):
        raise not_found(name.removesuffix("_id"), object_id)


def require(
    scope: str | None = None,
    roles: Iterable[Role | str] = (),
    *,
    api_keys: bool | None = None,
    tenant_arg: str | None = None,
    enrolment: bool = False,
    team: Iterable[TeamRole] = (),
    proven_email: bool = False,
    closing_read_by_view: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Authenticate the caller and check its role, scope and tenant, then rate-limit it per route.

    ``scope``: an API-key scope such as ``invoices:write`` (merchant and admin users hold every scope).
    ``roles``: allowed roles (any if empty). ``api_keys``: whether API keys may call (default: only if ``scope``).
    ``tenant_arg``: a URL argument naming a merchant id the caller must own (404 otherwise; admins pass).
    ``enrolment``: whether a staff login that has not enrolled a second factor yet may call (2FA enrolment only).
    ``team``: the merchant team roles that may call (a merchant user's role in its team; others are not checked).
    ``proven_email``: a merchant user must have proven its email (``check_proven_email``; 403 ``email_unverified``).

    A merchant's operation (one with a ``scope``, ``tenant_arg`` or ``team``, or for merchants only) that writes is
    refused to the logins and keys of a merchant an operator closed (403 ``merchant_closed``; reads go on): here, by
    a read of the merchant's row, unless ``closing_read_by_view``: the view refuses it, before any write, in a read it
    makes anyway (``refused_if_closed``; an invoice creation's read of the store), so the row is not read twice.
    """
    wanted = frozenset(Role(r) for r in roles)
    team_roles = frozenset(team)
    accept_keys = scope is not None if api_keys is None else api_keys
    merchant_route = scope is not None or tenant_arg is not None or bool(team_roles) or wanted == {Role.MERCHANT}

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            rt = runtime()
            principal = _resolve(rt, request.environ)
            g.principal = principal
            _rate_limit(principal.idempotency_scope, rt.settings.rate_limit, rt=rt)
            if principal.enrolment_only and not enrolment:
                raise EnrolmentRequired("enrol a second factor first (POST /v1/auth/2fa/enrol after a step-up)")
            _check(principal, scope, wanted, accept_keys)
            if team_roles and principal.team_role is not None and principal.team_role not in team_roles:
                allowed = " or ".join(sorted(r.value for r in team_roles))
                raise refuse(f"this operation needs the team role {allowed}")
            if merchant_route and request.method not in _READS and not closing_read_by_view:
                refuse_if_closed(principal)
            if tenant_arg is not None:
                _check_tenant(principal, tenant_arg, str(kwargs[tenant_arg]))  # a URL argument: always a str
            if proven_email:
                check_proven_email()
            refuse_undeclared_query()  # who is asking first: a stranger learns no parameter names (``query``)
            result = view(*args, **kwargs)
            if principal.role is Role.ADMIN and request.method not in _READS:
                _audit_admin_action()
            return result

        security: list[dict[str, list[str]]] = [{"accessToken": []}]
        if accept_keys:
            security.append({"apiKey": [scope] if scope else []})
        access = access_note(scope, wanted, accept_keys=accept_keys, tenant_arg=tenant_arg, team=team_roles)
        problems = _require_problems(wanted, tenant_arg=tenant_arg, enrolment=enrolment)
        if proven_email:
            problems += (_EMAIL_PROBLEM,)
        if merchant_route:
            problems += (_CLOSED_PROBLEM,)
        errors = (401, 403, 429) + ((404,) if tenant_arg else ())
        annotate(wrapper, security=security, errors=errors, problems=problems, access=access)
        return after_credential(wrapper)

    return decorate


def access_note(
    scope: str | None,
    roles: frozenset[Role],
    *,
    accept_keys: bool,
    tenant_arg: str | None = None,
    team: frozenset[TeamRole] = frozenset(),
) -> str:
    """Who ``require(...)`` lets call, in words, for the operation's OpenAPI description.

    >>> access_note("payouts:read", frozenset(), accept_keys=True)  # doctest: +NORMALIZE_WHITESPACE
    "a merchant user's or an admin's access token (a team member's if its team role holds the scope),
    or an API key with the scope `payouts:read`."
    >>> access_note(None, frozenset({Role.ADMIN}), accept_keys=False)
    "a user's access token with the role admin; API keys cannot call it."
    """
    if roles:
        who = "a user's access token with the role " + " or ".join(sorted(r.value for r in roles))
    elif scope is not None:  # ``Principal.has_scope``: personal users hold none
        who = "a merchant user's or an admin's access token (a team member's if its team role holds the scope)"
    else:
        who = "any user's access token"
    text = who + (f", or an API key with the scope `{scope}`" if accept_keys and scope else "")
    text += ", or an API key" if accept_keys and not scope else ""
    text += "" if accept_keys else "; API keys cannot call it"
    if team:
        text += "; in a merchant's team, only " + " or ".join(sorted(r.value for r in team))
    if tenant_arg is not None:
        text += f"; `{tenant_arg}` must be the caller's own (another's is a 404, as if absent; admins may name any)"
    return text + "."


_STAFF = frozenset({Role.ADMIN, Role.COMPLIANCE})


def _require_problems(
    roles: frozenset[Role], *, tenant_arg: str | None, enrolment: bool
) -> tuple[tuple[type[CryptopayError], str], ...]:
    """The problems ``require(...)`` itself answers with."""
    found: list[tuple[type[CryptopayError], str]] = [
        (Unauthenticated, "no credential, a malformed, expired or revoked one, or two that disagree"),
        (Forbidden, "the caller's role, scope or team role does not allow it (audited)"),
        (RateLimited, "too many requests by this caller (Retry-After says when to retry)"),
    ]
    if not enrolment and (not roles or roles & _STAFF):
        found.append((EnrolmentRequired, "a staff login that has not enrolled a second factor yet"))
    if tenant_arg is not None:
        found.append((NotFound, f"`{tenant_arg}` is not the caller's"))
    return tuple(found)
