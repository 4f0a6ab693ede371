"""What a union entry is published as: MARC 21 read back by our own normalizer to the same record (the
property a second unioncat harvesting us relies on), MARCXML and oai_dc valid against the official
schemas (kept offline in tests/data/third_party/schemas), ISO 2709 counted in bytes, and citations
(RIS, BibTeX, CSL-JSON) that citation tools read with Vietnamese names in their own order."""
from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
from datetime import datetime, timedelta, timezone

import jsonschema
import pymarc
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from bench.dedup_quality import load_demo
from normalizer import normalize
from normalizer.extract import pages_from_extent, trim
from normalizer.records import STATUSES, Author, CanonicalRecord, Holding, RejectedRecord, SourceContext
from tests.conftest import SCHEMAS, local_schema
from unionapi.publish.citations import bibtex, csl_json, ris
from unionapi.publish.formats import (dc_bytes, entry_dc, entry_holdings, entry_json, entry_marc, is_creator, iso2709,
                                      marc_element, marc_text, marcxml, marcxml_collection)
from unionapi.search.documents import entry_document, representative

MARC_NS = "http://www.loc.gov/MARC21/slim"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
PEER = SourceContext(library="peer", record_id="peer:e1")  # a second unioncat harvesting this one
FAST = settings(max_examples=150, deadline=None)


# -- the schemas, offline ----------------------------------------------------------------------------
# lxml fetches nothing (no_network) and every schemaLocation, relative or a URL (oai_dc.xsd imports
# simpledc20021212.xsd, which imports http://www.w3.org/2001/03/xml.xsd), is answered from the local
# copy of the same name; an import with no local copy fails loudly instead of reaching the network.
MARC_SCHEMA = local_schema((MARC_NS, "MARC21slim.xsd"))
DC_SCHEMA = local_schema((OAI_DC_NS, "oai_dc.xsd"))


def assert_valid(schema: etree.XMLSchema, document: bytes | etree._Element) -> None:
    root = etree.fromstring(document) if isinstance(document, bytes) else document
    if not schema.validate(root):
        raise AssertionError(f"{schema.error_log.last_error}\n{etree.tostring(root)[:2000]!r}")


def test_the_schema_copies_are_the_ones_their_sources_name():
    rows = [line.split("\t") for line in (SCHEMAS / "SOURCES").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    header, rows = rows[0], rows[1:]
    assert {row[0] for row in rows} == {p.name for p in SCHEMAS.iterdir() if p.name not in ("SOURCES", "LICENSE")}
    for row in rows:
        entry = dict(zip(header, row))
        data = (SCHEMAS / entry["file"]).read_bytes()
        assert len(data) == int(entry["bytes"]) and hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]) and entry["original_url"].startswith("http")


def test_the_validators_load_offline_and_refuse_what_the_standards_refuse():
    oai = local_schema((OAI_NS, "OAI-PMH.xsd"), (MARC_NS, "MARC21slim.xsd"), (OAI_DC_NS, "oai_dc.xsd"))
    dc = b'<oai_dc:dc xmlns:oai_dc="%s" xmlns:dc="http://purl.org/dc/elements/1.1/">%%s</oai_dc:dc>' % OAI_DC_NS.encode()
    assert_valid(DC_SCHEMA, dc % b'<dc:title xml:lang="vi">Truy\xe1\xbb\x87n Ki\xe1\xbb\x81u</dc:title>')
    assert not DC_SCHEMA.validate(etree.fromstring(dc % b"<dc:titel>x</dc:titel>"))
    assert not MARC_SCHEMA.validate(etree.fromstring(
        b'<record xmlns="%s"><leader>too short</leader></record>' % MARC_NS.encode()))
    response = (b'<OAI-PMH xmlns="%s"><responseDate>2026-01-02T03:04:05Z</responseDate>'
                b'<request verb="GetRecord">http://127.0.0.1/oai</request><GetRecord><record><header>'
                b'<identifier>oai:unioncat:e1</identifier><datestamp>2026-01-02T03:04:05Z</datestamp></header>'
                b'<metadata>%%s</metadata></record></GetRecord></OAI-PMH>' % OAI_NS.encode())
    assert_valid(oai, response % dc_bytes("e1", [book()]).split(b"?>", 1)[1])
    assert not oai.validate(etree.fromstring(response % b'<x xmlns="urn:unknown"/>'))  # strict metadata


