"""Parsers of the official sanctions files, written against their published structure.

OFAC ``sdn.xml`` (namespace varies by publication: ``http://tempuri.org/sdnList.xsd`` or the Sanctions List
Service's): ``sdnList/publshInformation/Publish_Date`` (OFAC's own spelling) and ``sdnEntry`` elements with ``uid``,
``firstName``, ``lastName``, ``sdnType``, ``programList/program``, ``akaList/aka/{firstName,lastName}`` and
``idList/id/{idType,idNumber}``, where digital currency addresses are ids of type ``Digital Currency Address - XBT``
(ETH, USDT, TRX, ...).

UN Security Council consolidated list: ``CONSOLIDATED_LIST[@dateGenerated]`` with ``INDIVIDUALS/INDIVIDUAL`` and
``ENTITIES/ENTITY``, each with ``DATAID``, ``FIRST_NAME`` .. ``FOURTH_NAME`` (an entity's name is ``FIRST_NAME``),
``UN_LIST_TYPE``, ``REFERENCE_NUMBER`` and ``INDIVIDUAL_ALIAS``/``ENTITY_ALIAS`` with ``ALIAS_NAME``.

Files with a document type declaration are refused: the lists have none, and entity declarations are how XML bombs
and external-entity reads work.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import attrs
from cryptopay.core.compliance.screening import ListEntry, address_network
from cryptopay.core.errors import InvalidInput

__all__ = ["ParsedList", "parse_list", "parse_ofac_sdn", "parse_un_consolidated"]

OFAC, UN = "ofac_sdn", "un_consolidated"


@attrs.frozen
class ParsedList:
    source: str
    version: str
    entries: tuple[ListEntry, ...]


def _root(data: bytes) -> ET.Element:
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise InvalidInput("the list has a document type declaration: official sanctions lists have none")
    try:
        return ET.fromstring(data)  # noqa: S314 (declarations refused above: no entity can be defined or expanded)
    except ET.ParseError as error:
        raise InvalidInput(f"the list is not well-formed XML: {error}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _text(element: ET.Element | None, name: str) -> str:
    if element is None:
        return ""
    found = next(_children(element, name), None)
    return " ".join((found.text or "").split()) if found is not None else ""


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def parse_list(data: bytes) -> ParsedList:
    """Recognise the file by its root element."""
    root = _root(data)
    kind = _local(root.tag)
    if kind == "sdnList":
        return _ofac(root)
    if kind == "CONSOLIDATED_LIST":
        return _un(root)
    raise InvalidInput(f"not a list we know (root element {kind!r}): OFAC sdn.xml or the UN consolidated list")


def parse_ofac_sdn(data: bytes) -> ParsedList:
    root = _root(data)
    if _local(root.tag) != "sdnList":
        raise InvalidInput("not an OFAC sdn.xml (its root is sdnList)")
    return _ofac(root)


def parse_un_consolidated(data: bytes) -> ParsedList:
    root = _root(data)
    if _local(root.tag) != "CONSOLIDATED_LIST":
        raise InvalidInput("not the UN consolidated list (its root is CONSOLIDATED_LIST)")
    return _un(root)


def _ofac(root: ET.Element) -> ParsedList:
    published = _text(next(_children(root, "publshInformation"), None), "Publish_Date")
    entries = tuple(_sdn_entry(e) for e in _children(root, "sdnEntry"))
    return ParsedList(OFAC, published or "undated", tuple(e for e in entries if e.names))


def _sdn_entry(entry: ET.Element) -> ListEntry:
    names = [_join(_text(entry, "firstName"), _text(entry, "lastName"))]
    for aka_list in _children(entry, "akaList"):
        names += [_join(_text(aka, "firstName"), _text(aka, "lastName")) for aka in _children(aka_list, "aka")]
    programs = [p.text.strip() for pl in _children(entry, "programList") for p in _children(pl, "program") if p.text]
    addresses = []
    for id_list in _children(entry, "idList"):
        for item in _children(id_list, "id"):
            id_type, number = _text(item, "idType"), _text(item, "idNumber")
            if id_type.startswith("Digital Currency Address") and number:
                network = address_network(id_type, number)
                if network is not None:
                    addresses.append((network, number))
    return ListEntry(
        ref=f"ofac:{_text(entry, 'uid')}",
        kind=(_text(entry, "sdnType") or "entity").lower(),
        names=tuple(dict.fromkeys(n for n in names if n)),
        programs=tuple(programs),
        addresses=tuple(addresses),
    )


def _un(root: ET.Element) -> ParsedList:
    version = root.get("dateGenerated") or "undated"
    entries: list[ListEntry] = []
    for group, kind, alias in (
        ("INDIVIDUALS", "individual", "INDIVIDUAL_ALIAS"),
        ("ENTITIES", "entity", "ENTITY_ALIAS"),
    ):
        for container in _children(root, group):
            for item in _children(container, kind.upper()):
                entries.append(_un_entry(item, kind, alias))
    return ParsedList(UN, version, tuple(e for e in entries if e.names))


def _un_entry(item: ET.Element, kind: str, alias_tag: str) -> ListEntry:
    primary = _join(*(_text(item, f"{n}_NAME") for n in ("FIRST", "SECOND", "THIRD", "FOURTH")))
    aliases = [_text(a, "ALIAS_NAME") for a in _children(item, alias_tag)]
    reference = _text(item, "REFERENCE_NUMBER") or _text(item, "DATAID")
    programs = [p for p in (_text(item, "UN_LIST_TYPE"),) if p]
    return ListEntry(
        ref=f"un:{reference}",
        kind=kind,
        names=tuple(dict.fromkeys(n for n in [primary, *aliases] if n)),
        programs=tuple(programs),
    )
