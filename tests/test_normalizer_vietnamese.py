"""Hand-written Vietnamese records: what a librarian in the network would see in the catalogue."""
from __future__ import annotations

import time
import unicodedata

import pytest

from normalizer import iter_marcxml, normalize
from normalizer.records import (AVAILABLE, LOST, NOT_FOR_LOAN, ON_LOAN, UNKNOWN, WITHDRAWN, CanonicalRecord,
                                RejectedRecord, SourceContext)

CTX = SourceContext(library="tv-tinh", record_id="tv-tinh:oai:koha:123",
                    branch_map={"TT": "Thư viện tỉnh (trụ sở chính)", "TN": "Phòng đọc thiếu nhi"})

KOHA_RECORD = """<?xml version="1.0" encoding="UTF-8"?>
<record xmlns="http://www.loc.gov/MARC21/slim">
  <leader>01234nam a22003137a 4500</leader>
  <controlfield tag="001">123</controlfield>
  <controlfield tag="005">20240105101500.0</controlfield>
  <controlfield tag="008">240105s2019    vm            000 1 vie d</controlfield>
  <datafield tag="020" ind1=" " ind2=" ">
    <subfield code="a">604-1-00000-0 (bìa mềm) :</subfield>
    <subfield code="c">45000đ</subfield>
  </datafield>
  <datafield tag="020" ind1=" " ind2=" ">
    <subfield code="a">978-604-1-00000-5</subfield>
  </datafield>
  <datafield tag="035" ind1=" " ind2=" "><subfield code="a">(VN-TVT)123</subfield></datafield>
  <datafield tag="041" ind1="0" ind2=" ">
    <subfield code="a">vie</subfield>
    <subfield code="a">engfre</subfield>
  </datafield>
  <datafield tag="082" ind1="0" ind2="4"><subfield code="a">895.9223</subfield></datafield>
  <datafield tag="100" ind1="0" ind2=" ">
    <subfield code="a">Tô Hoài,</subfield>
    <subfield code="d">1920-2014</subfield>
    <subfield code="e">tác giả.</subfield>
  </datafield>
  <datafield tag="245" ind1="1" ind2="0">
    <subfield code="a">Dế Mèn phiêu lưu ký :</subfield>
    <subfield code="b">truyện /</subfield>
    <subfield code="c">Tô Hoài ; minh họa: Tạ Huy Long.</subfield>
  </datafield>
  <datafield tag="250" ind1=" " ind2=" "><subfield code="a">Tái bản lần thứ 15.</subfield></datafield>
  <datafield tag="260" ind1=" " ind2=" ">
    <subfield code="a">Hà Nội :</subfield>
    <subfield code="b">Nxb. Kim Đồng,</subfield>
    <subfield code="c">2019.</subfield>
  </datafield>
  <datafield tag="300" ind1=" " ind2=" ">
    <subfield code="a">xii, 350 tr. :</subfield>
    <subfield code="b">tranh vẽ ;</subfield>
    <subfield code="c">21 cm.</subfield>
  </datafield>
  <datafield tag="490" ind1="0" ind2=" ">
    <subfield code="a">Tủ sách vàng ;</subfield>
    <subfield code="v">t. 3</subfield>
  </datafield>
  <datafield tag="650" ind1=" " ind2="7">
    <subfield code="a">Văn học thiếu nhi</subfield>
    <subfield code="z">Việt Nam</subfield>
    <subfield code="v">Truyện.</subfield>
  </datafield>
  <datafield tag="650" ind1=" " ind2="7">
    <subfield code="a">Văn học thiếu nhi</subfield>
    <subfield code="z">Việt Nam</subfield>
    <subfield code="v">Truyện</subfield>
  </datafield>
  <datafield tag="700" ind1="0" ind2=" ">
    <subfield code="a">Tạ Huy Long,</subfield>
    <subfield code="e">minh họa.</subfield>
  </datafield>
  <datafield tag="952" ind1=" " ind2=" ">
    <subfield code="a">TT</subfield><subfield code="b">TT</subfield><subfield code="c">KHO-MO</subfield>
    <subfield code="o">895.9223 T450H</subfield><subfield code="p">TT0001</subfield>
    <subfield code="0">0</subfield><subfield code="1">0</subfield><subfield code="7">0</subfield>
  </datafield>
  <datafield tag="952" ind1=" " ind2=" ">
    <subfield code="a">TT</subfield><subfield code="b">TN</subfield><subfield code="p">TN0002</subfield>
    <subfield code="q">2026-12-01 23:59:00</subfield>
  </datafield>
  <datafield tag="952" ind1=" " ind2=" ">
    <subfield code="a">TN</subfield><subfield code="p">TN0003</subfield><subfield code="7">1</subfield>
  </datafield>
  <datafield tag="952" ind1=" " ind2=" ">
    <subfield code="a">TN</subfield><subfield code="p">TN0004</subfield><subfield code="4">1</subfield>
  </datafield>
  <datafield tag="952" ind1=" " ind2=" ">
    <subfield code="b">HX</subfield><subfield code="p">HX0005</subfield><subfield code="1">2</subfield>
    <subfield code="q">2025-01-01</subfield>
  </datafield>
  <datafield tag="952" ind1=" " ind2=" ">
    <subfield code="b">HX</subfield><subfield code="p">HX0006</subfield><subfield code="0">1</subfield>
    <subfield code="1">1</subfield>
  </datafield>
</record>
"""


