"""Remittances from abroad: a sender with no account pays USDT, the recipient in Kenya receives shillings.

- ``model``: ``RemittanceOrder``, its states, the sender's originator data (``Sender``);
- ``service``: the ``Remittances`` use case (open an order, the worker's steps, operators' retry and refund).

Postings live in ``cryptopay.core.flows`` (``convert_remittance``, ``credit_remittance``); the order's port in
``cryptopay.core.ports.remittances``.
"""

from cryptopay.core.remittances.model import DESK, RemittanceOrder, RemittanceRoute, RemittanceState, Sender

__all__ = ["DESK", "RemittanceOrder", "RemittanceRoute", "RemittanceState", "Sender"]
