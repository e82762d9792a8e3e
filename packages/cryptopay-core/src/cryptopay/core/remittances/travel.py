"""A remittance in Travel Rule terms (FATF Recommendation 16): the sender is the originator, the recipient the
beneficiary, in the IVMS101 types of ``cryptopay.core.compliance.travel_rule``, which keeps the records.

The originator's account numbers are the addresses the order was paid from (recorded once it is funded:
``RemittanceOrder.paid_from``, the accounts the transfer came from, as FATF R.16 asks), then the sender's refund
address (their own wallet, where a refund goes) when it is not one of them; the recipient's phone is the
beneficiary's. An order at or above the threshold is refused when
it is opened unless the originator is placed (an address, an identity number, or date and place of birth); its
record is kept once the USDT arrived, with the network and transaction it came in.

>>> from cryptopay.core.remittances.model import Sender
>>> grace = Sender(name="Grace Wanjiru Otieno", country="GB", address="12 Acacia Road, London")
>>> party = originator(grace, "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf", paid_from=("TPaidFromXXXXXXXXXXXXXXXXXXXXXXXXX",))
>>> person = party.persons[0]
>>> person.names[0].primary, person.names[0].secondary, person.addresses[0].town_name
('Otieno', 'Grace Wanjiru', 'London')
>>> party.account_numbers
('TPaidFromXXXXXXXXXXXXXXXXXXXXXXXXX', 'TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf')
"""

from __future__ import annotations

from cryptopay.core.compliance.travel_rule import (
    Address,
    AddressType,
    DateAndPlaceOfBirth,
    NameIdentifier,
    NationalIdentification,
    NationalIdentifierType,
    NaturalPerson,
    Party,
    Transfer,
    TransferDirection,
)
from cryptopay.core.money import Money
from cryptopay.core.remittances.model import Sender

__all__ = ["beneficiary", "originator", "transfer"]


def _name(full: str) -> NameIdentifier:
    """The family name (the last word) and the given names, as IVMS101 splits them."""
    words = full.split()
    return NameIdentifier(words[-1][:100], " ".join(words[:-1])[:100])


def originator(sender: Sender, refund_address: str, *, paid_from: tuple[str, ...] = ()) -> Party:
    """The sender as the originator; the addresses that paid (none before the order is paid) and the refund address
    are their account numbers, each once."""
    addresses: tuple[Address, ...] = ()
    if sender.address:
        town = sender.address.rsplit(",", 1)[-1].strip() or sender.address
        addresses = (
            Address(AddressType.HOME, sender.country, town_name=town[:35], address_lines=(sender.address[:70],)),
        )
    national = (
        NationalIdentification(sender.id_number, NationalIdentifierType.MISC, sender.country)
        if sender.id_number
        else None
    )
    born = (
        DateAndPlaceOfBirth(sender.date_of_birth, sender.place_of_birth[:70])
        if sender.date_of_birth and sender.place_of_birth
        else None
    )
    person = NaturalPerson(
        names=(_name(sender.name),),
        addresses=addresses,
        national_identification=national,
        date_and_place_of_birth=born,
        country_of_residence=sender.country,
    )
    return Party(persons=(person,), account_numbers=tuple(dict.fromkeys((*paid_from, refund_address))))


def beneficiary(name: str, phone: str) -> Party:
    """The recipient as the beneficiary; their M-Pesa number is their account number."""
    person = NaturalPerson(names=(_name(name),), country_of_residence="KE")
    return Party(persons=(person,), account_numbers=(phone,))


def transfer(order_id: str, network: str, amount: Money, tx_hash: str = "") -> Transfer:
    """The remittance coming in: the order is both the reference and the party (the sender has no account)."""
    return Transfer(TransferDirection.IN, network, amount, order_id, order_id, tx_hash)
