"""Rotation (Koha 952 $a owner / $b where the copy is), links to digital documents (856 $u, Dublin Core
URLs) and identifiers typed any way (ISBN-10/13 with hyphens, spaces, a prefix or a qualifier; ISSN):
the normalizer (with property tests), what is published reading back, and both search engines alike.
The pages and the API over HTTP are in test_rotation_online_isbn_pages.py."""
from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer import normalize
from normalizer.ids import isbn13_to_10, isbn_query_values, parse_identifier, valid_isbn13
from normalizer.links import MAX_TEXT, MAX_URL, web_link
from normalizer.records import CanonicalRecord, SourceContext
from tests.conftest import embedded_schema_before_sru
from tests.opensearch import cluster_product  # opensearch_url: the session fixture, from tests/conftest.py
from unionapi.publish import formats
from unionapi.publish.cql import compile_query
from unionapi.publish.state import members_digest
from unionapi.search import SearchRequest, entry_document
from unionapi.search.cluster import ClusterEngine
from unionapi.search.documents import Value
from unionapi.search.embedded import EmbeddedEngine

BRANCHES = {"TT": "Kho Trung tâm", "XA": "Điểm luân chuyển xã Khánh An", "LD": "Thư viện lưu động"}
CTX = SourceContext(library="tv-tinh", record_id="tv-tinh:1", branch_map=BRANCHES)
ISBN = "9786042123457"  # its ISBN-10 is 6042123459
ISBN_X = "9786040000040"  # its ISBN-10 ends in X: 604000004X
ISSN = "0378-5955"


def marcxml(*fields: str, title: str = "Truyện Kiều", leader: str = "00000nam a2200000 a 4500") -> bytes:
    return (f'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>{leader}</leader>'
            '<controlfield tag="001">1</controlfield>'
            f'<datafield tag="245" ind1="0" ind2="0"><subfield code="a">{title}</subfield></datafield>'
            + "".join(fields) + "</record>").encode()


def field(tag: str, *subfields: tuple[str, str], ind1: str = " ", ind2: str = " ") -> str:
    from xml.sax.saxutils import escape
    inner = "".join(f'<subfield code="{code}">{escape(value)}</subfield>' for code, value in subfields)
    return f'<datafield tag="{tag}" ind1="{ind1}" ind2="{ind2}">{inner}</datafield>'


def dc(*elements: tuple[str, str]) -> bytes:
    from xml.sax.saxutils import escape
    inner = "".join(f"<dc:{name}>{escape(value)}</dc:{name}>" for name, value in elements)
    return ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/">{inner}</oai_dc:dc>').encode()


def rotation(record) -> list[tuple]:
    return [(h.branch_code, h.branch, h.owner_branch_code, h.owner_branch) for h in record.holdings]


# -- rotation: owner and current location ------------------------------------------------------------
def test_koha_952_keeps_where_a_copy_belongs_and_where_it_is_now():
    record = normalize(marcxml(field("952", ("a", "TT"), ("b", "XA"), ("p", "VV1"), ("o", "895.922 NG-D")),
                               field("952", ("a", "TT"), ("b", "TT"), ("p", "VV2")),
                               field("952", ("a", "LD"), ("p", "VV3")),
                               field("952", ("b", "XA"), ("p", "VV4"))), "marcxml", CTX)
    assert rotation(record) == [("XA", "Điểm luân chuyển xã Khánh An", "TT", "Kho Trung tâm"),  # on rotation
                                ("TT", "Kho Trung tâm", None, None),  # at home
                                ("LD", "Thư viện lưu động", None, None),  # no $b: where it belongs
                                ("XA", "Điểm luân chuyển xã Khánh An", None, None)]  # no $a: owner unknown
    # "on the shelf at branch X" is about where the copy is: the search document's row says XA, owned by TT
    rows = entry_document("e", [record])["holdings"]
    assert rows[0] == {"library": "tv-tinh", "branch": "Điểm luân chuyển xã Khánh An", "call_number": "895.922 NG-D",
                       "status": "available", "owner": "tv-tinh", "owner_branch": "Kho Trung tâm"}
    assert all("owner" not in row for row in rows[1:])


