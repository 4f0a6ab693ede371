"""UNIMARC (Libol, older Vietnamese catalogues, Koha UNIMARC): read as UNIMARC, never as MARC21.

Records: pymarc's UNIMARC test record (an Italian SBN record), and Libol-like Vietnamese records
written here from the UNIMARC Bibliographic manual (200 title, 700 $a family name + $b given name,
210 imprint, 100 coded data, 995 items at two branches).
"""
import os
import time
import unicodedata
from pathlib import Path

import pymarc
import pytest
from hypothesis import given, settings, strategies as st
from pymarc import Field, Indicators, Subfield

from config import ConfigError, load_config
from harvester.marcbytes import split_iso2709
from normalizer import detect_flavour, iter_iso2709, iter_marcxml, normalize
from normalizer.names import VIETNAMESE_SURNAMES, person_key
from normalizer.records import AVAILABLE, ON_LOAN, WITHDRAWN, RejectedRecord, SourceContext
from normalizer.unimarc import canonical_from_unimarc
from tests.conftest import write_config

THIRD_PARTY = Path(__file__).parent / "data" / "third_party"
BRANCHES = {"TT": "Trụ sở chính", "TN": "Phòng đọc Thiếu nhi"}
CTX = SourceContext("thcs-libol", "thcs-libol:LB-000123", branch_map=BRANCHES)


def isbn13(first12: str) -> str:
    return first12 + str((10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12)) % 10) % 10)


KIEU_ISBN = isbn13("978604691234")


def coded_100(date_type="d", date1="2018", entered="20190315") -> str:
    """100 $a: date entered, type of date, date 1, date 2, audience, ..., language of cataloguing,
    transliteration, character set "50" (Unicode), script: 36 characters."""
    value = entered + date_type + date1 + "    " + "k  " + "y" + "0" + "vie" + "y" + "50  " + "    " + "ba"
    assert len(value) == 36
    return value


def f(tag, ind, *subfields):
    return Field(tag=tag, indicators=Indicators(*ind), subfields=[Subfield(c, v) for c, v in subfields])


def unimarc(*fields, leader="00000nam0 22000003i 450 ", control=(("001", "LB-000123"),)) -> pymarc.Record:
    record = pymarc.Record(force_utf8=True, leader=leader)
    for tag, data in control:
        record.add_field(Field(tag=tag, data=data))
    record.add_field(*fields)
    return record


def kieu_fields(items=True):
    fields = [
        f("010", "  ", ("a", KIEU_ISBN[:3] + "-" + KIEU_ISBN[3:6] + "-" + KIEU_ISBN[6:]), ("d", "45000đ")),
        f("100", "  ", ("a", coded_100())),
        f("101", "0 ", ("a", "vie")),
        f("102", "  ", ("a", "VN")),
        f("200", "1 ", ("a", "Truyện Kiều"), ("e", "thơ"), ("f", "Nguyễn Du"), ("g", "Đào Duy Anh giới thiệu")),
        f("205", "  ", ("a", "Tái bản lần thứ 3")),
        f("210", "  ", ("a", "H."), ("c", "Văn học"), ("d", "2018")),
        f("215", "  ", ("a", "250 tr."), ("d", "21 cm")),
        f("225", "1 ", ("a", "Tủ sách Văn học Việt Nam"), ("v", "5")),
        f("606", "  ", ("a", "Văn học Việt Nam"), ("x", "Truyện thơ"), ("z", "Thế kỷ 19")),
        f("610", "0 ", ("a", "Truyện Nôm"), ("a", "Văn học cổ điển")),
        f("675", "  ", ("a", "895.92211")),
        f("700", " 1", ("a", "Nguyễn"), ("b", "Du"), ("f", "1766-1820"), ("4", "070")),
        f("702", " 1", ("a", "Đào"), ("b", "Duy Anh"), ("4", "080")),
        f("801", " 0", ("a", "VN"), ("b", "TVT"), ("c", "20190315")),
        f("856", "4 ", ("u", "http://opac.example/kieu")),
    ]
    if items:
        fields += [
            f("995", "  ", ("b", "TT"), ("c", "TT"), ("e", "Kho mở"), ("f", "000123"), ("k", "895.922 NG-D")),
            f("995", "  ", ("b", "TN"), ("c", "TN"), ("f", "000124"), ("k", "895.922 NG-D"), ("n", "2030-06-30")),
            f("995", "  ", ("b", "TN"), ("c", "TN"), ("f", "000125"), ("k", "895.922 NG-D"), ("0", "1")),
        ]
    return fields


