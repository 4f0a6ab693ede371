"""Reading MARC: a small record structure and streaming readers for MARCXML and ISO2709.

``MarcRecord`` is deliberately plain tuples: a harvest reads >100k records and building pymarc
objects for each one dominates the cost. pymarc is still used for ISO2709 (its decoding of MARC-8
is what we want) and converted with :func:`from_pymarc`.
"""
from __future__ import annotations

import io
from typing import Iterator, NamedTuple

import pymarc
from lxml import etree
from pymarc import marc8_mapping

from .encodings import UTF8, decide_record, repair_entry, undecided_note
from .iso2709 import RecordReader
from .records import RejectedRecord

MARC_NS = "http://www.loc.gov/MARC21/slim"
_NS = "{%s}" % MARC_NS


class MarcRecord(NamedTuple):
    """One MARC record.

    ``fields`` holds ``(tag, value)`` for control fields and ``(tag, ind1, ind2, [(code, value), ...])``
    for data fields, in record order. ``notes`` says what the reader had to repair; ``repairs``
    holds the fields it re-decoded from their bytes (``CanonicalRecord.repairs`` entries).
    """

    leader: str
    fields: list
    notes: tuple = ()
    repairs: tuple = ()


def from_pymarc(record: pymarc.Record, notes: tuple = (), repairs: tuple = ()) -> MarcRecord:
    fields = []
    for f in record.fields:
        if f.is_control_field():
            fields.append((f.tag, f.data or ""))
        else:
            ind1, ind2 = (list(f.indicators) + [" ", " "])[:2]
            fields.append((f.tag, ind1 or " ", ind2 or " ", [(s.code, s.value or "") for s in f.subfields]))
    return MarcRecord(str(record.leader), fields, notes, repairs)


# --- MARCXML -------------------------------------------------------------------------------------

_LEADER, _CONTROL, _DATA = 0, 1, 2
_KIND = {}
for _prefix in (_NS, ""):
    _KIND[_prefix + "leader"] = _LEADER
    _KIND[_prefix + "controlfield"] = _CONTROL
    _KIND[_prefix + "datafield"] = _DATA


def _record_from_element(el) -> MarcRecord | RejectedRecord:
    """One <record> element -> MarcRecord; a record without a leader is rejected.

    The hot loop of a harvest: local names only, one list comprehension per data field, and the
    rare repairs (missing tag or code) found with cheap None tests and done in _repair.
    """
    leader = None
    fields = []
    append = fields.append
    kinds = _KIND
    suspect = False
    for child in el:
        kind = kinds.get(child.tag)
        if kind == _DATA:
            get = child.get
            # Any child is read as a subfield (lenient: <subfields code="a"> is taken); one without a
            # code attribute is dropped by _repair with a note.
            subs = [(sf.get("code"), sf.text or "") for sf in child]
            tag = get("tag")
            if tag is None:
                suspect = True
            append((tag, get("ind1") or " ", get("ind2") or " ", subs))
        elif kind == _CONTROL:
            tag = child.get("tag")
            if tag is None:
                suspect = True
            append((tag, child.text or ""))
        elif kind == _LEADER:
            leader = child.text or ""
    if leader is None:
        return RejectedRecord(f"MARCXML record has no leader (line {el.sourceline})")
    notes = []
    for f in fields:
        if len(f) == 4:
            for code, _ in f[3]:
                if code is None:
                    suspect = True
    if suspect:
        fields = _repair(fields, notes)
    if len(leader) != 24:
        notes.append(f"leader has {len(leader)} characters instead of 24")
        leader = leader[:24].ljust(24)
    return MarcRecord(leader, fields, tuple(notes))


def _repair(fields, notes):
    """Drop fields without a tag and subfields without a code, saying so (rare: broken exports)."""
    kept = []
    for f in fields:
        if f[0] is None:
            notes.append(f"a {'datafield' if len(f) == 4 else 'controlfield'} without a tag was skipped")
            continue
        if len(f) == 4 and any(code is None for code, _ in f[3]):
            notes.append(f"a subfield without a code (or a stray element) in {f[0]} was skipped")
            f = (f[0], f[1], f[2], [s for s in f[3] if s[0] is not None])
        kept.append(f)
    return kept