def test_unimarc_995_home_and_holding_branches_and_an_unmapped_code():
    unimarc = ('<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam0 2200000   450 </leader>'
               '<controlfield tag="001">1</controlfield>'
               + field("100", ("a", "20200101d2019    km y0viey50      ba"))
               + field("200", ("a", "Truyện Kiều"), ind1="1")
               + field("995", ("b", "TT"), ("c", "XA"), ("f", "VV1"))
               + field("995", ("b", "TT"), ("c", "XB"), ("f", "VV2"))
               + field("995", ("b", "TT"), ("c", "TT"), ("f", "VV3"))
               + "</record>").encode()
    record = normalize(unimarc, "marcxml", CTX)
    assert record.title == "Truyện Kiều"
    assert rotation(record) == [("XA", "Điểm luân chuyển xã Khánh An", "TT", "Kho Trung tâm"),
                                ("XB", "XB", "TT", "Kho Trung tâm"),  # a code the branch map does not name
                                ("TT", "Kho Trung tâm", None, None)]


def test_852_with_an_876_temporary_location_is_a_copy_away_from_its_home():
    record = normalize(marcxml(field("852", ("8", "1"), ("a", "tv-tinh"), ("b", "TT"), ("h", "895.922")),
                               field("876", ("8", "1.1"), ("p", "VV1"), ("l", "XA"), ("j", "available")),
                               field("876", ("8", "1.2"), ("p", "VV2"), ("j", "on loan"))), "marcxml", CTX)
    assert rotation(record) == [("XA", "Điểm luân chuyển xã Khánh An", "TT", "Kho Trung tâm"),
                                ("TT", "Kho Trung tâm", None, None)]


codes = st.one_of(st.none(), st.sampled_from(["TT", "XA", "LD", "", " ", "KS-XA"]), st.text(max_size=8))


@settings(max_examples=300, deadline=None)
@given(home=codes, holding=codes)
def test_property_952_owner_is_set_exactly_when_the_copy_is_away(home, holding):
    subfields = [(c, v) for c, v in (("a", home), ("b", holding)) if v is not None]
    subfields.append(("p", "VV1"))
    from lxml import etree
    xml = marcxml(field("952", *[(c, v) for c, v in subfields if _xml_ok(v)]))
    try:
        etree.fromstring(xml)
    except etree.XMLSyntaxError:
        return
    holding_ = normalize(xml, "marcxml", CTX).holdings[0]
    given_home = _clean(home) if home is not None and _xml_ok(home) else None
    given_now = _clean(holding) if holding is not None and _xml_ok(holding) else None
    assert holding_.branch_code == (given_now or given_home)
    away = bool(given_home and given_now and given_home != given_now)
    assert holding_.owner_branch_code == (given_home if away else None)
    assert (holding_.owner_branch is None) == (not away)
    if away:
        assert holding_.owner_branch == BRANCHES.get(given_home, given_home)


def _xml_ok(value: str) -> bool:
    return all(ch in "\t\n\r" or 0x20 <= ord(ch) <= 0xD7FF or 0xE000 <= ord(ch) <= 0xFFFD for ch in value)


def _clean(value: str) -> str | None:
    from normalizer.text import nfc
    return nfc(value) or None