def iso(record: pymarc.Record) -> bytes:
    return record.as_marc()


# --- the record a user looks at -------------------------------------------------------------------

def test_libol_vietnamese_record_reads_as_the_book_it_is():
    rec = normalize(iso(unimarc(*kieu_fields())), "iso2709", CTX)
    assert rec.title == "Truyện Kiều : thơ"
    assert rec.responsibility == "Nguyễn Du ; Đào Duy Anh giới thiệu"
    assert [(a.name, a.kind, a.role, a.dates) for a in rec.authors] == [
        ("Nguyễn Du", "person", "tác giả", "1766-1820"), ("Đào Duy Anh", "person", "giới thiệu", None)]
    assert person_key(rec.authors[0].name) == "nguyen du"
    assert rec.isbns == [KIEU_ISBN] and rec.invalid_isbns == []
    assert (rec.year, rec.year_confidence, rec.date_text) == (2018, "exact", "2018")
    assert (rec.publisher, rec.place, rec.edition) == ("Văn học", "H.", "Tái bản lần thứ 3")
    assert (rec.extent, rec.pages, rec.languages, rec.material_type) == ("250 tr.", 250, ["vie"], "book")
    assert rec.subjects == ["Văn học Việt Nam -- Truyện thơ -- Thế kỷ 19", "Truyện Nôm", "Văn học cổ điển"]
    assert rec.series == ["Tủ sách Văn học Việt Nam ; 5"]
    assert rec.call_number == "895.92211"
    holdings = [(h.branch, h.branch_code, h.call_number, h.barcode, h.status, h.due_date, h.location)
                for h in rec.holdings]
    assert holdings == [
        ("Trụ sở chính", "TT", "895.922 NG-D", "000123", AVAILABLE, None, "Kho mở"),
        ("Phòng đọc Thiếu nhi", "TN", "895.922 NG-D", "000124", ON_LOAN, "2030-06-30", None),
        ("Phòng đọc Thiếu nhi", "TN", "895.922 NG-D", "000125", WITHDRAWN, None, None)]
    assert rec.notes == []  # nothing doubtful: UTF-8 as 100 $a/26-27 says, no "leader/09" complaint


def test_koha_unimarc_marcxml_gives_the_same_record():
    record = unimarc(*kieu_fields())
    xml = pymarc.record_to_xml(record, namespace=True)
    from_xml = normalize(xml, "marcxml", CTX).to_dict()
    from_iso = normalize(iso(record), "iso2709", CTX).to_dict()
    assert {**from_xml, "format": None} == {**from_iso, "format": None}


def test_pymarc_unimarc_test_record():
    """An Italian SBN record: NSB/NSE around the article, $b ", Isaac", 410 series with embedded fields."""
    data = (THIRD_PARTY / "pymarc" / "testunimarc.dat").read_bytes()
    body = next(iter(split_iso2709(data)))
    rec = normalize(body, "iso2709", SourceContext("it", "it:IT\\ICCU\\ANA\\0019370"))
    assert rec.title == "L'altra faccia della spirale"
    assert rec.title_sort == "altra faccia della spirale"  # the article is marked non-sorting
    assert rec.responsibility.startswith("Isaac Asimov ; traduzione di Cesare Scaglia")
    assert [a.name for a in rec.authors] == ["Asimov, Isaac", "Fruttero, Carlo", "Lucentini, Franco",
                                             "Scaglia, Cesare"]
    assert rec.isbns == [isbn13("978880440682")]
    assert (rec.year, rec.publisher, rec.place, rec.pages, rec.languages) == (1996, "A. Mondadori", "Milano", 201,
                                                                             ["ita"])
    assert rec.series == ["Bestsellers ; 641", "Il ciclo delle fondazioni ; 4"]
    assert not any("\x88" in s or "\x89" in s for s in [rec.title, *rec.series])
    assert not any("MARC21 or UNIMARC" in n for n in rec.notes)


