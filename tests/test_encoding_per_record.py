"""The legacy encoding of a record is decided once, from the evidence of all its fields (issue 17.13).

Libol records carry TCVN3 in every text field; a long 245 says so clearly, a short 100 ("B\\xb6o Ninh")
does not, and read alone it stays MARC-8 "Bœo Ninh", splitting the record from its book. The reverse:
real MARC-8 text must never be "repaired" as TCVN3 ("th\\xe5i" is MARC-8 "thī", not TCVN3 "thồi").
"""
from __future__ import annotations

import unicodedata

import pytest

from normalizer import iter_iso2709, normalize
from normalizer.records import SourceContext
from normalizer.vn_tables import TCVN3
from tests.conftest import THIRD_PARTY

CTX = SourceContext(library="tv-huyen", record_id="tv-huyen:1")
TO_TCVN3 = {ch: bytes([b]) for b, ch in TCVN3.items() if b >= 0x80 and ch.isalpha()}
LEGACY = ("TCVN3", "VNI", "CP1258")


def tcvn3(text: str) -> bytes:
    """What Libol stores for ``text``: one TCVN3 byte per precomposed letter."""
    return b"".join(TO_TCVN3[ch] if ch in TO_TCVN3 else ch.encode("ascii") for ch in unicodedata.normalize("NFC", text))


def iso2709(*fields: tuple[str, bytes], leader09: bytes = b" ") -> bytes:
    """One ISO2709 record with these data fields (tag, raw bytes after the indicators), bytes kept as they are."""
    bodies = [b"10" + raw + b"\x1e" for _, raw in fields]
    directory, offset = b"", 0
    for (tag, _), body in zip(fields, bodies):
        directory += tag.encode() + b"%04d%05d" % (len(body), offset)
        offset += len(body)
    directory += b"\x1e"
    base = 24 + len(directory)
    leader = b"%05dnam %s22%05d a 4500" % (base + offset + 1, leader09, base)
    return leader + directory + b"".join(bodies) + b"\x1d"


def marcxml(*fields: tuple[str, str]) -> bytes:
    from xml.sax.saxutils import escape
    inner = "".join(f'<datafield tag="{tag}" ind1="1" ind2="0"><subfield code="a">{escape(text)}</subfield></datafield>'
                    for tag, text in fields)
    return ('<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
            f"{inner}</record>").encode("utf-8")


def warnings(rec) -> list[str]:
    return [n for n in rec.notes if n.startswith("encoding of")]


# --- a Libol record: the short fields follow the long ones -----------------------------------------

def test_short_author_follows_the_tcvn3_title_and_joins_its_book():
    """The issue's record: 245 repaired from TCVN3, 100 "B\\xb6o Ninh" (0xB6 is also MARC-8 "œ")."""
    libol = normalize(iso2709(("020", b"\x1fa9786041234567"), ("100", b"\x1fa" + tcvn3("Bảo Ninh")),
                              ("245", b"\x1fa" + tcvn3("Nỗi buồn chiến tranh /") + b"\x1fc" + tcvn3("Bảo Ninh"))),
                      "iso2709", CTX)
    assert tcvn3("Bảo Ninh") == b"B\xb6o Ninh"
    assert libol.title == "Nỗi buồn chiến tranh" and [a.name for a in libol.authors] == ["Bảo Ninh"]
    assert {(r["field"], r["from"]) for r in libol.repairs} == {("100", "TCVN3"), ("245", "TCVN3")}
    assert warnings(libol) == []
    # the same book from a UTF-8 library: one author, one title, one ISBN
    koha = normalize(marcxml(("020", "9786041234567"), ("100", "Bảo Ninh"), ("245", "Nỗi buồn chiến tranh")),
                     "marcxml", CTX)
    assert (libol.title, [a.name for a in libol.authors], libol.isbns) == (
        koha.title, [a.name for a in koha.authors], koha.isbns)