# -- links to digital documents -----------------------------------------------------------------------
def test_856_links_kept_with_their_text_and_unsafe_ones_dropped_with_a_note():
    record = normalize(marcxml(
        field("856", ("u", "https://sach.thuvien.vn/truyen-kieu.pdf"), ("y", "Bản điện tử (PDF)"), ind1="4", ind2="0"),
        field("856", ("3", "Mục lục"), ("u", "http://sach.thuvien.vn/muc luc.html"), ind1="4", ind2="2"),
        field("856", ("u", "https://sach.thuvien.vn/truyen-kieu.pdf")),  # the same address again: once
        field("856", ("u", "HTTP://Kho.Thuvien.VN/x")),
        field("856", ("u", "javascript:alert(document.cookie)"), ("y", "Đọc ngay")),
        field("856", ("u", "java\tscript:alert(1)")),
        field("856", ("u", "ftp://kho.thuvien.vn/a.pdf")),
        field("856", ("u", "mailto:thuvien@example.vn")),
        field("856", ("u", "file:///C:/sach/a.pdf")),
        field("856", ("u", "data:text/html,<script>alert(1)</script>")),
        field("856", ("u", "/opac/a.pdf")),
        field("856", ("u", "www.thuvien.vn/a.pdf")),
        field("856", ("u", "http://admin:secret@thuvien.vn/a.pdf")),
        field("856", ("u", "https://" + "a" * 2100 + ".vn/"))), "marcxml", CTX)
    assert record.links == [{"url": "https://sach.thuvien.vn/truyen-kieu.pdf", "text": "Bản điện tử (PDF)"},
                            {"url": "http://sach.thuvien.vn/muc%20luc.html", "text": "Mục lục"},
                            {"url": "http://kho.thuvien.vn/x", "text": "kho.thuvien.vn"}]
    dropped = [n for n in record.notes if n.startswith("link ")]
    assert len(dropped) == 10, dropped
    assert any("javascript: address" in n for n in dropped) and any("ftp: address" in n for n in dropped)
    assert sum("relative address" in n for n in dropped) == 2 and any("user name or password" in n for n in dropped)
    assert all(n.startswith("link '") and " in 856 $u dropped: " in n for n in dropped)


def test_unimarc_856_link_text_is_2_and_links_survive_storage():
    unimarc = ('<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam0 2200000   450 </leader>'
               '<controlfield tag="001">1</controlfield>'
               + field("100", ("a", "20200101d2019    km y0viey50      ba"))
               + field("200", ("a", "Lịch sử Ninh Bình"), ind1="1")
               + field("856", ("u", "https://repo.thuvien.vn/handle/1/2"), ("2", "Toàn văn"))
               + "</record>").encode()
    record = normalize(unimarc, "marcxml", CTX)
    assert record.links == [{"url": "https://repo.thuvien.vn/handle/1/2", "text": "Toàn văn"}]
    again = CanonicalRecord.from_dict(json.loads(json.dumps(record.to_dict(), ensure_ascii=False)))
    assert again == record


def test_dublin_core_identifier_and_relation_addresses():
    record = normalize(dc(("title", "Địa chí Ninh Bình"),
                          ("identifier", "https://repo.thuvien.vn/handle/123/456"),
                          ("identifier", "ISBN 978-604-2-12345-7"),
                          ("identifier", "javascript:alert(1)"),
                          ("identifier", "urn:nbn:vn:123"),
                          ("relation", "Tủ sách Địa chí"),  # a series name: no link, no warning
                          ("relation", "http://repo.thuvien.vn/handle/123/1"),
                          ("relation", "ftp://repo.thuvien.vn/a.pdf")),
                       "oai_dc", SourceContext(library="dspace", record_id="dspace:1"))
    assert record.links == [{"url": "https://repo.thuvien.vn/handle/123/456", "text": "repo.thuvien.vn"},
                            {"url": "http://repo.thuvien.vn/handle/123/1", "text": "repo.thuvien.vn"}]
    assert record.isbns == [ISBN] and "urn:nbn:vn:123" in record.system_numbers
    assert [n.split(" dropped: ")[1] for n in record.notes if n.startswith("link ")] == [
        "javascript: address (only http and https links are kept)", "ftp: address (only http and https links are kept)"]


@settings(max_examples=500, deadline=None)
@given(url=st.one_of(st.text(max_size=300), st.builds(lambda s, rest: s + rest,
                                                      st.sampled_from(["http://", "https://", "HTTP://", " https://",
                                                                       "javascript:", "java\nscript:", "//", "/"]),
                                                      st.text(max_size=300))),
       text=st.one_of(st.none(), st.text(max_size=400)))
def test_property_a_kept_link_is_an_absolute_http_address_and_plain_text(url, text):
    link, problem = web_link(url, text)
    if link is None:
        assert problem
        return
    kept = link["url"]
    assert kept.startswith(("http://", "https://")) and len(kept) <= MAX_URL
    assert not any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in kept)
    assert not any(ch in kept for ch in '<>"`')
    parts = urlsplit(kept)
    assert parts.scheme in ("http", "https") and parts.hostname and parts.username is None
    import unicodedata
    label = link["text"]
    assert label and len(label) <= MAX_TEXT and unicodedata.is_normalized("NFC", label)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in label)
    assert web_link(kept, label) == (link, None)  # idempotent: a published link reads back the same