def test_unicode_non_sorting_markers_and_a_record_without_100():
    rec = normalize(iso(unimarc(f("200", "1 ", ("a", "\x98Les \x9cmisérables"), ("h", "T. 1"), ("i", "Fantine")),
                                f("210", "  ", ("c", "Gallimard"), ("d", "[1995?]")),
                                control=())), "iso2709", CTX)
    assert (rec.title, rec.title_sort) == ("Les misérables. T. 1, Fantine", "misérables. T. 1, Fantine")
    assert (rec.year, rec.year_confidence) == (1995, "inferred")


@pytest.mark.parametrize("date_type, date1, text, expected", [
    ("d", "2018", None, (2018, "exact")),
    ("f", "1998", "[1998?]", (1998, "inferred")),  # publication date uncertain
    ("f", "196 ", None, (1960, "decade")),  # unknown digit left blank
    ("u", "    ", "2005", (2005, "exact")),  # date unknown in 100: 210 $d decides
    ("d", "    ", None, (None, "none")),
])
def test_year_from_100_coded_data_then_210(date_type, date1, text, expected):
    fields = [f("100", "  ", ("a", coded_100(date_type, date1))), f("200", "1 ", ("a", "Sách"))]
    if text:
        fields.append(f("210", "  ", ("d", text)))
    rec = normalize(iso(unimarc(*fields)), "iso2709", CTX)
    assert (rec.year, rec.year_confidence) == expected


def test_leader_codes_are_unimarc_ones():
    def kind(leader):
        return normalize(iso(unimarc(f("200", "1 ", ("a", "X")), leader=leader)), "iso2709", CTX).material_type
    assert kind("00000nas0 22000003i 450 ") == "serial"
    assert kind("00000nlm0 22000003i 450 ") == "computer"  # "l" electronic resource (MARC21 has no "l")
    assert kind("00000nmm0 22000003i 450 ") == "mixed"  # "m" multimedia (MARC21 "m" is a computer file)
    assert kind("00000ncm0 22000003i 450 ") == "score"


def test_volume_of_a_set_and_variant_titles():
    volume = normalize(iso(unimarc(f("200", "1 ", ("a", "Tập 2"), ("f", "Phan Huy Lê")),
                                   f("461", " 1", ("t", "Lịch sử Việt Nam")))), "iso2709", CTX)
    assert volume.title == "Lịch sử Việt Nam. Tập 2"
    named = normalize(iso(unimarc(f("200", "1 ", ("a", "Thời kỳ Bắc thuộc")), f("461", " 1", ("t", "Lịch sử")))),
                      "iso2709", CTX)
    assert named.title == "Thời kỳ Bắc thuộc"  # a volume with a title of its own keeps it
    variant = normalize(iso(unimarc(f("200", "1 ", ("f", "Khuyết danh")), f("517", "1 ", ("a", "Gia huấn ca")))),
                        "iso2709", CTX)
    assert variant.title == "Gia huấn ca" and "200 has no title: title taken from 517" in variant.notes


def test_legacy_tcvn3_text_is_repaired_as_in_marc21():
    """A Libol export of TCVN3 (ABC) text read as Latin-1 and saved as UTF-8: "TruyÖn KiÒu"."""
    record = unimarc(f("100", "  ", ("a", coded_100())), f("200", "1 ", ("a", b"Truy\xd6n Ki\xd2u".decode("latin-1"))))
    rec = normalize(iso(record), "iso2709", CTX)
    assert rec.title == "Truyện Kiều"
    assert [(r["field"], r["from"]) for r in rec.repairs] == [("200", "TCVN3")]


def test_852_locations_when_there_are_no_995_items():
    rec = normalize(iso(unimarc(f("200", "1 ", ("a", "Sách")), f("852", "  ", ("a", "TT"), ("j", "895.922 NG-D")))),
                    "iso2709", CTX)
    assert [(h.branch, h.call_number) for h in rec.holdings] == [("Trụ sở chính", "895.922 NG-D")]


def test_authority_records_in_an_export_are_rejected_with_a_reason_not_read_as_books():
    """UNIMARC/Authorities: 200 is a name heading and 100 coded data too; read as a book it would be a
    "title" Nguyễn Du."""
    authority = unimarc(f("100", "  ", ("a", "20190315aviey0103    ba")), f("200", " 1", ("a", "Nguyễn"), ("b", "Du")),
                        leader="00000nx  j2200000   450 ")
    with pytest.raises(RejectedRecord, match=r"an authority or holdings record \(UNIMARC leader/06 'x'\), not a title"):
        normalize(iso(authority), "iso2709", CTX)