# -- records ----------------------------------------------------------------------------------------
def book(**changes) -> CanonicalRecord:
    values = dict(
        record_id="tv-tinh:oai:1", library="tv-tinh", format="marcxml", title="Truyện Kiều : thơ",
        title_sort="Truyện Kiều : thơ", responsibility="Nguyễn Du ; Đào Duy Anh chú giải",
        authors=[Author("Nguyễn Du", "person", "tác giả", "1766-1820"), Author("Đào Duy Anh", "person", "chú giải"),
                 Author("Bộ Giáo dục và Đào tạo", "corporate"), Author("Stowe, Harriet Beecher", "person", "dịch")],
        isbns=["9786045544587"], issns=["0028-0836"], system_numbers=["(VN-TVQG)123"], edition="Tái bản lần thứ 2",
        publisher="Nxb. Văn học", place="Hà Nội", year=2019, year_confidence="exact", date_text="2019",
        extent="xii, 350 tr. ; 21 cm", pages=350, languages=["vie", "chi"],
        subjects=["Văn học Việt Nam -- Thơ -- Thế kỷ 19", "Truyện thơ Nôm"], series=["Tủ sách Văn học ; 3"],
        material_type="book", call_number="895.9221",
        holdings=[Holding("tv-tinh", "Kho mượn", "KM", call_number="895.9221 NG-D", status="available"),
                  Holding("tv-tinh", "Kho mượn", "KM", call_number="895.9221 NG-D", status="available"),
                  Holding("tv-tinh", "Thiếu nhi", "TN", call_number="895.9221 NG-D", status="on_loan"),
                  Holding("tv-tinh", "Kho đọc", "KD", status="not_for_loan")])
    values.update(changes)
    return CanonicalRecord(**values)


def read_back(record: pymarc.Record, fmt: str = "marcxml") -> CanonicalRecord:
    data = marcxml(record) if fmt == "marcxml" else iso2709(record)
    return normalize(data, fmt, PEER)


DESCRIPTION = ("title", "title_sort", "responsibility", "isbns", "invalid_isbns", "issns", "system_numbers",
               "edition", "place", "publisher", "year", "year_confidence", "date_text", "extent", "pages",
               "languages", "subjects", "series", "material_type", "call_number")


def authors(rec: CanonicalRecord) -> list[tuple]:
    """What MARC carries of each author: a meeting's dates are in its name and its role is not read back."""
    return [(a.name, a.kind) + ((a.role, a.dates) if a.kind != "meeting" else ()) for a in rec.authors]


def assert_same_description(original: CanonicalRecord, back: CanonicalRecord) -> None:
    for name in DESCRIPTION:
        assert getattr(back, name) == getattr(original, name), name
    assert authors(back) == authors(original)


def holding_rows(rows: list[dict]) -> list[tuple]:
    """Branch, call number and status as a harvester reads them: every 852 belongs to the harvesting library
    (today's normalizer does not read 852 $a), and a copy without a branch shows the library code ($a)."""
    return [(row["branch"] or row["library"], row["call_number"], row["status"]) for row in rows]


def copies(back: CanonicalRecord) -> list[tuple]:
    return [(h.branch, h.call_number, h.status) for h in back.holdings]


# -- hypothesis: canonical records as the normalizer makes them, Vietnamese text in NFC ---------------
SYLLABLES = ("Nguyễn Trần Lê Phạm Đỗ Đặng truyện kiều thơ văn học việt nam lịch sử đất nước người lính "
             "chiến tranh hòa bình tuổi thơ dữ dội mãi mãi hai mươi quê nội dế mèn phiêu lưu ký số đỏ "
             "Hà Nội băm sáu phố phường Sài Gòn Huế tiếng anh ABC The Old Man and the Sea 1945 2019 Tập II").split()
# Made-up words use ASCII and the letters only Vietnamese has: a word of Latin-1 letters alone ("à â")
# reads as TCVN3 too, and the normalizer repairs it (encodings.py) whoever wrote it; real ones are kept.
WORD = st.one_of(st.sampled_from(SYLLABLES),
                 st.text(st.sampled_from("abcdeghiklmnopqrstuvxyăđơưảạấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĐ0123456789"),
                         min_size=1, max_size=8))
JOINER = st.sampled_from([" ", " ", " ", " - ", ", ", " & ", " (", ") ", "'", ". "])


