"""Two-factor authentication (TOTP + recovery codes), staff enrolment, and password reset by an emailed link."""

from __future__ import annotations

import re

from cryptopay.core.testing.identity import StdlibTotp

from tests.integration.http.http_support import PASSWORD, bearer


def _code(services, secret: str, *, offset: int = 0) -> str:
    return StdlibTotp().code_at(secret, int(services.clock.now().timestamp()) + offset)


def test_login_needs_the_second_factor_once_enrolled_and_codes_work_once(client, auth, services, clock):
    """With 2FA on, a login without a code is refused; a TOTP code and a recovery code each work exactly once."""
    auth.register("twofa@example.co.ke")
    headers = bearer(auth.login("twofa@example.co.ke")["access_token"])
    assert client.post("/v1/auth/2fa/enrol", headers=headers).status_code == 403  # needs a step-up
    secret = client.post("/v1/auth/2fa/enrol", headers=auth.stepped_up(headers)).json["secret"]
    codes = client.post("/v1/auth/2fa/confirm", json={"code": _code(services, secret)}, headers=headers).json
    assert len(codes["recovery_codes"]) == 10
    assert client.get("/v1/me", headers=headers).status_code == 401  # enrolling ended the older sessions
    body = {"email": "twofa@example.co.ke", "password": PASSWORD}
    missing = client.post("/v1/auth/login", json=body)
    assert missing.status_code == 401 and missing.json["type"].endswith("two_factor_required")
    clock.advance(seconds=30)
    code = _code(services, secret)
    assert client.post("/v1/auth/login", json={**body, "code": code}).status_code == 200
    assert client.post("/v1/auth/login", json={**body, "code": code}).status_code == 401  # replayed
    recovery = codes["recovery_codes"][0]
    assert client.post("/v1/auth/login", json={**body, "code": recovery}).status_code == 200
    assert client.post("/v1/auth/login", json={**body, "code": recovery}).status_code == 401
    stored = services.users.by_email("twofa@example.co.ke")
    assert recovery not in str(stored.recovery_code_hashes) and len(stored.recovery_code_hashes) == 9
    actions = [r.action for r in services.audit.records()]
    assert {"auth.2fa_enrolled", "auth.recovery_code_used"} <= set(actions)


def test_an_admin_without_2fa_can_only_enrol(client, auth, app, services):
    """An admin's first login may do nothing but enrol a second factor; after enrolling it works as usual."""
    app.extensions["cryptopay"].accounts.register("boss@example.co.ke", PASSWORD, role=auth_role("admin"))
    session = auth.login("boss@example.co.ke")
    assert session["enrolment_required"] is True
    headers = bearer(session["access_token"])
    refused = client.get("/v1/merchants", headers=headers)
    assert refused.status_code == 403 and refused.json["type"].endswith("two_factor_enrolment_required")
    recovery = auth.enrol_totp(headers)
    admin = bearer(auth.login("boss@example.co.ke", code=recovery[0])["access_token"])
    assert client.get("/v1/merchants", headers=admin).status_code == 200
    assert client.delete("/v1/auth/2fa", headers=auth.stepped_up(admin, code=recovery[1])).status_code == 403


def test_with_2fa_enrolled_the_password_alone_cannot_step_up(client, auth, services, clock):
    """A thief holding the session and the password cannot step up to remove the second factor; a code can."""
    auth.register("owner@example.co.ke")
    headers = bearer(auth.login("owner@example.co.ke")["access_token"])
    secret = client.post("/v1/auth/2fa/enrol", headers=auth.stepped_up(headers)).json["secret"]
    client.post("/v1/auth/2fa/confirm", json={"code": _code(services, secret)}, headers=headers)
    clock.advance(seconds=30)
    body = {"email": "owner@example.co.ke", "password": PASSWORD, "code": _code(services, secret)}
    session = bearer(client.post("/v1/auth/login", json=body).json["access_token"])
    refused = client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=session)
    assert refused.status_code == 403 and refused.json["code"] == "step_up_required"
    assert client.delete("/v1/auth/2fa", headers=session).status_code == 403
    clock.advance(seconds=30)
    stepped = auth.stepped_up(session, code=_code(services, secret))
    assert client.delete("/v1/auth/2fa", headers=stepped).status_code == 204


def auth_role(name: str):
    from cryptopay.core.identity import Role

    return Role(name)


def test_a_password_reset_link_works_once_and_ends_every_session(client, auth, services):
    """The emailed link sets a new password once, ends open sessions; unknown emails get the same 202."""
    session = auth.login(auth.register("forgot@example.co.ke")["email"])
    assert client.post("/v1/auth/password-reset", json={"email": "forgot@example.co.ke"}).status_code == 202
    assert client.post("/v1/auth/password-reset", json={"email": "nobody@example.co.ke"}).status_code == 202
    mail = [m for m in services.notifier.sent if m.to == "forgot@example.co.ke"][-1]  # after the welcome email
    token = re.search(r"token=(\S+)", mail.body).group(1)
    new = {"token": token, "password": "a brand new passphrase"}
    assert client.post("/v1/auth/password-reset/confirm", json=new).status_code == 204
    assert client.get("/v1/me", headers=bearer(session["access_token"])).status_code == 401
    assert client.post("/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code == 401
    assert client.post("/v1/auth/password-reset/confirm", json={**new, "password": "x" * 20}).status_code == 401
    assert auth.login("forgot@example.co.ke", password="a brand new passphrase")["access_token"]
    assert {"auth.password_reset_requested", "auth.password_reset", "auth.sessions_ended"} <= {
        r.action for r in services.audit.records()
    }


def test_a_reset_request_does_the_same_work_for_a_customer_and_a_stranger(client, auth, services):
    """Known or unknown, a reset request sends one email to the address and writes one audit record in the request
    (review 3, I14: only customers cost an SMTP session, which timed who is one); only the customer's has a link."""
    auth.register("known@example.co.ke")

    def work(email: str) -> tuple[list, list]:
        mails, records = len(services.notifier.sent), len(services.audit.records())
        assert client.post("/v1/auth/password-reset", json={"email": email}).status_code == 202
        return services.notifier.sent[mails:], services.audit.records()[records:]

    (known_mail,), (known_record,) = work("Known@example.co.ke")  # the address as typed: looked up normalised
    (stranger_mail,), (stranger_record,) = work("stranger@example.co.ke")
    assert (known_mail.to, stranger_mail.to) == ("known@example.co.ke", "stranger@example.co.ke")
    assert "token=" in known_mail.body and "token=" not in stranger_mail.body and "has none" in stranger_mail.body
    assert (known_record.action, stranger_record.action) == (
        "auth.password_reset_requested",
        "auth.password_reset_of_no_account",
    )
    refused = client.post("/v1/auth/password-reset", json={"email": "not an address"})
    assert refused.status_code == 422 and len(services.notifier.sent) == 2 + 1  # welcome + the two above
