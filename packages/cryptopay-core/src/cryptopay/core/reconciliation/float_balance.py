"""Asking M-Pesa what the float holds (Account Balance) and keeping the answer next to what the books said then.

The request follows the payout rule: the query (with its callback token's digest) is recorded before Daraja is
called, so an answer that arrives at once is matched; each token is valid once. The answer arrives on a callback;
when it does, the books' float is read in the same moment and kept with it, so reconciliation compares M-Pesa's
balance with the books *at the time of the answer*, not with books that moved on since.

"""

from __future__ import annotations

import logging

import attrs
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import (
    AccountBalanceRequest,
    MpesaResult,
    callback_url,
    net_of_charges,
    new_callback_token,
    parse_account_balance,
    token_digest,
)
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.reconciliation import BalanceQueryStore
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.reconciliation.model import BalanceQuery

__all__ = ["CHARGES_ACCOUNT", "FLOAT_ACCOUNT", "BalanceUrls", "FloatBalance"]

FLOAT_ACCOUNT = "Utility Account"  # the M-Pesa account B2C and B2B payments are paid from
# Where M-Pesa takes its own charges (negative: what it took so far, as in Safaricom's sample answer). The books'
# float pays each charge (``flows.mpesa_charge_entry``), so it is compared with the two accounts together.
CHARGES_ACCOUNT = "Charges Paid Account"
log = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class BalanceUrls:
    """Where M-Pesa posts Account Balance answers; each request appends its own secret token."""

    result: str
    timeout: str


class FloatBalance:
    """Ask M-Pesa for the float's balance; keep each answer with the books' float at that moment."""

    def __init__(
        self,
        *,
        store: BalanceQueryStore,
        gateway: MobileMoneyGateway,
        ledger: Ledger,
        clock: Clock,
        ids: IdGenerator,
        urls: BalanceUrls,
    ) -> None:
        self._store, self._gateway, self._ledger = store, gateway, ledger
        self._clock, self._ids, self._urls = clock, ids, urls

    def ask(self, *, token: str | None = None) -> BalanceQuery:
        """Record a query, then send it; a refused send is kept on the query (``failure``), never raised."""
        token = token or new_callback_token()
        query = BalanceQuery(id=self._ids.new_id("bq"), token_digest=token_digest(token), asked_at=self._clock.now())
        self._store.add(query)  # before the request: an answer that comes at once finds it
        request = AccountBalanceRequest(
            result_url=callback_url(self._urls.result, token), timeout_url=callback_url(self._urls.timeout, token)
        )
        try:
            self._gateway.account_balance(request)
        except CryptopayError as error:
            # Only a refused send is written back: once sent, the answer may already have been kept (it is
            # matched by the token alone), and writing this copy back would erase it.
            current = self._store.by_token(query.token_digest)
            if current is not None and not current.is_answered:  # a lost answer may still have reached us
                current.failure = query.failure = error.message
                self._store.update(current)
            log.warning("the Account Balance request failed: %s", error.message)
        return query

    def answer(self, result: MpesaResult, *, token: str | None, timed_out: bool = False) -> BalanceQuery:
        """Keep an answer (or a queue timeout) with the books' float now; a token we did not issue is Forbidden."""
        query = self._store.by_token(token_digest(token)) if token else None
        if query is None:
            raise Forbidden("this callback's token does not belong to an Account Balance request of ours")
        if query.is_answered:
            return query  # a repeat: the first answer stands
        books = self._books_float()
        if timed_out or result.result_code != "0":
            query.answered(
                self._clock.now(), available=None, books=books, code=result.result_code, desc=result.result_desc
            )
        else:
            available = _utility(result)
            query.answered(self._clock.now(), available=available, books=books, code="0", desc=result.result_desc)
        self._store.update(query)
        return query

    def latest(self) -> BalanceQuery | None:
        """The latest answer with a balance, if any."""
        return self._store.latest_answered()

    def _books_float(self) -> Money:
        try:
            return self._ledger.balance(flows.FLOAT).posted
        except NotFound:
            return Money.zero(KES)


def _utility(result: MpesaResult) -> Money:
    """The float an Account Balance answer gives: the Utility Account net of the Charges Paid Account."""
    text = result.param("AccountBalance")
    balances = parse_account_balance(text or "")
    if FLOAT_ACCOUNT not in balances:
        raise InvalidInput(f"the Account Balance answer names no {FLOAT_ACCOUNT}", field="AccountBalance")
    return net_of_charges(balances[FLOAT_ACCOUNT], balances.get(CHARGES_ACCOUNT))
