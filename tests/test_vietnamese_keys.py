"""Folding, name keys, years with a confidence, identifiers and Dublin Core values (table-driven)."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer import normalize
from normalizer.dates import best_year, parse_year
from normalizer.ids import isbn10_to_13, isbn13_to_10, normalize_isbn, normalize_issn, valid_isbn10
from normalizer.names import person_key, publisher_key
from normalizer.records import CanonicalRecord, SourceContext
from normalizer.text import exact, fold

CTX = SourceContext(library="tv", record_id="tv:1")
VIETNAMESE = ("aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ")
LETTERS = VIETNAMESE + VIETNAMESE.upper() + " -.,"

# --- folding -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(LETTERS) | st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_fold_is_idempotent_and_equal_for_nfc_and_nfd(text):
    folded = fold(text)
    assert fold(folded) == folded
    assert fold(unicodedata.normalize("NFD", text)) == folded == fold(unicodedata.normalize("NFC", text))
    assert exact(unicodedata.normalize("NFD", text)) == exact(unicodedata.normalize("NFC", text))


def test_fold_covers_every_vietnamese_letter():
    for ch in VIETNAMESE:
        base = "d" if ch == "đ" else unicodedata.normalize("NFD", ch)[0]
        assert fold(ch) == fold(ch.upper()) == fold(unicodedata.normalize("NFD", ch.upper())) == base, ch
    assert len(VIETNAMESE) == 89 and fold(VIETNAMESE).isascii()
    assert exact("Dế") != exact("dê") and fold("Dế") == fold("dê") == "de"
    assert fold("ĐẶNG") == fold("Đặng") == "dang"


@pytest.mark.parametrize("query", ["nguyen du", "NGUYEN DU", "Nguyễn Du", unicodedata.normalize("NFD", "Nguyễn Du")])
def test_every_way_of_typing_a_name_folds_the_same(query):
    assert fold(query) == "nguyen du"


# --- names ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("names", [
    ["Nguyễn Du", "Nguyễn, Du", "NGUYỄN DU", "Nguyen Du", "Nguyễn Du (tác giả)", "Nguyễn Du, 1765-1820",
     unicodedata.normalize("NFD", "Nguyễn Du")],
    ["Tô Hoài", "Tô Hoài, 1920-2014", "Tô Hoài, tác giả", "TÔ HOÀI"],
    ["Hugo, Victor", "Victor Hugo", "Hugo, Victor, 1802-1885", "HUGO, VICTOR"],
    ["Nguyễn Văn A", "PGS.TS. Nguyễn Văn A", "Nguyễn, Văn A", "Nguyễn Văn A (chủ biên)"],
    ["Xuân Diệu", "Xuân, Diệu"],
    ["Smith, John", "Smith, John, 1950-, editor", "John Smith"],
])
def test_person_keys_equal(names):
    assert len({person_key(n) for n in names}) == 1, [person_key(n) for n in names]


@pytest.mark.parametrize("a,b", [("Nguyễn Du", "Du Nguyễn"), ("Hugo, Victor", "Hugo, Adèle"),
                                 ("Trần Văn Giàu", "Trần Văn Giáp")])
def test_person_keys_differ(a, b):
    assert person_key(a) != person_key(b)


@pytest.mark.parametrize("name", ["Nxb. Kim Đồng", "Nhà xuất bản Kim Đồng", "NXB Kim Đồng", "Kim Đồng", "N.X.B. Kim Đồng",
                                  "Nxb Kim Đồng,", "Kim Đồng Publishing House", "nhà xuất bản KIM ĐỒNG"])
def test_publisher_keys(name):
    assert publisher_key(name) == "kim dong"


def test_unknown_publisher_has_an_empty_key():
    assert publisher_key("[s.n.]") == publisher_key("[K.nxb]") == ""
    assert publisher_key("Nhà xuất bản") == "nha xuat ban"  # nothing but the generic words: kept


# --- dates ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,year,confidence", [
    ("2019", 2019, "exact"), ("2019.", 2019, "exact"), ("c2019", 2019, "exact"), ("©2018", 2018, "exact"),
    ("[2019]", 2019, "inferred"), ("[2019?]", 2019, "inferred"), ("2019?", 2019, "inferred"),
    ("khoảng 2019", 2019, "inferred"), ("ca. 1890", 1890, "inferred"),
    ("2019-2020", 2019, "exact"), ("Năm 2005", 2005, "exact"), ("tháng 5 năm 2019", 2019, "exact"),
    ("T5/2019", 2019, "exact"), ("05/2019", 2019, "exact"), ("2019-05-01", 2019, "exact"),
    ("199?", 1990, "decade"), ("201-?", 2010, "decade"), ("[199-]", 1990, "decade"), ("199u", 1990, "decade"),
    ("những năm 1990", 1990, "decade"), ("1990s", 1990, "decade"), ("19--", 1900, "century"),
    ("[s.a.]", None, "none"), ("[k.n.]", None, "none"), ("", None, "none"), (None, None, "none")])
def test_parse_year(text, year, confidence):
    assert parse_year(text) == (year, confidence)


@pytest.mark.parametrize("f008,texts,year,confidence", [
    ("240105s2019    vm            000 0 vie d", ["[2018]"], 2019, "exact"),  # 008 wins when it is a year
    ("240105q2019    vm            000 0 vie d", [], 2019, "inferred"),  # 008/06 q: questionable
    ("240105s        vm            000 0 vie d", ["[2019]"], 2019, "inferred"),
    ("240105s199u    vm            000 0 vie d", ["c1994"], 1994, "exact"),  # $c more precise than 008
    ("240105s199u    vm            000 0 vie d", ["[s.a.]"], 1990, "decade"),
    ("240105s19uu    vm            000 0 vie d", [], 1900, "century"),
    (None, ["T5/2019", "2020"], 2019, "exact"), (None, [None, "201-?"], 2010, "decade"), ("", [], None, "none")])
def test_best_year(f008, texts, year, confidence):
    assert best_year(f008, texts) == (year, confidence)


def test_year_confidence_on_the_record_and_old_stored_records():
    body = ('<record><leader>00000nam a2200000 a 4500</leader><datafield tag="260" ind1=" " ind2=" ">'
            '<subfield code="c">[2019?]</subfield></datafield></record>').encode()
    rec = normalize(body, "marcxml", CTX)
    assert (rec.year, rec.year_confidence) == (2019, "inferred")
    old = rec.to_dict()
    del old["year_confidence"], old["repairs"]
    again = CanonicalRecord.from_dict(old)
    assert again.repairs == [] and again.year_confidence == "inferred"
    assert CanonicalRecord.from_dict(CanonicalRecord.from_dict(rec.to_dict()).to_dict()) == rec


# --- identifiers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,isbn,found", [
    ("604-1-00000-0 (bìa mềm) :", "9786041000001", "604-1-00000-0"),
    ("978-604-1-00000-1 : 45000đ", "9786041000001", "978-604-1-00000-1"),
    ("0-85170-577-4 (pbk.)", "9780851705774", "0-85170-577-4"),
    ("(T. 1) 978-604-1-00000-1", "9786041000001", "978-604-1-00000-1"),
    ("ISBN 978–604–1–00000–1", "9786041000001", "978-604-1-00000-1"),  # en dashes
    ("0851705774 45000", "9780851705774", "0851705774"),
    ("978-604-1-00000-5", None, "978-604-1-00000-5"),  # wrong check digit: kept apart
    ("8935074111111", None, "8935074111111"),  # an EAN that is not an ISBN
])
def test_isbn(raw, isbn, found):
    assert normalize_isbn(raw) == (isbn, found)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("0123456789"), min_size=9, max_size=9))
def test_isbn10_13_10_round_trip(body):
    isbn10 = body + next(c for c in "0123456789X" if valid_isbn10(body + c))
    assert isbn13_to_10(isbn10_to_13(isbn10)) == isbn10
    assert isbn13_to_10("979" + isbn10_to_13(isbn10)[3:]) is None


@pytest.mark.parametrize("raw,issn", [("0378-5955", "0378-5955"), ("ISSN 0378-5955 (in)", "0378-5955"),
                                      ("1050-124X", "1050-124X"), ("0378-5954", None)])
def test_issn(raw, issn):
    assert normalize_issn(raw)[0] == issn


def test_035_system_numbers_kept():
    body = ('<record><leader>00000nam a2200000 a 4500</leader>'
            '<datafield tag="035" ind1=" " ind2=" "><subfield code="a">(VN-TVT)123</subfield></datafield>'
            '<datafield tag="035" ind1=" " ind2=" "><subfield code="a">(OCoLC)456</subfield></datafield>'
            '</record>').encode()
    assert normalize(body, "marcxml", CTX).system_numbers == ["(VN-TVT)123", "(OCoLC)456"]


# --- Dublin Core ---------------------------------------------------------------------------------

def dc(*elements: str) -> bytes:
    return ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">' + "".join(elements) + "</oai_dc:dc>").encode()


@pytest.mark.parametrize("value,codes", [
    ("vie", ["vie"]), ("vi", ["vie"]), ("vi-VN", ["vie"]), ("Tiếng Việt", ["vie"]), ("Vietnamese", ["vie"]),
    ("tiếng Anh", ["eng"]), ("en-US", ["eng"]), ("Tiếng Việt; Tiếng Anh", ["vie", "eng"]),
    ("Tiếng Việt và tiếng Pháp", ["vie", "fre"]), ("fra", ["fre"]), ("deu", ["ger"]), ("tiếng Nga", ["rus"]),
    ("tiếng Hàn", ["kor"]), ("tiếng Trung", ["chi"]), ("Tiếng Mông", ["hmn"]), ("tiếng H'Mông", ["hmn"]),
    ("Tiếng Việt - Tiếng Tày", ["vie", "tai"]), ("tiếng Ê Đê", ["cmc"]), ("tiếng Mường", ["mkh"])])
def test_dc_language(value, codes):
    assert normalize(dc(f"<dc:language>{value}</dc:language>"), "oai_dc", CTX).languages == codes


@pytest.mark.parametrize("value,material", [
    ("Text", "book"), ("Sách", "book"), ("http://purl.org/dc/dcmitype/Text", "book"), ("Luận văn", "book"),
    ("info:eu-repo/semantics/doctoralThesis", "book"), ("Tạp chí", "serial"), ("Bản đồ", "map"),
    ("MovingImage", "video"), ("Sound", "sound"), ("Software", "computer"), ("something else", "other")])
def test_dc_type(value, material):
    assert normalize(dc(f"<dc:type>{value}</dc:type>"), "oai_dc", CTX).material_type == material


@pytest.mark.parametrize("value,year,confidence", [("2019-05-01", 2019, "exact"), ("Năm 2015", 2015, "exact"),
                                                   ("[2019]", 2019, "inferred"), ("199-", 1990, "decade")])
def test_dc_date(value, year, confidence):
    rec = normalize(dc(f"<dc:date>{value}</dc:date>"), "oai_dc", CTX)
    assert (rec.year, rec.year_confidence) == (year, confidence)


def test_dc_identifiers():
    rec = normalize(dc("<dc:identifier>ISBN 978-604-1-00000-1 (bìa mềm)</dc:identifier>",
                       "<dc:identifier>ISBN 978-604-1-00000-5</dc:identifier>",
                       "<dc:identifier>ISSN 0378-5955</dc:identifier>", "<dc:identifier>TVT-123</dc:identifier>"),
                    "oai_dc", CTX)
    assert rec.isbns == ["9786041000001"] and rec.invalid_isbns == ["978-604-1-00000-5"]
    assert rec.issns == ["0378-5955"] and rec.system_numbers == ["TVT-123"]
