"""MARC21 -> CanonicalRecord: one extraction for every MARC source (ISO2709, MARCXML, benchmark).

Text is NFC with ISBD punctuation trimmed; nothing is rejected for missing fields (a record without
a title is still a holding the network has), and every repair is written to ``notes``.
"""
from __future__ import annotations

import re

from .dates import best_year
from .encodings import (_BEYOND_8BIT, is_vietnamese_text, repair_entry, repair_record_values, repair_values,
                        undecided_note)
from .ids import normalize_isbn, normalize_issn
from .links import add_link
from .marc import MarcRecord
from .records import (AVAILABLE, LOST, NOT_FOR_LOAN, ON_LOAN, UNKNOWN, WITHDRAWN, Author, CanonicalRecord,
                      Holding, RejectedRecord, SourceContext)
from .text import decode_entities, nfc, strip_controls

# Words after which a final "." is part of the word, not ISBD punctuation. Besides the usual
# abbreviations: Vietnamese "Nxb." (publisher), "Tp." (city), "t." (volume), "tr." (pages) and the
# academic titles GS., PGS., TS., ThS., BS.
_ABBREVIATIONS = frozenset("""nxb tp jr sr co inc ltd corp dept st dr mr mrs ms ed eds comp comps tr trans
    p pp v vol vols no nos etc al ca cm ill illus col gs pgs ts ths bs""".split())
_TRAILING = frozenset(" /:;,=.")
_LAST_WORD = re.compile(r"(\w+)\.$")


def trim(value: str) -> str:
    """NFC, one leftover level of entities decoded (``&amp;`` -> ``&``, text.decode_entities), NUL,
    control and bidi-override characters removed (text.strip_controls), then ISBD
    trailing punctuation (" /", " :", " ;", " =", ",", final ".") removed.

    A final "." stays after an initial ("Nguyễn V."), an abbreviation ("Nxb.", "Jr.", "p.") or a
    dotted abbreviation ("U.S. G.P.O."), and in an ellipsis.
    """
    text = strip_controls(decode_entities(nfc(value)))
    if not text or text[-1] not in _TRAILING:  # the common case: nothing to trim
        return text
    while True:
        cut = text.rstrip(" /:;,=")
        if cut.endswith(".") and not cut.endswith("..."):
            m = _LAST_WORD.search(cut)
            word = m.group(1) if m else ""
            before = cut[m.start() - 1] if m and m.start() else " "
            if not (m and (len(word) == 1 and word.isalpha() or word.casefold() in _ABBREVIATIONS
                           or before == ".")):
                cut = cut[:-1].rstrip()
        if cut == text:
            return text
        text = cut


def _first(fields, code):
    """First value of subfield ``code`` across a list of data fields."""
    for f in fields:
        for c, v in f[3]:
            if c == code and v.strip():
                return v
    return None


def _subfield(field, code):
    for c, v in field[3]:
        if c == code and v.strip():
            return v
    return None


# --- title ---------------------------------------------------------------------------------------

def _join_title(subfields, codes="abnp") -> str:
    """245 $a$b$n$p in record order; adds " : " / ". " where the cataloguer left no punctuation.

    ISBD's " ." / " ," before $n/$p is closed up ("Tiếng Việt 1 ." + "Tập một" -> "Tiếng Việt 1. Tập
    một"); punctuation typed at the start of the next subfield instead (". Tập một") is moved back.
    """
    out = ""
    for code, value in subfields:
        if code not in codes:
            continue
        value = value.strip()
        lead = value[:1] if value[:1] in ".,:;=" and value[:3] != "..." else ""
        if lead:
            value = value[1:].lstrip()
        if not value:
            continue
        if out:
            if out[-1] in ".," and out[-2:-1] == " ":
                out = out[:-2].rstrip() + out[-1]
            if out[-1] in ":;=/.,":
                out += " "
            elif lead:
                out += lead + " " if lead in ".," else f" {lead} "
            else:
                out += " : " if code == "b" else ". "
        out += value
    return trim(out)


# --- years and pages -----------------------------------------------------------------------------

_PAGES = re.compile(r"([0-9]+)\s*(?:pages|page|pp\.?|p\.?|trang|tr\.?|leaves|tờ)(?!\w)", re.IGNORECASE)