def marcxml(*fields: str, leader: str = "00000nam a2200000 a 4500", f008: str | None = None) -> bytes:
    """A MARCXML record from datafield snippets: ``"245|10|a=Title|b=Sub"``."""
    parts = [f"<leader>{leader}</leader>"]
    if f008 is not None:
        parts.append(f'<controlfield tag="008">{f008}</controlfield>')
    for spec in fields:
        tag, inds, *subs = spec.split("|")
        sub_xml = "".join(f'<subfield code="{s[0]}">{s[2:]}</subfield>' for s in subs)
        parts.append(f'<datafield tag="{tag}" ind1="{inds[0]}" ind2="{inds[1]}">{sub_xml}</datafield>')
    return ('<collection xmlns="http://www.loc.gov/MARC21/slim"><record>' + "".join(parts)
            + "</record></collection>").encode("utf-8")


@pytest.fixture(scope="module")
def koha() -> CanonicalRecord:
    return normalize(KOHA_RECORD.encode("utf-8"), "marcxml", CTX)


def test_bibliographic_fields(koha):
    assert koha.record_id == "tv-tinh:oai:koha:123" and koha.library == "tv-tinh" and koha.format == "marcxml"
    assert koha.title == "Dế Mèn phiêu lưu ký : truyện"
    assert koha.responsibility == "Tô Hoài ; minh họa: Tạ Huy Long"
    assert koha.edition == "Tái bản lần thứ 15"
    assert (koha.place, koha.publisher, koha.date_text, koha.year) == ("Hà Nội", "Nxb. Kim Đồng", "2019", 2019)
    assert (koha.extent, koha.pages) == ("xii, 350 tr.", 350)
    assert koha.material_type == "book" and koha.call_number == "895.9223"
    assert koha.series == ["Tủ sách vàng ; t. 3"]
    assert koha.system_numbers == ["(VN-TVT)123"]


def test_names_kept_family_name_first(koha):
    assert [(a.name, a.role, a.dates) for a in koha.authors] == [
        ("Tô Hoài", "tác giả", "1920-2014"), ("Tạ Huy Long", "minh họa", None)]


def test_subjects_joined_and_deduplicated(koha):
    assert koha.subjects == ["Văn học thiếu nhi -- Việt Nam -- Truyện"]


def test_languages_from_008_and_packed_041(koha):
    assert koha.languages == ["vie", "eng", "fre"]


def test_isbn10_becomes_isbn13_and_wrong_check_digit_is_kept_apart(koha):
    # 604-1-00000-0 is a valid ISBN-10; 978-604-1-00000-5 has a wrong check digit (should be 1).
    assert koha.isbns == ["9786041000001"]
    assert koha.invalid_isbns == ["978-604-1-00000-5"]
    assert any("978-604-1-00000-5" in n for n in koha.notes)


def test_952_items_in_each_branch_with_each_status(koha):
    got = [(h.library, h.branch_code, h.branch, h.barcode, h.status, h.due_date) for h in koha.holdings]
    assert got == [
        ("tv-tinh", "TT", "Thư viện tỉnh (trụ sở chính)", "TT0001", AVAILABLE, None),  # $0 $1 $7 all "0"
        ("tv-tinh", "TN", "Phòng đọc thiếu nhi", "TN0002", ON_LOAN, "2026-12-01"),  # $b current library wins
        ("tv-tinh", "TN", "Phòng đọc thiếu nhi", "TN0003", NOT_FOR_LOAN, None),  # $7
        ("tv-tinh", "TN", "Phòng đọc thiếu nhi", "TN0004", NOT_FOR_LOAN, None),  # $4 damaged
        ("tv-tinh", "HX", "HX", "HX0005", LOST, None),  # lost beats on loan; unmapped code kept
        ("tv-tinh", "HX", "HX", "HX0006", WITHDRAWN, None),  # withdrawn beats lost
    ]
    assert (koha.holdings[0].location, koha.holdings[0].call_number) == ("KHO-MO", "895.9223 T450H")


