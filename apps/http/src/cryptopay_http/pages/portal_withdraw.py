"""The portal's withdraw page ``/app/withdraw``: crypto from the wallet to an address outside cryptopay.

Three steps, each a form that posts and shows the next (POST/redirect/GET at the end), working without JavaScript:
``GET /app/withdraw`` asks for the network, the asset, the address and the amount; ``POST /app/withdraw/check``
checks the address for its network and shows our fee, the total taken from the wallet, the network fee estimate,
the cool-off of a first-time address and (at or above the Travel Rule's threshold) the box to tick that the address
is the user's own wallet, with the one-time code (or the password without two-factor) that confirms it;
``POST /app/withdraw`` steps up with that code (``session.step_up_from_form``: money leaves), withdraws through
``Services.withdrawals`` (a fresh idempotency key per rendered form: a double press withdraws once) and redirects to
``/app/withdraw/<id>``, the withdrawal's state (a fee above the one the check showed is refused: ``fee_changed``,
check again; a confirmation without the fee it showed is ``fee_not_shown``, back to the first form). A refusal (a bad
address, a limit by its name, a sanctioned address, a wrong code) is shown on the form it came from with what was
typed.
"""

from __future__ import annotations

from typing import Any

from cryptopay.core.errors import CryptopayError, InvalidInput
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.wallets.withdrawal_model import WITHDRAWABLE
from flask import Response, g, request

from cryptopay_http.idempotency import idempotent_form, new_form_key
from cryptopay_http.pages.portal import _amount, _refusal, _shown_fee, _user_id, bp
from cryptopay_http.pages.session import step_up_from_form
from cryptopay_http.pages.web import page, redirect
from cryptopay_http.runtime import runtime

__all__ = ["NETWORKS"]

NETWORKS = ("ethereum", "polygon", "bsc", "tron", "bitcoin")
_ASSETS = [a.code for a in WITHDRAWABLE]
_FIELDS = ("network", "asset", "address", "amount")


def _form() -> dict[str, str]:
    return {k: request.form.get(k, "").strip() for k in _FIELDS}


def _money(form: dict[str, str]) -> Money:
    if form["asset"] not in _ASSETS:
        raise InvalidInput("withdraw " + " or ".join(_ASSETS), field="asset")
    if form["network"] not in NETWORKS:
        raise InvalidInput("choose a network", field="network")
    asset = asset_by_code(form["asset"])
    value = _amount(form["amount"])
    if value != value.quantize(asset.quantum):
        raise InvalidInput(f"{asset.code} has at most {asset.decimals} decimal places", field="amount")
    return Money.of(value, asset)


def _show(status: int = 200, **context: Any) -> Response:
    return page("portal/withdraw.html", status, nav="withdraw", networks=NETWORKS, assets=_ASSETS, **context)


@bp.get("/withdraw")
def withdraw_form() -> Response:
    return _show(form={"network": "tron", "asset": "USDT"})


@bp.post("/withdraw/check")
def withdraw_check() -> Response:
    """Check the address and show the fees and the cool-off; the confirmation form follows."""
    form = _form()
    try:
        quote = runtime().services.withdrawals.quote(_user_id(), form["network"], form["address"], _money(form))
    except CryptopayError as error:
        return _show(error.http_status, form=form, **_refusal(error))
    return _show(form=form | {"address": quote.address}, quote=quote, key=new_form_key())


@bp.post("/withdraw")
def withdraw() -> Response:
    form = _form()
    try:
        step_up_from_form(g.principal)
        return _withdraw(form, self_hosted=request.form.get("self_hosted") == "yes")
    except CryptopayError as error:
        return _show(error.http_status, form=form, **_refusal(error))


@idempotent_form
def _withdraw(form: dict[str, str], *, self_hosted: bool) -> Response:
    amount = _money(form)
    max_fee = _shown_fee("max_fee", amount.asset)  # the fee the check showed: a higher one now is refused
    withdrawal = runtime().services.withdrawals.request(
        _user_id(), form["network"], form["address"], amount, self_hosted=self_hosted, max_fee=max_fee
    )
    return redirect(f"/app/withdraw/{withdrawal.id}", 303)


@bp.get("/withdraw/<withdrawal_id>")
def withdrawal_page(withdrawal_id: str) -> Response:
    found = runtime().services.withdrawals.get(_user_id(), withdrawal_id)
    return page("portal/withdrawal.html", nav="withdraw", withdrawal=found)