def pages_from_extent(text: str | None) -> int | None:
    """Largest number followed by a page word: "xii, 350 tr." -> 350, "291 leaves" -> 291."""
    if not text:
        return None
    found = [int(n) for n in _PAGES.findall(text) if len(n) < 10]  # int() refuses 4,300 digits
    return max(found) if found else None


# --- material type, languages --------------------------------------------------------------------

def material_type(leader: str) -> str:
    kind, level = leader[6:7], leader[7:8]
    if kind in ("a", "t"):
        return "serial" if kind == "a" and level in ("s", "b", "i") else "book"
    return _MATERIAL.get(kind, "other")


_MATERIAL = {"e": "map", "f": "map", "c": "score", "d": "score", "i": "sound", "j": "sound", "g": "video",
             "k": "image", "m": "computer", "p": "mixed"}

# Leader/06 of the MARC 21 formats that do not describe a title (UNIMARC's authority records use x, y, z).
_NOT_BIBLIOGRAPHIC = {"z": "an authority record (a name or subject heading)",
                      "u": "a holdings record", "v": "a holdings record (multipart item)",
                      "x": "a holdings record (single-part item)", "y": "a holdings record (serial)",
                      "w": "a classification record", "q": "a community information record"}


def check_bibliographic(marc: MarcRecord) -> str | None:
    """Raise RejectedRecord for an authority, holdings, classification or community information record
    (leader/06): read as a book it would be a title-less entry. A record whose leader says so but
    which has a title (245 $a) is a bibliographic record with a wrong leader: the note returned says so."""
    code = marc.leader[6:7]
    what = _NOT_BIBLIOGRAPHIC.get(code)
    if what is None:
        return None
    if any(f[0] == "245" and len(f) == 4 and _subfield(f, "a") for f in marc.fields):
        return f"leader/06 {code!r} says {what}, but the record has a title (245): read as a bibliographic record"
    reason = f"{what} (leader/06 {code!r}), not a title: the union catalogue takes bibliographic records only"
    linked = next((f[1].strip() for f in marc.fields if f[0] == "004" and len(f) == 2 and f[1].strip()), None)
    if linked and code in "uvxy":
        reason += f"; its copies belong to bibliographic record {linked[:40]!r} (004)"
    raise RejectedRecord(reason)


def _languages(f008: str | None, f041s) -> list[str]:
    langs = []
    code = f008[35:38].lower() if f008 and len(f008) >= 38 else ""
    if code.isalpha() and code.isascii() and code != "und":
        langs.append(code)
    for f in f041s:
        for c, v in f[3]:
            if c != "a":
                continue
            v = v.strip().lower()
            if len(v) % 3 == 0 and v.isalpha() and v.isascii():
                for i in range(0, len(v), 3):
                    if v[i:i + 3] not in langs:
                        langs.append(v[i:i + 3])
    return langs


# --- holdings ------------------------------------------------------------------------------------

def _set(value) -> bool:
    """Koha status subfields: empty or 0 means "not set"."""
    return value is not None and value.strip() not in ("", "0")


_ISO_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")


def _subfields(field, codes) -> dict:
    """First value of each wanted code, NFC; other subfields are not touched (hot path)."""
    sub = {}
    for c, v in field[3]:
        if c in codes and c not in sub:
            sub[c] = nfc(v)
    return sub


# Koha items: 952 in MARC21, 995 in UNIMARC (Koha's default frameworks), same rules (PEERS.md).
_KOHA_ITEMS = {
    "952": {"home": "a", "holding": "b", "location": "c", "call": "o", "barcode": "p", "due": "q",
            "withdrawn": "0", "lost": "1", "not_for_loan": "74"},
    "995": {"home": "b", "holding": "c", "location": "e", "call": "k", "barcode": "f", "due": "n",
            "withdrawn": "0", "lost": "2", "not_for_loan": "o"},
}
_KOHA_CODES = {tag: frozenset("".join(m.values())) for tag, m in _KOHA_ITEMS.items()}
_852_CODES = frozenset("abchijp")
_876_CODES = frozenset("pjl")
# 876 $j item status is free text; these words (English and Vietnamese) decide it
_876_STATUS = ((("withdrawn", "thanh lý", "thanh ly"), WITHDRAWN), (("lost", "missing", "mất", "mat"), LOST),
               (("on loan", "checked out", "đang mượn", "dang muon", "cho mượn"), ON_LOAN),
               (("not for loan", "reference", "đọc tại chỗ", "doc tai cho", "tra cứu"), NOT_FOR_LOAN),
               (("available", "on shelf", "sẵn sàng", "san sang", "trên giá", "tren gia"), AVAILABLE))


