"""UNIMARC -> CanonicalRecord, and telling UNIMARC from MARC21 (``marc_flavour: auto``).

Libol, older Vietnamese catalogues, Koha UNIMARC and most European exports write UNIMARC: the same
ISO 2709 / MARCXML structure as MARC21 with other tags (200 title, 010 ISBN, 210/214 imprint, 700-712
names, 995 items) and other coded data (100 $a instead of 008; leader/06-07 with other codes). Read
as MARC21 such a record has no title, an "author" made of 100 coded data and no ISBN or year.
The shared helpers (trim, title joining, ISBNs, items, years, encoding repair) come from extract.
"""
from __future__ import annotations

import re

from .dates import best_year
from .encodings import _BEYOND_8BIT, is_vietnamese_text
from .extract import (_holding_koha, _holdings_852_876, _join_title, _subfield, add_isbns, add_issns, add_links,
                      canonical_from_marc, fallback_title, pages_from_extent, repair_fields, trim)
from .marc import MarcRecord
from .names import is_vietnamese_name
from .records import Author, CanonicalRecord, RejectedRecord, SourceContext
from .text import nfc

FLAVOURS = ("auto", "marc21", "unimarc")

# 100 $a, UNIMARC coded data: date entered on file (8 digits), type of publication date, date 1. A MARC21
# 100 $a is a person's name and never starts with 8 digits.
_CODED_100 = re.compile(r"\d{8}[a-z |]")
# Tags MARC21 does not define and UNIMARC records nearly always carry, and the reverse (weak signs;
# 010, 300 and 210 exist in both with other meanings and say nothing).
_UNIMARC_TAGS = frozenset(("101", "102", "205", "215", "225", "606", "676", "801", "995"))
_MARC21_TAGS = frozenset(("008", "040", "041", "082", "250", "260", "264", "650", "952"))


def detect_flavour(marc: MarcRecord) -> str | None:
    """``"unimarc"``, ``"marc21"``, or None when the record does not tell.

    Strong signs: the title field (200 without 245 / 245 without 200) and 100 $a (UNIMARC coded data /
    a name). When only one side has strong signs they decide; otherwise (none, or both: a broken
    record) the weak signs are counted too: tags only one of the two formats defines, UNIMARC's "450 "
    leader end.
    """
    tags = {f[0] for f in marc.fields}
    first_100 = None
    if "100" in tags:
        first_100 = next((_subfield(f, "a") or "" for f in marc.fields if f[0] == "100" and len(f) == 4), None)
    strong_u = strong_m = 0
    if "200" in tags and "245" not in tags:
        strong_u += 1
    elif "245" in tags and "200" not in tags:
        strong_m += 1
    if first_100 is not None:
        if _CODED_100.match(first_100):
            strong_u += 1
        elif first_100.strip():
            strong_m += 1
    if strong_u and not strong_m:
        return "unimarc"
    if strong_m and not strong_u:
        return "marc21"
    weak_u = len(tags & _UNIMARC_TAGS) + (marc.leader[20:24] == "450 ")
    weak_m = len(tags & _MARC21_TAGS)
    score_u, score_m = 3 * strong_u + weak_u, 3 * strong_m + weak_m
    if score_u == score_m:
        return None
    return "unimarc" if score_u > score_m else "marc21"


def canonical_from_any(marc: MarcRecord, ctx: SourceContext, fmt: str) -> CanonicalRecord:
    """MARC21 or UNIMARC, as the source's ``marc_flavour`` says; ``auto`` asks the record, and a record
    that does not tell is read as MARC21 with a note. A configured flavour the record contradicts is
    followed, with a note for the cataloguers."""
    detected = detect_flavour(marc)
    fixed = ctx.marc_flavour in ("marc21", "unimarc")
    flavour = ctx.marc_flavour if fixed else (detected or "marc21")
    rec = canonical_from_unimarc(marc, ctx, fmt) if flavour == "unimarc" else canonical_from_marc(marc, ctx, fmt)
    if detected is None and not fixed:
        rec.notes.append("MARC21 or UNIMARC? the record does not tell (no 245 or 200 title, no 100): read as "
                         "MARC21; set marc_flavour for this library if that is wrong")
    elif detected and detected != flavour:
        rec.notes.append(f"read as {flavour.upper()} (marc_flavour of this library) but the record looks like "
                         f"{detected.upper()}")
    return rec