@st.composite
def phrases(draw, min_words: int = 1, max_words: int = 6) -> str:
    words = draw(st.lists(WORD, min_size=min_words, max_size=max_words))
    text = words[0]
    for word in words[1:]:
        text += draw(JOINER) + word
    text = trim(text)
    assume(text and text[0].isalnum())
    return text


def valid_isbn13(draw) -> str:
    body = "978" + "".join(str(draw(st.integers(0, 9))) for _ in range(9))
    return body + str((10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10)


def valid_issn(draw) -> str:
    digits = [draw(st.integers(0, 9)) for _ in range(7)]
    check = (11 - sum(d * (8 - i) for i, d in enumerate(digits)) % 11) % 11
    text = "".join(map(str, digits)) + ("X" if check == 10 else str(check))
    return text[:4] + "-" + text[4:]


@st.composite
def authors_strategy(draw) -> list[Author]:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["person", "person", "corporate", "meeting"]))
        if kind == "person":
            name = draw(st.one_of(
                st.builds(lambda f, g: f"{f} {g}", st.sampled_from(["Nguyễn", "Trần", "Đỗ", "Tô", "Lê"]),
                          phrases(1, 2)),
                st.builds(lambda f, g: f"{f}, {g}", st.sampled_from(["Stowe", "Hugo", "Hemingway"]), phrases(1, 2))))
        else:
            name = draw(phrases(2, 5))
        role = None if kind == "meeting" else draw(st.sampled_from([None, "tác giả", "chủ biên", "dịch", "ed."]))
        dates = draw(st.sampled_from([None, "1766-1820", "1920-"])) if kind == "person" else None
        if all((a.name, a.kind) != (name, kind) for a in out):
            out.append(Author(name=name, kind=kind, role=role, dates=dates))
    return out