def _holding_koha(tag: str, field, ctx: SourceContext, notes: list) -> Holding:
    codes = _KOHA_ITEMS[tag]
    sub = _subfields(field, _KOHA_CODES[tag])
    home = sub.get(codes["home"], "").strip() or None
    code = sub.get(codes["holding"], "").strip() or home  # where the copy is now, else where it belongs
    holding = Holding(library=ctx.library, branch=ctx.branch_map.get(code, code) if code else None,
                      branch_code=code, location=sub.get(codes["location"]) or None,
                      call_number=sub.get(codes["call"]) or None, barcode=sub.get(codes["barcode"]) or None,
                      status=AVAILABLE)
    if home and home != code:  # on rotation: it belongs to its home library, it is at the holding one
        holding.owner_branch, holding.owner_branch_code = ctx.branch_map.get(home, home), home
    due = sub.get(codes["due"])
    if _set(sub.get(codes["withdrawn"])):
        holding.status = WITHDRAWN
    elif _set(sub.get(codes["lost"])):
        holding.status = LOST
    elif due:
        holding.status = ON_LOAN
        m = _ISO_DATE.match(due)
        if m:
            holding.due_date = m.group(1)
        else:
            notes.append(f"due date {due!r} of item {holding.barcode or '?'} not understood")
    elif any(_set(sub.get(c)) for c in codes["not_for_loan"]):
        holding.status = NOT_FOR_LOAN
    return holding


def _holding_852(field, ctx: SourceContext) -> Holding:
    sub = _subfields(field, _852_CODES)
    code = sub.get("b") or sub.get("a") or None
    # $h classification + $i item part; Libol writes the call number in $j (shelving control number)
    call = " ".join(x for x in (sub.get("h"), sub.get("i")) if x) or sub.get("j") or None
    return Holding(library=ctx.library, branch=ctx.branch_map.get(code, code) if code else None,
                   branch_code=code, location=sub.get("c") or None, call_number=call,
                   barcode=sub.get("p") or None, status=UNKNOWN)


_LINK = re.compile(r"\s*([0-9]+)")  # $8 "1", "1.2", "1\\c": the link number before the sequence number


def _link(value: str | None) -> str | None:
    m = _LINK.match(value) if value else None
    return m.group(1).lstrip("0") or "0" if m else None


def _holdings_852_876(fields: list, ctx: SourceContext, notes: list) -> list[Holding]:
    """Every 852 is a holding (a location: branch, shelf, call number); 876 items only add detail:
    an 852 with items becomes one holding per item (barcode, status from $j), one without stays one.

    ``fields``: the 852 and 876 fields in record order. An 876 belongs to the 852 with the same $8
    link number (MARC 21 holdings: 876 $8 "1.2" is item 2 of the 852 whose $8 is 1; 876 $a is an
    internal item number, not a link). One without a matching link belongs to the 852 before it when
    852s and 876s alternate, or to the only 852; an item that cannot be placed is still a holding of
    the library, with a note.
    """
    locations = []  # [852 link number, its holding, its items]
    for f in fields:
        if f[0] == "852":
            locations.append((_link(_subfields(f, "8").get("8")), _holding_852(f, ctx), []))
    by_link = {link: items for link, _, items in locations if link is not None}
    tags = [f[0] for f in fields]
    interleaved = "876" in tags and "852" in tags[tags.index("876"):]
    unplaced, before = [], None
    for f in fields:
        if f[0] == "852":
            before = before + 1 if before is not None else 0
            continue
        items = by_link.get(_link(_subfields(f, "8").get("8")))
        if items is None and locations and (interleaved or len(locations) == 1):
            items = locations[before or 0][2]
        (unplaced if items is None else items).append(f)
    out = []
    for _, base, items in locations:
        out += [_item_876(f, base, ctx) for f in items] or [base]
    if unplaced:
        out += [_item_876(f, Holding(library=ctx.library), ctx) for f in unplaced]
        notes.append(f"{len(unplaced)} item(s) (876) not linked to one of the {len(locations)} locations (852) "
                     "by $8 or order: shown without a branch")
    return out


