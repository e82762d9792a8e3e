"""The account settings both realms' pages offer (the portal's ``/app/settings``, the dashboard's
``/dashboard/settings``): two-step sign-in on or off and the password change, one set of handlers given the realm.

Each handler reads its form, calls the core (``TwoFactor``, ``change_password``) and answers with the realm's own
settings page, or ends the realm's page session where the core ended every login (a confirmed enrolment, a new
password). The realm's routes stay in its module (``dashboard_account``, ``portal_account``); the forms are
``account_settings.html``'s.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from cryptopay.core.errors import CryptopayError, InvalidInput
from flask import Response, g, request

from cryptopay_http.auth import limit_account, passed_account_check
from cryptopay_http.pages.session import Realm, end_page_session, step_up_from_form
from cryptopay_http.pages.web import qr_data_uri, redirect
from cryptopay_http.runtime import runtime

__all__ = ["AccountPages"]

Refusal = Callable[[CryptopayError], dict[str, str | None]]


def _user_id() -> str:
    found: str = g.principal.id
    return found


@attrs.frozen(kw_only=True)
class AccountPages:
    """One realm's settings handlers: its page session (``realm``), its paths' ``base`` (``/app``, ``/dashboard``),
    its settings page (``page(status, **context)``), what a refusal shows (``refused``; ``password_refused`` for the
    password form) and whether a passed check takes its hit back (``takes_back``: the dashboard's, as the API)."""

    realm: Realm
    base: str
    page: Callable[..., Response]
    refused: Refusal
    password_refused: Refusal
    takes_back: bool

    def enrol_two_factor(self) -> Response:
        """Step-up with the password, then the secret to add to an app: as text, a link and a QR code."""
        try:
            step_up_from_form(g.principal)
            enrolment = runtime().two_factor.begin(_user_id())
        except CryptopayError as error:
            return self.page(error.http_status, **self.refused(error))
        return self.page(secret=enrolment.secret, uri=enrolment.uri, qr=qr_data_uri(enrolment.uri))

    def confirm_two_factor(self) -> Response:
        """A first code turns it on: the recovery codes shown once, and this login ends (the next asks a code)."""
        limit_account(_user_id())
        try:
            codes = runtime().two_factor.confirm(_user_id(), request.form.get("code", "").strip())
        except CryptopayError as error:
            return self.page(error.http_status, **self.refused(error), confirming=True)
        self._passed()  # a right code: its hit is taken back (only failures fill the count)
        response = self.page(recovery_codes=codes)  # this login ended with the enrolment: the next asks for a code
        end_page_session(response, self.realm)
        return response

    def remove_two_factor(self) -> Response:
        """Step-up with a code, then it is off."""
        try:
            step_up_from_form(g.principal)
            runtime().two_factor.remove(_user_id())
        except CryptopayError as error:
            return self.page(error.http_status, **self.refused(error))
        return redirect(f"{self.base}/settings?done=2fa_off", 303)

    def change_password(self) -> Response:
        """The current password and the new one twice; every login ends, so this one signs in again."""
        limit_account(_user_id())
        new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
        try:
            if new != again:
                raise InvalidInput("the two new passwords differ", field="new_password_again")
            runtime().accounts.change_password(_user_id(), request.form.get("current_password", ""), new)
        except CryptopayError as error:
            return self.page(error.http_status, **self.password_refused(error))
        self._passed()  # the check passed: its hit is taken back, as POST /v1/auth/password does
        response = redirect(f"{self.base}/login?changed=1", 303)
        end_page_session(response, self.realm)
        return response

    def _passed(self) -> None:
        if self.takes_back:
            passed_account_check(_user_id())