# --- text ----------------------------------------------------------------------------------------

# Non-sorting markers around an initial article ("\x88L'\x89altra faccia"): NSB/NSE of ISO 6630 as
# U+0088/U+0089, or U+0098/U+009C in Unicode records; some systems type "<<Le>> titre" instead.
_NON_SORT = str.maketrans("", "", "\x88\x89\x98\x9c")
_NON_SORT_PREFIX = re.compile(r"\s*(?:[\x88\x98](.*?)[\x89\x9c]|<<(.*?)>>)")
_HAS_MARKER = re.compile(r"[\x88\x89\x98\x9c]|<<")
_ANGLE_MARKERS = re.compile(r"<<(.*?)>>")
_TEXT_TAGS = frozenset(("200", "205", "210", "214", "215", "225", "410", "461", "462", "500", "510", "517", "532",
                        "540", "600", "601", "602", "604", "605", "606",
                        "607", "608", "610", "700", "701", "702", "710", "711", "712"))


def _clean_field(f):
    """Non-sorting markers dropped (the legacy encoding check follows, for the whole record at once)."""
    if any(_HAS_MARKER.search(v) for _, v in f[3]):
        f = (f[0], f[1], f[2], [(c, _ANGLE_MARKERS.sub(r"\1", v.translate(_NON_SORT))) for c, v in f[3]])
    return f


def _suspect(f) -> bool:
    """A text field whose text may be legacy 8-bit bytes read as Latin-1 (see extract.repair_fields)."""
    return f[0] in _TEXT_TAGS and any(not v.isascii() and not _BEYOND_8BIT.search(v) for _, v in f[3])


def _non_sort_length(fields) -> int:
    """Length of the marked initial article of the first 200 $a ("L'" -> 2), 0 when none is marked."""
    for f in fields:
        for c, v in f[3]:
            if c == "a":
                m = _NON_SORT_PREFIX.match(v)
                return len(nfc(m.group(1) if m.group(1) is not None else m.group(2))) if m else 0
    return 0


# --- title ---------------------------------------------------------------------------------------

def _title(subfields) -> str:
    """200 $a (repeated: several works, " ; "), $d parallel title (" = "), $e other title information
    (" : "), $h number and $i name of a part (". ", "$h, $i"), joined by extract's 245 rules."""
    marc21_like, seen_a, last = [], False, ""
    for code, value in subfields:
        if code == "a":
            marc21_like.append(("b", "; " + value) if seen_a else ("a", value))
            seen_a = True
        elif code == "d":
            marc21_like.append(("b", "= " + value))
        elif code == "e":
            marc21_like.append(("b", value))
        elif code == "h":
            marc21_like.append(("n", value))
        elif code == "i":
            marc21_like.append(("p", ", " + value if last == "h" else value))
        else:
            continue
        last = code
    return _join_title(marc21_like)


# --- names ---------------------------------------------------------------------------------------

# UNIMARC relator codes ($4) in the words Vietnamese catalogues use in MARC21 $e.
_RELATORS = {"070": "tác giả", "730": "dịch", "340": "chủ biên", "220": "biên soạn", "440": "minh họa",
             "080": "giới thiệu", "010": "phóng tác", "020": "chú giải", "205": "cộng tác"}


def _part(value: str) -> str:
    return trim(value).strip(" ,")