@st.composite
def canonical_records(draw) -> CanonicalRecord:
    main = draw(phrases(1, 6))
    rest = draw(st.one_of(st.none(), phrases(1, 4)))
    title = main + (" : " + rest if rest else "")
    article = draw(st.sampled_from(["", "", "The ", "L'"]))
    confidence = draw(st.sampled_from(["exact", "inferred", "decade", "century", "none"]))
    year = draw(st.integers(1000, 2099))
    year, date_text = {
        "exact": (year, draw(st.sampled_from([str(year), f"c{year}", None]))),
        "inferred": (year, f"[{year}]"),
        "decade": (year // 10 * 10, f"{year // 10}-?"),
        "century": (year // 100 * 100, f"{year // 100}--"),
        "none": (None, draw(st.sampled_from([None, "[s.a.]"]))),
    }[confidence]
    extent = draw(st.one_of(st.none(), st.builds(lambda n: f"{n} tr. ; 21 cm", st.integers(1, 2000))))
    subjects = draw(st.lists(st.builds(" -- ".join, st.lists(phrases(1, 3), min_size=1, max_size=3)),
                             max_size=3, unique=True))
    series = draw(st.lists(st.builds(lambda s, n: s + (f" ; {n}" if n else ""), phrases(1, 4),
                                     st.one_of(st.none(), st.integers(1, 30))), max_size=2, unique=True))
    holdings = [Holding(library=draw(st.sampled_from(["tv-tinh", "tv-kim-son", "thcs-ths"])),
                        branch=draw(st.one_of(st.none(), phrases(1, 3))),
                        call_number=draw(st.one_of(st.none(), st.sampled_from(["895.922 34 NG-C", "633.18", "V23"]))),
                        status=draw(st.sampled_from(STATUSES)))
                for _ in range(draw(st.integers(0, 5)))]
    return CanonicalRecord(
        record_id="tv-tinh:oai:1", library="tv-tinh", format="marcxml", title=article + title, title_sort=title,
        responsibility=draw(st.one_of(st.none(), phrases(1, 5))), authors=draw(authors_strategy()),
        isbns=draw(st.lists(st.composite(lambda d: valid_isbn13(d))(), max_size=2, unique=True)),
        issns=draw(st.lists(st.composite(lambda d: valid_issn(d))(), max_size=1)),
        system_numbers=draw(st.lists(st.sampled_from(["(VN-TVQG)123", "(OCoLC)99", "KS000001"]), max_size=2,
                                     unique=True)),
        edition=draw(st.one_of(st.none(), phrases(1, 4))), publisher=draw(st.one_of(st.none(), phrases(1, 4))),
        place=draw(st.one_of(st.none(), st.sampled_from(["Hà Nội", "Tp. Hồ Chí Minh", "Đà Nẵng"]))),
        year=year, year_confidence=confidence, date_text=date_text, extent=extent, pages=pages_from_extent(extent),
        languages=draw(st.lists(st.sampled_from(["vie", "eng", "fre", "chi", "und"]), max_size=3, unique=True)),
        subjects=subjects, series=series,
        material_type=draw(st.sampled_from(["book", "serial", "map", "score", "sound", "video", "image", "computer",
                                            "mixed", "other"])),
        call_number=draw(st.one_of(st.none(), st.sampled_from(["895.922", "895.92234", "V23 NG-D", "9(V)"]))),
        holdings=holdings)


@FAST
@given(canonical_records(), st.sampled_from(["marcxml", "iso2709"]))
def test_a_published_record_reads_back_as_the_same_record(rec, fmt):
    record = entry_marc("e1", [rec])
    back = read_back(record, fmt)
    assert_same_description(rec, back)
    assert copies(back) == holding_rows(entry_holdings([rec]))
    assert all(unicodedata.is_normalized("NFC", s) for f in record.fields
               for s in ([f.data] if f.is_control_field() else [sf.value for sf in f.subfields]))
    if fmt == "marcxml":
        assert_valid(MARC_SCHEMA, marcxml(record))


# Any MARC record at all, as the normalizer reads it: the published record must read back the same. Text
# is ASCII, Vietnamese letters beyond Latin-1 and CJK: a value whose every letter fits in Latin-1 ("ï") may
# be legacy 8-bit text, and the reader decides that from the whole record, which is not the same record.
ANY_TEXT = st.text(st.sampled_from(" :;/.,=[]-()&'0123456789abcxyzABCXYZ"
                                   "ạảấầẩẫậăắằẳẵặđĐẹẻẽếềểễệỉịọỏốồổỗộơớờởỡợụủưứừửữựỳỵỷỹ漢字"), max_size=30)
ANY_FIELDS = st.lists(st.tuples(
    st.sampled_from(["020", "022", "035", "041", "082", "084", "090", "100", "110", "111", "245", "250", "260",
                     "264", "300", "490", "600", "650", "651", "700", "710", "711", "830", "852", "876", "952"]),
    st.sampled_from(" 0124"), st.sampled_from(" 01249"),
    st.lists(st.tuples(st.sampled_from(list("abcdeqnpvxyzhijo0147248")), ANY_TEXT), min_size=1, max_size=4)),
    max_size=14)


@FAST
@given(ANY_FIELDS, st.sampled_from(["210920s2021    vm a          000 0 vie d", "210920q199u    xx            eng d",
                                    "", "      n    "]), st.sampled_from("acegijkmpt"))
def test_any_record_the_normalizer_makes_reads_back_the_same(fields, f008, kind):
    source = pymarc.Record(leader=f"00000n{kind}m a2200000 a 4500")
    if f008:
        source.add_field(pymarc.Field(tag="008", data=f008))
    for tag, ind1, ind2, subfields in fields:
        source.add_field(pymarc.Field(tag=tag, indicators=pymarc.Indicators(ind1, ind2),
                                      subfields=[pymarc.Subfield(code, value) for code, value in subfields]))
    try:
        rec = normalize(source.as_marc(), "iso2709", SourceContext(library="tv-tinh", record_id="tv-tinh:1"))
    except RejectedRecord:  # no field at all
        assume(False)
    # a title that begins with ISBD punctuation (". Tập một") loses it: the reader moves such punctuation
    # back to the subfield before, and a title has none before it
    assume(not (rec.title and rec.title[0] in ".,:;=" and not rec.title.startswith("...")))
    back = read_back(entry_marc("e1", [rec]), "marcxml")
    for name in DESCRIPTION:  # "" (a publisher that was only punctuation) is written as no publisher
        assert (getattr(back, name) or None) == (getattr(rec, name) or None), name
    assert authors(back) == authors(rec)
    assert copies(back) == holding_rows(entry_holdings([rec]))


@settings(max_examples=40, deadline=None)
@given(canonical_records())
def test_copy_cataloguing_records_carry_no_holdings(rec):
    record = entry_marc("e1", [rec], holdings=False)
    assert not record.get_fields("852", "876", "952")
    back = read_back(record)
    assert back.holdings == [] and back.title == rec.title


@FAST
@given(canonical_records())
def test_dublin_core_is_valid_and_reads_back(rec):
    element = entry_dc("e1", [rec])
    assert_valid(DC_SCHEMA, element)
    back = normalize(dc_bytes("e1", [rec]), "oai_dc", PEER)
    assert (back.title, back.publisher, back.isbns, back.subjects, back.languages) == \
        (rec.title, rec.publisher, rec.isbns, rec.subjects, [c for c in rec.languages])
    named = [a.name for a in rec.authors if is_creator(a)] + [a.name for a in rec.authors if not is_creator(a)]
    assert [a.name for a in back.authors] == list(dict.fromkeys(named))  # dc:creator first, then dc:contributor
    assert back.year == rec.year and back.material_type == rec.material_type
    assert "e1" in back.system_numbers


# -- the demo network: real members of real entries --------------------------------------------------
@pytest.fixture(scope="module")
def demo_entries() -> list[tuple[str, list[CanonicalRecord]]]:
    """The demo network's records, normalized, grouped into the entries its truth describes."""
    records, groups, _ = load_demo(900)
    grouped = {i for group in groups for i in group}
    entries = [[records[i] for i in sorted(group)] for group in groups]
    entries += [[rec] for i, rec in enumerate(records) if i not in grouped]
    return [(f"e{n}", members) for n, members in enumerate(entries, 1)]


def test_every_demo_entry_reads_back_with_its_copies(demo_entries):
    assert len(demo_entries) > 500 and sum(len(m) > 2 for _, m in demo_entries) > 20
    for entry_id, members in demo_entries:
        rec = representative(members)
        record = entry_marc(entry_id, members, stamp=datetime(2026, 1, 2, 3, 4, 5))
        data = marcxml(record)
        assert_valid(MARC_SCHEMA, data)
        back = normalize(data, "marcxml", PEER)
        assert_same_description(rec, back)
        assert copies(back) == holding_rows(entry_document(entry_id, members)["holdings"])


def test_each_demo_copy_row_is_one_852_with_its_status_in_a_linked_876(demo_entries):
    entry_id, members = max(demo_entries, key=lambda e: len(entry_holdings(e[1])))
    rows = entry_holdings(members)
    record = entry_marc(entry_id, members, libraries={"tv-tinh": "Thư viện tỉnh Sơn Nam"})
    locations = record.get_fields("852")
    assert [(f.get("a"), f.get("b"), f.get("h")) for f in locations] == \
        [(r["library"], r["branch"], r["call_number"]) for r in rows]
    assert all(f.get("z") == "Thư viện tỉnh Sơn Nam" for f in locations if f.get("a") == "tv-tinh")
    items = {f.get("8").split(".")[0]: f.get("j") for f in record.get_fields("876")}
    for n, (field, row) in enumerate(zip(locations, rows), 1):
        assert field.get("8") == str(n)
        assert items.get(str(n)) == {"available": "available", "on_loan": "on loan", "not_for_loan": "not for loan",
                                     "lost": "lost", "withdrawn": "withdrawn"}.get(row["status"])
    back = read_back(record)
    assert copies(back) == holding_rows(rows) and {h.library for h in back.holdings} == {"peer"}
    assert {r["library"] for r in rows} > {"tv-tinh"}  # the union: several libraries' copies in one record


def test_demo_records_as_iso2709_are_counted_in_bytes_and_read_by_pymarc(demo_entries):
    vietnamese = 0
    for entry_id, members in demo_entries[:300]:
        data = iso2709(entry_marc(entry_id, members))
        assert int(data[:5]) == len(data) and data[9:10] == b"a" and data.endswith(b"\x1d")
        vietnamese += len(data) > len(data.decode("utf-8"))
        read = next(pymarc.MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=True))
        assert read is not None and read["001"].data == entry_id
        assert read["245"]["a"].rstrip(" :/") in representative(members).title
        back = normalize(data, "iso2709", PEER)
        assert_same_description(representative(members), back)
    assert vietnamese > 250  # multi-byte text: a length in characters would be wrong


def test_chosen_member_and_stamp(demo_entries):
    entry_id, members = next(e for e in demo_entries if len({m.title for m in e[1]}) > 1)
    other = next(m for m in members if m is not representative(members))
    record = entry_marc(entry_id, members, chosen=other.record_id, stamp=datetime(2026, 3, 4, 5, 6, 7))
    assert read_back(record).title == other.title
    assert record["001"].data == entry_id and record["003"].data == "unioncat"
    assert record["005"].data == "20260304050607.0" and record["008"].data[:6] == "260304"
    hanoi = timezone(timedelta(hours=7))  # an aware stamp is written in UTC; UTC seconds are taken too
    assert entry_marc(entry_id, members, stamp=datetime(2026, 3, 4, 12, 6, 7, tzinfo=hanoi))["005"].data == \
        "20260304050607.0"
    assert entry_marc(entry_id, members, stamp=1772600767)["005"].data == "20260304050607.0"
    assert not entry_marc(entry_id, members).get_fields("005")  # no stamp, no clock: the same bytes every time
    assert marcxml(entry_marc(entry_id, members)) == marcxml(entry_marc(entry_id, members))
    with pytest.raises(ValueError, match="not a member"):
        entry_marc(entry_id, members, chosen="nowhere:1")
    with pytest.raises(ValueError):
        entry_marc(entry_id, [])


def test_libraries_may_be_config_objects_with_a_name():
    class Library:
        name = "Thư viện tỉnh Sơn Nam"
    record = entry_marc("e1", [book()], libraries={"tv-tinh": Library()})
    assert {f.get("z") for f in record.get_fields("852")} == {"Thư viện tỉnh Sơn Nam"}


# -- MARC details a cataloguer sees -------------------------------------------------------------------
def test_the_marc_fields_of_a_vietnamese_book():
    record = entry_marc("e1", [book(title="The Truyện Kiều : thơ", title_sort="Truyện Kiều : thơ")])
    assert str(record.leader)[5:10] == "nam a" and str(record.leader)[17:19] == "7i"
    f008 = record["008"].data
    assert len(f008) == 40 and f008[6:11] == "s2019" and f008[35:38] == "vie"
    t245 = record["245"]
    assert t245.indicators == pymarc.Indicators("1", "4")
    assert [(s.code, s.value) for s in t245.subfields] == \
        [("a", "The Truyện Kiều :"), ("b", "thơ /"), ("c", "Nguyễn Du ; Đào Duy Anh chú giải")]
    assert [(s.code, s.value) for s in record["100"].subfields] == \
        [("a", "Nguyễn Du,"), ("d", "1766-1820,"), ("e", "tác giả")]
    assert record["100"].indicator1 == "0" and record.get_fields("700")[-1].indicator1 == "1"
    assert not record.get_fields("110") and record["710"]["a"] == "Bộ Giáo dục và Đào tạo"
    assert [(s.code, s.value) for s in record["260"].subfields] == \
        [("a", "Hà Nội :"), ("b", "Nxb. Văn học,"), ("c", "2019")]
    assert [(s.code, s.value) for s in record["650"].subfields] == \
        [("a", "Văn học Việt Nam"), ("x", "Thơ"), ("x", "Thế kỷ 19")]
    assert [(s.code, s.value) for s in record["490"].subfields] == [("a", "Tủ sách Văn học ;"), ("v", "3")]
    assert record["041"].get_subfields("a") == ["vie", "chi"] and record["082"]["a"] == "895.9221"
    assert len(record.get_fields("852")) == 3  # the two identical copies are one row
    back = read_back(record)
    assert back.title == "The Truyện Kiều : thơ" and back.title_sort == "Truyện Kiều : thơ"


def test_year_confidence_goes_into_the_008_and_comes_back():
    for confidence, year, text, date1 in [("exact", 2019, "c2019", "s2019"), ("inferred", 2019, "[2019]", "q2019"),
                                          ("decade", 1990, "199-?", "s199u"), ("century", 1900, "19--", "s19uu"),
                                          ("none", None, "[s.a.]", "nuuuu")]:
        rec = book(year=year, year_confidence=confidence, date_text=text)
        record = entry_marc("e1", [rec])
        assert record["008"].data[6:11] == date1
        back = read_back(record)
        assert (back.year, back.year_confidence, back.date_text) == (year, confidence, text)


def test_control_characters_never_reach_the_record():
    rec = book(title="Truyện\x1f Kiều\x1d", holdings=[Holding("tv-tinh", "Kho\x1e mượn", call_number="V\x0723")])
    data = iso2709(entry_marc("e1", [rec]))
    assert data.count(b"\x1d") == 1 and b"\x07" not in data
    assert normalize(data, "iso2709", PEER).title == "Truyện Kiều"
    assert_valid(MARC_SCHEMA, marcxml(entry_marc("e1", [rec])))


def test_a_record_too_long_for_iso2709_keeps_what_fits_and_says_so():
    copies = [Holding(f"truong-{n:04d}", f"Thư viện Trường Tiểu học số {n} xã Kim Sơn", call_number=f"372.6 TI-V {n}",
                      status="available") for n in range(2500)]
    record = entry_marc("e1", [book(holdings=copies)])
    assert len(marcxml(record)) > 200_000
    data = iso2709(record)
    assert len(data) <= 99_999 and int(data[:5]) == len(data)
    read = next(pymarc.MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=True))
    kept = len(read.get_fields("852"))
    assert 300 < kept < 2500
    assert f"{2500 - kept} more location(s)" in read["500"]["a"]
    back = normalize(data, "iso2709", PEER)
    assert len(back.holdings) == kept and all(h.status == "available" for h in back.holdings)
    assert len(record.get_fields("852")) == 2500
    assert_valid(MARC_SCHEMA, marcxml(record))


