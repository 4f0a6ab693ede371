"""Every real MARC file in tests/data/third_party goes through the normalizer without an exception and
without losing records: each record pymarc would see comes out as a canonical record or as a
RejectedRecord with a reason."""
from __future__ import annotations

from pathlib import Path

import pymarc
import pytest

from normalizer import canonical_from_marc, iter_iso2709, iter_marcxml
from normalizer.records import AVAILABLE, STATUSES, CanonicalRecord, RejectedRecord, SourceContext
from tests.conftest import THIRD_PARTY

MARC = THIRD_PARTY
MARC_ORIGINS = ("aleph", "marc4j", "openlibrary", "pymarc", "recordmanager", "traject")
ISO2709 = {".mrc", ".dat", ".marc"}
SKIPPED_SUFFIXES = {
    ".json": "MARC-in-JSON / OpenLibrary expectations: not a format our sources deliver",
    ".txt": "Aleph sequential export or pymarc's MARC-8/UTF-8 line fixtures: not ISO2709/MARCXML",
    ".mrk": "MARCMaker mnemonic text: not a harvest format",
    ".mrk8": "MARCMaker mnemonic text (UTF-8): not a harvest format",
}
NOT_MARC = {
    "recordmanager/qdc1.xml": "qualified Dublin Core, not MARC",
    "traject/namespace-test.xml": "its <record> is in the http://example.org/top namespace with no MARC content "
                                  "(a namespace-handling fixture); pymarc ignores namespaces and counts it",
}
# pymarc's XML reader raises on these (KeyError on a missing attribute); we read the rest of the record.
PYMARC_RAISES = {"marc4j/chabon-missing-controlfield-tag.xml", "marc4j/chabon-missing-datafield-tag.xml",
                 "marc4j/chabon-missing-subfield-code.xml", "pymarc/bad_tag.xml"}
# pymarc warns about bad subfield codes in the broken fixtures; what matters here is what we yield.
pytestmark = pytest.mark.filterwarnings("ignore:The subfield contained")
CTX = SourceContext(library="thu-vien-test", record_id="thu-vien-test:1", branch_map={"NRL": "Chi nhánh NRL"})

FILES = sorted(p for origin in MARC_ORIGINS for p in (MARC / origin).rglob("*")
               if p.is_file() and p.name not in ("LICENSE", "SOURCES"))
MARC_FILES = [p for p in FILES if (p.suffix in ISO2709 or p.suffix == ".xml")
              and str(p.relative_to(MARC)) not in NOT_MARC]


def read(path: Path):
    reader = iter_iso2709 if path.suffix in ISO2709 else iter_marcxml
    fmt = "iso2709" if path.suffix in ISO2709 else "marcxml"
    out = []
    for item in reader(path.read_bytes()):
        if not isinstance(item, RejectedRecord):
            try:
                item = canonical_from_marc(item, CTX, fmt)
            except RejectedRecord as exc:  # read, but not a bibliographic record (authority, holdings...)
                item = exc
        out.append(item)
    return out


# Where the one ISO2709 splitter (normalizer/iso2709.py) and pymarc's reader part: pymarc stops trusting a file
# after a wrong leader length and counts trailing blanks as a record; the counts are those of SOURCES.tsv.
SPLITTER_COUNTS = {
    "marc4j/bad_hathi_records.mrc": 5,  # a 99999-byte leader on a 1 MB record: pymarc loses the record after it
    "marc4j/bad_too_long_plus_2.mrc": 3,  # leader lengths 2 bytes too long: pymarc reads 1 of 3
    "pymarc/bad_indicator.dat": 1,  # trailing spaces
    "pymarc/bad_records.mrc": 8,  # a trailing newline
    "pymarc/testunimarc.dat": 1,  # a trailing newline
}


def pymarc_count(path: Path) -> int:
    if str(path.relative_to(MARC)) in SPLITTER_COUNTS:
        return SPLITTER_COUNTS[str(path.relative_to(MARC))]
    if path.suffix in ISO2709:
        return sum(1 for _ in pymarc.MARCReader(path.read_bytes(), permissive=True))
    return len(pymarc.parse_xml_to_array(str(path)))


def test_every_file_is_accounted_for():
    for p in FILES:
        rel = str(p.relative_to(MARC))
        assert p in MARC_FILES or rel in NOT_MARC or p.suffix in SKIPPED_SUFFIXES, f"unclassified file {rel}"
    assert len(MARC_FILES) == 198


@pytest.mark.parametrize("path", MARC_FILES, ids=[str(p.relative_to(MARC)) for p in MARC_FILES])
def test_file_yields_records_or_reasons_and_loses_nothing(path):
    items = read(path)
    for item in items:
        assert isinstance(item, (CanonicalRecord, RejectedRecord))
        if isinstance(item, RejectedRecord):
            assert item.reason.strip()
        else:
            assert item.record_id == CTX.record_id and item.library == CTX.library
            assert all(h.status in STATUSES for h in item.holdings)
    if str(path.relative_to(MARC)) in PYMARC_RAISES:
        with pytest.raises(Exception):
            pymarc_count(path)
        assert len(items) == 1 and isinstance(items[0], CanonicalRecord)
        assert items[0].notes, "what was skipped must be said"
    else:
        assert len(items) == pymarc_count(path)


