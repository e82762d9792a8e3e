"""The HTTP frame: idempotency, pagination, rate limits, problem+json shapes, health, metrics, OpenAPI and docs."""

from __future__ import annotations

import re
import threading

import attrs
from cryptopay_http.pages import PAGE_BLUEPRINTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.http.http_support import SETTLEMENT, TOKEN_SECRET, AuthActions, bearer, make_app

PAYMENT = {"amount": {"amount": "1500.50", "asset": "KES"}, "reference": "order-1"}


def _pay(client, headers, key, body=PAYMENT):
    return client.post("/v1/probe/payments", json=body, headers={**headers, "Idempotency-Key": key})


def test_same_key_and_body_replays_the_first_response(client, auth, app):
    """A retry with the same key and body gets the stored response and the view does not run again."""
    headers, _ = auth.merchant()
    first, again = _pay(client, headers, "k-1"), _pay(client, headers, "k-1")
    assert first.status_code == again.status_code == 201
    assert first.json == again.json == PAYMENT | {"amount": {"amount": "1500.50", "asset": "KES"}}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(app.config["PROBE_CALLS"]) == 1


def test_same_key_with_a_different_body_is_a_conflict(client, auth):
    """Reusing a key for a different request is a 409 idempotency_conflict problem."""
    headers, _ = auth.merchant()
    _pay(client, headers, "k-2")
    response = _pay(client, headers, "k-2", PAYMENT | {"reference": "order-2"})
    assert response.status_code == 409 and response.json["code"] == "idempotency_conflict"


def test_keys_are_scoped_per_principal(client, auth, app):
    """Two merchants using the same key string each get their own operation."""
    one, _ = auth.merchant("One")
    two, _ = auth.merchant("Two")
    assert _pay(client, one, "shared").status_code == 201
    second = _pay(client, two, "shared")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert len(app.config["PROBE_CALLS"]) == 2


def test_missing_key_is_a_400(client, auth):
    """A money-moving POST without Idempotency-Key is refused before it runs."""
    headers, _ = auth.merchant()
    response = client.post("/v1/probe/payments", json=PAYMENT, headers=headers)
    assert response.status_code == 400 and "Idempotency-Key" in response.json["detail"]


def test_a_concurrent_duplicate_is_a_409_while_the_first_is_in_flight(client, auth, app):
    """While the first request holds the key, a duplicate gets 409 idempotency_in_flight; afterwards it replays."""
    headers, _ = auth.merchant()
    app.config["PROBE_GATE"], app.config["PROBE_ENTERED"] = threading.Event(), threading.Event()
    results = {}
    worker = threading.Thread(target=lambda: results.setdefault("first", _pay(app.test_client(), headers, "k-3")))
    worker.start()
    assert app.config["PROBE_ENTERED"].wait(5)
    duplicate = _pay(client, headers, "k-3")
    app.config["PROBE_GATE"].set()
    worker.join(5)
    assert duplicate.status_code == 409 and duplicate.json["code"] == "idempotency_in_flight"
    assert results["first"].status_code == 201
    app.config["PROBE_GATE"] = None
    assert _pay(client, headers, "k-3").headers["Idempotent-Replayed"] == "true"


def test_a_crash_releases_the_key(client, auth, app):
    """A request that crashed is not stored, so the same key can be retried."""
    headers, _ = auth.merchant()
    boom = PAYMENT | {"reference": "boom"}
    assert _pay(client, headers, "k-4", boom).status_code == 500
    assert _pay(client, headers, "k-4", boom).status_code == 500
    assert len(app.config["PROBE_CALLS"]) == 2


def test_pagination_walks_every_item_once(client, auth):
    """Pages of 2 over 5 keys give every key once, newest first, then a null next_cursor."""
    headers, merchant_id = auth.merchant()
    created = [
        auth.api_key(headers, merchant_id, ["invoices:read"]).split(".")[0].removeprefix("cp_") for _ in range(5)
    ]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/merchants/{merchant_id}/api-keys", query_string=query, headers=headers).json
        seen += [k["id"] for k in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created)) and pages == 3  # newest first