def test_a_collection_holds_each_record_once_and_validates():
    records = [entry_marc(f"e{n}", [book(title=f"Tập {n}", title_sort=f"Tập {n}")]) for n in range(1, 4)]
    data = marcxml_collection(records)
    assert_valid(MARC_SCHEMA, data)
    root = etree.fromstring(data)
    assert etree.QName(root).localname == "collection" and len(root) == 3
    assert [normalize(etree.tostring(el), "marcxml", PEER).title for el in root] == ["Tập 1", "Tập 2", "Tập 3"]
    assert marc_element(records[0]).tag == f"{{{MARC_NS}}}record"
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_json_form_is_plain_json_with_every_libraries_copies(demo_entries):
    entry_id, members = max(demo_entries, key=lambda e: len(e[1]))
    data = json.loads(json.dumps(entry_json(entry_id, members), ensure_ascii=False))
    document = entry_document(entry_id, members)
    assert data["id"] == entry_id and data["title"] == document["title"]
    assert data["holdings"] == document["holdings"] and len(data["members"]) == len(members)
    other = next(m for m in members if m is not representative(members))
    assert entry_json(entry_id, members, chosen=other.record_id)["record_id"] == other.record_id


# -- citations ---------------------------------------------------------------------------------------
def parse_ris(text: str) -> list[list[tuple[str, str]]]:
    """RIS read back line by line as a reference manager does: TAG, two spaces, dash, space, value."""
    records, current = [], None
    for line in text.splitlines():
        if not line:
            continue
        m = re.fullmatch(r"([A-Z][A-Z0-9])  - (.*)", line)
        assert m, f"not an RIS line: {line!r}"
        tag, value = m.groups()
        if tag == "TY":
            assert current is None
            current = []
        assert current is not None, line
        if tag == "ER":
            records.append(current)
            current = None
        else:
            current.append((tag, value))
    assert current is None
    return records