def test_corporate_bodies_and_meetings():
    rec = normalize(iso(unimarc(f("200", "1 ", ("a", "Kỷ yếu hội thảo")),
                                f("710", "02", ("a", "Thư viện Quốc gia Việt Nam"), ("b", "Phòng Nghiệp vụ")),
                                f("711", "12", ("a", "Hội thảo Thư viện"), ("d", "2"), ("f", "2005"), ("e", "Hà Nội")))),
                    "iso2709", CTX)
    assert [(a.name, a.kind) for a in rec.authors] == [
        ("Thư viện Quốc gia Việt Nam Phòng Nghiệp vụ", "corporate"), ("Hội thảo Thư viện (2 ; 2005 ; Hà Nội)", "meeting")]


# --- flavour: configured, detected, undecided -----------------------------------------------------

def test_flavour_setting_decides_and_a_contradiction_is_noted():
    body = iso(unimarc(*kieu_fields(items=False)))
    as_marc21 = normalize(body, "iso2709", SourceContext("x", "x:1", marc_flavour="marc21"))
    assert as_marc21.title == "" and any("looks like UNIMARC" in n for n in as_marc21.notes)
    forced = normalize(body, "iso2709", SourceContext("x", "x:1", marc_flavour="unimarc"))
    assert forced.title == "Truyện Kiều : thơ" and forced.notes == []
    bare = normalize(iso(unimarc(f("500", "  ", ("a", "?")))), "iso2709", SourceContext("x", "x:1"))
    assert any("MARC21 or UNIMARC? the record does not tell" in n for n in bare.notes)


def marc21_records():
    """Every MARC21 record copied from other projects for the tests (pymarc, traject, marc4j, ...)."""
    for path in sorted(THIRD_PARTY.rglob("*")):
        name = path.name.lower()
        if not path.is_file() or ("unimarc" in name and not name.startswith("not_")):
            continue
        data = path.read_bytes()
        if path.suffix in (".mrc", ".marc", ".dat", ".iso"):
            records = iter_iso2709(data)
        elif path.suffix == ".xml" and b"MARC21/slim" in data[:4000]:
            records = iter_marcxml(data)
        else:
            continue
        for record in records:
            if not isinstance(record, RejectedRecord):
                yield path.name, record


def test_no_marc21_record_of_the_shared_corpus_is_taken_for_unimarc():
    seen = 0
    for name, record in marc21_records():
        seen += 1
        assert detect_flavour(record) != "unimarc", (name, [f[0] for f in record.fields])
    assert seen >= 100  # pymarc alone brings 54 MARC21 records


def test_the_unimarc_record_is_detected():
    data = (THIRD_PARTY / "pymarc" / "testunimarc.dat").read_bytes()
    assert [detect_flavour(r) for r in iter_iso2709(data) if not isinstance(r, RejectedRecord)] == ["unimarc"]


# given names as catalogued, with and without marks (random letters would be taken for legacy encodings)
names = st.sampled_from(["Du", "Trãi", "Xuân Diệu", "Thị Minh Khai", "Văn Giáp", "Duy Anh", "Hoài", "Bá Kiến",
                         "Thu Hà", "Quang Sáng", "Huy Cận", "Chí Thanh", "Ngọc Tư", "Nhật Ánh", "Van Giap", "Thi Ha"])


@settings(max_examples=150, deadline=None)
@given(surname=st.sampled_from(sorted(VIETNAMESE_SURNAMES)), given_names=st.lists(names, min_size=1, max_size=3),
       ind2=st.sampled_from("01 "))
def test_vietnamese_names_stay_family_name_first(surname, given_names, ind2):
    """700 $a family name, $b the rest: "Nguyễn" + "Du" is "Nguyễn Du", never "Du Nguyễn" (or "Nguyễn, Du")."""
    family, rest = surname.capitalize(), " ".join(given_names)
    record = unimarc(f("101", "0 ", ("a", "vie")), f("200", "1 ", ("a", "Thơ")),
                     f("700", " " + ind2, ("a", family), ("b", rest)))
    rec = normalize(iso(record), "iso2709", CTX)
    assert rec.authors[0].name == unicodedata.normalize("NFC", f"{family} {rest}")
    assert person_key(rec.authors[0].name) == person_key(f"{family} {rest}")