@settings(max_examples=200, deadline=None)
@given(urls=st.lists(st.text(max_size=80), max_size=30), texts=st.lists(st.text(max_size=40), max_size=5))
def test_property_856_fields_never_break_a_record(urls, texts):
    fields_ = [field("856", *([("u", u)] + [("y", t) for t in texts[:1]])) for u in urls if _xml_ok(u)
               and all(_xml_ok(t) for t in texts[:1])]
    from lxml import etree
    xml = marcxml(*fields_)
    try:
        etree.fromstring(xml)
    except etree.XMLSyntaxError:
        return
    record = normalize(xml, "marcxml", CTX)
    assert len(record.links) <= 20
    assert all(link["url"].startswith(("http://", "https://")) for link in record.links)
    assert len({link["url"] for link in record.links}) == len(record.links)


# -- stored records still load; nothing that says nothing new changes their stored form ---------------------
def test_records_stored_before_links_and_owners_load_and_digest_as_before():
    old = {"record_id": "tv-tinh:1", "library": "tv-tinh", "format": "marcxml", "title": "Truyện Kiều",
           "holdings": [{"library": "tv-tinh", "branch": "Kho Trung tâm", "branch_code": "TT", "location": None,
                         "call_number": None, "barcode": "VV1", "status": "available", "due_date": None}],
           "some_future_field": 1}
    record = CanonicalRecord.from_dict(old)
    assert record.links == [] and record.holdings[0].owner_branch is None
    stored = record.to_dict()
    assert "links" not in stored and "owner_branch" not in stored["holdings"][0]
    # the same record normalized today says the same: its publication digest does not move on upgrade
    today = normalize(marcxml(field("952", ("a", "TT"), ("b", "TT"), ("p", "VV1"))), "marcxml", CTX)
    assert "links" not in today.to_dict() and "owner_branch" not in today.to_dict()["holdings"][0]
    assert members_digest([CanonicalRecord.from_dict(today.to_dict())]) == members_digest([today])
    future = {**old, "holdings": [{**old["holdings"][0], "shelf_mark_v9": "x"}]}  # a holding key unknown today
    assert CanonicalRecord.from_dict(future).holdings[0].barcode == "VV1"
    document = entry_document("e", [record])
    assert not {"links", "online", "issns"} & set(document)  # the document of such an entry is as it was


# -- identifiers as typed ------------------------------------------------------------------------------
def hyphenated(isbn: str) -> str:
    return f"{isbn[:3]}-{isbn[3:6]}-{isbn[6]}-{isbn[7:12]}-{isbn[12]}"


@pytest.mark.parametrize("typed", [
    ISBN, hyphenated(ISBN), hyphenated(ISBN).replace("-", " "), f"ISBN {hyphenated(ISBN)}", f"isbn:{ISBN}",
    f"ISBN-13: {ISBN}", f"urn:isbn:{ISBN}", "6042123459", "604-2-12345-9", f"{ISBN} (bìa mềm)",
    f"{hyphenated(ISBN)} : 45000đ", f"  {ISBN}  ", "978\u2013604\u20132\u201312345\u20137"])
def test_isbn_written_any_way_is_one_isbn13(typed):
    assert parse_identifier(typed) == ("isbn", ISBN)
    assert isbn_query_values(typed) == [ISBN]


def test_isbn10_ending_in_x_and_issn_forms_and_what_is_not_an_identifier():
    assert parse_identifier("604000004X") == parse_identifier("604000004x") == ("isbn", ISBN_X)
    assert parse_identifier("ISBN 604-00-0004-X") == ("isbn", ISBN_X)
    for typed in (ISSN, ISSN.replace("-", ""), f"ISSN {ISSN}", f"issn:{ISSN}", f"{ISSN} (in)"):
        assert parse_identifier(typed) == ("issn", ISSN), typed
    for words in ("Toán 10", "1984", "10 vạn câu hỏi vì sao", "2000 năm lịch sử", "Tiếng Việt 1 tập 2",
                  "9786042123458", "0378-5956", "ISSN 9786042123457", "123456789", ""):
        assert parse_identifier(words) is None, words
    assert isbn_query_values(f"{ISBN} 604000004X") == [ISBN, ISBN_X]  # several ISBNs (SRU "any")
    # SRU's bath.isbn reads the same forms through the same function
    assert compile_query('bath.isbn = "978 604 2 12345 7"') == Value("isbn", (ISBN,))
    assert compile_query('bath.isbn = "ISBN 6042123459 (bìa mềm)"') == Value("isbn", (ISBN,))