def _item_876(field, base: Holding, ctx: SourceContext) -> Holding:
    sub = _subfields(field, _876_CODES)
    text = (sub.get("j") or "").casefold()
    status = next((s for words, s in _876_STATUS if any(w in text for w in words)), UNKNOWN)
    item = Holding(library=ctx.library, branch=base.branch, branch_code=base.branch_code, location=base.location,
                   call_number=base.call_number, barcode=sub.get("p") or base.barcode, status=status)
    away = (sub.get("l") or "").strip()  # 876 $l temporary location: the copy is there, its 852 is its home
    if away and away != base.branch_code:
        item.branch, item.branch_code = ctx.branch_map.get(away, away), away
        item.owner_branch, item.owner_branch_code = base.branch, base.branch_code
    return item


# --- identifiers (MARC21 020/022, UNIMARC 010/011: same subfields $a valid, $z cancelled) ----------

def add_isbns(rec: CanonicalRecord, fields, notes: list) -> None:
    """$a ISBNs: valid ones as ISBN-13, others kept apart with a note; $z (cancelled/invalid) kept apart."""
    for f in fields:
        for c, v in f[3]:
            if (c != "a" and c != "z") or not v.strip():
                continue
            isbn, found = normalize_isbn(v)
            if c == "a" and isbn:
                if isbn not in rec.isbns:
                    rec.isbns.append(isbn)
            elif found and found not in rec.invalid_isbns:
                rec.invalid_isbns.append(found)
                if c == "a":
                    notes.append(f"ISBN {found} is not valid (wrong check digit or length)")


def add_links(rec: CanonicalRecord, fields, notes: list, text_codes: str = "y3") -> None:
    """856 $u (each one) as links to digital documents, checked by links.add_link; the link text is the
    first of ``text_codes`` the field has (MARC 21: $y link text, $3 materials specified; UNIMARC: $2)."""
    for f in fields:
        text = next((v for code in text_codes for c, v in f[3] if c == code and v.strip()), None)
        for c, v in f[3]:
            if c == "u" and v.strip():
                add_link(rec.links, notes, f"{f[0]} $u", v, text)


def add_issns(rec: CanonicalRecord, fields, notes: list) -> None:
    for f in fields:
        v = _subfield(f, "a")
        if v:
            issn, found = normalize_issn(v)
            if issn:
                rec.issns.append(issn)
            else:
                notes.append(f"ISSN {found} has a wrong check digit or form, skipped")


# --- the record ----------------------------------------------------------------------------------

_AUTHOR_TAGS = {"100": "person", "110": "corporate", "111": "meeting",
                "700": "person", "710": "corporate", "711": "meeting"}
# Name = the heading as catalogued: $a + numeration/titles/fuller form (person), subordinate units
# (corporate), number/date/place (meeting). Roles ($e/$4) and person dates ($d) are kept apart.
_NAME_CODES = {"person": "abcq", "corporate": "ab", "meeting": "andc"}
_ADDED_TAGS = frozenset(("700", "710", "711"))
_TEXT_TAGS = frozenset(("100", "110", "111", "130", "240", "245", "246", "250", "260", "264", "300", "490",
                        "600", "610", "611", "630", "650", "651", "655", "700", "710", "711", "740", "830"))
_SUBJECT_TAGS = ("600", "610", "611", "630", "650", "651", "655")
_SUBDIVISIONS = frozenset("vxyz")
_SUBJECT_HEADING = {"600": "abcdq", "610": "ab", "611": "acdn", "630": "a"}
_WANTED = frozenset(("020", "022", "035", "041", "082", "084", "090", "100", "110", "111", "130",
                     "240", "245", "246", "740", "250", "260", "264", "300", "490", "700", "710", "711", "830",
                     "852", "856", "876", "952", "995") + _SUBJECT_TAGS)