def _iterparse(source, tag):
    # No entity expansion, no DTD, no network: harvested XML is untrusted (XXE, billion laughs).
    return etree.iterparse(source, events=("end",), tag=tag, resolve_entities=False, no_network=True,
                           load_dtd=False, remove_comments=True, remove_pis=True, huge_tree=False)


def iter_marcxml(source) -> Iterator[MarcRecord | RejectedRecord]:
    """Stream the records of a MARCXML document (bytes or a binary file), with constant memory.

    Records may be in the MARC21 slim namespace or in none, in a <collection>, bare, or wrapped in
    an OAI-PMH response. A structurally broken record yields a RejectedRecord and reading goes on;
    XML that is not well-formed yields one RejectedRecord with the parser's message and stops.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        for _, el in _iterparse(source, (_NS + "record", "record")):
            yield _record_from_element(el)
            el.clear(keep_tail=True)
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        yield RejectedRecord(f"not well-formed XML: {exc}")


# --- ISO2709 -------------------------------------------------------------------------------------

def _exception_text(exc) -> str:
    if isinstance(exc, UnicodeDecodeError) and exc.encoding == "ascii":  # pymarc, on the record's structure
        byte = bytes(exc.object[exc.start:exc.start + 1]).hex().upper()
        return (f"ISO2709 record unreadable: a byte that is not ASCII (0x{byte}) in its leader, directory, tags "
                "or indicators, which must be ASCII")
    text = str(exc) or type(exc).__name__
    return f"ISO2709 record unreadable: {text}"


def _mostly_utf8(chunk: bytes) -> bool:
    """More valid UTF-8 non-ASCII characters than invalid bytes: a UTF-8 record with a few bad bytes.

    MARC-8 diacritics (0xE0-0xFE before a base letter) are almost never valid UTF-8 sequences.
    """
    text = chunk.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    return sum(1 for ch in text if ch > "\x7f") - bad > bad


def _decode_chunk(chunk: bytes, utf8_failed: bool) -> tuple[pymarc.Record, tuple]:
    """Decode one ISO2709 record as MARC-8 (leader/09 forced blank), else UTF-8 with replacements."""
    as_marc8 = chunk[:9] + b" " + chunk[10:]
    try:
        record = pymarc.Record(as_marc8, to_unicode=True, force_utf8=False, hide_utf8_warnings=True)
        return record, ("decoded as MARC-8 after UTF-8 failed",) if utf8_failed else ()
    except Exception:  # noqa: BLE001 - pymarc's MARC-8 decoder raises several kinds
        record = pymarc.Record(chunk, to_unicode=True, force_utf8=True, utf8_handling="replace")
        return record, ("neither UTF-8 nor MARC-8: undecodable bytes replaced with U+FFFD",)


def iter_iso2709(data: bytes) -> Iterator[MarcRecord | RejectedRecord]:
    """Stream the records of ISO2709 bytes; a bad record yields a RejectedRecord and reading goes on.

    UTF-8 is tried first whatever leader/09 says: Vietnamese exports often carry UTF-8 with
    leader/09 blank, and decoding those as MARC-8 gives garbage ("Nghi©®n"). MARC-8 is the
    fallback, and is used first when leader/09 is blank and the record has an ESC byte (a MARC-8
    character-set switch), since such bytes may also happen to be valid UTF-8.
    """
    reader = RecordReader(data, to_unicode=True, force_utf8=True, utf8_handling="strict")  # one splitter (iso2709.py)
    for record in reader:
        chunk = reader.current_chunk
        notes = ()
        try:
            if record is None:
                exc = reader.current_exception
                if not (isinstance(exc, UnicodeDecodeError) and chunk):
                    yield RejectedRecord(_exception_text(exc))
                    continue
                if _mostly_utf8(chunk):
                    record = pymarc.Record(chunk, to_unicode=True, force_utf8=True, utf8_handling="replace")
                    notes = ("invalid UTF-8 bytes replaced with U+FFFD (the rest of the record is UTF-8)",)
                else:
                    record, notes = _decode_chunk(chunk, utf8_failed=True)
            elif chunk[9:10] != b"a" and (b"\x1b" in chunk or not chunk.isascii()):
                if b"\x1b" in chunk:
                    record, notes = _decode_chunk(chunk, utf8_failed=False)
                else:
                    notes = ("decoded as UTF-8 although leader/09 says MARC-8",)
            marc = from_pymarc(record, notes)
            if notes and notes[0] != "decoded as UTF-8 although leader/09 says MARC-8":
                marc = _redecode_fields(marc, chunk)
        except Exception as exc:  # noqa: BLE001 - any pymarc failure is a rejection
            yield RejectedRecord(_exception_text(exc))
            continue
        yield marc


def _redecode_fields(marc: MarcRecord, chunk: bytes) -> MarcRecord:
    """Re-read, field by field, a record that is not all UTF-8, deciding its legacy encoding once.

    Old Vietnamese records mix encodings: one export may hold UTF-8 fields beside TCVN3 or VNI
    ones, none of which MARC-8 or UTF-8-with-replacements reads. The raw bytes of every data field
    go to ``encodings.decide_record``, which decides the record's legacy encoding from all of them
    (long fields carry the evidence; short ones like a 100 "B\xb6o Ninh" follow). With leader/09
    blank, a field that is valid MARC-8 stays MARC-8 unless the rest of the record says otherwise
    ("th\xe5i" is MARC-8 "thī", not TCVN3 "thồi"). A field left undecided gets a note.
    """
    raw = pymarc.Record(chunk, to_unicode=False)
    if len(raw.fields) != len(marc.fields):
        return marc
    as_marc8 = chunk[9:10] == b" " and marc.notes[:1] == ("decoded as MARC-8 after UTF-8 failed",)
    at, offered, protected = [], [], []  # at: (field index, its subfield indexes) per offered group
    for i, (f, r) in enumerate(zip(marc.fields, raw.fields)):
        if len(f) != 4 or r.is_control_field() or len(r.subfields) != len(f[3]):
            continue
        raw_values = [s.value for s in r.subfields]
        # a field may mix subfields too ($a typed in VNI, $e "kể" in UTF-8): valid UTF-8 subfields and
        # the others are decided as two groups, so one cannot spoil the other's reading
        utf8, other = [], []
        for k, v in enumerate(raw_values):
            if not v.isascii():
                (utf8 if _valid_utf8(v) else other).append(k)
        for group in (utf8, other) if utf8 and other else ([k for k, v in enumerate(raw_values)],):
            if all(raw_values[k].isascii() for k in group):
                continue
            at.append((i, group))
            offered.append(([f[3][k][1] for k in group], [raw_values[k] for k in group]))
            protected.append(as_marc8 and all(strict_marc8(raw_values[k]) for k in group))
    if not at:
        return marc
    fields, repairs, notes = list(marc.fields), [], list(marc.notes)
    for (i, group), (original, _), (values, name, doubt) in zip(at, offered, decide_record(offered, protected, UTF8)):
        f = fields[i]
        if values is not None:
            subfields = list(f[3])
            for k, v in zip(group, values):
                subfields[k] = (subfields[k][0], v)
            fields[i] = (f[0], f[1], f[2], subfields)
            repairs.append(repair_entry(f[0], name, original, values))
        elif doubt:
            notes.append(undecided_note(f[0], original, doubt))
    return marc._replace(fields=fields, repairs=tuple(repairs), notes=tuple(notes))


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_ANSEL = marc8_mapping.CODESETS[0x45]  # MARC-8's default G1 set: byte -> (code point, combining)


def strict_marc8(data: bytes) -> bool:
    """Bytes a MARC-8 system could have written: every byte above 0x7F an ANSEL character, and every
    combining mark (MARC-8 puts it before its letter) followed by a letter. pymarc's decoder is
    lenient (an unknown byte becomes a space, a mark with no letter is dropped); TCVN3 text nearly
    always breaks these rules (ồ ế ộ are ANSEL marks, and Vietnamese words end with them). Escape
    sequences (other MARC-8 character sets) are taken as MARC-8."""
    if b"\x1b" in data:
        return True
    pending = False  # a combining mark waits for its letter
    for byte in data:
        if byte < 0x80:
            if pending and not (0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A):
                return False
            pending = False
            continue
        entry = _ANSEL.get(byte)
        if entry is None:
            return False
        if entry[1]:
            pending = True
        elif pending and not chr(entry[0]).isalpha():
            return False
        else:
            pending = False
    return not pending