@settings(max_examples=300, deadline=None)
@given(body=st.text("0123456789", min_size=9, max_size=9),
       cuts=st.lists(st.integers(1, 12), max_size=4), separator=st.sampled_from(["-", " ", ""]),
       prefix=st.sampled_from(["", "ISBN ", "isbn:", "ISBN-13: ", "urn:isbn:"]),
       suffix=st.sampled_from(["", " (bìa mềm)", " : 45000đ", " (pbk.)"]), ten=st.booleans())
def test_property_any_rendering_of_an_isbn_finds_its_isbn13(body, cuts, separator, prefix, suffix, ten):
    isbn = next(f"978{body}{d}" for d in "0123456789" if valid_isbn13(f"978{body}{d}"))
    digits = isbn13_to_10(isbn) if ten else isbn
    for cut in sorted(set(c for c in cuts if c < len(digits)), reverse=True):
        digits = digits[:cut] + separator + digits[cut:]
    assert parse_identifier(prefix + digits + suffix) == ("isbn", isbn)


# -- published MARC, Dublin Core and JSON read back ------------------------------------------------------
def test_links_and_rotation_published_in_marc_read_back():
    record = normalize(marcxml(field("020", ("a", hyphenated(ISBN))),
                               field("856", ("u", "https://sach.thuvien.vn/a.pdf"), ("y", "Bản PDF")),
                               field("856", ("u", "https://sach.thuvien.vn/b.pdf")),
                               field("952", ("a", "TT"), ("b", "XA"), ("p", "VV1")),
                               field("952", ("a", "TT"), ("b", "TT"), ("p", "VV2"), ("q", "2026-12-01"))),
                       "marcxml", CTX)
    marc = formats.entry_marc("e1", [record], libraries={"tv-tinh": "Thư viện tỉnh"})
    assert [f.tag for f in marc.fields].count("856") == 2
    back = normalize(formats.marcxml(marc), "marcxml", SourceContext(library="union", record_id="union:e1"))
    assert back.links == record.links
    assert sorted(rotation(back)) == sorted([
        ("Điểm luân chuyển xã Khánh An", "Điểm luân chuyển xã Khánh An", "Kho Trung tâm", "Kho Trung tâm"),
        ("Kho Trung tâm", "Kho Trung tâm", None, None)])  # 852 $b home, 876 $l where it is now
    assert [h.status for h in back.holdings] == ["available", "on_loan"]
    iso_back = normalize(formats.iso2709(marc), "iso2709", SourceContext(library="union", record_id="union:e1"))
    assert iso_back.links == record.links
    dc_back = normalize(formats.dc_bytes("e1", [record]), "oai_dc", SourceContext(library="u", record_id="u:e1"))
    assert [link["url"] for link in dc_back.links] == [link["url"] for link in record.links]
    exported = formats.entry_json("e1", [record])
    assert exported["links"] == record.links
    assert exported["holdings"][0]["owner_branch"] == "Kho Trung tâm"


