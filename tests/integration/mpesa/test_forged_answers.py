"""The outside review's forged Daraja answers, against SQLite and the Daraja sandbox over HTTP: refused, kept, audited.

A forged payout failure with blank ids on a real result token once failed a paid payout, restored the merchant's
balance and let a retry pay twice; it now fails nothing, is kept, and Transaction Status decides.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.core import flows
from cryptopay.core.errors import Refused
from cryptopay.core.money import KES
from cryptopay.core.payouts import PayoutState
from cryptopay.sandbox.certs import SandboxCertificate, make_test_certificate

from tests.integration.mpesa.test_payout_fault_windows import LOST_PHONE, planned
from tests.support.real_payments_stack import RealPaymentsStack

FORGED_FAILURE = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 2001,
        "ResultDesc": "x",
        "OriginatorConversationID": "",
        "ConversationID": "",
        "TransactionID": "OAK0000000",
    }
}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[SandboxCertificate, Path]:
    pair = make_test_certificate()
    path = tmp_path_factory.mktemp("forged-mpesa") / "daraja_cert.pem"
    path.write_bytes(pair.certificate_pem)
    return pair, path


def test_a_forged_failure_on_a_paid_payout_fails_nothing_and_cannot_lead_to_a_second_payment(
    tmp_path: Path, certificate: tuple[SandboxCertificate, Path]
) -> None:
    """The reviewer's reproduction: the sandbox paid (its result lost); a blank-id 2001 on the real result token
    leaves the hold, a retry is refused, Transaction Status completes it, and one B2C was ever sent."""
    database_url = f"sqlite:///{tmp_path / 'cryptopay.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with RealPaymentsStack.running(engine, *certificate) as stack:
        payout = planned(stack, LOST_PHONE)
        stack.payouts.submit_payouts()
        stack.deliver_callbacks()
        result_url = stack.mpesa.transaction(payout.originator_id or "").result_url or ""
        liability = flows.merchant_liability("m1", KES)
        held = stack.ledger.balance(liability).available
        forged = stack.deliver(result_url, FORGED_FAILURE)
        assert forged is not None and forged.state is PayoutState.UNKNOWN
        assert stack.ledger.balance(liability).available == held
        with pytest.raises(Refused):
            stack.payouts.retry_failed_payout(payout.id, actor="ops:mallory")
        assert "carries none of the request's ids" in (forged.note or "")
        stack.payouts.query_stale_payouts()
        stack.deliver_callbacks()
        done = stack.payouts.get_payout(payout.id)
        sent = [t for t in stack.mpesa.transactions() if t.product == "b2c"]
        assert done.state is PayoutState.COMPLETED and len(sent) == 1 and stack.books_balanced()
    engine.dispose()