def test_pagination_refuses_bad_limits_and_cursors(client, auth):
    """A limit above the maximum or a cursor no listing could have issued is a 422 naming the parameter."""
    headers, merchant_id = auth.merchant()
    path = f"/v1/merchants/{merchant_id}/api-keys"
    too_big = client.get(path, query_string={"limit": 5000}, headers=headers)
    forged = client.get(path, query_string={"cursor": "x" * 65}, headers=headers)
    assert too_big.status_code == forged.status_code == 422
    assert too_big.json["errors"][0]["field"] == "limit" and forged.json["errors"][0]["field"] == "cursor"


def test_rate_limit_gives_429_with_retry_after(services, clock):
    """Past the per-principal, per-route limit a 429 problem with Retry-After comes back, until the window ends."""
    app = make_app(services, rate_limit=3, auth_rate_limit=50)
    client = app.test_client()
    headers = AuthActions(app, client).user("merchant")
    statuses = [client.get("/v1/me", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/v1/me", headers=headers)
    assert limited.json["code"] == "rate_limited" and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert client.get("/v1/merchants", headers=headers).status_code == 200  # another route has its own budget
    clock.advance(seconds=61)
    assert client.get("/v1/me", headers=headers).status_code == 200


def test_login_attempts_are_rate_limited_per_client(services):
    """Password guessing from one address is cut off by the auth limit."""
    app = make_app(services, auth_rate_limit=2)
    client = app.test_client()
    body = {"email": "x@example.co.ke", "password": "wrong password!"}
    assert [client.post("/v1/auth/login", json=body).status_code for _ in range(3)] == [401, 401, 429]


def _assert_problem(response, status):
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(body)
    assert body["status"] == status
    return body


def test_problem_shapes_for_http_errors(client, auth):
    """400, 401, 403, 404, 405, 409, 415 and 422 are all RFC 9457 problems."""
    headers = auth.user("personal")
    _assert_problem(client.post("/v1/auth/login", data="{nope", content_type="application/json"), 400)
    _assert_problem(client.get("/v1/me"), 401)
    _assert_problem(client.post("/v1/merchants", json={}, headers=headers), 403)
    assert _assert_problem(client.get("/v1/nowhere"), 404)["type"] == "urn:cryptopay:problem:not_found"
    not_allowed = client.delete("/v1/me")
    _assert_problem(not_allowed, 405)
    assert "GET" in not_allowed.headers["Allow"]
    owner, _ = auth.merchant()  # a second merchant of one user (registering a known email is a 202, review G3)
    _assert_problem(
        client.post("/v1/merchants", json={"business_name": "Again", "settlement": SETTLEMENT}, headers=owner), 409
    )
    _assert_problem(
        client.post("/v1/auth/login", data="email=a", content_type="application/x-www-form-urlencoded"), 415
    )
    body = _assert_problem(client.post("/v1/auth/login", json={"email": "a@b.co"}), 422)
    assert body["errors"] == [{"field": "password", "detail": "is required"}]
    assert _assert_problem(client.post("/v1/auth/login", json=[1]), 422)["errors"][0]["field"] == "body"


def test_json_in_another_charset_is_a_415_and_utf8_or_none_is_read(client):
    """Review F4: JSON declared in a charset other than UTF-8 would be misread, so it is a 415 problem; charset=utf-8
    (any case) or no charset is read."""
    body = b'{"email": "a@b.co"}'
    for charset in ("latin-1", "utf-16", "iso-8859-1"):
        refused = client.post("/v1/auth/login", data=body, content_type=f"application/json; charset={charset}")
        assert "UTF-8" in _assert_problem(refused, 415)["detail"]
    for content_type in ("application/json", "application/json; charset=utf-8", "application/json; charset=UTF8"):
        read = client.post("/v1/auth/login", data=body, content_type=content_type)
        assert _assert_problem(read, 422)["errors"] == [{"field": "password", "detail": "is required"}]


def test_unknown_or_repeated_query_parameters_are_a_422_naming_them(client, auth):
    """Review H1: ``?state=settled`` on a list without that filter answered the whole list, and ``limit=1&limit=500``
    took the first; both are a 422 problem naming the parameter, and the declared ones still work."""
    owner, merchant_id = auth.merchant()
    keys = f"/v1/merchants/{merchant_id}/api-keys"
    unknown = _assert_problem(client.get(f"{keys}?state=settled", headers=owner), 422)
    assert unknown["errors"] == [
        {"field": "state", "detail": "is not a query parameter of this operation (it takes: cursor, limit)"}
    ]
    repeated = _assert_problem(client.get(f"{keys}?limit=1&limit=500", headers=owner), 422)
    assert repeated["errors"] == [{"field": "limit", "detail": "is given more than once: give it once"}]
    none = _assert_problem(client.get("/v1/me?x=1", headers=auth.user("personal")), 422)
    assert none["errors"][0]["field"] == "x" and "(it takes: none)" in none["errors"][0]["detail"]
    assert client.get(f"{keys}?limit=1", headers=owner).status_code == 200


def test_every_documented_operation_refuses_an_undeclared_query_parameter(client, auth):
    """The class of H1: the check runs before every documented operation's view, whatever its method and whether
    it declares query parameters, so nothing changes (a write with a stray parameter makes nothing)."""
    owner, merchant_id = auth.merchant()
    keys = f"/v1/merchants/{merchant_id}/api-keys"
    body = {"name": "till", "scopes": ["invoices:read"]}
    made = client.post(f"{keys}?scope=all", json=body, headers=auth.stepped_up(owner))
    assert _assert_problem(made, 422)["errors"][0]["field"] == "scope"
    assert client.get(keys, headers=owner).json["data"] == []
    gone = client.delete(f"{keys}/key_01J0000000000000000000000?force=1", headers=auth.stepped_up(owner))
    assert _assert_problem(gone, 422)["errors"][0]["field"] == "force"


_PATH_SAMPLES = {"month": "2026-01", "^pl_[A-Za-z0-9_-]{22}$": "pl_" + "A" * 22}  # the two patterned path parameters


def _operations(document):
    """Every operation of the document as (path with its parameters filled in to route, method, operation)."""
    for template, operations in document["paths"].items():
        for method, op in operations.items():
            path = template
            for param in op.get("parameters", ()):
                if param["in"] == "path":
                    known = _PATH_SAMPLES.get(param["name"]) or _PATH_SAMPLES.get(param["schema"].get("pattern"))
                    sample = known or f"{param['name'][:3]}_01J0000000000000000000000"
                    path = path.replace("{" + param["name"] + "}", sample)
            yield path, method, op


def test_who_is_asking_comes_before_the_query_check_on_every_operation(client, auth):
    """An anonymous request with a stray query parameter gets each protected operation's 401 (the scrape-token
    metrics: its 404, as if absent), never a 422 naming the parameters it takes; a public operation still answers the
    422 naming it. A caller of the wrong role gets the 403 first; the right caller, the 422."""
    document = client.get("/openapi.json").json
    protected, public = [], []
    for path, method, op in _operations(document):
        answer = client.open(f"{path}?zz_probe=1", method=method.upper())
        if op["security"]:
            assert answer.status_code == 401, (method, path, answer.status_code, answer.get_data(as_text=True))
            protected.append(path)
        elif path == "/metrics":
            assert answer.status_code == 404, answer.get_data(as_text=True)
        else:
            assert answer.status_code == 422, (method, path, answer.status_code, answer.get_data(as_text=True))
            assert [e["field"] for e in answer.json["errors"]] == ["zz_probe"], (method, path)
            public.append(path)
    assert len(protected) > 100 and {"/v1/auth/login", "/v1/wallet/remittances"} <= set(public), (protected, public)
    invisible = "zz%E2%80%8Bprobe=1"  # a zero-width space in the name: the text rules, checked after the caller too
    assert client.get(f"/v1/wallet/bills?{invisible}").status_code == 401
    assert _assert_problem(client.post(f"/v1/auth/login?{invisible}", json={}), 422)["errors"][0]["field"].startswith(
        "query."
    )
    personal = auth.user("personal")
    assert client.get("/v1/admin/reconciliation?zz_probe=1", headers=personal).status_code == 403
    text = _assert_problem(client.get(f"/v1/wallet/bills?{invisible}", headers=personal), 422)
    assert text["errors"][0]["field"].startswith("query.")
    refused = _assert_problem(client.get("/v1/wallet/bills?zz_probe=1", headers=personal), 422)
    assert refused["errors"][0]["field"] == "zz_probe"


def test_a_cursor_this_list_did_not_give_is_a_422_on_cursor(client, auth):
    """Review H2: any text was used as a key-set bound (``cursor=x`` gave the whole list, a made-up one an empty
    page). A cursor not in the form of an id is a 422 on ``cursor``; a real next_cursor pages on."""
    owner, merchant_id = auth.merchant()
    keys = f"/v1/merchants/{merchant_id}/api-keys"
    for label in ("one", "two", "three"):
        body = {"name": label, "scopes": ["invoices:read"]}
        assert client.post(keys, json=body, headers=auth.stepped_up(owner)).status_code == 201
    first = client.get(f"{keys}?limit=2", headers=owner).json
    cursor = first["next_cursor"]
    following = client.get(f"{keys}?limit=2&cursor={cursor}", headers=owner)
    assert following.status_code == 200 and len(following.json["data"]) == 1
    assert following.json["next_cursor"] is None
    another_kind = ["inv" + cursor[3:], "po" + cursor[3:], "keys" + cursor[3:], "whe" + cursor[3:]]
    for bad in ("x", "eyJpZCI6Inp6enoifQ==", cursor.upper(), cursor.replace("_", " "), cursor + "'", "_" + cursor):
        refused = _assert_problem(client.get(f"{keys}?cursor={bad}", headers=owner), 422)
        assert [e["field"] for e in refused["errors"]] == ["cursor"], bad
    for bad in another_kind:
        refused = _assert_problem(client.get(f"{keys}?cursor={bad}", headers=owner), 422)
        assert [e["field"] for e in refused["errors"]] == ["cursor"], bad


def _cursor_lists(document):
    """The list operations with a ``cursor`` query parameter: path -> its published cursor schema."""
    found = {}
    for path, operations in document["paths"].items():
        for param in operations.get("get", {}).get("parameters", ()):
            if param["name"] == "cursor" and param["in"] == "query":
                found[path] = param["schema"]
    return found


def test_each_list_publishes_and_enforces_its_own_cursor_kind(client, auth):
    """Review H2 (rest): a cursor of another list's kind (``po_...`` on ``/v1/invoices``) was used as a key-set
    bound. Each list declares its id prefix once (``@paginated("inv")``): its published cursor pattern carries it and a
    cursor of another kind is a 422 on ``cursor`` on every list; a cursor of the list's kind pages normally."""
    document = client.get("/openapi.json").json
    lists = _cursor_lists(document)
    prefixes = {path: schema["pattern"].removeprefix("^").partition("_")[0] for path, schema in lists.items()}
    assert prefixes["/v1/invoices"] == "inv" and prefixes["/v1/payouts"] == "po"
    generic = {p for p, s in lists.items() if not re.fullmatch(r"\^[a-z]{2,12}_\[0-9A-Z\]\{1,40\}\$", s["pattern"])}
    assert generic == {"/v1/wallet/history"}, generic  # the history's cursor is a ledger line's, paged by Link
    owner, merchant_id = auth.merchant()
    person = auth.user()
    made_up = "_01J0000000000000000000000"
    refused_on = []
    for template, prefix in prefixes.items():
        if template == "/v1/wallet/history" or template.startswith("/v1/admin/"):
            continue  # the history pages by Link; the admin lists are for officers
        path = template.replace("{merchant_id}", merchant_id).replace("{invoice_id}", "inv" + made_up)
        headers = person if path.startswith("/v1/wallet/") else owner
        other = "inv" if prefix == "po" else "po"
        refused = _assert_problem(client.get(f"{path}?cursor={other}{made_up}", headers=headers), 422)
        assert [e["field"] for e in refused["errors"]] == ["cursor"], path
        refused_on.append(template)
    assert len(refused_on) >= 10, refused_on
    for path, right in (("/v1/merchants", "mer"), (f"/v1/merchants/{merchant_id}/api-keys", "key")):
        answered = client.get(f"{path}?cursor={right}{made_up}", headers=owner)
        assert answered.status_code == 200 and answered.json["next_cursor"] is None, (path, answered.json)


def test_published_cursor_pattern_is_the_runtime_rule(client, auth):
    """The pattern /openapi.json publishes for a list's cursor is what the list takes: text generated from it is
    answered (200), text generated from another list's pattern is a 422 on ``cursor`` (one declaration, no drift)."""
    lists = _cursor_lists(client.get("/openapi.json").json)
    owner, merchant_id = auth.merchant()
    readable = {"/v1/merchants": owner, f"/v1/merchants/{merchant_id}/api-keys": owner}
    patterns = {p: lists[p.replace(merchant_id, "{merchant_id}")]["pattern"] for p in readable}
    assert len(set(patterns.values())) == len(patterns)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.data())
    def check(data):
        path = data.draw(st.sampled_from(sorted(readable)))
        own = data.draw(st.from_regex(patterns[path], fullmatch=True))
        assert client.get(path, query_string={"cursor": own}, headers=readable[path]).status_code == 200, own
        other = data.draw(st.sampled_from(sorted(set(patterns.values()) - {patterns[path]})))
        foreign = data.draw(st.from_regex(other, fullmatch=True))
        assert not re.search(patterns[path], foreign)
        refused = client.get(path, query_string={"cursor": foreign}, headers=readable[path])
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "cursor", foreign

    check()


def test_json_in_utf16_or_utf32_or_content_encoded_is_a_415(client):
    """Review H3: json.loads of bytes would detect UTF-16/32 from the BOM or NULs and read it, and a compressed body
    would be read as if plain: both are a 415 problem; a UTF-8 BOM and ``Content-Encoding: identity`` are read."""
    text = '{"email": "a@b.co"}'
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"):
        refused = client.post("/v1/auth/login", data=text.encode(encoding), content_type="application/json")
        assert "UTF-8" in _assert_problem(refused, 415)["detail"], encoding
    for coding in ("gzip", "br", "deflate, identity", "x-custom"):
        refused = client.post(
            "/v1/auth/login", data=text, content_type="application/json", headers={"Content-Encoding": coding}
        )
        assert "Content-Encoding" in _assert_problem(refused, 415)["detail"], coding
    for raw, headers in ((text.encode("utf-8-sig"), {}), (text.encode(), {"Content-Encoding": "identity"})):
        read = client.post("/v1/auth/login", data=raw, content_type="application/json", headers=headers)
        assert _assert_problem(read, 422)["errors"] == [{"field": "password", "detail": "is required"}]


def test_crashes_are_a_bare_500_without_internals(client, caplog):
    """An unexpected exception is a 500 problem with an error id; its message stays in the server log."""
    response = client.get("/v1/probe/crash")
    body = _assert_problem(response, 500)
    text = response.get_data(as_text=True)
    assert "leaking" not in text and "Traceback" not in text and body["error_id"]
    assert body["error_id"] in caplog.text
    assert TOKEN_SECRET not in caplog.text and "hunter2" not in caplog.text and "<redacted>" in caplog.text


def test_healthz_and_readyz(services):
    """/healthz is always up; /readyz reports each injected check and is 503 when one fails, without its reason."""

    down = [True]

    def queue() -> None:
        if down:
            raise ConnectionError("postgresql://admin:pw@db/cryptopay refused")

    checks = {"database": lambda: None, "queue": queue}
    client = make_app(attrs.evolve(services, readiness_checks=checks)).test_client()
    assert client.get("/healthz").json == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"] == {"database": "ok", "queue": "failed"}
    assert "pw@db" not in ready.get_data(as_text=True)
    down.clear()
    assert client.get("/readyz").json == {"status": "ok", "checks": {"database": "ok", "queue": "ok"}}


def test_metrics_count_requests_by_route_and_status(services):
    """/metrics exposes request counters and latency histograms labelled by route template and status."""
    client = make_app(services, metrics_token="scrape-token").test_client()
    client.get("/healthz")
    client.get("/v1/merchants/mer_1")
    text = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).get_data(as_text=True)
    assert 'cryptopay_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="/v1/merchants/<merchant_id>",status="401"' in text
    assert 'cryptopay_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"}' in text