@pytest.mark.parametrize("encoding", ["TCVN3", "VNI"])
def test_a_name_in_a_legacy_encoding_beside_a_utf8_relator_is_read(encoding):
    """One field, two encodings (merged catalogues): 700 $a typed in VNI or TCVN3, $e "kể" in UTF-8, the
    rest of the record UTF-8. The subfields are decided apart, so $e cannot spoil the name's reading."""
    from normalizer.vn_tables import VNI
    table = TO_TCVN3 if encoding == "TCVN3" else VNI  # Unicode letter -> its bytes
    legacy = b"".join(table[ch] if ch in table else ch.encode("ascii")
                      for ch in unicodedata.normalize("NFC", "Nguyễn Văn Thắng,"))
    rec = normalize(iso2709(("245", "\x1faSơn Tinh, Thủy Tinh /\x1fcNguyễn Văn Thắng kể.".encode()),
                            ("700", b"\x1fa" + legacy + "\x1fekể".encode())), "iso2709", CTX)
    assert [a.name for a in rec.authors] == ["Nguyễn Văn Thắng"], rec.notes
    assert ("700", encoding) in {(r["field"], r["from"]) for r in rec.repairs}


@pytest.mark.parametrize("shown, name", [("Ñoaøn Kim Oanh", "Đoàn Kim Oanh"), ("Nguyeãn Minh", "Nguyễn Minh"),
                                         ("Noël Pérez", "Noël Pérez"), ("François Mauriac", "François Mauriac")])
def test_a_vni_name_shown_as_windows_1252_in_a_vietnamese_dublin_core_record_is_read(shown, name):
    """Latin-1 letters alone prove little ("Noël" is French), but beside a title in Vietnamese a name
    like "Ñoaøn" is VNI shown wrong; a real French name stays as it is."""
    from xml.sax.saxutils import escape
    body = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Lịch sử văn học Việt Nam</dc:title>'
            f"<dc:creator>{escape(shown)}</dc:creator></oai_dc:dc>").encode("utf-8")
    assert [a.name for a in normalize(body, "oai_dc", CTX).authors] == [name]


@pytest.mark.parametrize("name", ["Lê", "Vũ", "Tô Hoài", "Hồ Anh Thái", "Ma Văn Kháng", "Đỗ Chu"])
def test_any_short_name_follows_a_tcvn3_record(name):
    """Names too short to prove anything alone ("Lê" is two letters) are read as the record is."""
    rec = normalize(iso2709(("100", b"\x1fa" + tcvn3(name)), ("245", b"\x1fa" + tcvn3("Lịch sử Việt Nam"))),
                    "iso2709", CTX)
    assert rec.title == "Lịch sử Việt Nam" and [a.name for a in rec.authors] == [name]
    assert warnings(rec) == []


def test_tcvn3_read_as_latin1_in_marcxml_follows_the_record_too():
    """MARCXML exports pass the TCVN3 bytes on as Latin-1 text: the same per-record decision."""
    shown = lambda text: tcvn3(text).decode("latin-1")  # noqa: E731
    rec = normalize(marcxml(("100", shown("Lê")), ("245", shown("Truyện ngắn chọn lọc")), ("260", shown("Hà Nội"))),
                    "marcxml", CTX)
    assert rec.title == "Truyện ngắn chọn lọc" and rec.authors[0].name == "Lê" and rec.place == "Hà Nội"
    assert {r["from"] for r in rec.repairs} == {"TCVN3"}


def test_a_field_the_record_cannot_read_is_listed_as_a_warning():
    """In a TCVN3 record, a field that reads as nothing Vietnamese in TCVN3 either is kept and reported."""
    rec = normalize(marcxml(("245", tcvn3("Truyện ngắn chọn lọc").decode("latin-1")), ("700", "Müller, Jürgen")),
                    "marcxml", CTX)
    assert rec.title == "Truyện ngắn chọn lọc" and rec.authors[0].name == "Müller, Jürgen"
    [warning] = warnings(rec)
    assert warning.startswith("encoding of 700 undecided, kept as received: 'Müller, Jürgen'") and "TCVN3" in warning