@settings(max_examples=100, deadline=None)
@given(surname=st.sampled_from(["Asimov", "Hugo", "Dickens", "Müller", "García Márquez", "Le Clézio"]),
       forename=st.sampled_from(["Isaac", "Victor", "Charles", "Hans", "Gabriel", "J.M.G."]),
       lang=st.sampled_from(["eng", "fre", "ita", "vie"]))
def test_western_names_entered_under_surname_read_as_in_marc21(surname, forename, lang):
    record = unimarc(f("101", "0 ", ("a", lang)), f("200", "1 ", ("a", "X")),
                     f("700", " 1", ("a", surname), ("b", ", " + forename)))
    assert normalize(iso(record), "iso2709", CTX).authors[0].name == f"{surname}, {forename}"


TAGS = ["001", "005", "010", "011", "035", "100", "101", "200", "205", "210", "214", "215", "225", "410", "600",
        "601", "606", "610", "675", "676", "700", "701", "702", "710", "711", "712", "856", "995", "245", "008",
        "461", "517", "852", "876"]
values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1d\x1e\x1f"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(st.tuples(st.sampled_from(TAGS), st.sampled_from(["  ", "01", "10", " 1", "1 "]),
                                 st.lists(st.tuples(st.sampled_from("abcdefghiknortvxyz01234"), values), max_size=6)),
                       max_size=12),
       leader=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=24, max_size=24))
def test_any_unimarc_record_gives_a_record_never_a_crash(fields, leader):
    from normalizer.marc import MarcRecord
    marc = MarcRecord(leader, [(t, i[0], i[1], subs) for t, i, subs in fields])
    try:
        rec = canonical_from_unimarc(marc, CTX, "iso2709")
    except RejectedRecord as exc:  # kept by the pipeline with its reason
        assert leader[6] in "uvxyz" and "not a title" in exc.reason
        return
    for text in [rec.title, rec.title_sort, rec.responsibility or "", *(a.name for a in rec.authors), *rec.subjects,
                 *rec.series, rec.publisher or ""]:
        assert unicodedata.is_normalized("NFC", text)
        assert not any(ch in text for ch in "\x88\x89\x98\x9c")
    assert rec.year is None or 1000 <= rec.year <= 2100


# --- configuration --------------------------------------------------------------------------------

def test_marc_flavour_is_checked_where_it_is_written(tmp_path):
    base = {"id": "thcs-libol", "name": "Trường THCS", "kind": "school", "protocol": "file", "path": str(tmp_path)}
    assert load_config(write_config(tmp_path / "a", [base])).library("thcs-libol").marc_flavour == "auto"
    config = load_config(write_config(tmp_path / "b", [{**base, "marc_flavour": "unimarc"}]))
    assert config.library("thcs-libol").marc_flavour == "unimarc"
    with pytest.raises(ConfigError, match="library 'thcs-libol', field 'marc_flavour': expected auto"):
        load_config(write_config(tmp_path / "c", [{**base, "marc_flavour": "UNIMARC-VN"}]))
    dc = {"id": "tv-dc", "name": "DC", "kind": "district", "protocol": "oai", "endpoint": "http://127.0.0.1:9/oai",
          "metadata_prefix": "oai_dc", "marc_flavour": "unimarc"}
    with pytest.raises(ConfigError, match="field 'marc_flavour': expected no marc_flavour: this library sends Dublin"):
        load_config(write_config(tmp_path / "d", [dc]))
    oai = {**dc, "metadata_prefix": "unimarc"}
    del oai["marc_flavour"]
    zebra = {"id": "tv-z", "name": "Z", "kind": "district", "protocol": "z3950", "host": "127.0.0.1", "port": 9,
             "database": "biblios", "syntax": "unimarc"}
    said = load_config(write_config(tmp_path / "e", [oai, zebra]))
    assert said.library("tv-dc").marc_flavour == said.library("tv-z").marc_flavour == "unimarc"
    assert said.library("tv-dc").record_format == "marcxml"


# --- end to end: a Libol drop beside a MARC21 Koha export -----------------------------------------

