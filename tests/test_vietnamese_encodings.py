"""Encoding repair against the reference data in tests/data/third_party/vietnamese: legacy bytes in, NFC out;
valid Vietnamese left alone (apart from NFC) with no repair recorded."""
from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymarc import Field, Record, Subfield

from normalizer import normalize
from normalizer.encodings import is_syllable, plausibility, repair_text
from normalizer.records import SourceContext
from normalizer.vn_tables import TCVN3, VNI
from tests.conftest import THIRD_PARTY

VN = THIRD_PARTY / "vietnamese"
DERIVED = VN / "derived"
CTX = SourceContext(library="tv-cu", record_id="tv-cu:1")
BINS = sorted(DERIVED.glob("*.bin"))
ENCODING = {"tcvn3": "TCVN3", "vni": "VNI", "cp1258": "CP1258"}
STOPWORDS = [line.split("\t")[:2] for line in (DERIVED / "stopwords_nfc_nfd_pairs.tsv").read_text("utf-8").splitlines()[1:]]


def expected(path: Path) -> str:
    return (DERIVED / f"{path.name.split('.')[0]}.unicode-nfc.txt").read_text("utf-8").strip()


def as_cp1252(data: bytes) -> str:
    """What a Windows system shows for these bytes (undefined positions fall back to Latin-1)."""
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in data)


def marcxml(title: str) -> bytes:
    from xml.sax.saxutils import escape
    return ('<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
            '<datafield tag="100" ind1="0" ind2=" "><subfield code="a">Tô Hoài</subfield></datafield>'
            f'<datafield tag="245" ind1="1" ind2="0"><subfield code="a">{escape(title)}</subfield></datafield>'
            "</record>").encode("utf-8")


def iso2709(raw_title: bytes, leader09: bytes = b" ", other: str = "Ha Noi") -> bytes:
    """An ISO2709 record whose 245 $a holds ``raw_title`` bytes as they are (leader/09 blank)."""
    record = Record(leader="00000nam a2200000 a 4500")
    record.add_field(Field(tag="245", indicators=["1", "0"], subfields=[Subfield("a", "X" * len(raw_title))]))
    record.add_field(Field(tag="260", indicators=[" ", " "], subfields=[Subfield("a", other)]))
    data = record.as_marc().replace(b"X" * len(raw_title), raw_title)
    return data[:9] + leader09 + data[10:]


# --- the tables reproduce the reference files ----------------------------------------------------

def test_tcvn3_table_is_the_glibc_table():
    with open(VN / "encodings" / "TCVN5712-1_nonascii_map.csv", encoding="utf-8") as f:
        rows = {int(r["byte_hex"], 16): chr(int(r["unicode_hex"][2:], 16)) for r in csv.DictReader(f)}
    assert TCVN3 == rows


def test_vni_table_is_the_reference_table_with_its_y_collisions_fixed():
    with open(VN / "encodings" / "duydev_unicode_vni_tcvn3_viqr_table.csv", encoding="utf-8") as f:
        rows = {r["unicode"]: bytes.fromhex(r["vni_bytes_hex"]) for r in csv.DictReader(f)}
    differ = {ch for ch in rows if VNI[ch] != rows[ch]}
    assert differ == {"Ỷ", "Ỹ", "ỷ", "ỹ"}  # duydev gives them the bytes of Ì ì Ë ë: not decodable
    assert len(set(VNI.values())) == len(VNI) == 134


# --- the reference phrases round-trip --------------------------------------------------------------

@pytest.mark.parametrize("path", BINS, ids=[p.name for p in BINS])
@pytest.mark.parametrize("shown_as", ["latin-1", "cp1252"])
def test_phrase_in_marcxml_field(path, shown_as):
    text = path.read_bytes().decode("latin-1") if shown_as == "latin-1" else as_cp1252(path.read_bytes())
    rec = normalize(marcxml(text), "marcxml", CTX)
    assert rec.title == expected(path)
    assert [(r["field"], r["from"]) for r in rec.repairs] == [("245", ENCODING[path.name.split(".")[1]])]
    assert f"repaired 245 from {ENCODING[path.name.split('.')[1]]}: {expected(path)[:60]!r}" in rec.notes
    assert rec.authors[0].name == "Tô Hoài"


@pytest.mark.parametrize("path", BINS, ids=[p.name for p in BINS])
def test_phrase_in_iso2709_with_blank_leader_09(path):
    rec = normalize(iso2709(path.read_bytes()), "iso2709", CTX)
    assert rec.title == expected(path)
    assert [(r["field"], r["from"]) for r in rec.repairs] == [("245", ENCODING[path.name.split(".")[1]])]


@pytest.mark.parametrize("path", BINS, ids=[p.name for p in BINS])
def test_legacy_field_beside_utf8_fields_in_iso2709(path):
    """Merged catalogues: one field still TCVN3/VNI/CP1258, the rest already UTF-8."""
    rec = normalize(iso2709(path.read_bytes(), other="Nghiên cứu văn hóa"), "iso2709", CTX)
    assert rec.title == expected(path) and rec.place == "Nghiên cứu văn hóa"
    # Whether the UTF-8 field needed re-reading depends on which decoding the record as a whole got.
    assert [(r["field"], r["from"]) for r in rec.repairs] in (
        [("245", ENCODING[path.name.split(".")[1]])], [("245", ENCODING[path.name.split(".")[1]]), ("260", "UTF-8")])