def _repair_field(f, repairs: list):
    """A field whose text may be legacy 8-bit bytes read as Latin-1/Windows-1252 (see encodings)."""
    before = [v for _, v in f[3]]
    after, name = repair_values(before)
    if after is None:
        return f
    repairs.append(repair_entry(f[0], name, before, after))
    return (f[0], f[1], f[2], [(c, v) for (c, _), v in zip(f[3], after)])


def fallback_title(rec: CanonicalRecord, get, main: str, had_main: bool, tags, join, notes: list) -> None:
    """No title in the main title field (245, UNIMARC 200): the first of ``tags`` that has one, said in a note."""
    for tag in tags:
        fields = get(tag)
        title = join(fields[0][3]) if fields else ""
        if title:
            rec.title = rec.title_sort = title
            notes.append(f"{main} {'has no title' if had_main else 'missing'}: title taken from {tag}")
            return
    notes.append(f"no title in {main} or in {', '.join(tags)}")


def repair_fields(fields: list, repairs: list, notes: list, vietnamese: bool = False) -> list:
    """Fields whose text may be legacy 8-bit bytes read as Latin-1/Windows-1252, repaired together: the
    record's legacy encoding is decided from all of them (encodings.decide_record), so a short 100
    follows a long 245. A field left undecided gets a note. Returns the fields, repaired or not."""
    out = []
    for f, (after, name, doubt) in zip(fields, repair_record_values([[v for _, v in f[3]] for f in fields],
                                                                              vietnamese=vietnamese)):
        before = [v for _, v in f[3]]
        if after is not None:
            repairs.append(repair_entry(f[0], name, before, after))
            f = (f[0], f[1], f[2], [(c, v) for (c, _), v in zip(f[3], after)])
        elif doubt:
            notes.append(undecided_note(f[0], before, doubt))
        out.append(f)
    return out