def citation_entries(demo_entries):
    special = book(title="Kỹ thuật {C} & C++ : 100% _dễ_ #1 $5 ~x^2 \\", title_sort="x",
                   authors=[Author("Nguyễn, Du", "person"), Author("Victor Hugo", "person"),
                            Author("Stowe, Harriet Beecher", "person"), Author("Trần Văn A", "person", "chủ biên"),
                            Author("Lê B", "person", "dịch"), Author("Bộ Giáo dục và Đào tạo", "corporate")])
    twin = book(record_id="tv-tinh:oai:2", authors=[Author("Nguyễn Du", "person")])
    return [("x1", [special]), ("x2", [book(authors=[Author("Nguyễn Du", "person")])]), ("x3", [twin])] + demo_entries[:200]


def test_ris_reads_back_line_by_line(demo_entries):
    entries = citation_entries(demo_entries)
    text = ris(entries)
    assert "\r\n" in text
    records = parse_ris(text)
    assert len(records) == len(entries)
    assert records[0][:2] == [("TY", "BOOK"), ("ID", "x1")]
    tags = [(t, v) for t, v in records[0]]
    assert ("AU", "Nguyễn Du") in tags and ("AU", "Hugo, Victor") in tags and ("AU", "Stowe, Harriet Beecher") in tags
    assert ("ED", "Trần Văn A") in tags and ("A4", "Lê B") in tags and ("AU", "Bộ Giáo dục và Đào tạo") in tags
    assert ("PY", "2019") in tags and ("PB", "Nxb. Văn học") in tags and ("CY", "Hà Nội") in tags
    assert ("SN", "9786045544587") in tags and ("KW", "Truyện thơ Nôm") in tags and ("SP", "350") in tags
    assert ("T2", "Tủ sách Văn học ; 3") in tags and ("LA", "vie") in tags and ("ET", "Tái bản lần thứ 2") in tags
    for (entry_id, members), record in zip(entries, records):
        rec = representative(members)
        values = dict(record)
        assert values["ID"] == entry_id and values.get("TI") == (rec.title or None)
        assert [v for t, v in record if t == "SN"] == rec.isbns + rec.issns