def test_corpus_totals():
    """Most of the corpus is readable; the rejections are the deliberately broken fixtures."""
    items = [item for p in MARC_FILES for item in read(p)]
    records = [i for i in items if isinstance(i, CanonicalRecord)]
    rejected = [i for i in items if isinstance(i, RejectedRecord)]
    # 9 wrong-length records read since the one splitter; marc4j's sample1.mrc / sample1a.xml hold 4 / 5
    # holdings records (leader/06 x), rejected as not titles
    assert len(records) == 415 and len(rejected) == 20
    assert sum(1 for r in rejected if "a holdings record" in r.reason) == 9
    assert sum(1 for r in records if r.title) / len(records) > 0.95


def test_koha_952_items_come_out_as_holdings():
    rec = read(MARC / "recordmanager" / "marc_dewey.xml")[0]
    assert len(rec.holdings) == 1
    h = rec.holdings[0]
    assert (h.library, h.branch_code, h.branch) == ("thu-vien-test", "NRL", "Chi nhánh NRL")
    assert (h.location, h.call_number, h.status) == ("VARASTO", "N1 19 012044", AVAILABLE)

    rec = read(MARC / "recordmanager" / "marc_alt_script.xml")[0]
    assert [(h.branch_code, h.branch, h.location, h.status) for h in rec.holdings] == [
        ("KAISA", "KAISA", "06LAINA", AVAILABLE), ("KAISA", "KAISA", "06EIKOTI", AVAILABLE)]
    assert rec.holdings[0].call_number == "Hc 6. krs Aasian ja Afrikan tutkimus Om 512 Shinmeikai"
    # its 852 fields repeat the same two items: not counted twice

    rec = read(MARC / "recordmanager" / "marc_analytical.xml")[0]
    assert [(h.branch_code, h.location, h.status) for h in rec.holdings] == [("SORNAINEN", "SN-KIR", AVAILABLE)]


def test_marc_852_holdings_have_unknown_status():
    rec = read(MARC / "recordmanager" / "marc1.xml")[0]
    holdings = [h for h in rec.holdings if h.call_number == "38 Hir"]
    assert holdings and all(h.status == "unknown" and h.branch_code == "150" for h in holdings)


@pytest.mark.parametrize("name", ["1474920681_KOHA_LFL_5.xml", "1474920681_KOHA_LFL_6_with_comment.xml"])
def test_koha_oai_wrapped_marcxml(name):
    """Koha's OAI export puts <identifier>/<datestamp> inside <record>; they are ignored, not fatal.
    This export was made without include_items, so it has 942/999 but no 952: no holdings."""
    [rec] = read(MARC / "marc4j" / name)
    assert rec.title == "Cinema and architecture : from historical to digital"
    assert rec.responsibility == "edited by Francois Penz and Maureen Thomas"
    assert rec.isbns == ["9780851705774"]
    assert rec.publisher == "BFI (British Film Institute) Publishing" and rec.place == "London"
    assert rec.year == 1996 and rec.pages == 192 and rec.languages == ["eng"]
    assert [a.name for a in rec.authors] == ["Penz, Francois"]
    assert rec.holdings == []


def test_marc8_and_utf8_versions_of_the_same_records_agree():
    """LC's brkrtest (every MARC-8 character set) decodes to exactly what its UTF-8 twin says."""
    marc8 = read(MARC / "marc4j" / "brkrtest.mrc")
    utf8 = read(MARC / "marc4j" / "brkrtest_UTF8.mrc")
    assert len(marc8) == len(utf8) == 8
    for a, b in zip(marc8, utf8):
        a.notes = b.notes = []
        assert a == b


def test_iso2709_and_marcxml_paths_agree():
    """The fast MARCXML path and the pymarc ISO2709 path give the same canonical records."""
    xml = read(MARC / "traject" / "test_data.utf8.marc.xml")
    iso = read(MARC / "traject" / "test_data.utf8.mrc")
    assert len(xml) == len(iso) == 30
    for a, b in zip(xml, iso):
        a.format = b.format
        assert a == b


def test_utf8_with_blank_leader_09_is_not_garbled():
    [rec] = read(MARC / "pymarc" / "utf8_without_leader_flag.dat")
    assert "decoded as UTF-8 although leader/09 says MARC-8" in rec.notes
    assert "\u00a9" not in rec.title and rec.title.isprintable()


def test_broken_iso2709_records_are_rejected_and_reading_goes_on():
    items = read(MARC / "pymarc" / "bad_records.mrc")
    assert [type(i).__name__ for i in items].count("CanonicalRecord") == 2
    reasons = [i.reason for i in items if isinstance(i, RejectedRecord)]
    assert len(reasons) == 6 and all(r.startswith("ISO2709 record unreadable: ") for r in reasons)


def test_marcxml_without_leader_is_rejected_with_reason():
    [item] = read(MARC / "recordmanager" / "holdings_record.xml")
    assert isinstance(item, RejectedRecord) and "no leader" in item.reason
