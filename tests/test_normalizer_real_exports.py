"""What real catalogues send (issue 17, points 9, 10, 14, 15): Dublin Core without the usual prefix,
entities escaped twice, corporate bodies as dc:creator, ISBD punctuation between title parts."""
from __future__ import annotations

import html
import itertools
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import ConfigError, load_config
from harvester.oai import parse_page
from normalizer import normalize
from normalizer.dedup import SAME, compare
from normalizer.names import is_corporate_name
from normalizer.records import RejectedRecord, SourceContext
from normalizer.text import decode_entities, nfc
from tests.conftest import oai_library, write_config
from unionapi.search import entry_document

DATA = Path(__file__).parent / "data"


def ctx(n: int = 1, library: str = "tv", **kw) -> SourceContext:
    return SourceContext(library=library, record_id=f"{library}:{n}", **kw)


def marcxml(fields: list[tuple[str, list[tuple[str, str]]]], year: int = 2010, raw: bool = False) -> bytes:
    """A MARCXML record; subfield values are escaped once unless ``raw`` (then they are XML text as is)."""
    f008 = f"240101s{year}    vm " + " " * 17 + "vie d"
    out = ['<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>',
           f'<controlfield tag="008">{f008}</controlfield>']
    for tag, subfields in fields:
        out.append(f'<datafield tag="{tag}" ind1=" " ind2=" ">')
        out += [f'<subfield code="{c}">{v if raw else escape(v)}</subfield>' for c, v in subfields]
        out.append("</datafield>")
    return ("".join(out) + "</record>").encode("utf-8")


def dc(*elements: tuple[str, str]) -> bytes:
    """oai_dc; values are XML text as the provider wrote it."""
    body = "".join(f"<dc:{name}>{value}</dc:{name}>" for name, value in elements)
    return ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/">{body}</oai_dc:dc>').encode("utf-8")


# --------------------------------------------------------------------------- point 9

def test_every_dublin_core_shape_on_a_page_is_read():
    page = parse_page((DATA / "oai_dc_variants.xml").read_bytes(), "oai_dc")
    assert not page.bad and len(page.records) == 7
    read = []
    for n, item in enumerate(page.records, start=1):
        record = normalize(item["body"], "oai_dc", ctx(n))  # the payload as the harvester stores it
        read.append((record.title, [(a.name, a.kind) for a in record.authors], record.year, record.languages))
    assert read == [
        ("Truyện Kiều", [("Nguyễn Du", "person")], 2015, ["vie"]),
        ("Lịch sử Đảng bộ tỉnh Lào Cai", [("Tỉnh ủy Lào Cai", "corporate")], 2010, ["vie"]),
        ("Số đỏ", [("Vũ Trọng Phụng", "person")], 2016, ["vie"]),
        ("Dế Mèn phiêu lưu ký", [("Tô Hoài", "person")], 2019, ["vie"]),
        ("Tắt đèn", [("Ngô Tất Tố", "person")], 2005, ["vie"]),
        ("Chí Phèo", [("Nam Cao", "person")], 2018, ["vie"]),
        ("Nhật ký trong tù", [("Hồ Chí Minh", "person")], 2020, ["vie"]),
    ]
    first = normalize(page.records[0]["body"], "oai_dc", ctx())
    assert first.isbns == ["9786049690013"]
    assert normalize(page.records[5]["body"], "oai_dc", ctx()).pages == 180  # dcterms:extent


def test_a_payload_that_is_not_dublin_core_is_kept_aside_with_a_reason():
    with pytest.raises(RejectedRecord, match=r"no oai_dc:dc element.*root is <html>"):
        normalize(b"<html><body><p>Not found</p></body></html>", "oai_dc", ctx())


# --------------------------------------------------------------------------- point 10

def test_entities_escaped_twice_in_marc_are_decoded_once():
    record = normalize(marcxml([
        ("100", [("a", "O&amp;apos;Brien, Tim")]),
        ("245", [("a", "Ti&amp;#7871;ng Vi&amp;#x1EC7;t cho ng&amp;#432;&amp;#7901;i n&amp;#432;&amp;#7899;c ngo&amp;#224;i")]),
        ("260", [("a", "New York :"), ("b", "Barnes &amp;amp; Noble,"), ("c", "2010")]),
        ("490", [("a", "S&amp;aacute;ch &amp;amp;amp; &amp;#273;&amp;#7901;i")]),
        ("650", [("a", "R&amp;D"), ("x", "AT&amp;T")]),
    ], raw=True), "marcxml", ctx())
    assert record.title == "Tiếng Việt cho người nước ngoài"
    assert unicodedata.is_normalized("NFC", record.title)
    assert record.publisher == "Barnes & Noble"
    assert record.authors[0].name == "O'Brien, Tim"
    assert record.series == ["Sách &amp; đời"]  # escaped three times: exactly one level comes off
    assert record.subjects == ["R&D -- AT&T"]  # a "&" that opens no entity stays


