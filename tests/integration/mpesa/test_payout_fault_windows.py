"""A worker killed (SIGKILL) at each recovery window of a payout: the payout still ends paid, exactly once.

The worker runs in its own process with ``CRYPTOPAY_FAULT_POINTS=<window>=kill``, over a SQLite file and the
Daraja sandbox over HTTP; this process then recovers as the scheduled jobs would (status queries after the
deadline, sending what was never received, applying the callbacks that arrived).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.core import faults
from cryptopay.core.money import USDT, Money
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.sandbox.certs import SandboxCertificate, make_test_certificate

from tests.support.real_payments_stack import RealPaymentsStack

OK_PHONE, LOST_PHONE = "254712345678", "254711000008"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[SandboxCertificate, Path]:
    pair = make_test_certificate()
    path = tmp_path_factory.mktemp("fault-mpesa") / "daraja_cert.pem"
    path.write_bytes(pair.certificate_pem)
    return pair, path


def planned(stack: RealPaymentsStack, phone: str) -> Payout:
    """An instant B2C merchant paid 100 USDT, settled into one planned payout."""
    stack.add_merchant(
        "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, phone)
    )
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    [run] = stack.settling.run_settlements()
    [payout] = run.payouts
    return payout


def killed_worker(stack: RealPaymentsStack, database_url: str, cert_path: Path, run: str, window: str) -> None:
    """Run ``submit`` or ``query`` in a worker process that SIGKILLs itself at ``window``."""
    job = {
        "now": stack.clock.now().isoformat(),
        "database_url": database_url,
        "daraja": {**stack.sandbox.client_settings(), "certificate_path": str(cert_path), "timeout_seconds": 5.0},
        "urls": attrs.asdict(stack.urls),
        "run": run,
    }
    env = {**os.environ, "CRYPTOPAY_FAULT_POINTS": f"{window}=kill"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.fault_worker", json.dumps(job)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=180,  # a bound, not a timing: the worker dies within seconds
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


def recover(stack: RealPaymentsStack, payout_id: str) -> Payout:
    """What the scheduled jobs do, a few rounds: status queries past the deadline, sends, callbacks."""
    for _ in range(4):
        stack.deliver_callbacks()
        found = stack.payouts.get_payout(payout_id)
        if found.is_final:
            return found
        stack.clock.advance(minutes=2)
        stack.payouts.query_stale_payouts()
        stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    return stack.payouts.get_payout(payout_id)


@pytest.mark.parametrize(
    ("window", "phone", "run"),
    [
        (faults.PAYOUT_SUBMITTED, OK_PHONE, "submit"),
        (faults.PAYOUT_SENT, OK_PHONE, "submit"),
        (faults.PAYOUT_ACKNOWLEDGED, OK_PHONE, "submit"),
        (faults.STATUS_RECORDED, LOST_PHONE, "query"),
        (faults.STATUS_ASKED, LOST_PHONE, "query"),
    ],
)
def test_a_worker_killed_at_a_recovery_window_leaves_a_payout_that_ends_paid_once(
    window: str, phone: str, run: str, tmp_path: Path, certificate: tuple[SandboxCertificate, Path]
) -> None:
    """Killed at the window, the payout is recovered to completed with one B2C at M-Pesa and balanced books."""
    database_url = f"sqlite:///{tmp_path / 'cryptopay.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with RealPaymentsStack.running(engine, *certificate) as stack:
        payout = planned(stack, phone)
        if run == "query":  # sent here; its result is lost, so the killed worker is the one asking
            stack.payouts.submit_payouts()
            stack.deliver_callbacks()
            stack.clock.advance(minutes=2)
        killed_worker(stack, database_url, certificate[1], run, window)
        done = recover(stack, payout.id)
        sent = [t for t in stack.mpesa.transactions() if t.product == "b2c" and t.reference == payout.originator_id]
        assert done.state is PayoutState.COMPLETED and len(sent) == 1 and sent[0].state == "succeeded"
        assert stack.books_balanced()
    engine.dispose()


def test_a_status_answer_posted_before_the_sandbox_replies_still_completes_the_payout(
    tmp_path: Path, certificate: tuple[SandboxCertificate, Path]
) -> None:
    """The result callback is lost and the sandbox posts the status answer before replying: the payout ends paid."""
    database_url = f"sqlite:///{tmp_path / 'cryptopay.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with RealPaymentsStack.running(engine, *certificate) as stack:
        handled: list[str] = []

        def handle_at_once(path: str, payload: object) -> dict[str, object]:
            # the hooks' work, done while the sandbox still holds the status request open
            done = stack.deliver(stack.sink.url_for(path), payload)
            handled.append(done.state.value if done else "none")
            return {"ResultCode": 0, "ResultDesc": "Accepted"}

        payout = planned(stack, LOST_PHONE)
        stack.payouts.submit_payouts()
        stack.deliver_callbacks()
        stack.sandbox.config = attrs.evolve(stack.sandbox.config, answers_first=True)
        stack.sink.reply = handle_at_once
        stack.clock.advance(minutes=2)
        stack.payouts.query_stale_payouts()
        assert handled == ["completed"]
        assert stack.payouts.get_payout(payout.id).state is PayoutState.COMPLETED and stack.books_balanced()
    engine.dispose()