def test_nfd_input_gives_nfc_output():
    nfd = unicodedata.normalize("NFD", KOHA_RECORD)
    assert nfd != KOHA_RECORD
    rec = normalize(nfd.encode("utf-8"), "marcxml", CTX)
    assert rec.title == "Dế Mèn phiêu lưu ký : truyện"
    assert rec.authors[0].name == "Tô Hoài" and rec.publisher == "Nxb. Kim Đồng"
    assert rec.subjects == ["Văn học thiếu nhi -- Việt Nam -- Truyện"]
    assert rec.holdings[1].branch == "Phòng đọc thiếu nhi"


@pytest.mark.parametrize("date,year", [("Năm 2005", 2005), ("[2019]", 2019), ("c2019.", 2019),
                                       ("2019-2020", 2019), ("199?", 1990), ("201-?", 2010), ("[s.a.]", None)])
def test_year_from_260c_when_008_has_none(date, year):
    rec = normalize(marcxml("245|10|a=Lịch sử Việt Nam", f"260|  |a=Hà Nội :|b=Giáo dục,|c={date}",
                            f008="240105s        vm            000 0 vie d"), "marcxml", CTX)
    assert rec.year == year


def test_year_from_264_publication_statement():
    rec = normalize(marcxml("245|10|a=Lịch sử Việt Nam", "264| 4|c=©2018", "264| 1|a=Huế|b=Nxb. Thuận Hóa|c=2020"),
                    "marcxml", CTX)
    assert (rec.place, rec.publisher, rec.year) == ("Huế", "Nxb. Thuận Hóa", 2020)


def test_non_filing_characters_dropped_for_sorting():
    rec = normalize(marcxml("245|14|a=The Vietnamese language /|c=Nguyễn Đình Hòa."), "marcxml", CTX)
    assert rec.title == "The Vietnamese language" and rec.title_sort == "Vietnamese language"
    rec = normalize(marcxml("245|1x|a=Truyện Kiều"), "marcxml", CTX)
    assert rec.title_sort == "Truyện Kiều"  # invalid indicator ignored


def test_missing_245_is_still_a_record():
    rec = normalize(marcxml("246|1 |a=Truyện Kiều", "100|0 |a=Nguyễn Du,|d=1766-1820"), "marcxml", CTX)
    assert rec.title == "Truyện Kiều" and "245 missing: title taken from 246" in rec.notes
    rec = normalize(marcxml("100|0 |a=Nguyễn Du"), "marcxml", CTX)
    assert rec.title == "" and rec.notes and rec.authors[0].name == "Nguyễn Du"


def test_material_types_from_leader():
    kinds = {"00000nam a2200000 a 4500": "book", "00000nas a2200000 a 4500": "serial",
             "00000ncm a2200000 a 4500": "score", "00000ngm a2200000 a 4500": "video",
             "00000nem a2200000 a 4500": "map", "00000njm a2200000 a 4500": "sound"}
    for leader, kind in kinds.items():
        assert normalize(marcxml("245|00|a=X", leader=leader), "marcxml", CTX).material_type == kind


def test_unparseable_input_is_rejected_with_a_reason():
    with pytest.raises(RejectedRecord, match="not well-formed XML.*line"):
        normalize(b"<record><leader>x</leader>\n<datafield tag='245'>\n</record>", "marcxml", CTX)
    with pytest.raises(RejectedRecord, match="MARCXML record has no leader"):
        normalize(b"<record><datafield tag='245'><subfield code='a'>X</subfield></datafield></record>",
                  "marcxml", CTX)
    with pytest.raises(RejectedRecord, match="no MARCXML <record>"):
        normalize(b"<collection/>", "marcxml", CTX)
    with pytest.raises(RejectedRecord):
        normalize(b"00012garbage", "iso2709", CTX)


