"""Sanctions lists from their official files, and fuzzy name matching with rapidfuzz.

``parse_list(data)`` recognises OFAC's ``sdn.xml`` (root ``sdnList``) and the UN Security Council consolidated list
(root ``CONSOLIDATED_LIST``) and returns the source, the publisher's version and the entries.
"""

from cryptopay.adapters.sanctions.matching import RapidfuzzMatcher
from cryptopay.adapters.sanctions.parsers import ParsedList, parse_list, parse_ofac_sdn, parse_un_consolidated

__all__ = ["ParsedList", "RapidfuzzMatcher", "parse_list", "parse_ofac_sdn", "parse_un_consolidated"]
