"""A union entry as the library world reads it: MARC 21 (MARCXML and ISO 2709), Dublin Core and JSON.

Pure functions over canonical records (``normalizer.records``): no Flask, no database. The OAI-PMH
provider, SRU, the Zebra feeder, the downloads and the bulk export all call these, so every channel
publishes the same record.

The MARC record is written so that ``normalizer.normalize`` reads it back to the same canonical record
(title, responsibility, authors, identifiers, imprint, extent, languages, subjects, series, call number,
material type and holdings): we publish what we hold, and a second unioncat harvesting us ends with
what we have. Where MARC 21 and the reader disagree the reader wins (subjects go to 650, the call
number to 082 or 090, the status of a copy to an 876 linked to its 852 by $8), and anything the
canonical record does not keep is not invented.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

import pymarc
from lxml import etree
from pymarc import Indicators, Subfield

from normalizer.extract import _join_title, trim
from normalizer.records import AVAILABLE, LOST, NOT_FOR_LOAN, ON_LOAN, WITHDRAWN, CanonicalRecord
from normalizer.text import fold, nfc, strip_controls
from unionapi.search.documents import by_quality, holding_rows, representative

MARC_NS = "http://www.loc.gov/MARC21/slim"
MARC_SCHEMA = "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
AGENCY = "unioncat"  # 003: whose numbers the 001 entry ids are

_M, _DC, _OAI_DC = "{%s}" % MARC_NS, "{%s}" % DC_NS, "{%s}" % OAI_DC_NS
_SCHEMA_LOCATION = "{%s}schemaLocation" % XSI_NS

# Characters XML 1.0 cannot carry (lxml refuses them); MARC's own separators are among the controls.
_CR = {"\r": "&#13;"}
_IN_ATTRIBUTE = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# What clean_text changes: controls, bidi overrides, what XML refuses, whitespace other than single spaces
_UNCLEAN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]|[^\\S ]|  |^ | $")


def clean_text(value: str | None) -> str:
    """NFC, one line, without controls (MARC's \\x1d-\\x1f would break ISO 2709) or what XML refuses."""
    if not value:
        return ""
    if not _UNCLEAN.search(value) and unicodedata.is_normalized("NFC", value):
        return value  # canonical text already is: the common case, on the path of every published field
    return strip_controls(nfc(_NOT_XML.sub("", value)))


def choose(members: list[CanonicalRecord], chosen: str | None = None) -> CanonicalRecord:
    """The member whose description is published: ``chosen`` (a record id) or the entry's representative."""
    if not members:
        raise ValueError("an entry has at least one member record")
    if chosen is None:
        return representative(members)
    for member in members:
        if member.record_id == chosen:
            return member
    raise ValueError(f"{chosen!r} is not a member record of this entry")


def entry_holdings(members: list[CanonicalRecord]) -> list[dict]:
    """One row per distinct (library, branch, call number, status, owner) over every member's copies, in
    the order the entry's page shows them (search.documents.holding_rows, the same rows: a copy on
    rotation adds ``owner`` and ``owner_branch``, ``branch`` being where it is now)."""
    return holding_rows(by_quality(members))


# --- MARC 21 ---------------------------------------------------------------------------------------

# material_type -> leader/06-07 (normalizer.extract.material_type reads them back; "r" = object: other)
_LEADER_TYPE = {"book": "am", "serial": "as", "map": "em", "score": "cm", "sound": "im", "video": "gm",
                "image": "km", "computer": "mm", "mixed": "pm", "other": "rm"}
_NAME_TAG = {"person": "00", "corporate": "10", "meeting": "11"}
# 876 $j words normalizer.extract._876_STATUS recognises; an unknown status gets no 876 (read back as unknown)
STATUS_WORDS = {AVAILABLE: "available", ON_LOAN: "on loan", NOT_FOR_LOAN: "not for loan", LOST: "lost",
                WITHDRAWN: "withdrawn"}
_DDC = re.compile(r"[0-9]{3}(?:\.[0-9]+)?")
_CODE = re.compile(r"[a-z]{3}")


def entry_marc(entry_id: str, members: list[CanonicalRecord], *, chosen: str | None = None, holdings: bool = True,
               libraries: Mapping[str, object] | None = None, stamp: datetime | float | None = None,
               agency: str = AGENCY) -> pymarc.Record:
    """The MARC 21 record of one union entry: the description of one member record (``chosen``, else the
    representative) and, with ``holdings``, one 852 per distinct (library, branch, call number, status)
    over all members: $a library id, $b branch, $h call number, $z the library's name from
    ``libraries`` (id -> name, or id -> an object with a ``name``, such as config's Library); a known
    status is an 876 linked by $8 with $j "available" / "on loan" / ... ``holdings=False`` is the
    copy-cataloguing record: no 852/876 at all.

    001 is the entry id, 003 ``agency``, 005 ``stamp`` (a datetime, or UTC seconds since the epoch;
    omitted when None: nothing here reads the clock), leader/09 "a" (UTF-8). Text is NFC without
    control characters.
    """
    rec = choose(members, chosen)
    if isinstance(stamp, (int, float)):
        stamp = datetime.fromtimestamp(stamp, timezone.utc)
    leader_type = _LEADER_TYPE.get(rec.material_type, "am")
    # 05 n new, 09 a UTF-8, 17 7 minimal level (a description rebuilt from what we keep), 18 i ISBD
    record = pymarc.Record(leader=f"00000n{leader_type} a22000007i 4500")
    add = record.add_field
    add(pymarc.Field(tag="001", data=clean_text(entry_id)))
    add(pymarc.Field(tag="003", data=clean_text(agency)))
    if stamp is not None:
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(timezone.utc)
        add(pymarc.Field(tag="005", data=stamp.strftime("%Y%m%d%H%M%S") + ".0"))
    add(pymarc.Field(tag="008", data=_f008(rec, stamp)))
    for isbn in rec.isbns:
        add(_field("020", " ", " ", [("a", isbn)]))
    for isbn in rec.invalid_isbns:
        add(_field("020", " ", " ", [("z", isbn)]))
    for issn in rec.issns:
        add(_field("022", " ", " ", [("a", issn)]))
    for number in rec.system_numbers:
        add(_field("035", " ", " ", [("a", number)]))
    languages = [code for code in rec.languages if _CODE.fullmatch(code)]
    if languages:
        add(_field("041", " ", " ", [("a", code) for code in languages]))
    if rec.call_number:
        call = clean_text(rec.call_number)
        add(_field("082", "0", "4", [("a", call)]) if _DDC.fullmatch(call) else _field("090", " ", " ", [("a", call)]))
    authors = [a for a in rec.authors if a.name]
    if authors:
        add(_name_field("1", authors[0]))
    if rec.title or rec.responsibility:
        add(_title_field(rec, main_entry=bool(authors)))
    if rec.edition:
        add(_field("250", " ", " ", [("a", rec.edition)]))
    imprint = [(code, value) for code, value in (("a", rec.place), ("b", rec.publisher), ("c", rec.date_text))
               if value]
    if imprint:
        add(_field("260", " ", " ", _punctuated(imprint, {"a": " :", "b": ","})))
    if rec.extent:
        add(_field("300", " ", " ", [("a", rec.extent)]))
    for series in rec.series:
        title, sep, volume = series.rpartition(" ; ")  # "Tủ sách Tuổi thơ ; 3": the reader adds " ; " + $v
        split = sep and title and volume and trim(title) == title and trim(volume) == volume
        subfields = [("a", title + " ;"), ("v", volume)] if split else [("a", series)]
        add(_field("490", "0", " ", subfields))
    for subject in rec.subjects:
        add(_field("650", " ", "4", _subject_subfields(subject)))
    for author in authors[1:]:
        add(_name_field("7", author))
    for link in rec.links:  # 856 4_ $u address $y link text (left out when it is only the host, as read back)
        if link.get("url"):
            text = link.get("text")
            add(_field("856", "4", " ", [("u", link["url"])] + ([("y", text)] if text and text != _host(link["url"])
                                                                else [])))
    if holdings:
        _add_holdings(record, entry_holdings(members), libraries or {})
    return record


def _field(tag: str, ind1: str, ind2: str, subfields: list[tuple[str, str]]) -> pymarc.Field:
    return pymarc.Field(tag=tag, indicators=Indicators(ind1, ind2),
                        subfields=[Subfield(code, clean_text(value)) for code, value in subfields])


def _punctuated(subfields: list[tuple[str, str]], after: dict[str, str]) -> list[tuple[str, str]]:
    """ISBD separators (" :", " /", ",", " ;") after each subfield but the last: the reader's trim
    takes them off again. No final full stops: "Co." would not read back as "Co"."""
    out = []
    for i, (code, value) in enumerate(subfields):
        last = i == len(subfields) - 1
        out.append((code, value if last or code not in after else value + after[code]))
    return out


def _f008(rec: CanonicalRecord, stamp: datetime | None) -> str:
    """Fixed-length data: date entered (from ``stamp``), type of date and Date 1 saying how sure the year is
    (normalizer.dates.from_008 reads them back), place unknown ("xx"), language at 35-37."""
    entered = stamp.strftime("%y%m%d") if stamp is not None else "||||||"
    year, confidence = rec.year, rec.year_confidence
    kind, date1, date2 = "n", "uuuu", "    "
    if year is not None and 1000 <= year <= 2100:
        if confidence == "decade" and year % 10 == 0:
            kind, date1 = "s", f"{year // 10:03d}u"
        elif confidence == "century" and year % 100 == 0:
            kind, date1 = "s", f"{year // 100:02d}uu"
        elif confidence == "inferred":  # questionable date: 008/06 "q", the range is the one year
            kind, date1, date2 = "q", f"{year:04d}", f"{year:04d}"
        else:
            kind, date1 = "s", f"{year:04d}"
    language = next((code for code in rec.languages if _CODE.fullmatch(code)), "und")
    return f"{entered}{kind}{date1}{date2}xx {'|' * 17}{language} d"


def _title_field(rec: CanonicalRecord, main_entry: bool) -> pymarc.Field:
    """245: the canonical title split back into $a and $b at its first " : " when the reader joins them
    to the same title (else whole in $a), $c the statement of responsibility, ind2 the non-filing
    characters that make ``title_sort`` (an article: "The ", "L'")."""
    title = clean_text(rec.title)
    responsibility = clean_text(rec.responsibility)
    main, sep, rest = title.partition(" : ")
    candidates = ([[("a", main + " :"), ("b", rest)]] if sep and main and rest else []) + [[("a", title)]]
    if not title:  # a statement of responsibility without a title (the record had none)
        candidates = [[]]
    subfields = candidates[-1]
    for candidate in candidates:
        if _join_title(candidate) == title:
            subfields = candidate
            break
    if responsibility and subfields:
        code, value = subfields[-1]
        subfields = subfields[:-1] + [(code, value + " /")]
    if responsibility:
        subfields = subfields + [("c", responsibility)]
    skip = 0
    if rec.title_sort and rec.title_sort != rec.title and rec.title.endswith(rec.title_sort):
        skip = len(rec.title) - len(rec.title_sort)
    return _field("245", "1" if main_entry else "0", str(skip) if 0 < skip <= 9 else "0", subfields)


def _name_field(first: str, author) -> pymarc.Field:
    """1XX (``first`` "1") or 7XX ("7") by the author's kind. A person's $a is the name as catalogued
    (ind1 1 when inverted with a comma, 0 for direct order: Vietnamese names), $d dates, $e role; a
    body's $d is its dates too; a meeting's dates are in its name already and its role would be $j,
    which the reader does not take: neither is written."""
    kind = author.kind if author.kind in _NAME_TAG else "person"
    subfields = [("a", author.name)]
    if kind != "meeting":
        if author.dates:
            subfields.append(("d", author.dates))
        if author.role:
            subfields.append(("e", author.role))
    ind1 = ("1" if "," in author.name else "0") if kind == "person" else "2"
    return _field(first + _NAME_TAG[kind], ind1, " ", _punctuated(subfields, {"a": ",", "d": ","}))


def _subject_subfields(subject: str) -> list[tuple[str, str]]:
    """"Văn học Việt Nam -- Tiểu thuyết" -> $a Văn học Việt Nam $x Tiểu thuyết (the reader joins a
    heading and its subdivisions with " -- "); whole in $a when split parts would not read back."""
    parts = subject.split(" -- ")
    if len(parts) > 1 and all(p and trim(p) == p for p in parts):
        return [("a", parts[0])] + [("x", p) for p in parts[1:]]
    return [("a", subject)]


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _library_name(libraries: Mapping[str, object], library: str) -> str | None:
    value = libraries.get(library)
    return value if isinstance(value, str) or value is None else getattr(value, "name", None)


def _add_holdings(record: pymarc.Record, rows: list[dict], libraries: Mapping[str, object]) -> None:
    """852 $8 n $a library $b branch $h call number $z library name; 876 $8 n.1 $j status (when known).

    A copy on rotation is MARC 21's permanent and temporary location: 852 $b the branch it belongs to,
    876 $l (temporary location) the branch it is at now; the normalizer reads them back so."""
    items = []
    for n, row in enumerate(rows, 1):
        subfields = [("8", str(n)), ("a", row["library"])]
        home = row.get("owner_branch") or row["branch"]
        if home:
            subfields.append(("b", home))
        if row["call_number"]:
            subfields.append(("h", row["call_number"]))
        if name := _library_name(libraries, row["library"]):
            subfields.append(("z", name))
        record.add_field(_field("852", " ", " ", subfields))
        item = [("j", STATUS_WORDS[row["status"]])] if row["status"] in STATUS_WORDS else []
        if row.get("owner_branch") and row["branch"]:
            item.append(("l", row["branch"]))
        if item:
            items.append(_field("876", " ", " ", [("8", f"{n}.1"), *item]))
    for item in items:
        record.add_field(item)


# --- serializations --------------------------------------------------------------------------------

def marc_element(record: pymarc.Record, schema_location: bool = False) -> etree._Element:
    """One <marc:record> element (MARC 21 slim), for embedding in an OAI-PMH, SRU or collection document."""
    nsmap = {"marc": MARC_NS, "xsi": XSI_NS} if schema_location else {"marc": MARC_NS}
    root = etree.Element(_M + "record", nsmap=nsmap)
    if schema_location:
        root.set(_SCHEMA_LOCATION, f"{MARC_NS} {MARC_SCHEMA}")
    sub = etree.SubElement
    sub(root, _M + "leader").text = _NOT_XML.sub("", str(record.leader))
    for field in record.fields:
        if field.is_control_field():
            sub(root, _M + "controlfield", tag=field.tag).text = _NOT_XML.sub("", field.data or "")
            continue
        ind1, ind2 = (field.indicator1 or " "), (field.indicator2 or " ")
        element = sub(root, _M + "datafield", tag=field.tag, ind1=ind1, ind2=ind2)
        for subfield in field.subfields:
            sub(element, _M + "subfield", code=subfield.code).text = _NOT_XML.sub("", subfield.value or "")
    return root


def marc_text(record: pymarc.Record) -> str:
    """The same <marc:record> as ``marc_element``, written as text: what an OAI-PMH page embeds, twice as
    fast as building the element and serializing it (a harvest of the whole catalogue is mostly this)."""
    def text(value) -> str:  # a carriage return kept as one (a parser would read a bare one as a line feed)
        return xml_escape(_NOT_XML.sub("", value or ""), _CR)

    def attr(value) -> str:
        return xml_escape(_NOT_XML.sub("", value or ""), _IN_ATTRIBUTE)

    out = [f'<marc:record xmlns:marc="{MARC_NS}"><marc:leader>{text(str(record.leader))}</marc:leader>']
    for field in record.fields:
        if field.is_control_field():
            out.append(f'<marc:controlfield tag="{attr(field.tag)}">{text(field.data)}</marc:controlfield>')
            continue
        out.append(f'<marc:datafield tag="{attr(field.tag)}" ind1="{attr(field.indicator1 or " ")}" '
                   f'ind2="{attr(field.indicator2 or " ")}">')
        out.extend(f'<marc:subfield code="{attr(sub.code)}">{text(sub.value)}</marc:subfield>'
                   for sub in field.subfields)
        out.append("</marc:datafield>")
    out.append("</marc:record>")
    return "".join(out)


def marcxml(record: pymarc.Record) -> bytes:
    """One MARCXML record, UTF-8 with an XML declaration."""
    return etree.tostring(marc_element(record, schema_location=True), encoding="UTF-8", xml_declaration=True)


def marcxml_collection(records) -> bytes:
    """A <marc:collection> of records (any iterable of pymarc records), UTF-8."""
    root = etree.Element(_M + "collection", nsmap={"marc": MARC_NS, "xsi": XSI_NS})
    root.set(_SCHEMA_LOCATION, f"{MARC_NS} {MARC_SCHEMA}")
    for record in records:
        root.append(marc_element(record))
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


ISO2709_MAX_RECORD = 99_999  # five digits of record length in the leader
ISO2709_MAX_FIELD = 9_999  # four digits of field length in the directory


def iso2709(record: pymarc.Record) -> bytes:
    """ISO 2709 in UTF-8 (leader/09 "a"); lengths are counted in bytes, as the standard wants.

    A record over 99,999 bytes (a textbook every school holds) keeps its description and as many
    locations (852 with its 876) as fit, and says in a 500 note how many are left out: the MARCXML
    record lists them all. A single field over 9,999 bytes cannot be written: ValueError.
    """
    leader = str(record.leader)
    if leader[9:10] != "a":
        record.leader = pymarc.Leader(leader[:9] + "a" + leader[10:])
    data = record.as_marc()
    if len(data) > ISO2709_MAX_FIELD:  # only then can one field be too long
        for field in record.fields:
            size = len(field.as_marc(encoding="utf-8"))
            if size > ISO2709_MAX_FIELD:
                raise ValueError(f"field {field.tag} is {size:,} bytes; ISO 2709 allows {ISO2709_MAX_FIELD:,}: "
                                 "use MARCXML")
    if len(data) <= ISO2709_MAX_RECORD:
        return data
    data = _without_some_locations(record).as_marc()
    if len(data) > ISO2709_MAX_RECORD:
        raise ValueError(f"the description alone is {len(data):,} bytes; ISO 2709 allows {ISO2709_MAX_RECORD:,}: "
                         "use MARCXML")
    return data


def _without_some_locations(record: pymarc.Record) -> pymarc.Record:
    """The record with trailing locations (852 and the 876 linked to it) left out until it fits."""
    groups: dict[str, list] = {}
    kept = []
    for field in record.fields:
        if field.tag in ("852", "876") and not field.is_control_field():
            link = re.match(r"\s*([0-9]+)", field.get("8") or "")
            groups.setdefault(link.group(1) if link else f"#{len(groups)}", []).append(field)
        else:
            kept.append(field)
    note_room = 300  # the 500 note, generously
    size = len(pymarc.Record(leader=str(record.leader), fields=kept).as_marc()) + note_room
    located, left_out = [], 0
    for group in groups.values():
        group_size = sum(len(f.as_marc(encoding="utf-8")) + 12 for f in group)  # + directory entries
        if not left_out and size + group_size <= ISO2709_MAX_RECORD:
            located += group
            size += group_size
        else:
            left_out += sum(f.tag == "852" for f in group) or 1
    note = _field("500", " ", " ", [("a", f"Holdings: {left_out} more location(s) not listed here (an ISO 2709 "
                                          "record holds at most 99,999 bytes); the MARCXML record lists them all")])
    out = pymarc.Record(leader=str(record.leader))
    out.fields = kept[:]
    if left_out:
        at = next((i for i, f in enumerate(out.fields) if f.tag > "500"), len(out.fields))
        out.fields.insert(at, note)
    at = next((i for i, f in enumerate(out.fields) if f.tag > "852"), len(out.fields))
    out.fields[at:at] = located
    return out


# --- Dublin Core -----------------------------------------------------------------------------------

# material_type -> dc:type; each reads back (normalizer.dc._TYPES) except PhysicalObject, which is "other"
_DC_TYPE = {"book": "Text", "serial": "Periodical", "map": "Map", "score": "Score", "sound": "Sound",
            "video": "MovingImage", "image": "StillImage", "computer": "Software", "mixed": "Collection",
            "other": "PhysicalObject"}
# Roles of an author proper (folded): anyone else named is a dc:contributor
_CREATOR_ROLES = frozenset(["tac gia", "dong tac gia", "author", "aut", "cre", "creator", "joint author"])


def is_creator(author) -> bool:
    """An author proper, not an editor, translator or illustrator (by the role, when there is one)."""
    return not author.role or fold(author.role).strip(" .") in _CREATOR_ROLES


def entry_dc(entry_id: str, members: list[CanonicalRecord], *, chosen: str | None = None) -> etree._Element:
    """The entry as an <oai_dc:dc> element (OAI-PMH's Dublin Core), from the chosen or representative
    record: ISBNs as urn:isbn:..., ISSNs as urn:issn:..., the entry id as an identifier, the edition in
    dc:description (where Koha's crosswalk puts 250), series as dc:relation, the extent as dc:format."""
    rec = choose(members, chosen)
    dc = etree.Element(_OAI_DC + "dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    dc.set(_SCHEMA_LOCATION, f"{OAI_DC_NS} {OAI_DC_SCHEMA}")

    def add(name: str, value) -> None:
        text = clean_text(str(value)) if value is not None else ""
        if text:
            etree.SubElement(dc, _DC + name).text = text

    add("title", rec.title)
    for author in rec.authors:
        add("creator" if is_creator(author) else "contributor", author.name)
    for subject in rec.subjects:
        add("subject", subject)
    add("description", rec.edition)
    add("publisher", rec.publisher)
    add("date", rec.year if rec.year is not None else rec.date_text)
    add("type", _DC_TYPE.get(rec.material_type, "Text"))
    add("format", rec.extent)
    for isbn in rec.isbns:
        add("identifier", f"urn:isbn:{isbn}")
    for issn in rec.issns:
        add("identifier", f"urn:issn:{issn}")
    add("identifier", entry_id)
    for link in rec.links:  # the digital document's address (read back as a link; its text becomes the host)
        add("identifier", link.get("url"))
    for language in rec.languages:
        add("language", language)
    for series in rec.series:
        add("relation", series)
    return dc


def dc_bytes(entry_id: str, members: list[CanonicalRecord], *, chosen: str | None = None) -> bytes:
    """entry_dc as a UTF-8 document (a download)."""
    return etree.tostring(entry_dc(entry_id, members, chosen=chosen), encoding="UTF-8", xml_declaration=True)


# --- JSON ------------------------------------------------------------------------------------------

def entry_json(entry_id: str, members: list[CanonicalRecord], *, chosen: str | None = None) -> dict:
    """A plain JSON form: the chosen or representative record's description and every member's copies."""
    rec = choose(members, chosen)
    return {
        "id": entry_id,
        "record_id": rec.record_id,
        "source_library": rec.library,
        "title": rec.title,
        "responsibility": rec.responsibility,
        "authors": [{"name": a.name, "kind": a.kind, "role": a.role, "dates": a.dates} for a in rec.authors],
        "edition": rec.edition,
        "place": rec.place,
        "publisher": rec.publisher,
        "year": rec.year,
        "date": rec.date_text,
        "extent": rec.extent,
        "pages": rec.pages,
        "isbns": list(rec.isbns),
        "issns": list(rec.issns),
        "languages": list(rec.languages),
        "subjects": list(rec.subjects),
        "series": list(rec.series),
        "material_type": rec.material_type,
        "call_number": rec.call_number,
        "members": [m.record_id for m in by_quality(members)],
        "holdings": entry_holdings(members),
        **({"links": [dict(link) for link in rec.links]} if rec.links else {}),
    }
