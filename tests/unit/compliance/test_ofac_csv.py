"""OFAC's comma-delimited SDN release (sdn.csv, alt.csv, add.csv, sdn_comments.csv), read from small files written in
the official format: no header, ``-0-`` nulls, CR LF records, a Ctrl-Z at the end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptopay.adapters.sanctions import parse_ofac_csv, parse_ofac_sdn, read_list
from cryptopay.core.errors import InvalidInput

from tests.unit.compliance.test_sanctions_screening import screening

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sanctions"
CSV = FIXTURES / "ofac_csv"


def test_the_release_is_read_with_aliases_programs_and_digital_currency_addresses():
    """Names turned around for individuals, aliases from alt.csv, programs split, addresses from the remarks."""
    parsed = read_list(CSV / "sdn.csv")
    assert parsed.source == "ofac_sdn" and parsed.version.startswith("csv sha256:")
    airline, person, _exchange, vessel = parsed.entries
    assert airline.names == ("AEROCARIBBEAN AIRLINES", "AERO-CARIBBEAN") and airline.kind == "entity"
    assert person.ref == "ofac:30001" and person.kind == "individual"
    assert person.names == ("Jose Ramon NUNEZ GARCIA", "Pepe NUNEZ")
    assert person.programs == ("CYBER2", "ILLICIT-DRUGS-EO14059")
    assert person.addresses == (
        ("bitcoin", "bc1qsanctionedaddressxyz0000000000000000000"),
        ("ethereum", "0x8576aCC5C05D6Ce88f4e49bf65BdF0C62F91353C"),
    )  # the passport and the Monero address are not addresses on our chains
    assert vessel.kind == "vessel" and vessel.addresses == ()


def test_a_remark_continued_in_sdn_comments_keeps_its_address():
    """sdn.csv cuts Garantex's remark after "- ETH"; sdn_comments.csv carries the address on."""
    exchange = read_list(CSV).entries[2]
    assert exchange.names == ("GARANTEX EUROPE OU", "GARANTEX")
    assert exchange.addresses == (
        ("ethereum", "0x7FF9cFad3877F21d41Da833E2F775dB0569eE3D9"),  # ETH and USDT-on-Ethereum: one key
        ("tron", "TGarantexTronAddressYYYYYYYYYYYYYY"),
        ("ethereum", "0x49aB1fAEE4B6dbd5F2B9bB9D2e1B0DbE1d2d0a77"),
    )


def test_the_csv_and_xml_releases_screen_the_same_parties():
    """The same people and addresses match whichever release was imported."""
    from_csv, from_xml = screening(), screening()
    parsed = read_list(CSV)
    from_csv.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    xml = parse_ofac_sdn((FIXTURES / "sdn.xml").read_bytes())
    from_xml.import_list(xml.source, xml.version, xml.entries, actor="operator:test")
    for service in (from_csv, from_xml):
        assert service.screen_name("José Ramón Núñez García")[0].ref == "ofac:30001"
        assert service.screen_address("tron", "TGarantexTronAddressYYYYYYYYYYYYYY")[0].ref == "ofac:30002"
        assert service.screen_address("polygon", "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c")
        assert service.screen_name("Wanjiku Kamau") == []


def test_sdn_csv_alone_is_a_release_without_aliases(tmp_path):
    """Only sdn.csv beside nothing else: the primary names, nothing refused."""
    shutil.copy(CSV / "sdn.csv", tmp_path / "SDN.CSV")
    entries = read_list(tmp_path / "SDN.CSV").entries
    assert [e.names for e in entries[:2]] == [("AEROCARIBBEAN AIRLINES",), ("Jose Ramon NUNEZ GARCIA",)]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"sdn": b""}, "no records"),
        ({"sdn": b'36,"ONLY THREE",-0- \r\n'}, r"sdn\.csv line 1"),
        ({"sdn": b'x,"NOT A NUMBER",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'}, "a number first"),
        ({"alt": b'99,1,"aka","STRANGER",-0- \r\n'}, "different releases"),
        ({"add": b'99,1,-0- ,"Nairobi","Kenya",-0- \r\n'}, "different releases"),
        ({"comments": b'99,"more"\r\n'}, "different releases"),
        ({"alt": b'<?xml version="1.0"?><sdnList/>'}, r"alt\.csv line 1"),
    ],
)
def test_files_that_are_not_one_release_are_refused(files, message):
    """Wrong column counts, a non-numeric id, or companions naming entries sdn.csv lacks: InvalidInput."""
    sdn = files.pop("sdn", (CSV / "sdn.csv").read_bytes())
    with pytest.raises(InvalidInput, match=message):
        parse_ofac_csv(sdn, **files)


def test_a_directory_without_sdn_csv_is_refused(tmp_path):
    """The directory form needs the main file."""
    shutil.copy(CSV / "alt.csv", tmp_path / "alt.csv")
    with pytest.raises(InvalidInput, match=r"no sdn\.csv"):
        read_list(tmp_path)


def test_a_windows_1252_release_is_read():
    """Older releases are Windows-1252: accented names come through."""
    sdn = '7,"PEÑA, José","individual","SDNT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'.encode("cp1252")
    assert parse_ofac_csv(sdn).entries[0].names == ("José PEÑA",)