def person_name(f, vietnamese_record: bool) -> str:
    """700-702 / 600: $a entry element + $b rest of the name, $d roman numerals, $c additions.

    Entered under a surname (ind2 1) a Western name is inverted as in MARC21 ("Asimov, Isaac"); a
    Vietnamese name is family name first anyway and reads "Nguyễn Du" (never "Du Nguyễn"). ASCII-only
    names count as Vietnamese only in a record whose language is Vietnamese ("Lam", "Kim" are Western
    and Korean names too).
    """
    a = " ".join(_part(v) for c, v in f[3] if c == "a" and v.strip())
    b = " ".join(_part(v) for c, v in f[3] if c == "b" and v.strip())
    name = a
    if a and b:
        full = f"{a} {b}"
        direct = f[2] == "0" or (is_vietnamese_name(full) and (vietnamese_record or not full.isascii()))
        name = full if direct else f"{a}, {b}"
    name = name or b
    numerals = " ".join(_part(v) for c, v in f[3] if c == "d" and v.strip())  # "Louis XIV"
    additions = ", ".join(_part(v) for c, v in f[3] if c == "c" and v.strip())  # "Nguyễn Trãi, danh nhân"
    if name and numerals:
        name = f"{name} {numerals}"
    if name and additions:
        name = f"{name}, {additions}"
    return name


def corporate_name(f) -> tuple[str, str]:
    """710-712 / 601: ``(name, kind)``; ind1 1 is a meeting: "Hội nghị (2 ; 2005 ; Hà Nội)"."""
    name = " ".join(_part(v) for c, v in f[3] if c in "ab" and v.strip())
    if f[1] != "1":
        return name, "corporate"
    details = [_part(v) for code in "dfe" for c, v in f[3] if c == code and v.strip()]
    return (f"{name} ({' ; '.join(details)})" if details and name else name), "meeting"


def _authors(by_tag, rec: CanonicalRecord, vietnamese_record: bool) -> None:
    seen = set()
    for tag in ("700", "701", "702", "710", "711", "712"):
        for f in by_tag.get(tag, ()):
            if tag < "710":
                name, kind = person_name(f, vietnamese_record), "person"
            else:
                name, kind = corporate_name(f)
            if not name or (name, kind) in seen:
                continue
            seen.add((name, kind))
            roles = [_RELATORS.get(v.strip(), v.strip()) for c, v in f[3] if c == "4" and v.strip()]
            dates = _subfield(f, "f") if kind == "person" else None
            rec.authors.append(Author(name=name, kind=kind, role=", ".join(dict.fromkeys(roles)) or None,
                                      dates=_part(dates) if dates else None))


# --- coded data ----------------------------------------------------------------------------------

def material_type(leader: str) -> str:
    """UNIMARC leader/06 type of record, /07 bibliographic level (codes differ from MARC21's)."""
    kind, level = leader[6:7], leader[7:8]
    if kind in ("a", "b"):
        return "serial" if level in ("s", "i") else "book"
    return _MATERIAL.get(kind, "other")


_MATERIAL = {"c": "score", "d": "score", "e": "map", "f": "map", "g": "video", "i": "sound", "j": "sound",
             "k": "image", "l": "computer", "m": "mixed"}


def _as_008(coded: str | None) -> str | None:
    """100 $a/8-12 (type of date, date 1) in the places MARC21 008/06-10 has them, so dates.best_year
    reads them: type f (date uncertain) counts like 008 "q"; unknown digits (blank) like "u"."""
    if not coded or len(coded) < 13 or not _CODED_100.match(coded) or coded[8] == "u":
        return None
    return "000000" + ("q" if coded[8] == "f" else "s") + coded[9:13].replace(" ", "u")


def _languages(fields) -> list[str]:
    langs = []
    for f in fields:
        for c, v in f[3]:
            v = v.strip().lower()
            if c == "a" and len(v) % 3 == 0 and v.isalpha() and v.isascii():
                langs += [v[i:i + 3] for i in range(0, len(v), 3) if v[i:i + 3] not in langs and v[i:i + 3] != "und"]
    return langs


# --- the record ----------------------------------------------------------------------------------

# UNIMARC/Authorities x y z, UNIMARC/Holdings u v x y: no bibliographic record has these leader/06 codes.
_NOT_BIBLIOGRAPHIC = {"x": "an authority or holdings record", "y": "an authority or holdings record",
                      "z": "an authority record (explanatory)", "u": "a holdings record",
                      "v": "a holdings record (multipart item)"}
