"""Every time staff read a person's data, the audit log says who read whose: officers' KYC reads, wallet lookups by
operators, data subject lookups and exports; the officers' queue lists applications without personal details."""

from __future__ import annotations

import json

import pytest
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.integration.http.http_support import app as app
from tests.integration.http.http_support import auth as auth
from tests.integration.http.http_support import client as client
from tests.integration.http.http_support import fast_hasher
from tests.support.privacy_stack import privacy_storage
from tests.support.services import in_memory_services, with_wallets
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import wallet_stack

__all__ = ["app", "auth", "client"]


@pytest.fixture
def services():
    from cryptopay.core.testing.system import ManualClock, SequentialIds

    return in_memory_services(clock=ManualClock(), ids=SequentialIds(), hasher=fast_hasher())


def test_officers_see_the_queue_without_personal_details_and_each_read_is_audited(client, auth, services):
    """The queue names no one; reading an application (name, ID number, address) is a ``kyc.application_viewed``."""
    from tests.integration.http.test_http_kyc import PERSON, upload
    from tests.support.kyc_rig import photo

    customer = auth.user("personal")
    app_id = client.post("/v1/kyc/applications", json=PERSON, headers=customer).json["id"]
    for kind in ("id_front", "id_back", "selfie"):
        assert upload(client, customer, app_id, kind, photo()).status_code == 201
    client.post(f"/v1/kyc/applications/{app_id}/submit", headers=customer)
    officer = auth.user("compliance")
    [row] = client.get("/v1/admin/kyc/queue", headers=officer).json["data"]
    assert (row["id"], row["person"]) == (app_id, None)
    assert "Wanjiku" not in json.dumps(row) and "23456789" not in json.dumps(row)
    read = client.get(f"/v1/admin/kyc/applications/{app_id}", headers=officer).json
    assert read["person"]["legal_name"] == "Wanjiku Kamau"
    with services.kyc_review.uow() as uow:
        viewed = [r for r in uow.audit.records() if r.action == "kyc.application_viewed"]
    assert len(viewed) == 1 and viewed[0].actor.startswith("user:")


def test_an_operator_looking_up_a_wallet_is_audited():
    """``wallets show`` and ``wallets history`` each leave a ``wallet.looked_up`` naming the operator."""
    stack = wallet_stack(Backend("memory", privacy_storage()))
    previous = use_services(with_wallets(in_memory_services(clock=stack.clock), stack))
    try:
        amina = stack.sign_up("0712000001", username="amina")
        runner, cli = CliRunner(), build_app()
        assert runner.invoke(cli, ["wallets", "show", "+254712000001", "--json"]).exit_code == 0
        assert runner.invoke(cli, ["wallets", "history", "@amina", "--json"]).exit_code == 0
        assert runner.invoke(cli, ["wallets", "show", "0799999999"]).exit_code == 3
    finally:
        use_services(previous)
    storage = stack.backend.storage
    looked_up = [(r.actor[:4], r.subject) for r in storage.audit_records() if r.action == "wallet.looked_up"]
    assert looked_up == [("ops:", f"user:{amina.id}"), ("ops:", f"user:{amina.id}")]
