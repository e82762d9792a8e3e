"""Sanctions lists from their official files, and fuzzy name matching with rapidfuzz.

``parse_list(data)`` recognises OFAC's ``sdn.xml`` (root ``sdnList``) and the UN Security Council consolidated list
(root ``CONSOLIDATED_LIST``) and returns the source, the publisher's version and the entries; ``read_ofac_csv`` reads
OFAC's comma-delimited release (``sdn.csv`` with ``alt.csv``, ``add.csv``, ``sdn_comments.csv``); ``read_list(path)``
takes either.
"""

from pathlib import Path

from cryptopay.adapters.sanctions.matching import RapidfuzzMatcher
from cryptopay.adapters.sanctions.ofac_csv import parse_ofac_csv, read_ofac_csv
from cryptopay.adapters.sanctions.parsers import ParsedList, parse_list, parse_ofac_sdn, parse_un_consolidated

__all__ = [
    "ParsedList",
    "RapidfuzzMatcher",
    "parse_list",
    "parse_ofac_csv",
    "parse_ofac_sdn",
    "parse_un_consolidated",
    "read_list",
    "read_ofac_csv",
]


def read_list(path: Path) -> ParsedList:
    """A list from its file as published: OFAC's CSV release (``sdn.csv``, or the directory holding it with
    ``alt.csv``, ``add.csv`` and ``sdn_comments.csv``), else an XML list recognised by its root element."""
    if path.is_dir() or path.suffix.lower() == ".csv":
        return read_ofac_csv(path)
    return parse_list(path.read_bytes())