_CHARSETS = {"01": "ISO 646", "02": "ISO 646 (IR 37)", "03": "ISO 5426", "04": "ISO 5427", "05": "ISO 5428",
             "06": "ISO 6438", "11": "ISO 5426-2"}


def canonical_from_unimarc(marc: MarcRecord, ctx: SourceContext, fmt: str) -> CanonicalRecord:
    """Extract the canonical record from a UNIMARC bibliographic record (995 items); an authority or
    holdings record (leader/06) raises RejectedRecord: its 200 is a heading or nothing, not a title."""
    what = _NOT_BIBLIOGRAPHIC.get(marc.leader[6:7])
    if what:
        raise RejectedRecord(f"{what} (UNIMARC leader/06 {marc.leader[6:7]!r}), not a title: the union catalogue "
                             "takes bibliographic records only")
    repairs, doubts = list(marc.repairs), []
    marked = [f for f in marc.fields if len(f) == 4]
    first_200 = next((f for f in marked if f[0] == "200"), None)
    non_sort = _non_sort_length([first_200]) if first_200 else 0
    data_fields = [_clean_field(f) for f in marked]
    suspects = [f for f in data_fields if _suspect(f)]
    # the record's legacy encoding is decided from all its text fields together: a short 700 follows a long 200
    fixed = dict(zip(map(id, suspects), repair_fields(
        suspects, repairs, doubts, is_vietnamese_text(v for f in data_fields for _, v in f[3])))) if suspects else {}
    by_tag: dict[str, list] = {}
    located = []  # 852 and 876 in record order
    for f in data_fields:
        f = fixed.get(id(f), f)
        by_tag.setdefault(f[0], []).append(f)
        if f[0] in ("852", "876"):
            located.append(f)
    get = by_tag.get
    # leader/09 is undefined in UNIMARC; the character set is in 100 $a/26-27 ("50" = Unicode)
    notes = [n for n in marc.notes if n != "decoded as UTF-8 although leader/09 says MARC-8"]
    coded = next((_subfield(f, "a") for f in get("100", ()) if _subfield(f, "a")), None)
    charset = _CHARSETS.get(coded[26:28]) if coded and len(coded) >= 28 else None
    if charset and any(n.startswith("decoded as MARC-8") for n in notes):
        notes.append(f"100 says the record is in {charset}, which was read as MARC-8: letters with marks may be wrong")
    notes += [f"repaired {r['field']} from {r['from']}: {r['after']!r}" for r in repairs]
    notes += doubts
    rec = CanonicalRecord(record_id=ctx.record_id, library=ctx.library, format=fmt,
                          material_type=material_type(marc.leader), repairs=repairs)

    f200 = get("200", ())
    if f200:
        rec.title = _title(f200[0][3])
        statements = [_part(v) for c, v in f200[0][3] if c in "fg" and v.strip()]
        rec.responsibility = " ; ".join(statements) or None
        rec.title_sort = rec.title[non_sort:].lstrip() if 0 < non_sort < len(rec.title) else rec.title
        whole = _set_title(get)
        if whole and _VOLUME_ONLY.match(rec.title):  # 200 "Tập 2" of a set named in 461: "Set. Tập 2"
            rec.title = rec.title_sort = f"{whole}. {rec.title}"
    if not rec.title:
        fallback_title(rec, get, "200", bool(f200), _OTHER_TITLES, _title, notes)

    rec.languages = _languages(get("101", ()))
    vietnamese = "vie" in rec.languages
    _authors(by_tag, rec, vietnamese)

    add_isbns(rec, get("010", ()), notes)
    add_issns(rec, get("011", ()), notes)
    for f in get("035", ()):
        v = _subfield(f, "a")
        if v and nfc(v) not in rec.system_numbers:
            rec.system_numbers.append(nfc(v))

    v = next((_subfield(f, "a") for f in get("205", ()) if _subfield(f, "a")), None)
    rec.edition = trim(v) if v else None
    f214 = get("214", ())
    imprint = [f for f in f214 if f[2] == "0"] or list(get("210", ())) or list(f214)
    for attr, code in (("place", "a"), ("publisher", "c"), ("date_text", "d")):
        v = next((_subfield(f, code) for f in imprint if _subfield(f, code)), None)
        setattr(rec, attr, _part(v) if v else None)
    manufactured = next((_subfield(f, "h") for f in imprint if _subfield(f, "h")), None)
    rec.year, rec.year_confidence = best_year(_as_008(coded), (rec.date_text, manufactured))

    v = next((_subfield(f, "a") for f in get("215", ()) if _subfield(f, "a")), None)
    rec.extent = trim(v) if v else None
    rec.pages = pages_from_extent(rec.extent)

    _subjects(by_tag, rec, vietnamese)
    _series(by_tag, rec)
    # call number: Dewey (676), else UDC (675), else another scheme (686); items carry their own
    for tag in ("676", "675", "686"):
        v = next((_subfield(f, "a") for f in get(tag, ()) if _subfield(f, "a")), None)
        if v:
            rec.call_number = nfc(v)
            break

    add_links(rec, get("856", ()), notes, text_codes="2")  # UNIMARC 856 $2: link text

    for f in get("995", ()):
        holding = _holding_koha("995", f, ctx, notes)
        if holding.branch is None:  # no coded branch: the free-text one ($a owner, $d holder)
            holding.branch = nfc(_subfield(f, "d") or _subfield(f, "a") or "") or None
        rec.holdings.append(holding)
    if not rec.holdings:  # some exports put MARC21-style 852 locations in UNIMARC records
        rec.holdings = _holdings_852_876(located, ctx, notes)
    rec.notes = notes
    return rec