def canonical_from_marc(marc: MarcRecord, ctx: SourceContext, fmt: str) -> CanonicalRecord:
    """Extract the canonical record from a MARC21 bibliographic record (Koha 952 / 852 holdings)."""
    leader_note = check_bibliographic(marc)
    by_tag: dict[str, list] = {}
    added = []  # 7XX name fields in record order
    f008 = None
    repairs = list(marc.repairs)
    beyond_8bit = _BEYOND_8BIT.search
    suspects = []  # text fields that may be 8-bit text read as Latin-1, repaired below all together
    for f in marc.fields:
        tag = f[0]
        if len(f) == 4:
            if tag in _WANTED:
                # Encoding check of the text fields (codes, ids and items are left alone), cheap on
                # clean ones: only a value that can be 8-bit text read as Latin-1 at all is looked
                # at (Vietnamese NFC almost never can: ạ ơ đ are beyond Latin-1).
                if tag in _TEXT_TAGS:
                    for _, v in f[3]:
                        if not v.isascii() and not beyond_8bit(v):
                            suspects.append(f)
                            break
                if tag in by_tag:
                    by_tag[tag].append(f)
                else:
                    by_tag[tag] = [f]
                if tag in _ADDED_TAGS:
                    added.append(f)
        elif tag == "008" and f008 is None:
            f008 = f[1]
    doubts = []
    if suspects:
        vietnamese = is_vietnamese_text(v for fields in by_tag.values() for f in fields for _, v in f[3])
        fixed = {id(a): b for a, b in zip(suspects, repair_fields(suspects, repairs, doubts, vietnamese))
                 if a is not b}
        for tag in {f[0] for f in suspects} if fixed else ():
            by_tag[tag] = [fixed.get(id(f), f) for f in by_tag[tag]]
        added = [fixed.get(id(f), f) for f in added]
    get = by_tag.get
    empty = ()
    notes = list(marc.notes)
    notes += [f"repaired {r['field']} from {r['from']}: {r['after']!r}" for r in repairs]
    notes += doubts
    if leader_note:
        notes.append(leader_note)
    rec = CanonicalRecord(record_id=ctx.record_id, library=ctx.library, format=fmt,
                          material_type=material_type(marc.leader), repairs=repairs)

    # title
    t245 = get("245", empty)
    if t245:
        f = t245[0]
        rec.title = _join_title(f[3])
        c = _subfield(f, "c")
        rec.responsibility = trim(c) if c else None
        nonfiling = f[2]
        skip = int(nonfiling) if len(nonfiling) == 1 and "0" <= nonfiling <= "9" else 0  # not "²"
        rec.title_sort = rec.title[skip:].lstrip() if 0 < skip < len(rec.title) else rec.title
    if not rec.title:
        fallback_title(rec, get, "245", bool(t245), ("246", "240", "130", "740"), _join_title, notes)

    # authors
    seen = set()
    main = [f for tag in ("100", "110", "111") for f in get(tag, empty)]
    for f in main + added:
        kind = _AUTHOR_TAGS[f[0]]
        codes = _NAME_CODES[kind]
        name = trim(" ".join(v for c, v in f[3] if c in codes))
        if not name or (name, kind) in seen:
            continue
        seen.add((name, kind))
        roles = [trim(v) for c, v in f[3] if c == "e"] or [trim(v) for c, v in f[3] if c == "4"]
        dates = _subfield(f, "d")
        rec.authors.append(Author(name=name, kind=kind, role=", ".join(r for r in roles if r) or None,
                                  dates=trim(dates) if dates else None))

    # identifiers
    add_isbns(rec, get("020", empty), notes)
    add_issns(rec, get("022", empty), notes)
    for f in get("035", empty):
        v = _subfield(f, "a")
        if v and nfc(v) not in rec.system_numbers:
            rec.system_numbers.append(nfc(v))

    # edition, imprint, dates
    v = _first(get("250", empty), "a")
    rec.edition = trim(v) if v else None
    f264 = get("264", empty)
    imprint = [f for f in f264 if f[2] == "1"] or list(get("260", empty)) or list(f264)
    v = _first(imprint, "a")
    rec.place = trim(v) if v else None
    v = _first(imprint, "b")
    rec.publisher = trim(v) if v else None
    v = _first(imprint, "c")
    rec.date_text = trim(v) if v else None
    rec.year, rec.year_confidence = best_year(f008, (rec.date_text, _first(f264, "c")))

    v = _first(get("300", empty), "a")
    rec.extent = trim(v) if v else None
    rec.pages = pages_from_extent(rec.extent)
    rec.languages = _languages(f008, get("041", empty))

    # subjects, series
    for tag in _SUBJECT_TAGS:
        heading_codes = _SUBJECT_HEADING.get(tag, "ab")
        for f in get(tag, empty):
            heading = " ".join(filter(None, [trim(v) for c, v in f[3] if c in heading_codes]))
            parts = [heading] if heading.strip() else []
            parts += [trim(v) for c, v in f[3] if c in _SUBDIVISIONS]
            subject = " -- ".join(p for p in parts if p)
            if subject and subject not in rec.subjects:
                rec.subjects.append(subject)
    for f in get("490", empty):
        a, vol = _subfield(f, "a"), _subfield(f, "v")
        if a:
            series = trim(a) + (" ; " + trim(vol) if vol else "")
            if series not in rec.series:
                rec.series.append(series)
    for f in get("830", empty):
        a = _subfield(f, "a")
        if a and trim(a) not in rec.series:
            rec.series.append(trim(a))

    # call number: the bib-level one; holdings carry their own
    for tag, codes in (("082", "a"), ("084", "a"), ("090", "ab")):
        fields = get(tag)
        if fields:
            call = " ".join(nfc(v) for c, v in fields[0][3] if c in codes and v.strip())
            if call:
                rec.call_number = call
                break

    add_links(rec, get("856", empty), notes)

    for tag in ("952", "995"):
        for f in get(tag, empty):
            rec.holdings.append(_holding_koha(tag, f, ctx, notes))
    if not rec.holdings:
        # 852/876 only when there are no Koha items: exports that have both repeat the items in
        # 852, and counting both would double the copies a library holds.
        if get("852") or get("876"):
            rec.holdings = _holdings_852_876([f for f in marc.fields if f[0] in ("852", "876") and len(f) == 4],
                                             ctx, notes)
    rec.notes = notes
    return rec
