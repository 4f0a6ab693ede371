"""Property tests: the normalizer never fails in an unexpected way, and its output is always NFC."""
from __future__ import annotations

import unicodedata
from xml.sax.saxutils import escape, quoteattr

from hypothesis import given, settings
from hypothesis import strategies as st
from pymarc import Field, Record, Subfield

from normalizer import FORMATS, isbn10_to_13, normalize, normalize_isbn, valid_isbn10, valid_isbn13
from normalizer.records import CanonicalRecord, RejectedRecord, SourceContext

CTX = SourceContext(library="tv", record_id="tv:1", branch_map={"TT": "Trụ sở"})
FAST = settings(max_examples=200, deadline=None)

# XML-legal text, with Vietnamese letters, combining marks (NFD input), punctuation and spaces.
TEXT = st.text(st.one_of(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
                         st.sampled_from("ăâđêôơưạảấầẩẫậ\u0300\u0301\u0303\u0309\u0323 :;/.,=[]-")),
               max_size=40)
TAGS = st.sampled_from(["020", "022", "035", "041", "082", "100", "110", "111", "245", "246", "250", "260",
                        "264", "300", "490", "650", "651", "700", "710", "830", "852", "952"])
CODES = st.sampled_from(list("abcdeqvxyz0123456789op47"))
FIELDS = st.lists(st.tuples(TAGS, st.sampled_from(" 0149x"), st.sampled_from(" 0149x"),
                            st.lists(st.tuples(CODES, TEXT), min_size=1, max_size=4)), max_size=12)
LEADERS = st.text(st.sampled_from("0123456789 acdefgijkmnopst"), min_size=24, max_size=24)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_nfc(rec: CanonicalRecord):
    for s in strings(rec.to_dict()):
        assert unicodedata.is_normalized("NFC", s), repr(s)


def to_marcxml(leader, f008, fields) -> bytes:
    out = [f"<record><leader>{escape(leader)}</leader>", f'<controlfield tag="008">{escape(f008)}</controlfield>']
    for tag, i1, i2, subs in fields:
        out.append(f'<datafield tag="{tag}" ind1={quoteattr(i1)} ind2={quoteattr(i2)}>')
        out += [f"<subfield code={quoteattr(c)}>{escape(v)}</subfield>" for c, v in subs]
        out.append("</datafield>")
    return ("".join(out) + "</record>").encode("utf-8")


@FAST
@given(st.binary(max_size=400), st.sampled_from(FORMATS))
def test_arbitrary_bytes_give_a_record_or_a_rejection(body, fmt):
    try:
        rec = normalize(body, fmt, CTX)
    except RejectedRecord as exc:
        assert exc.reason.strip()
    else:
        assert isinstance(rec, CanonicalRecord)


@FAST
@given(st.sampled_from(FORMATS), st.binary(max_size=200), st.integers(0, 400))
def test_corrupted_valid_records_give_a_record_or_a_rejection(fmt, noise, where):
    valid = {"marcxml": to_marcxml("00000nam a2200000 a 4500", "240105s2019", [("245", "1", "0", [("a", "Truyện")])]),
             "iso2709": _iso("00000nam a2200000 a 4500", [("245", "1", "0", [("a", "Truyện")])]),
             "oai_dc": b'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
                       b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Truy\xe1\xbb\x87n</dc:title></oai_dc:dc>'}[fmt]
    body = valid[:where] + noise + valid[where:]
    try:
        assert isinstance(normalize(body, fmt, CTX), CanonicalRecord)
    except RejectedRecord as exc:
        assert exc.reason.strip()


@FAST
@given(LEADERS, st.text(st.sampled_from("0123456789 |abcdefghijklmnopqrstuvwxyz"), max_size=40), FIELDS)
def test_marcxml_output_is_always_nfc(leader, f008, fields):
    rec = normalize(unicodedata.normalize("NFD", to_marcxml(leader, f008, fields).decode()).encode(), "marcxml", CTX)
    assert_nfc(rec)
    assert rec.holdings.__len__() >= sum(1 for f in fields if f[0] == "952")


def _iso(leader, fields) -> bytes:
    record = Record(leader=leader)
    for tag, i1, i2, subs in fields:
        record.add_field(Field(tag=tag, indicators=[i1, i2], subfields=[Subfield(c, v) for c, v in subs]))
    return record.as_marc()


@FAST
@given(FIELDS)
def test_iso2709_output_is_always_nfc(fields):
    fields = [(t, a, b, [(c, unicodedata.normalize("NFD", v)) for c, v in subs]) for t, a, b, subs in fields]
    try:
        rec = normalize(_iso("00000nam a2200000 a 4500", fields), "iso2709", CTX)
    except RejectedRecord as exc:  # e.g. a field longer than ISO2709 allows
        assert exc.reason.strip()
    else:
        assert_nfc(rec)


@FAST
@given(st.lists(st.tuples(st.sampled_from(["title", "creator", "subject", "publisher", "date", "identifier",
                                           "language", "type", "format"]), TEXT), max_size=12))
def test_oai_dc_output_is_always_nfc(elements):
    body = "".join(f"<dc:{tag}>{escape(unicodedata.normalize('NFD', v))}</dc:{tag}>" for tag, v in elements)
    doc = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/">{body}</oai_dc:dc>')
    assert_nfc(normalize(doc.encode(), "oai_dc", CTX))


ISBN_TEXT = st.text(st.sampled_from("0123456789Xx- ()ISBNpbk.:đ"), max_size=30)


@FAST
@given(ISBN_TEXT)
def test_isbn_normalisation_is_idempotent(raw):
    isbn, found = normalize_isbn(raw)
    if isbn is not None:
        assert valid_isbn13(isbn)
        assert normalize_isbn(isbn) == (isbn, isbn)
        assert normalize_isbn(found)[0] == isbn


@FAST
@given(st.text(st.sampled_from("0123456789"), min_size=9, max_size=9), st.sampled_from(["", "-", " "]))
def test_isbn10_to_13_keeps_validity(body, sep):
    check = next(c for c in "0123456789X" if valid_isbn10(body + c))
    isbn10 = body + check
    isbn13 = isbn10_to_13(isbn10)
    assert valid_isbn13(isbn13) and isbn13.startswith("978") and isbn13[3:12] == body
    hyphenated = sep.join([isbn10[:3], isbn10[3:9], isbn10[9]])
    assert normalize_isbn(f"{hyphenated} (bìa mềm) : 45000đ") == (isbn13, hyphenated)
    # one wrong digit is always caught
    wrong = body[:-1] + str((int(body[-1]) + 1) % 10) + check
    assert normalize_isbn(wrong)[0] is None
