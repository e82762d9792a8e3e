"""Addresses the platform controls on chain, refused as the destination of anything it sends there.

Coins the hot wallet sends to an address of its own move nothing that the books can see: to the hot wallet itself
the user pays and nothing leaves (inventory drifts below the chain, a difference with no owner); to another wallet's
deposit address it is an on-chain P2P transfer that skips the P2P product's rules, the recipient's checks and its
fee; to an invoice's or a remittance order's deposit address it pays a merchant outside the invoice flow. So every
send to an outside address (a wallet's withdrawal, a refund of an invoice or a remittance order, a remittance
order's refund address) asks ``PlatformAddresses.refuse`` first, and again in the transaction that records it:

- the hot wallets (``CRYPTOPAY_<NETWORK>_HOT_WALLET``, the settings), and
- the deposit address registry the chain watchers read (``DepositAddressRepository``: wallets', invoices' and so
  remittance orders' addresses), in one indexed lookup (``by_address_on``),

on the address's whole family (``address_family``: one EVM key is ours on every EVM network, whichever one the
address was derived for), each compared in its ``address_key`` form (EVM lower-cased, Bitcoin bech32 lower-cased,
Tron and Bitcoin base58 as written). The refusal is ``InternalAddress`` (422 ``internal_address``): send to the
person by phone or username instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import Refused
from cryptopay.core.payments.model import DepositAddress, address_family, address_key

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import DepositAddressRepository

__all__ = ["INTERNAL_ADDRESS", "InternalAddress", "PlatformAddresses"]

INTERNAL_ADDRESS = "internal_address"


class InternalAddress(Refused):
    """The destination is an address the platform controls (a hot wallet, or a wallet's, an invoice's or a
    remittance order's deposit address): nothing is held or sent."""

    code = INTERNAL_ADDRESS


def _hot_wallets(value: Mapping[str, str]) -> dict[str, str]:
    return {network: address for network, address in value.items() if address}


@attrs.frozen
class PlatformAddresses:
    """What the platform controls on chain besides its deposit addresses: ``hot_wallets`` by network (settings).

    >>> from cryptopay.core.testing.payments import InMemoryDepositAddresses
    >>> ours = PlatformAddresses({"polygon": "0x52908400098527886E0F7030069857D2E4169EE7"})
    >>> ours.owner(InMemoryDepositAddresses(), "ethereum", "0x52908400098527886e0f7030069857d2e4169ee7")
    'its hot wallet'
    >>> ours.owner(InMemoryDepositAddresses(), "ethereum", "0x0000000000000000000000000000000000000001") is None
    True
    """

    hot_wallets: Mapping[str, str] = attrs.field(factory=dict, converter=_hot_wallets)

    def owner(self, registry: DepositAddressRepository, network: str, address: str) -> str | None:
        """Whose ``address`` is on the platform, in words (``its hot wallet``, ``a wallet's deposit address`` ...),
        or None when it is nobody's here."""
        family = address_family(network)
        for name in family:
            hot = self.hot_wallets.get(name)
            if hot is not None and address_key(name, hot) == address_key(name, address):
                return "its hot wallet"
        found = registry.by_address_on(family, address)
        return None if found is None else _whose(found)

    def refuse(self, registry: DepositAddressRepository, network: str, address: str, *, field: str = "address") -> None:
        """``InternalAddress`` if ``address`` on ``network`` is one the platform controls (see the module)."""
        if self.owner(registry, network, address) is not None:  # whose it is stays unsaid: no probing oracle
            raise InternalAddress(
                "this address belongs to cryptopay: send to the person by phone or username instead", field=field
            )


def _whose(found: DepositAddress) -> str:
    if found.user_id is not None:
        return "a wallet's deposit address"
    return "a payment's deposit address"
