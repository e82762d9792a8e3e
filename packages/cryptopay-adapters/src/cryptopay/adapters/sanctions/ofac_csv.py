"""OFAC's SDN list in its comma-delimited release: ``sdn.csv`` with ``alt.csv``, ``add.csv`` and ``sdn_comments.csv``.

Written against OFAC's data specification: no header row; fields quoted with ``"``; ``-0-`` (often ``-0- ``) is a
null; records end with CR LF and the file may end with a Ctrl-Z (``\\x1a``). Columns:

- ``sdn.csv``: ent_num, SDN_Name, SDN_Type (``individual``, ``vessel``, ``aircraft``; null for an entity), Program
  (several as ``SDGT] [IRGC``), Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks;
- ``alt.csv``: ent_num, alt_num, alt_type (``aka``, ``fka``, ``nka``), alt_name, alt_remarks;
- ``add.csv``: Ent_num, Add_num, Address, City/State/Province/Postal Code, Country, Add_remarks;
- ``sdn_comments.csv``: ent_num, Remarks_Extended (the rest of a remark longer than the 1,000 characters of
  ``sdn.csv``).

Individuals' names are ``LAST, First`` and are turned around (``First LAST``) as the XML release gives them.
Digital currency addresses are in the remarks (``Digital Currency Address - XBT 1A1z...; alt. Digital Currency
Address - ETH 0x...``), each kept on its network as the XML parser keeps the ``idList``'s. Rows of ``alt.csv`` or
``add.csv`` naming an entry ``sdn.csv`` lacks mean the files are from different publications: refused. The release
carries no publication date, so the version names the ``sdn.csv`` digest.

>>> sdn = b'36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \\r\\n\\x1a'
>>> parsed = parse_ofac_csv(sdn, alt=b'36,12,"aka","AERO-CARIBBEAN",-0- \\r\\n')
>>> parsed.entries[0].names, parsed.entries[0].kind
(('AEROCARIBBEAN AIRLINES', 'AERO-CARIBBEAN'), 'entity')
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

from cryptopay.adapters.sanctions.parsers import OFAC, ParsedList
from cryptopay.core.compliance.screening import ListEntry, address_network
from cryptopay.core.errors import InvalidInput

__all__ = ["CSV_FILES", "parse_ofac_csv", "read_ofac_csv"]

CSV_FILES = ("sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv")
_WIDTHS = {"sdn.csv": 12, "alt.csv": 5, "add.csv": 6, "sdn_comments.csv": 2}
_KINDS = {"individual", "vessel", "aircraft"}
_ADDRESS = re.compile(r"Digital Currency Address - ([A-Za-z0-9]+)\s+([A-Za-z0-9]+)")
_MAX_BYTES = 200 * 1024 * 1024  # the real sdn.csv is a few MB


def _value(cell: str) -> str:
    text = " ".join(cell.split())
    return "" if text == "-0-" else text


def _remark(cell: str) -> str:
    """A remark as published, spaces kept: ``sdn_comments.csv`` continues it exactly where ``sdn.csv`` cut it."""
    return "" if cell.strip() == "-0-" else cell


def _rows(data: bytes, name: str) -> list[list[str]]:
    """The file's records, each checked for its column count and a numeric first column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # older releases are Windows-1252
    rows = []
    for number, row in enumerate(csv.reader(io.StringIO(text.replace("\x1a", ""))), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != _WIDTHS[name] or not row[0].strip().isdigit():
            raise InvalidInput(
                f"{name} line {number} is not an OFAC {name} record ({_WIDTHS[name]} columns, a number first)"
            )
        rows.append(row)
    return rows


def _person_name(name: str, kind: str) -> str:
    """``LAST, First`` -> ``First LAST`` for individuals (an entity's comma is part of its name)."""
    if kind != "individual" or ", " not in name:
        return name
    last, first = name.split(", ", 1)
    return f"{first} {last}"


def _addresses(remarks: str) -> tuple[tuple[str, str], ...]:
    found = []
    for currency, address in _ADDRESS.findall(remarks):
        network = address_network(f"Digital Currency Address - {currency}", address)
        if network is not None:
            found.append((network, address))
    return tuple(dict.fromkeys(found))


def parse_ofac_csv(
    sdn: bytes, *, alt: bytes | None = None, add: bytes | None = None, comments: bytes | None = None
) -> ParsedList:
    """The entries of one comma-delimited release (``sdn.csv`` required, the others when published with it)."""
    main = [[*(_value(c) for c in row[:11]), _remark(row[11])] for row in _rows(sdn, "sdn.csv")]
    if not main:
        raise InvalidInput("sdn.csv has no records")
    kinds = {row[0]: (row[2].lower() if row[2].lower() in _KINDS else "entity") for row in main}
    aliases: dict[str, list[str]] = {}
    for row in ([_value(c) for c in r] for r in _rows(alt or b"", "alt.csv")):
        _linked(row[0], kinds, "alt.csv")
        aliases.setdefault(row[0], []).append(_person_name(row[3], kinds[row[0]]))
    for row in _rows(add or b"", "add.csv"):
        _linked(
            row[0].strip(), kinds, "add.csv"
        )  # postal addresses are not screened: checked only as part of the release
    extended: dict[str, str] = {}
    for row in _rows(comments or b"", "sdn_comments.csv"):
        ent = row[0].strip()
        _linked(ent, kinds, "sdn_comments.csv")
        extended[ent] = extended.get(ent, "") + _remark(row[1])
    entries = []
    for row in main:
        ent, kind = row[0], kinds[row[0]]
        names = [_person_name(row[1], kind), *aliases.get(ent, [])]
        programs = tuple(p.strip("[] ") for p in row[3].split("] [") if p.strip("[] "))
        entries.append(
            ListEntry(
                ref=f"ofac:{ent}",
                kind=kind,
                names=tuple(dict.fromkeys(n for n in names if n)),
                programs=programs,
                addresses=_addresses(row[11] + extended.get(ent, "")),
            )
        )
    version = f"csv sha256:{hashlib.sha256(sdn).hexdigest()[:16]}"
    return ParsedList(OFAC, version, tuple(e for e in entries if e.names))


def _linked(ent: str, kinds: dict[str, str], name: str) -> None:
    if ent not in kinds:
        raise InvalidInput(f"{name} names entry {ent}, which sdn.csv lacks: the files are from different releases")


def read_ofac_csv(path: Path) -> ParsedList:
    """Read a release from ``sdn.csv`` (its companions beside it) or from the directory holding the files; the
    names are matched case-insensitively (OFAC serves ``SDN.CSV``)."""
    folder = path if path.is_dir() else path.parent
    present = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    sdn = path if path.is_file() else present.get("sdn.csv")
    if sdn is None:
        raise InvalidInput(f"no sdn.csv in {folder}")

    def read(file: Path | None) -> bytes | None:
        if file is None:
            return None
        if file.stat().st_size > _MAX_BYTES:
            raise InvalidInput(f"{file.name} is larger than any OFAC release")
        return file.read_bytes()

    return parse_ofac_csv(
        read(sdn) or b"",
        alt=read(present.get("alt.csv")),
        add=read(present.get("add.csv")),
        comments=read(present.get("sdn_comments.csv")),
    )