# -- both search engines: the online filter and facet, rotation, identifiers in any form -------------------
def catalogue_documents() -> list[dict]:
    def rec(n: int, *fields_: str, title: str, library: str = "tv-tinh", fmt: str = "marcxml", body=None, **kw):
        ctx = SourceContext(library=library, record_id=f"{library}:{n}", branch_map=BRANCHES)
        return normalize(body if body is not None else marcxml(*fields_, title=title, **kw), fmt, ctx)

    records = {
        "kieu": [rec(1, field("020", ("a", hyphenated(ISBN))), field("952", ("a", "TT"), ("b", "XA"), ("p", "V1")),
                     field("856", ("u", "https://sach.thuvien.vn/kieu.pdf"), ("y", "Bản điện tử")), title="Truyện Kiều"),
                 rec(2, field("020", ("a", "6042123459 (bìa mềm)")), field("952", ("a", "KS"), ("p", "K1")),
                     title="Truyện Kiều", library="tv-kim-son")],
        "toan": [rec(3, field("020", ("a", "604-00-0004-X")), field("952", ("a", "TT"), ("p", "V2")), title="Toán 10")],
        "tapchi": [rec(4, field("022", ("a", ISSN)), field("952", ("a", "LD"), ("b", "TT"), ("p", "V3")),
                       title="Tạp chí Văn hoá Ninh Bình", leader="00000nas a2200000 a 4500")],
        "ebook": [rec(5, field("856", ("u", "http://repo.thuvien.vn/handle/1/9")), title="Địa chí Ninh Bình")],
        "dc": [rec(6, title="", fmt="oai_dc", library="dspace",
                   body=dc(("title", "Lịch sử Đảng bộ tỉnh"), ("identifier", "https://repo.thuvien.vn/handle/2/1")))],
        "plain": [rec(7, field("952", ("a", "TT"), ("p", "V4")), title="Lịch sử 9786042123457 năm")],
    }
    return [entry_document(entry_id, members) for entry_id, members in records.items()]


REQUESTS = {
    "online": SearchRequest(online=True),
    "online_kim_son": SearchRequest(online=True, library=["tv-kim-son"]),
    "rotation": SearchRequest(rotation=True),
    "rotation_tinh": SearchRequest(rotation=True, library=["tv-tinh"]),
    "rotation_kim_son": SearchRequest(rotation=True, library=["tv-kim-son"]),
    "isbn_hyphens": SearchRequest(q=hyphenated(ISBN)),
    "isbn_spaces": SearchRequest(q=hyphenated(ISBN).replace("-", " ")),
    "isbn_prefix": SearchRequest(q=f"ISBN {hyphenated(ISBN)}"),
    "isbn_colon": SearchRequest(q=f"isbn:{ISBN}"),
    "isbn10": SearchRequest(q="6042123459"),
    "isbn_qualifier": SearchRequest(q=f"{ISBN} (bìa mềm)"),
    "isbn10_x": SearchRequest(q="604000004X"),
    "isbn13_of_x": SearchRequest(q=hyphenated(ISBN_X)),
    "issn": SearchRequest(q=ISSN),
    "issn_bare": SearchRequest(q=ISSN.replace("-", "")),
    "words_with_digits": SearchRequest(q="Toán 10"),
    "bare_isbn": SearchRequest(q=ISBN),  # the ISBN, and the title that holds its digits as a word
    "everything": SearchRequest(),
}
EXPECTED = {
    "online": {"kieu", "ebook", "dc"}, "online_kim_son": {"kieu"},  # kieu: linked by tv-tinh, held by tv-kim-son too
    "rotation": {"kieu", "tapchi"}, "rotation_tinh": {"kieu", "tapchi"}, "rotation_kim_son": set(),
    "isbn_hyphens": {"kieu"}, "isbn_spaces": {"kieu"}, "isbn_prefix": {"kieu"}, "isbn_colon": {"kieu"},
    "isbn10": {"kieu"}, "isbn_qualifier": {"kieu"}, "isbn10_x": {"toan"}, "isbn13_of_x": {"toan"},
    "issn": {"tapchi"}, "issn_bare": {"tapchi"}, "words_with_digits": {"toan"}, "bare_isbn": {"kieu", "plain"},
    "everything": {"kieu", "toan", "tapchi", "ebook", "dc", "plain"},
}


@pytest.fixture(scope="module")
def documents():
    return catalogue_documents()


def found(engine, request: SearchRequest) -> tuple[set[str], list]:
    result = engine.search(request)
    return {hit["id"] for hit in result.hits}, result.facets.get("online")


def test_embedded_engine_online_rotation_and_identifiers(tmp_path, documents):
    engine = EmbeddedEngine(tmp_path / "index")
    engine.write(documents, [], replace_all=True)
    for name, request in REQUESTS.items():
        assert found(engine, request)[0] == EXPECTED[name], name
    assert found(engine, SearchRequest())[1] == [{"value": "true", "count": 3}]
    assert found(engine, SearchRequest(q="truyen kieu"))[1] == [{"value": "true", "count": 1}]
    assert found(engine, SearchRequest(q="toan"))[1] == []
    hit = engine.search(SearchRequest(q="dia chi ninh binh")).hits[0]
    assert hit["online"] is True and hit["links"] == [{"url": "http://repo.thuvien.vn/handle/1/9",
                                                      "text": "repo.thuvien.vn", "library": "tv-tinh"}]
    assert engine.search(SearchRequest(q="toan 10")).hits[0]["online"] is False


