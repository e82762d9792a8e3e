"""The versioned rows' conflicts: one ``RowChanged`` family, each keeping the problem code and words it had."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import RowChanged
from cryptopay.core.identity.model import AccountChanged, MerchantChanged
from cryptopay.core.identity.teams import InvitationChanged
from cryptopay.core.ports.storage import retrying
from cryptopay.core.webhooks.model import EndpointChanged


@pytest.mark.parametrize(
    ("error", "what"),
    [
        (AccountChanged("usr_1"), "account"),
        (MerchantChanged("usr_1"), "merchant"),
        (InvitationChanged("usr_1"), "invitation"),
        (EndpointChanged("usr_1"), "webhook endpoint"),
    ],
)
def test_each_changed_row_is_a_row_changed_409_conflict_with_its_words(error: RowChanged, what: str) -> None:
    """Each is a ``RowChanged`` (409 ``conflict``, CLI exit 4) naming the row, its message as the API showed it."""
    assert isinstance(error, RowChanged) and error.row_id == "usr_1"
    assert (error.code, error.http_status, error.exit_code) == ("conflict", 409, 4)
    assert error.message == f"the {what} was changed by another request meanwhile: nothing was changed; try again"


def test_a_retry_on_row_changed_reads_again_whichever_row_changed() -> None:
    """``retrying(on=(RowChanged,))`` retries a merchant's and an account's conflict alike."""
    raised = [MerchantChanged("m_1"), AccountChanged("u_1")]

    def call() -> str:
        if raised:
            raise raised.pop(0)
        return "done"

    assert retrying(call, on=(RowChanged,), sleep=lambda _s: None) == "done"