@pytest.mark.parametrize("name", sorted({p.name.split(".")[0] for p in DERIVED.glob("*.unicode-nfc.txt")}))
@pytest.mark.parametrize("shown_as", ["cp1252", "latin-1"])
def test_utf8_mojibake(name, shown_as):
    text = (DERIVED / f"{name}.unicode-nfc.txt").read_text("utf-8").strip()
    data = text.encode("utf-8")
    garbled = data.decode("latin-1") if shown_as == "latin-1" else as_cp1252(data)
    rec = normalize(marcxml(garbled), "marcxml", CTX)
    assert rec.title == text and [(r["field"], r["from"]) for r in rec.repairs] == [("245", "UTF-8 mojibake")]


def test_utf8_mojibake_in_iso2709_utf8_record():
    rec = normalize(iso2709("Nguyễn Du".encode("utf-8").decode("cp1252").encode("utf-8"), leader09=b"a"), "iso2709", CTX)
    assert rec.title == "Nguyễn Du" and rec.repairs[0]["from"] == "UTF-8 mojibake"


def test_mojibake_in_dublin_core():
    title = as_cp1252("Truyện Kiều".encode("utf-8"))  # "Truyá»‡n Kiá»\x81u"
    doc = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
           "<dc:creator>Nguyá»…n Du</dc:creator><dc:creator>T« Hoµi</dc:creator></oai_dc:dc>")
    rec = normalize(doc.encode("utf-8"), "oai_dc", CTX)
    assert rec.title == "Truyện Kiều" and [a.name for a in rec.authors] == ["Nguyễn Du", "Tô Hoài"]
    assert [(r["field"], r["from"]) for r in rec.repairs] == [
        ("dc:title", "UTF-8 mojibake"), ("dc:creator", "UTF-8 mojibake"), ("dc:creator", "TCVN3")]


def test_layered_mojibake_in_a_real_record_is_peeled():
    marc = THIRD_PARTY / "recordmanager" / "marc-broken.xml"
    rec = normalize(marc.read_bytes(), "marcxml", CTX)
    assert rec.title.startswith("Metsätalous kaavoitusalueilla") and "metsänhoito" in rec.subjects
    assert {r["from"] for r in rec.repairs} == {"UTF-8 mojibake"}


# --- valid text is left alone ----------------------------------------------------------------------

@pytest.mark.parametrize("form", [0, 1], ids=["nfc", "nfd"])
def test_stopwords_left_unchanged_apart_from_nfc(form):
    for pair in STOPWORDS:
        rec = normalize(marcxml(pair[form]), "marcxml", CTX)
        assert rec.title == pair[0] and rec.repairs == [], pair


@pytest.mark.parametrize("text", ["Hämeenlinna", "Société d'étude", "São Paulo", "Müller, Hans", "5 µm", "© 2019",
                                  "Björk Guðmundsdóttir", "Ángel García Márquez", "Tô Hoài", "né en 1920",
                                  "Ähtäri : Ähtärin kaupunki", "Ïðîãðàììà è ñ", "à la recherche", "Œuvres complètes"])
def test_non_vietnamese_and_latin1_only_vietnamese_left_alone(text):
    assert repair_text(text) == (text, None)


def test_cyrillic_cp1251_record_is_not_taken_for_vietnamese():
    rec = normalize((THIRD_PARTY / "pymarc" / "1251.dat").read_bytes(), "iso2709", CTX)
    assert rec.repairs == []


@pytest.mark.parametrize("word,ok", [("người", True), ("nước", True), ("khuya", True), ("quyển", True),
                                     ("giữa", True), ("gìn", True), ("hoà", True), ("hòa", True),
                                     ("thuở", True), ("ngoài", True), ("xoong", False), ("teỏ", False), ("xaõ", False),
                                     ("tÕ", True), ("Việt", True), ("NGUYỄN", True),
                                     ("hoc", True), ("họcc", False), ("hàc", False), ("chaøo", False),
                                     ("häc", False), ("fỹr", False), ("ăo", False), ("tiếngg", False)])
def test_syllables(word, ok):
    assert is_syllable(word) is ok


SYLLABLES = sorted({w for pair in STOPWORDS for w in pair[0].split() if not w.isascii() and is_syllable(w)})
# stopwords written in Vietnamese syllables: the list also holds the loanword "alô", which the
# plausibility score rightly does not count as Vietnamese (repair leaves it alone all the same: below)
PHRASES = [p[0] for p in STOPWORDS if all(w.isascii() or is_syllable(w) for w in p[0].split())]


def test_a_loanword_is_left_alone():
    assert repair_text("alô") == ("alô", None) and repair_text("ALÔ") == ("ALÔ", None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SYLLABLES) | st.sampled_from(PHRASES), min_size=1, max_size=8),
       st.sampled_from([" ", ", ", " : ", " - "]), st.booleans())
def test_repair_never_changes_valid_vietnamese(words, sep, upper):
    text = sep.join(words)
    text = text.upper() if upper else text
    assert plausibility(text) is None or plausibility(text) >= 0.5
    assert repair_text(text) == (text, None)
    nfd = unicodedata.normalize("NFD", text)
    assert repair_text(nfd) == (nfd, None)
    rec = normalize(marcxml(nfd), "marcxml", CTX)
    assert rec.repairs == [] and unicodedata.is_normalized("NFC", rec.title)


def test_phrases_json_matches_the_derived_files():
    """The reference phrases (tcvn3/vni columns, shown as Latin-1/cp1252 there) repair to their unicode."""
    phrases = json.loads((VN / "encodings" / "duydev_test_phrases.json").read_text("utf-8"))
    for name, forms in phrases.items():
        for enc in ("tcvn3", "vni"):
            if enc in forms:
                assert repair_text(forms[enc]) == (forms["unicode"], ENCODING[enc]), (name, enc)