def test_openapi_document_is_3_1_and_covers_every_route(app, client):
    """/openapi.json is OpenAPI 3.1 and documents every public route and method with a resolvable schema."""
    document = client.get("/openapi.json").json
    assert document["openapi"] == "3.1.0" and document["info"]["title"]
    schemas = document["components"]["schemas"]
    for rule in app.url_map.iter_rules():
        if "internal" in getattr(app.view_functions[rule.endpoint], "__openapi__", {}).get("tags", ()):
            continue  # M-Pesa's callbacks are not part of the public API
        if rule.endpoint.partition(".")[0] in PAGE_BLUEPRINTS:
            continue  # the web pages are HTML, not the REST API
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = document["paths"][path][method.lower()]
            assert op["summary"] and op["responses"], (path, method)
    text = client.get("/openapi.json").get_data(as_text=True)
    for ref in {part.split('"')[0] for part in text.split('"$ref":"#/components/schemas/')[1:]}:
        assert ref in schemas
    login = document["paths"]["/v1/auth/login"]["post"]
    assert login["security"] == [] and "422" in login["responses"]
    payments = document["paths"]["/v1/probe/payments"]["post"]
    assert {"accessToken": []} in payments["security"] and {"apiKey": ["invoices:write"]} in payments["security"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in payments["parameters"])
    listing = document["paths"]["/v1/merchants/{merchant_id}/api-keys"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"merchant_id", "limit", "cursor"}
    assert schemas["Money"]["properties"]["amount"]["type"] == "string"