def test_iso2709_utf8_with_blank_leader_09():
    """Koha/Libol exports often say MARC-8 in leader/09 but carry UTF-8: read as UTF-8, say so."""
    from pymarc import Field, Record, Subfield
    rec = Record(leader="00000nam  2200000   4500")
    rec.add_field(Field(tag="245", indicators=["1", "0"], subfields=[Subfield("a", "Nghiên cứu văn hóa Việt Nam")]))
    data = bytearray(rec.as_marc())
    data[9] = ord(" ")  # pymarc sets "a" when writing UTF-8; put the lie back
    out = normalize(bytes(data), "iso2709", CTX)
    assert out.title == "Nghiên cứu văn hóa Việt Nam"
    assert "decoded as UTF-8 although leader/09 says MARC-8" in out.notes


OAI_DC = """<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
    xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:title>Truyện Kiều</dc:title>
  <dc:title>Đoạn trường tân thanh</dc:title>
  <dc:creator>Nguyễn Du</dc:creator>
  <dc:contributor>Đào Duy Anh</dc:contributor>
  <dc:subject>Văn học Việt Nam</dc:subject>
  <dc:subject>Truyện thơ</dc:subject>
  <dc:publisher>Nxb. Văn học</dc:publisher>
  <dc:date>Năm 2015</dc:date>
  <dc:identifier>ISBN 978-604-69-1234-7</dc:identifier>
  <dc:identifier>urn:isbn:8935074111111</dc:identifier>
  <dc:identifier>0-85170-577-4</dc:identifier>
  <dc:identifier>http://opac.example.vn/cgi-bin/koha/opac-detail.pl?biblionumber=7</dc:identifier>
  <dc:language>Tiếng Việt</dc:language>
  <dc:language>fr</dc:language>
  <dc:type>Sách</dc:type>
  <dc:format>250 tr. ; 21 cm</dc:format>
</oai_dc:dc>"""


def test_oai_dc_vietnamese():
    rec = normalize(unicodedata.normalize("NFD", OAI_DC).encode("utf-8"), "oai_dc", CTX)
    assert rec.format == "oai_dc" and rec.title == "Truyện Kiều"
    assert [(a.name, a.kind) for a in rec.authors] == [("Nguyễn Du", "person"), ("Đào Duy Anh", "person")]
    assert rec.subjects == ["Văn học Việt Nam", "Truyện thơ"] and rec.publisher == "Nxb. Văn học"
    assert (rec.date_text, rec.year) == ("Năm 2015", 2015)
    assert rec.isbns == ["9786046912347", "9780851705774"]
    assert rec.invalid_isbns == ["8935074111111"]
    assert rec.languages == ["vie", "fre"] and rec.material_type == "book"
    assert (rec.extent, rec.pages) == ("250 tr. ; 21 cm", 250)
    assert [(h.library, h.status) for h in rec.holdings] == [("tv-tinh", UNKNOWN)]


def test_oai_dc_inside_an_oai_record_and_rejections():
    wrapped = ('<record xmlns="http://www.openarchives.org/OAI/2.0/"><header><identifier>x</identifier></header>'
               f"<metadata>{OAI_DC}</metadata></record>").encode("utf-8")
    assert normalize(wrapped, "oai_dc", CTX).title == "Truyện Kiều"
    with pytest.raises(RejectedRecord, match="no oai_dc:dc element"):
        normalize(b"<html><body>Service unavailable</body></html>", "oai_dc", CTX)
    with pytest.raises(RejectedRecord, match="not well-formed XML"):
        normalize(b"<oai_dc:dc>", "oai_dc", CTX)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<record><leader>00000nam a2200000 a 4500</leader>
<datafield tag="245" ind1="0" ind2="0"><subfield code="a">&lol9;</subfield></datafield></record>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<record><leader>00000nam a2200000 a 4500</leader>
<datafield tag="245" ind1="0" ind2="0"><subfield code="a">x&xxe;</subfield></datafield></record>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
@pytest.mark.parametrize("fmt", ["marcxml", "oai_dc"])
def test_entities_are_never_expanded(doc, fmt):
    start = time.perf_counter()
    try:
        rec = normalize(doc, fmt, CTX)
    except RejectedRecord:
        pass
    else:
        assert "lol" not in rec.title and "root:" not in rec.title and len(rec.title) < 10
    assert time.perf_counter() - start < 1.0
    items = list(iter_marcxml(doc))
    assert all(isinstance(i, RejectedRecord) or "root:" not in str(i) for i in items)