def test_a_lone_short_field_that_is_valid_marc8_stays_marc8_but_is_reported():
    """Nothing else in the record says TCVN3: MARC-8 is kept (leader/09 blank), and the quality report says
    what TCVN3 would have read, for a cataloguer to decide."""
    rec = normalize(iso2709(("100", b"\x1fa" + tcvn3("Bảo Ninh")), ("245", b"\x1faTruyen ngan")), "iso2709", CTX)
    assert rec.authors[0].name == "Bœo Ninh" and rec.repairs == []
    assert warnings(rec) == ["encoding of 100 undecided, kept as received: 'Bœo Ninh' (TCVN3 would read 'Bảo Ninh')"]


# --- valid MARC-8 is MARC-8 ----------------------------------------------------------------------

def test_valid_marc8_is_not_repaired_as_tcvn3():
    """ "th\\xe5i": MARC-8 macron + i, "thī" (a Hindi romanization); TCVN3 would make it "thồi"."""
    rec = normalize(iso2709(("100", b"\x1faPremchand"), ("245", b"\x1faEk th\xe5i")), "iso2709", CTX)
    assert rec.title == "Ek thī" and rec.repairs == []
    # leader/09 "a" promises UTF-8: the promise is broken, and MARC-8 is no longer the record's own encoding
    rec = normalize(iso2709(("245", b"\x1faEk th\xe5i"), leader09=b"a"), "iso2709", CTX)
    assert rec.title == "Ek thồi" and rec.repairs[0]["from"] == "TCVN3"


def test_tcvn3_that_happens_to_be_valid_marc8_is_still_read_when_the_field_says_so():
    """Two Vietnamese words in TCVN3 outweigh a MARC-8 reading made of æ, ı and £."""
    rec = normalize(iso2709(("245", b"\x1fa" + tcvn3("Xin chào các bạn"))), "iso2709", CTX)
    assert tcvn3("Xin chào các bạn") == b"Xin ch\xb5o c\xb8c b\xb9n"
    assert rec.title == "Xin chào các bạn" and rec.repairs[0]["from"] == "TCVN3"


def test_real_marc8_records_read_as_their_utf8_twins():
    """LC's brkrtest (every MARC-8 character set) and pymarc's marc8.dat: no field repaired, no warning,
    and brkrtest reads exactly as its UTF-8 edition does."""
    marc8 = [normalize(chunk + b"\x1d", "iso2709", CTX) for chunk in
             (THIRD_PARTY / "marc4j" / "brkrtest.mrc").read_bytes().split(b"\x1d") if chunk.strip()]
    utf8 = [normalize(chunk + b"\x1d", "iso2709", CTX) for chunk in
            (THIRD_PARTY / "marc4j" / "brkrtest_UTF8.mrc").read_bytes().split(b"\x1d") if chunk.strip()]
    assert len(marc8) == len(utf8) == 8
    for a, b in zip(marc8, utf8):
        assert a.repairs == [] and warnings(a) == []
        assert (a.title, a.responsibility, [x.name for x in a.authors], a.publisher, a.place, a.subjects, a.series) == (
            b.title, b.responsibility, [x.name for x in b.authors], b.publisher, b.place, b.subjects, b.series)
    rec = normalize((THIRD_PARTY / "pymarc" / "marc8.dat").read_bytes(), "iso2709", CTX)
    assert rec.repairs == [] and warnings(rec) == [] and rec.title


def test_pymarc_marc8_lines_read_as_their_utf8_lines():
    """pymarc's 1,515 MARC-8 lines (Arabic, CJK, Hebrew... in escape sequences, every byte ASCII) as the
    245 of a record with leader/09 blank read as pymarc's UTF-8 lines; none is repaired or doubted."""
    marc8 = (THIRD_PARTY / "pymarc" / "test_marc8.txt").read_bytes().split(b"\n")
    utf8 = (THIRD_PARTY / "pymarc" / "test_utf8.txt").read_text("utf-8").split("\n")
    checked = 0
    for raw, expected in zip(marc8, utf8):
        if not raw:
            continue
        [record] = list(iter_iso2709(iso2709(("245", b"\x1fa" + raw))))
        value = record.fields[0][3][0][1]
        assert " ".join(value.split()) == " ".join(unicodedata.normalize("NFC", expected).split()), expected
        rec = normalize(iso2709(("245", b"\x1fa" + raw)), "iso2709", CTX)
        assert rec.repairs == [] and warnings(rec) == []
        checked += 1
    assert checked == 1515