# Variant titles when 200 has none: 517 other variant, 510 parallel, 500 uniform, 540 added, 532 expanded.
_OTHER_TITLES = ("517", "510", "500", "540", "532")
# A 200 $a that names only a volume of a set ("Tập 2", "T. 3", "Tome 1", "Vol. 2", "Quyển 1", "2").
_VOLUME_ONLY = re.compile(r"(?:(?i:tập|t\.|quyển|q\.|phần|tome|vol\.?|volume|part|band|bd\.)\s*)?(?:\d+|[IVXLC]+)\.?$")


def _set_title(get) -> str:
    """The title of the set a volume belongs to: 461 (set) or 462 (subset) link, $t or embedded 200 $a."""
    for tag in ("461", "462"):
        for f in get(tag, ()):
            v = _subfield(f, "t") or _subfield(f, "a")
            if v:
                return _part(v)
    return ""


_SUBJECT_HEADING = {"601": "ab", "602": "a", "604": "at", "605": "a", "606": "a", "607": "a", "608": "a"}


def _subjects(by_tag, rec: CanonicalRecord, vietnamese: bool) -> None:
    """600-608 heading -- $j $x $y $z subdivisions; 610 uncontrolled terms, one subject per $a."""
    found = []
    for tag in ("600", "601", "602", "604", "605", "606", "607", "608"):
        for f in by_tag.get(tag, ()):
            if tag == "600":
                heading = person_name(f, vietnamese)
            else:
                heading = " ".join(_part(v) for c, v in f[3] if c in _SUBJECT_HEADING[tag] and v.strip())
            subdivisions = [_part(v) for c, v in f[3] if c in "jxyz" and v.strip()]
            found.append(" -- ".join(filter(None, [heading, *subdivisions])))
    found += [_part(v) for f in by_tag.get("610", ()) for c, v in f[3] if c == "a" and v.strip()]
    for subject in found:
        if subject and subject not in rec.subjects:
            rec.subjects.append(subject)


def _series(by_tag, rec: CanonicalRecord) -> None:
    """225 series statement ($a $h $i, " ; " $v) and 410 series link ($t, or $a after an embedded 200)."""
    for tag in ("225", "410"):
        for f in by_tag.get(tag, ()):
            title = _title([(c, v) for c, v in f[3] if c in "ahi"]) if tag == "225" else ""
            if not title:
                title = _part(_subfield(f, "t") or _subfield(f, "a") or "")
            volume = _subfield(f, "v")
            series = title + (" ; " + _part(volume) if volume and title else "")
            if series and series not in rec.series:
                rec.series.append(series)