def test_opensearch_answers_the_same(opensearch_url, documents, tmp_path):
    embedded = EmbeddedEngine(tmp_path / "index")
    embedded.write(documents, [], replace_all=True)
    cluster = ClusterEngine(opensearch_url, index=f"unioncat-test-{uuid.uuid4().hex[:8]}", product=cluster_product())
    try:
        cluster.write(documents, [], replace_all=True)
        for name, request in REQUESTS.items():
            assert found(cluster, request) == found(embedded, request), name
            assert found(cluster, request)[0] == EXPECTED[name], name
        hit = cluster.search(SearchRequest(q="dia chi ninh binh")).hits[0]
        assert hit["online"] is True and hit["links"][0]["url"] == "http://repo.thuvien.vn/handle/1/9"
    finally:
        for index in cluster._safe_alias_targets():
            cluster._delete_quietly(index)
        cluster.close()


def test_an_opensearch_index_made_before_these_fields_is_copied_into_the_new_mapping(opensearch_url, documents):
    """An older index (no online, issns, holdings.owner) is not current: the next write copies it into an
    index with the new mapping, and documents written since are found by the new filters."""
    from unionapi.search import cluster as cluster_module
    old_mapping = json.loads(json.dumps(cluster_module.MAPPING))
    for name in ("online", "issns", "links"):
        del old_mapping["properties"][name]
    for name in ("owner", "owner_branch"):
        del old_mapping["properties"]["holdings"]["properties"][name]
    assert not cluster_module.current_mapping(old_mapping)
    engine = ClusterEngine(opensearch_url, index=f"unioncat-test-{uuid.uuid4().hex[:8]}", product=cluster_product())
    try:
        name = engine._new_index_name()
        engine._call("PUT", f"/{name}", body={**cluster_module.index_body(), "mappings": old_mapping})
        engine._call("POST", "/_aliases", body={"actions": [{"add": {"index": name, "alias": engine.alias}}]})
        assert not engine.has_current_mapping()
        engine.write(documents, [])
        assert engine.has_current_mapping()
        assert found(engine, REQUESTS["online"])[0] == EXPECTED["online"]
        assert found(engine, REQUESTS["issn"])[0] == EXPECTED["issn"]
        assert found(engine, REQUESTS["rotation"])[0] == EXPECTED["rotation"]
    finally:
        for index in engine._safe_alias_targets():
            engine._delete_quietly(index)
        engine.close()


def test_an_embedded_index_made_before_these_fields_keeps_answering_and_is_rebuilt(tmp_path, documents):
    """The schema gained fields: an index an older version made opens as stale (searches go on; the online
    filter says the index must be rebuilt), and the next full write rebuilds it with them."""
    import tantivy
    from unionapi.search import embedded as embedded_module
    from unionapi.search.documents import QueryUnsupported
    (tmp_path / "index").mkdir()
    old = tantivy.Index(embedded_schema_before_sru(), path=str(tmp_path / "index"))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    doc = tantivy.Document()
    doc.add_text("id", "kieu")
    doc.add_text("all", "truyen")
    doc.add_text("title", "truyen")
    doc.add_bytes("summary", json.dumps(embedded_module.summary(documents[0])).encode())
    writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()
    del writer, old
    engine = EmbeddedEngine(tmp_path / "index")
    assert engine.stale
    assert found(engine, SearchRequest(q="truyen"))[0] == {"kieu"}
    assert found(engine, SearchRequest(q=ISBN))[0] == set()  # the old index has no ISBN of it: the words still run
    with pytest.raises(QueryUnsupported):
        engine.search(SearchRequest(online=True))
    engine.write(documents, [], replace_all=True)
    assert not engine.stale and found(engine, REQUESTS["online"])[0] == EXPECTED["online"]
