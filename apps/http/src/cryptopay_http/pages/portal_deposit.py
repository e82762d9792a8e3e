"""The portal's deposit page ``/app/deposit``: the user's address on one network, its QR code, a copy button.

Routes on the portal's blueprint (its login guard and CSRF apply). A network picker (links, so it works without
JavaScript) chooses the network; the page shows what is credited there (USDT, or BTC on Bitcoin), how long a deposit
waits, the minimum, a warning to send nothing else, the QR code of the bare address (every wallet's and exchange's
scanner reads it) inside the page as a data URI, the network's payment URI as an "open in wallet" link (the
checkout page's QR and deep links, reused), and the user's latest deposits with their state.

Example: ``GET /app/deposit?network=polygon``.
"""

from __future__ import annotations

from flask import Response, request

from cryptopay_http.pages.portal import _user_id, bp
from cryptopay_http.pages.web import page, qr_data_uri
from cryptopay_http.runtime import runtime

__all__ = ["PREFERRED"]

# The order people in Kenya use them: USDT on Tron first (cheapest), then the EVM chains, Bitcoin last.
PREFERRED = ("tron", "polygon", "bsc", "ethereum", "bitcoin")
_RECENT = 5


@bp.get("/deposit")
def deposit() -> Response:
    deposits, user_id = runtime().services.wallet_deposits, _user_id()
    found = sorted(deposits.addresses(user_id), key=lambda a: _rank(a.network))
    if not found:
        return page("portal/deposit.html", nav="deposit", addresses=[], chosen=None, qr=None, recent=[])
    wanted = (request.args.get("network") or "").strip().lower()
    chosen = next((a for a in found if a.network == wanted), found[0])
    recent = deposits.deposits(user_id, limit=_RECENT)
    context = {"addresses": found, "chosen": chosen, "qr": qr_data_uri(chosen.address), "recent": recent}
    return page("portal/deposit.html", nav="deposit", **context)


def _rank(network: str) -> int:
    return PREFERRED.index(network) if network in PREFERRED else len(PREFERRED)
