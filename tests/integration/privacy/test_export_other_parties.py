"""A data subject's export leaves out the other accounts that gave the same ID document (review G5): who else gave
it is other people's data, though the officers see it on the application and in the audit log."""

from __future__ import annotations

import json

import pytest
from cryptopay.core.identity.model import Role, User
from cryptopay.core.kyc.applications import IdInUse
from cryptopay.core.ledger import Ledger
from cryptopay.core.privacy.export import subject_export
from cryptopay.core.testing.ledger import InMemoryLedgerStore

from tests.support.kyc_rig import START, KycRig, approve_after_reading
from tests.support.privacy_stack import privacy_storage


def test_the_export_names_no_other_account_that_gave_the_same_id() -> None:
    storage = privacy_storage()
    rig = KycRig(storage)
    first = rig.personal("usr_amina", level=1)
    rig.decide("usr_ann", first)
    second = rig.personal("usr_fake2", level=1)
    rig.review.claim("usr_ann", second)
    with pytest.raises(IdInUse):
        approve_after_reading(rig.review, "usr_ann", second)
    rig.review.link_id("usr_ann", second, "same person")
    approve_after_reading(rig.review, "usr_ann", second)
    with storage.unit_of_work() as uow:
        uow.users.add(User("usr_fake2", "fake2@example.co.ke", "unused-hash", Role.PERSONAL, START))
        user = uow.users.get("usr_fake2")
        assert user is not None
        exported = subject_export(uow, Ledger(InMemoryLedgerStore(), clock=rig.clock), user, at=START)
    [application] = exported["kyc"]["applications"]
    assert application["state"] == "approved" and "id_shared_with" not in application
    actions = {r["action"] for r in exported["audit"]}
    # the officers' finding and linking are compliance's own work, withheld whole since exportfix (before: the
    # events stayed, without whom)
    assert not {"kyc.id_shared", "kyc.approval_refused", "kyc.id_linked"} & actions
    assert "kyc.application_approved" in actions and "same person" not in json.dumps(exported)
    assert "usr_amina" not in json.dumps(exported)