def test_docs_page_lists_the_operations_without_external_assets(client):
    """/docs is a self-contained HTML page listing every operation, with the request examples of the document
    (escaped: an example's URL is text, never a link or an asset)."""
    response = client.get("/docs")
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "/v1/auth/login" in page and "/v1/merchants/{merchant_id}/api-keys" in page
    assert "<script" not in page and not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?:""", page)
    assert "{&quot;email&quot;: &quot;duka@example.co.ke&quot;" in page  # the login's example body


def test_no_response_or_log_leaks_passwords_or_secrets(app, client, auth, caplog):
    """Across a full session no response or log line contains the password or the token-signing secret, and an API
    key secret appears only in the one response that creates it."""
    from tests.integration.http.http_support import PASSWORD, TOKEN_SECRET

    caplog.set_level("DEBUG")
    seen: list[str] = []

    def call(method, path, **kwargs):
        response = getattr(client, method)(path, **kwargs)
        seen.append(response.get_data(as_text=True) + str(response.headers))
        return response

    headers, merchant_id = auth.merchant()
    created = call(
        "post",
        f"/v1/merchants/{merchant_id}/api-keys",
        json={"name": "k", "scopes": ["invoices:write"]},
        headers=auth.stepped_up(headers),
    )
    secret = created.json["secret"].split(".", 1)[1]
    key = bearer(created.json["secret"])
    call("get", f"/v1/merchants/{merchant_id}/api-keys", headers=headers)
    call("get", "/v1/me", headers=key)
    call("post", "/v1/probe/payments", json=PAYMENT, headers={**key, "Idempotency-Key": "z"})
    call("post", "/v1/auth/login", json={"email": "nobody@example.co.ke", "password": PASSWORD})
    call("post", "/v1/auth/register", json={"email": "bad", "password": PASSWORD})
    call("get", "/v1/probe/crash")
    call("get", "/openapi.json")
    logs = caplog.text + repr(app.extensions["cryptopay"])
    assert PASSWORD not in logs and TOKEN_SECRET not in logs and secret not in logs
    assert all(PASSWORD not in text and TOKEN_SECRET not in text for text in seen)
    assert [secret in text for text in seen] == [True] + [False] * (len(seen) - 1)


def test_metrics_also_serve_the_workers_fresh_text_files(services, tmp_path):
    """A single host scraping only the API sees the worker's treasury gauges (labelled by file), read at each scrape;
    a stale file's figures are left out; without the token /metrics is still a 404."""
    import os
    import time

    from cryptopay.adapters.metrics import PrometheusMetrics

    settings = attrs.evolve(services.settings, data_dir=tmp_path)
    client = make_app(attrs.evolve(services, settings=settings), metrics_token="s" * 32).test_client()
    scrape = {"Authorization": "Bearer " + "s" * 32}
    assert "textfile=" not in client.get("/metrics", headers=scrape).get_data(as_text=True)
    treasury = PrometheusMetrics(textfile=settings.metrics_dir / "treasury.prom")
    treasury.gauge("cryptopay_float_available_kes", 812000, about="KES the float can pay now")
    text = client.get("/metrics", headers=scrape).get_data(as_text=True)
    assert 'cryptopay_float_available_kes{textfile="treasury.prom"} 812000' in text
    assert "cryptopay_http_requests_total" in text  # the process's own metrics are still there
    treasury.gauge("cryptopay_float_available_kes", 640000, about="KES the float can pay now")
    assert "640000" in client.get("/metrics", headers=scrape).get_data(as_text=True)  # read on scrape
    hours_ago = time.time() - 2 * 3600
    os.utime(settings.metrics_dir / "treasury.prom", (hours_ago, hours_ago))
    stale = client.get("/metrics", headers=scrape).get_data(as_text=True)
    assert "cryptopay_float_available_kes" not in stale
    assert 'cryptopay_textfile_age_seconds{textfile="treasury.prom"}' in stale
    assert client.get("/metrics").status_code == 404


def test_the_schema_refuses_what_the_server_refuses(client, auth):
    """Three values a fuzzer found schema-valid yet refused (422) now break the documented schema too: a director's
    0000-00-00 (a calendar date, as the applicant's), an empty refund address, an invitation email with a control
    character (the registration form's pattern); the server still refuses each with a specific 422."""
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    director = next(s for name, s in schemas.items() if name.startswith("DirectorRequest"))
    assert director["properties"]["date_of_birth"] == {"type": "string", "format": "date"}
    remittance = next(s for name, s in schemas.items() if name.startswith("RemittanceRequest"))
    assert remittance["properties"]["refund_address"]["minLength"] == 1
    invitation = next(s for name, s in schemas.items() if "Invitation" in name and "email" in s.get("properties", {}))
    pattern = re.compile(invitation["properties"]["email"]["pattern"])
    assert pattern.match("ops@duka.co.ke") and not pattern.match("ops\x07@duka.co.ke")
    headers, _ = auth.merchant()
    refused = client.post(
        "/v1/merchants/me/invitations", json={"email": "ops\x07@duka.co.ke", "role": "staff"}, headers=headers
    )
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "email"
