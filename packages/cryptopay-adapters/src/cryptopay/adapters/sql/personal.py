"""Personal data at rest (Kenya's Data Protection Act, 2019): sealed field by field, phones found by a keyed hash.

The core keeps plain values; the SQL repositories seal what they write and open what they read through one
``PersonalData``:

- **sealed fields**: names, ID numbers, dates of birth, addresses, phones and emails inside documents (and a few
  columns) are stored as ``pii1:<base64 vault blob>``, an envelope blob of the key vault (a fresh AES-256-GCM data key
  under the current key-encryption key). Each blob is bound to its table, row and field (the vault context), so a
  value copied onto another row or field does not decrypt.
- **lookup keys**: a phone is never stored in the clear where it is searched; its column holds
  ``HMAC-SHA256(lookup key, phone)`` in hex, and lookups by phone hash the phone first. The lookup key comes from
  ``CRYPTOPAY_PII_LOOKUP_KEY`` (base64, 32 bytes).
- **reading old rows**: a value without the ``pii1:`` prefix is read as it is, so rows written before sealing stay
  readable until ``seal_personal_data`` (run by ``cryptopay db upgrade``) rewrites them.

Without a vault (``PersonalData.plaintext()``: tests and SDK embedding that bring no keys) values are stored as
they are and lookups use the plain phone; the composition root always passes the vault's.

>>> from cryptopay.adapters.vault import EnvelopeVault, generate_kek
>>> personal = PersonalData(EnvelopeVault.from_spec(f"k1:{generate_kek()}"), b"k" * 32)
>>> sealed = personal.seal("Wanjiru Kamau", context="kyc_applications:kya_1:person.legal_name")
>>> sealed.startswith("pii1:") and "Wanjiru" not in sealed
True
>>> personal.open(sealed, context="kyc_applications:kya_1:person.legal_name")
'Wanjiru Kamau'
>>> len(personal.lookup("254712345678"))
64
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.ports.vault import KeyVault

__all__ = ["LOOKUP_KEY_ENV", "SEALED_PREFIX", "PersonalData", "PersonalFields", "is_lookup_key"]

SEALED_PREFIX = "pii1:"
LOOKUP_KEY_ENV = "CRYPTOPAY_PII_LOOKUP_KEY"
_HEX = frozenset("0123456789abcdef")


def is_lookup_key(value: str | None) -> bool:
    """True for a keyed hash (64 lowercase hex digits), False for a plain phone (at most 16 digits).

    >>> is_lookup_key("254712345678"), is_lookup_key("a" * 64)
    (False, True)
    """
    return value is not None and len(value) == 64 and set(value) <= _HEX


class PersonalData:
    """Seals and opens personal values with the key vault, and keys lookups with HMAC-SHA256."""

    def __init__(self, vault: KeyVault | None, lookup_key: bytes | None) -> None:
        if (vault is None) != (lookup_key is None):
            raise InvalidInput("personal data needs both a key vault and a lookup key, or neither (plaintext)")
        if lookup_key is not None and len(lookup_key) < 32:
            raise InvalidInput(f"{LOOKUP_KEY_ENV} must be at least 32 bytes")
        self._vault, self._lookup_key = vault, lookup_key
        self._keyed = None if lookup_key is None else hmac.new(lookup_key, digestmod=hashlib.sha256)

    @classmethod
    def plaintext(cls) -> PersonalData:
        """Values stored as they are (tests and embedding without keys); never what the composition root builds."""
        return cls(None, None)

    @property
    def sealing(self) -> bool:
        return self._vault is not None

    def seal(self, value: str, *, context: str) -> str:
        """``value`` as ``pii1:<base64 blob>`` bound to ``context`` (a sealed value is kept as it is)."""
        if self._vault is None or value.startswith(SEALED_PREFIX):
            return value
        blob = self._vault.encrypt(value.encode(), context=f"pii:{context}")
        return SEALED_PREFIX + base64.b64encode(blob).decode()

    def open(self, value: str, *, context: str) -> str:
        """The plain value of a sealed one (a value without the prefix is returned as it is: an unsealed row)."""
        if not value.startswith(SEALED_PREFIX):
            return value
        if self._vault is None:
            raise InvalidInput("this value is sealed; the repository has no key vault to open it")
        blob = base64.b64decode(value.removeprefix(SEALED_PREFIX))
        return self._vault.decrypt(blob, context=f"pii:{context}").decode()

    def rewrap(self, value: str, *, context: str) -> str:
        """A sealed value re-wrapped under the current key-encryption key (the ciphertext is unchanged)."""
        if self._vault is None or not value.startswith(SEALED_PREFIX):
            return value
        blob = base64.b64decode(value.removeprefix(SEALED_PREFIX))
        rewrapped = self._vault.rewrap(blob, context=f"pii:{context}")
        return SEALED_PREFIX + base64.b64encode(rewrapped).decode()

    def seal_json(self, value: Any, *, context: str) -> Any:
        """A JSON subtree sealed whole (``value`` as it is without a vault): for nested personal data such as an
        IVMS101 payload, whose every leaf is about a person."""
        if self._vault is None or isinstance(value, str):
            return value
        return self.seal(json.dumps(value, sort_keys=True, separators=(",", ":")), context=context)

    def open_json(self, value: Any, *, context: str) -> Any:
        """The JSON subtree ``seal_json`` sealed (a subtree stored in the clear is returned as it is)."""
        if not isinstance(value, str):
            return value
        return json.loads(self.open(value, context=context))

    def lookup(self, value: str) -> str:
        """The keyed hash a searched value (a phone) is stored and looked up by; the value itself without keys."""
        if self._keyed is None:
            return value
        keyed = self._keyed.copy()  # the key's HMAC state, set up once: a copy costs a third of a new HMAC
        keyed.update(value.encode())
        return keyed.hexdigest()

    def __repr__(self) -> str:
        return f"PersonalData(sealing={self.sealing})"


@attrs.frozen
class PersonalFields:
    """The personal fields of one table's documents, as dotted paths (``[]`` walks a list, of documents or of
    strings). ``clear``: the values of those fields that are no personal data (a party's own id, which the table's
    columns hold in the clear anyway), kept as they are: never sealed, and not counted as left in the clear.

    >>> spec = PersonalFields("kyc_applications", ("person.legal_name", "business.directors[].name"))
    >>> personal = PersonalData.plaintext()
    >>> spec.seal({"person": None, "business": {"directors": [{"name": "A"}]}}, "kya_1", personal)
    {'person': None, 'business': {'directors': [{'name': 'A'}]}}
    """

    table: str
    paths: tuple[str, ...]
    clear: Callable[[str], bool] | None = None

    def seal(self, doc: Any, row_id: str, personal: PersonalData) -> Any:
        """A copy of ``doc`` with every personal field sealed, each bound to this table, row and field."""
        clear = self.clear
        if clear is None:
            return self._map(doc, row_id, personal.seal)
        return self._map(
            doc, row_id, lambda value, *, context: value if clear(value) else personal.seal(value, context=context)
        )

    def open(self, doc: Any, row_id: str, personal: PersonalData) -> Any:
        """A copy of ``doc`` with every sealed field opened."""
        return self._map(doc, row_id, personal.open)

    def rewrap(self, doc: Any, row_id: str, personal: PersonalData) -> Any:
        return self._map(doc, row_id, personal.rewrap)

    def unsealed(self, doc: Any) -> bool:
        """True when a personal field of ``doc`` is still in the clear (a ``clear`` value is no personal data)."""
        clear = self.clear
        return any(
            not value.startswith(SEALED_PREFIX) and (clear is None or not clear(value))
            for _path, value in self.values(doc)
        )

    def values(self, doc: Any) -> Iterator[tuple[str, str]]:
        """Each personal value of ``doc`` with its field path (list positions numbered)."""
        for path in self.paths:
            yield from _walk(doc, path.split("."), "")

    def _map(self, doc: Any, row_id: str, change: Callable[..., str]) -> Any:
        # Copy on write: the dictionaries and lists on a personal field's path are copied, the rest shared with
        # ``doc`` (never changed in place), so neither ``doc`` nor the result's other parts are copied or changed.
        for path in self.paths:
            doc = _replaced(
                doc, path.split("."), "", lambda value, field: change(value, context=f"{self.table}:{row_id}:{field}")
            )
        return doc


def _field(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _walk(node: Any, parts: list[str], prefix: str) -> Iterator[tuple[str, str]]:
    if not isinstance(node, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    name = head.removesuffix("[]")
    value = node.get(name)
    if head.endswith("[]"):
        for index, item in enumerate(value or ()):
            if not rest and isinstance(item, str):  # a list of strings (``sanctions_matches[]``)
                yield f"{_field(prefix, name)}.{index}", item
            else:
                yield from _walk(item, rest, f"{_field(prefix, name)}.{index}")
    elif not rest:
        if isinstance(value, str):
            yield _field(prefix, name), value
    else:
        yield from _walk(value, rest, _field(prefix, name))


def _replaced(node: Any, parts: list[str], prefix: str, change: Callable[[str, str], str]) -> Any:
    """``node`` with the values at ``parts`` changed: a new dictionary (and list) where something changes, else
    ``node`` itself.

    >>> doc = {"person": {"name": "A", "id": {"n": 1}}, "other": {"x": 1}}
    >>> new = _replaced(doc, ["person", "name"], "", lambda value, field: f"{field}={value}")
    >>> new, doc["person"]["name"], new["other"] is doc["other"], new["person"]["id"] is doc["person"]["id"]
    ({'person': {'name': 'person.name=A', 'id': {'n': 1}}, 'other': {'x': 1}}, 'A', True, True)
    """
    if not isinstance(node, dict) or not parts:
        return node
    head, rest = parts[0], parts[1:]
    name = head.removesuffix("[]")
    value = node.get(name)
    if head.endswith("[]"):
        if not isinstance(value, list):
            return node
        here = _field(prefix, name)
        new: Any = [
            change(item, f"{here}.{index}")  # a list of strings: each item sealed in place
            if not rest and isinstance(item, str)
            else _replaced(item, rest, f"{here}.{index}", change)
            for index, item in enumerate(value)
        ]
    elif not rest:
        if not isinstance(value, str):
            return node
        new = change(value, _field(prefix, name))
    else:
        new = _replaced(value, rest, _field(prefix, name), change)
        if new is value:
            return node
    return {**node, name: new}