def test_entities_escaped_twice_in_dublin_core_are_decoded_once():
    record = normalize(dc(("title", "&amp;quot;T&amp;#7855;t &amp;#273;&amp;egrave;n&amp;quot;"),
                          ("creator", "Ng&amp;#244; T&amp;#7845;t T&amp;#7889;"),
                          ("publisher", "Barnes &amp;amp; Noble"), ("language", "Ti&amp;#7871;ng Vi&amp;#7879;t"),
                          ("date", "2005")), "oai_dc", ctx())
    assert record.title == '"Tắt đèn"'
    assert [a.name for a in record.authors] == ["Ngô Tất Tố"]
    assert record.publisher == "Barnes & Noble" and record.languages == ["vie"]
    # the same book catalogued in MARC with the entity written once now agrees on its publisher
    marc = normalize(marcxml([("100", [("a", "Ngô Tất Tố")]), ("245", [("a", '"Tắt đèn"')]),
                              ("260", [("b", "Barnes & Noble,"), ("c", "2005")])], year=2005), "marcxml",
                     ctx(2, "tv-b"))
    verdict = compare(record, marc)
    assert verdict.decision == SAME and "publisher" not in verdict.differing


@given(st.text())
def test_text_without_an_entity_is_left_alone(text):
    plain = text.replace(";", "")  # no ";": nothing can be an entity
    assert decode_entities(plain) == plain
    plain = text.replace("&", "")
    assert decode_entities(plain) == plain


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc"))))
def test_one_level_of_escaping_is_undone_exactly(text):
    text = nfc(text)
    assert decode_entities(html.escape(text)) == text
    assert decode_entities(html.escape(html.escape(text))) == html.escape(text)


@given(st.text(), st.sampled_from(["&#769;", "&#x301;", "&amp;", "&ecirc;", "&#7879;", "&#0;", "&nosuch;"]))
def test_decoded_text_is_nfc(text, entity):
    out = decode_entities(nfc(text) + entity + nfc(text))
    assert unicodedata.is_normalized("NFC", out)


# --------------------------------------------------------------------------- point 14

BODIES = ["Tỉnh ủy Lào Cai", "Tỉnh uỷ Lào Cai", "Bộ Giáo dục và Đào tạo", "BỘ GIÁO DỤC VÀ ĐÀO TẠO",
          "Ủy ban nhân dân tỉnh Lào Cai", "UBND tỉnh Lào Cai", "Uy ban nhan dan huyen Bat Xat", "HĐND tỉnh Lào Cai",
          "Huyện ủy Bát Xát", "Đảng bộ tỉnh Lào Cai", "Sở Văn hóa, Thể thao và Du lịch Lào Cai", "Cục Thống kê",
          "Viện Văn học", "Hội Nông dân Việt Nam", "Ban Tuyên giáo Tỉnh ủy", "Trung tâm Khuyến nông",
          "Trường THPT số 1 Bảo Thắng", "Trường Đại học Sư phạm Hà Nội", "Thư viện tỉnh Lào Cai",
          "Nhà xuất bản Kim Đồng", "NXB Giáo dục", "Công ty Sách - Thiết bị trường học", "Học viện Chính trị",
          "Vụ Giáo dục Tiểu học", "Đoàn Thanh niên Cộng sản Hồ Chí Minh", "Mặt trận Tổ quốc Việt Nam",
          "Việt Nam (Cộng hòa xã hội chủ nghĩa). Bộ Y tế", "Lào Cai (tỉnh). Ủy ban nhân dân", "World Health Organization",
          "Ministry of Education and Training", "UNESCO"]
PEOPLE = ["Nguyễn Du", "Nguyễn, Du", "NGUYỄN DU", "Trường Chinh", "TRƯỜNG CHINH", "Trương Chính", "Viên Minh",
          "Đoàn Giỏi", "Đoàn Thị Điểm", "Văn Cao", "Phong Lê", "Ban Tài Đoàn", "Hồ Chí Minh", "Tô Hoài",
          "Xuân Diệu", "Sở Cuồng", "Bảo Ninh", "Nguyen Van Truong", "Hugo, Victor", "Coelho, Paulo"]


@pytest.mark.parametrize("name", BODIES)
def test_vietnamese_corporate_bodies_are_recognised(name):
    assert is_corporate_name(name)


@pytest.mark.parametrize("name", PEOPLE)
def test_people_are_not_taken_for_bodies(name):
    assert not is_corporate_name(name)


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn"))))  # what XML text can hold
def test_any_creator_is_a_person_or_a_body(name):
    assert is_corporate_name(name) in (True, False)
    record = normalize(dc(("title", "x"), ("creator", escape(name))), "oai_dc", ctx())
    assert all(a.kind in ("person", "corporate") for a in record.authors)