def bibtex_entries(text: str) -> list[tuple[str, str, str]]:
    """(type, key, body) of each entry, reading braces the way BibTeX does (every brace counts)."""
    out, i = [], 0
    while (at := text.find("@", i)) >= 0:
        m = re.compile(r"@(\w+)\{([^,\s]+),").match(text, at)
        assert m, text[at:at + 80]
        depth, j = 1, m.end()
        while depth:
            assert j < len(text), "unbalanced braces"
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        out.append((m.group(1), m.group(2), text[m.end():j - 1]))
        i = j
    return out


def test_bibtex_one_balanced_entry_per_input_with_unique_ascii_keys(demo_entries):
    entries = citation_entries(demo_entries)
    text = bibtex(entries)
    parsed = bibtex_entries(text)
    assert len(parsed) == len(entries)
    keys = [key for _, key, _ in parsed]
    assert len(set(keys)) == len(keys) and all(re.fullmatch(r"[a-z0-9]+", k) for k in keys)
    kind, key, body = parsed[0]
    assert kind == "book" and key == "nguyen2019ky"
    assert r"title = {{Kỹ thuật \textbraceleft{}C\textbraceright{} \& C++ : 100\% \_dễ\_ \#1 \$5 " \
           r"\textasciitilde{}x\textasciicircum{}2 \textbackslash{}}}" in body
    assert "author = {{Nguyễn Du} and Hugo, Victor and Stowe, Harriet Beecher and {Bộ Giáo dục và Đào tạo}}" in body
    assert "editor = {{Trần Văn A}}" in body and "translator = {{Lê B}}" in body
    assert parsed[1][1] == "nguyen2019truyen" and parsed[2][1] == "nguyen2019truyena"
    for _, _, body in parsed:
        assert body.count("{") == body.count("}")
        fields = re.findall(r"^  (\w+) = \{", body, re.M)
        assert len(fields) == len(set(fields))


