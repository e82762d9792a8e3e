"""Sanctioned on-chain addresses wherever money comes from or goes to an address outside the platform.

The wallet's withdrawals and deposits screen their addresses themselves (``wallets.withdrawals``,
``wallets.deposits``). Every other external address goes through here: a refund's destination (a merchant's refund,
a remittance order's refund or excess, a wrong-network payment sent back: ``payments.refunds``), a remittance
order's refund address when it opens, the address that paid a remittance order (``remittances.service``) and the
address that paid a merchant's invoice (``payments.detection``: the payment is held, ``payments.crediting``).

A listed address raises a blocking alert through monitoring's ``sanctioned_counterparty`` rule watching the
movement's product and direction (``sanctioned-address`` in the default rule set: products ``refund``,
``remittance_payment`` and ``merchant_payer``), and the caller refuses the movement (``Blocked``, 422
``blocked_by_compliance``: the refunds' ``refuse_listed``) or holds what a listed address paid (the remittance desk,
detection) whether or not a rule watches it: a deployment's own rule set cannot turn the screening off, only the
alert.

>>> listed_address(None, MonitoringFeed(), None)  # no screening configured: none
([], ())
>>> listed_payer(None, MonitoringFeed(), None) is None
True
"""

from __future__ import annotations

import attrs
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.compliance.rules import Movement
from cryptopay.core.compliance.screening import AddressMatch
from cryptopay.core.ports.compliance import ScreeningPort

__all__ = ["MERCHANT_PAYER", "REFUND", "REMITTANCE_PAYMENT", "RULE", "ListedPayer", "listed_address", "listed_payer"]

REFUND = "refund"  # the movement product of a refund's destination (out)
REMITTANCE_PAYMENT = "remittance_payment"  # the movement product of a remittance order's payer (in)
MERCHANT_PAYER = "merchant_payer"  # the movement product of a merchant invoice's payer (in), screened on confirmation
RULE = "sanctioned-address"  # the default rule's id, named when no rule of a deployment's set watched the movement


def listed_address(
    screening: ScreeningPort | None, monitoring: MonitoringFeed, movement: Movement | None
) -> tuple[list[AddressMatch], tuple[str, ...]]:
    """The list entries naming the movement's counterparty address (on its network) and the blocking alerts raised
    on them (none when no rule watches the movement); nothing is refused. No screening, or no address: none."""
    if screening is None or movement is None or not movement.counterparty or movement.network is None:
        return [], ()
    matches = screening.screen_address(movement.network, movement.counterparty)
    if not matches:
        return [], ()
    try:
        monitoring.before(movement)
    except Blocked as blocked:
        return matches, blocked.alert_ids
    return matches, ()


@attrs.frozen
class ListedPayer:
    """An address that paid us found on a sanctions list (its list entries' refs, comma-joined) and the blocking
    alerts raised on it (none when no rule of the deployment's set watches the movement, or raised already)."""

    network: str
    address: str
    refs: str
    alerts: tuple[str, ...]


def listed_payer(
    screening: ScreeningPort | None, monitoring: MonitoringFeed, movement: Movement | None
) -> ListedPayer | None:
    """The movement's paying address (its counterparty, on its network) when a list names it, with the alerts raised
    on it (``listed_address``); None when no list names it."""
    matches, alerts = listed_address(screening, monitoring, movement)
    if not matches or movement is None or movement.network is None or movement.counterparty is None:
        return None
    refs = ",".join(sorted({m.ref for m in matches}))
    return ListedPayer(movement.network, movement.counterparty, refs, alerts)