def test_a_source_declares_what_its_creators_are(tmp_path):
    body = dc(("title", "Báo cáo"), ("creator", "Tỉnh ủy Lào Cai"), ("creator", "Ban Mai"))
    kinds = {declared: [a.kind for a in normalize(body, "oai_dc", ctx(dc_creators=declared)).authors]
             for declared in ("auto", "person", "corporate")}
    assert kinds == {"auto": ["corporate", "person"], "person": ["person", "person"],
                     "corporate": ["corporate", "corporate"]}
    config = load_config(write_config(tmp_path / "ok", [oai_library("tv-a", "http://127.0.0.1:1/oai",
                                                                     dc_creators="corporate")]))
    assert config.library("tv-a").options["dc_creators"] == "corporate"
    with pytest.raises(ConfigError, match="dc_creators"):
        load_config(write_config(tmp_path / "bad", [oai_library("tv-a", "http://127.0.0.1:1/oai",
                                                                 dc_creators="bodies")]))


@pytest.mark.parametrize("dc_name, marc_tag, marc_name, same", [
    ("Tỉnh ủy Lào Cai", "110", "Tỉnh ủy Lào Cai", True),
    ("Tỉnh uỷ Lào Cai", "110", "Lào Cai (tỉnh). Tỉnh ủy", True),
    ("Uy ban nhan dan tinh Lao Cai", "110", "UBND tỉnh Lào Cai", True),
    ("Bộ Y tế", "110", "Việt Nam (Cộng hòa xã hội chủ nghĩa). Bộ Y tế", True),
    ("Sở GD&amp;ĐT Lào Cai", "110", "Sở Giáo dục và Đào tạo Lào Cai", True),
    ("Trường Chinh", "100", "Trường Chinh", True),
    ("Tỉnh ủy Lào Cai", "110", "Ủy ban nhân dân tỉnh Lào Cai", False),  # the Party committee is not the People's
    ("Sở Y tế Lào Cai", "110", "Sở Y tế Yên Bái", False),
])
def test_a_body_in_dublin_core_agrees_with_the_same_body_in_marc(dc_name, marc_tag, marc_name, same):
    title = "Lịch sử phong trào thi đua yêu nước"
    from_dc = normalize(dc(("title", title), ("creator", dc_name), ("date", "2010"), ("language", "vie")),
                        "oai_dc", ctx(1, "tv-huyen"))
    from_marc = normalize(marcxml([(marc_tag, [("a", marc_name)]), ("245", [("a", title)]),
                                   ("260", [("c", "2010")])]), "marcxml", ctx(1, "tv-tinh"))
    verdict = compare(from_dc, from_marc)
    assert (verdict.decision == SAME) == same, verdict.reasons
    assert not any("only a corporate body" in r for r in verdict.reasons)


# --------------------------------------------------------------------------- point 15

@pytest.mark.parametrize("subfields, title", [
    ([("a", "Tiếng Việt 1 ."), ("n", "Tập một")], "Tiếng Việt 1. Tập một"),
    ([("a", "Tiếng Việt 1"), ("n", ". Tập một")], "Tiếng Việt 1. Tập một"),
    ([("a", "Toán 6."), ("n", "Tập 2 ."), ("p", "Hình học /")], "Toán 6. Tập 2. Hình học"),
    ([("a", "Truyện Kiều :"), ("b", "thơ /")], "Truyện Kiều : thơ"),
    ([("a", "Lịch sử Việt Nam"), ("n", "Tập 1")], "Lịch sử Việt Nam. Tập 1"),
])
def test_title_parts_read_as_a_title(subfields, title):
    assert normalize(marcxml([("245", subfields)]), "marcxml", ctx()).title == title


def test_what_an_entry_shows_does_not_depend_on_the_order_of_its_records():
    members = [
        normalize(dc(("title", "TRUYỆN KIỀU"), ("creator", "NGUYỄN DU"), ("date", "2015")), "oai_dc",
                  ctx(1, "thpt-a")),
        normalize(marcxml([("100", [("a", "Nguyễn, Du")]), ("700", [("a", "Đào, Duy Anh")]),
                           ("245", [("a", "Truyện Kiều /")]), ("260", [("b", "Văn học,"), ("c", "2015")])], 2015),
                  "marcxml", ctx(1, "tv-tinh")),
        normalize(dc(("title", "Truyện Kiều"), ("creator", "Nguyễn Du"), ("creator", "Đào Duy Anh"),
                     ("date", "2015")), "oai_dc", ctx(1, "tv-huyen")),
    ]
    shown = set()
    for order in itertools.permutations(members):
        document = entry_document("e1", list(order))
        shown.add((document["title"], tuple(document["authors"]), tuple(document["titles"]), document["publisher"]))
    assert shown == {("Truyện Kiều", ("Nguyễn Du", "Đào Duy Anh"), ("Truyện Kiều",), "Văn học")}