def test_csl_json_validates_against_the_csl_schema_and_keeps_vietnamese_names_whole(demo_entries):
    entries = citation_entries(demo_entries)
    items = csl_json(entries)
    schema = json.loads((SCHEMAS / "csl-data.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(json.loads(json.dumps(items)))
    first = items[0]
    assert first["author"] == [{"literal": "Nguyễn Du"}, {"family": "Hugo", "given": "Victor"},
                               {"family": "Stowe", "given": "Harriet Beecher"}, {"literal": "Bộ Giáo dục và Đào tạo"}]
    assert first["editor"] == [{"literal": "Trần Văn A"}] and first["translator"] == [{"literal": "Lê B"}]
    assert first["issued"] == {"date-parts": [[2019]]} and first["language"] == "vi"
    assert first["collection-title"] == "Tủ sách Văn học" and first["collection-number"] == "3"
    assert [item["id"] for item in items] == [entry_id for entry_id, _ in entries]
    assert all(item["type"] in ("book", "periodical") for item in items[3:])
    assert csl_json([("e", [book(year=1990, year_confidence="decade")])])[0]["issued"] == \
        {"date-parts": [[1990]], "circa": True}


@FAST
@given(st.data())
def test_marc_text_is_marc_element_written_out(data):
    """OAI-PMH pages embed ``marc_text``: the very element ``marc_element`` builds, control characters and all."""
    text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
    record = pymarc.Record(leader="00000nam a2200000 a 4500")
    record.add_field(pymarc.Field(tag="001", data=data.draw(text)))
    record.add_field(pymarc.Field(tag="245", indicators=pymarc.Indicators("1", "0"),
                                  subfields=[pymarc.Subfield("a", data.draw(text)), pymarc.Subfield("c", data.draw(text))]))
    assert etree.tostring(etree.fromstring(marc_text(record)), method="c14n") == etree.tostring(
        marc_element(record), method="c14n")