def marc21_kieu() -> bytes:
    record = pymarc.Record(force_utf8=True, leader="00000nam a2200000 a 4500")
    record.add_field(Field(tag="001", data="KOHA-77"),
                     Field(tag="008", data="190101s2018    vm            000 0 vie d"),
                     f("020", "  ", ("a", KIEU_ISBN)),
                     f("100", "0 ", ("a", "Nguyễn Du,"), ("d", "1766-1820")),
                     f("245", "10", ("a", "Truyện Kiều :"), ("b", "thơ /"), ("c", "Nguyễn Du ; Đào Duy Anh giới thiệu")),
                     f("250", "  ", ("a", "Tái bản lần thứ 3")),
                     f("260", "  ", ("a", "H. :"), ("b", "Văn học,"), ("c", "2018")),
                     f("300", "  ", ("a", "250 tr. ;"), ("c", "21 cm")),
                     f("952", "  ", ("a", "HUYEN"), ("b", "HUYEN"), ("o", "895.922 NG-D"), ("p", "K-0001")))
    return record.as_marc()


def drop(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    then = time.time() - 60  # finished a minute ago (files younger than settle_s wait)
    os.utime(folder / name, (then, then))


def test_libol_unimarc_drop_is_searchable_and_merges_with_the_same_book_in_marc21(tmp_path):
    from unionapi.app import create_app
    from unionapi.pipeline import harvest_and_update
    from unionapi.services import Services

    libol, koha = tmp_path / "libol", tmp_path / "koha"
    other = unimarc(f("100", "  ", ("a", coded_100(date1="2001"))), f("101", "0 ", ("a", "vie")),
                    f("200", "1 ", ("a", "Dế Mèn phiêu lưu ký"), ("f", "Tô Hoài")), f("210", "  ", ("c", "Kim Đồng")),
                    f("700", " 0", ("a", "Tô Hoài")), f("995", "  ", ("b", "TT"), ("k", "895.922 T-H"), ("f", "000200")),
                    control=(("001", "LB-000200"),))
    drop(libol, "libol-export.mrc", iso(unimarc(*kieu_fields())) + iso(other))
    drop(koha, "koha.mrc", marc21_kieu())
    config = load_config(write_config(tmp_path / "cfg", [
        {"id": "thcs-libol", "name": "Trường THCS Yên Mô", "kind": "school", "protocol": "file", "path": str(libol),
         "marc_flavour": "auto", "branches": BRANCHES},
        {"id": "tv-huyen", "name": "Thư viện huyện", "kind": "district", "protocol": "file", "path": str(koha),
         "branches": {"HUYEN": "Thư viện huyện"}}]))
    services = Services.open(config)
    try:
        assert harvest_and_update(services, list(config.libraries.values())) == []
        client = create_app(services).test_client()
        hits = client.get("/api/search", query_string={"q": "truyen kieu"}).get_json()["hits"]
        assert len(hits) == 1
        hit = hits[0]
        assert hit["title"] == "Truyện Kiều : thơ" and hit["year"] == 2018 and hit["isbns"] == [KIEU_ISBN]
        assert sorted(lib["id"] for lib in hit["libraries"]) == ["thcs-libol", "tv-huyen"]  # one entry, two libraries
        assert "Nguyễn Du" in " ".join(hit["authors"])
        entry = client.get(f"/api/entries/{hit['id']}").get_json()
        branches = {(lib["id"], b["branch"]): [(i["call_number"], i["status"]) for i in b["items"]]
                    for lib in entry["holdings"] for b in lib["branches"]}
        assert branches[("thcs-libol", "Trụ sở chính")] == [("895.922 NG-D", "available")]
        assert branches[("thcs-libol", "Phòng đọc Thiếu nhi")] == [("895.922 NG-D", "on_loan"),
                                                                   ("895.922 NG-D", "withdrawn")]
        assert branches[("tv-huyen", "Thư viện huyện")] == [("895.922 NG-D", "available")]
        by_author = client.get("/api/search", query_string={"q": "de men phieu luu ky to hoai"}).get_json()["hits"]
        assert [h["title"] for h in by_author] == ["Dế Mèn phiêu lưu ký"]
        assert services.catalogue.record_counts()["thcs-libol"] == 2  # nothing lost, nothing rejected
    finally:
        services.close()
