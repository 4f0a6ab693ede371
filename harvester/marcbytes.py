"""Splitting MARC exports into records and finding each record's id, without decoding any text.

The raw store keeps bytes exactly as received (legacy encodings included) and the normalizer
decodes them later; the harvester only needs record boundaries and an identifier, which ISO2709
gives in ASCII (leader, directory, 001) whatever the character set of the data.
"""
from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from typing import Iterator

from lxml import etree

from normalizer.iso2709 import split_records

RECORD_END = b"\x1d"
FIELD_END = b"\x1e"
SUBFIELD = b"\x1f"
MARC_NS = "http://www.loc.gov/MARC21/slim"


class MarcBytesError(ValueError):
    """A record whose structure cannot be read; the message is for a person."""


def split_iso2709(data: bytes) -> Iterator[bytes]:
    """Every record (or piece of junk) of an ISO2709 export: the splitter the normalizer uses too."""
    return split_records(data)


def iso2709_problem(record: bytes) -> str | None:
    """Why a piece of an ISO2709 export cannot be stored as a record, for a person; None when it can."""
    if not record[:5].isdigit():
        return f"no record length at the start: not a MARC record (it begins {record[:16]!r})"
    try:
        for _ in iso2709_fields(record):
            pass
    except ValueError as exc:
        if is_truncated(record):
            return (f"the record is truncated: its leader says {int(record[:5])} bytes, {len(record)} are there "
                    "(the export was cut off, or is still being written)")
        return f"structure unreadable: {exc}"
    return None


def is_truncated(record: bytes) -> bool:
    """A record cut off before its end (no terminator, shorter than its leader says): a file still being written."""
    return (not record.endswith(RECORD_END) and record[:5].isdigit() and int(record[:5]) > len(record) + 1)


def iso2709_fields(record: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(tag, data) of each field, through the ASCII leader and directory; ValueError when they are broken."""
    if len(record) < 25 or not record[12:17].isdigit():
        raise ValueError("the leader's base address of data (positions 12-16) is not a number")
    base = int(record[12:17])
    if not 24 < base <= len(record) or record[base - 1:base] != b"\x1e":
        raise ValueError(f"the directory does not end at the base address of data the leader gives ({base})")
    directory = record[24:base - 1]
    if len(directory) % 12:
        raise ValueError(f"the directory is {len(directory)} bytes long, not a multiple of 12")
    for start in range(0, len(directory), 12):
        entry = directory[start:start + 12]
        if not entry[3:].isdigit():
            raise ValueError(f"directory entry {entry!r} is not tag + length + offset")
        length, offset = int(entry[3:7]), int(entry[7:12])
        if base + offset + length > len(record):
            raise ValueError(f"field {entry[:3].decode('ascii', 'replace')} points past the end of the record")
        yield entry[:3], record[base + offset:base + offset + length]


def parse_id_field(id_field: str) -> tuple[str, str | None]:
    """'001' -> ('001', None); '999$c' (or the older spelling '999c') -> ('999', 'c')."""
    id_field = id_field.replace("$", "")
    return id_field[:3], id_field[3:4] or None


def iso2709_identifier(record: bytes, id_field: str = "001") -> str | None:
    """The record's id: the id field (a control field, or tag$code: 999$c is Koha's biblionumber), else
    001, read through the directory; None when neither is there or the structure is unreadable."""
    found = _iso_field(record, *parse_id_field(id_field))
    if found is None and id_field != "001":
        found = _iso_field(record, "001", None)
    return found


def _iso_field(record: bytes, tag: str, code: str | None) -> str | None:
    wanted = tag.encode()
    try:
        for found, value in iso2709_fields(record):
            if found != wanted:
                continue
            value = value.rstrip(FIELD_END)
            if code is None:
                text = value.strip()
            else:
                text = next((part[1:].strip() for part in value.split(SUBFIELD)[1:] if part[:1] == code.encode()), b"")
            if text:
                return text.decode("utf-8", "replace")
    except ValueError:
        return None
    return None


def marcxml_records(data: bytes, id_field: str = "001") -> Iterator[tuple[bytes, str | None]]:
    """Each <record> of a MARCXML document serialized on its own, with its identifier.

    A document that is not well-formed (control characters a bad conversion left, one broken
    record, a file cut off at the end) is read record by record (``salvage_marcxml``): what can be
    read is kept, and each piece that cannot comes out as its own bytes with no identifier, for
    ``marcxml_problem`` to explain and the caller to quarantine.
    """
    try:
        yield from _parsed_records(data, id_field)
    except etree.XMLSyntaxError:
        yield from salvage_marcxml(data, id_field)


def _parsed_records(data: bytes, id_field: str) -> Iterator[tuple[bytes, str | None]]:
    parser_args = dict(events=("end",), tag=(f"{{{MARC_NS}}}record", "record"), resolve_entities=False,
                       no_network=True, load_dtd=False, huge_tree=True)
    found = []  # the whole document parses before anything is given out: a broken one is salvaged instead
    for _, element in etree.iterparse(io.BytesIO(data), **parser_args):
        identifier = _xml_identifier(element, id_field)
        if identifier is None and id_field != "001":
            identifier = _xml_identifier(element, "001")
        found.append((etree.tostring(element, encoding="utf-8"), identifier))
        element.clear(keep_tail=True)
    return found


# Characters XML 1.0 forbids, raw or as character references: exports converted from ISO2709 carry them.
_ILLEGAL_XML = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|&#(?:x0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F])|0*(?:[0-8]|1[1-2]|1[4-9]|2[0-9]|3[01]));")
# An innermost <record ...>...</record> (any prefix); an OAI envelope's own <record> holds another and is skipped.
_RECORD = re.compile(rb"<(?:[\w.-]+:)?record\b[^>]*>(?:(?!<(?:[\w.-]+:)?record\b).)*?</(?:[\w.-]+:)?record\s*>", re.S)
_RECORD_START = re.compile(rb"<(?:[\w.-]+:)?record\b")
_XMLNS = re.compile(rb"""\sxmlns(?::[\w.-]+)?\s*=\s*(?:"[^"]*"|'[^']*')""")


def salvage_marcxml(data: bytes, id_field: str = "001") -> Iterator[tuple[bytes, str | None]]:
    """Read a MARCXML document that is not well-formed, record by record (see marcxml_records)."""
    cleaned = _ILLEGAL_XML.sub(b"", data)
    if cleaned != data:
        try:
            yield from _parsed_records(cleaned, id_field)
            return
        except etree.XMLSyntaxError:
            pass
    root = _RECORD_START.search(cleaned)
    declarations = b"".join(dict.fromkeys(_XMLNS.findall(cleaned[:root.start()] if root else b"")))
    end = 0
    for match in _RECORD.finditer(cleaned):
        yield _salvaged(match.group(), declarations, id_field)
        end = match.end()
    rest = cleaned[end:]
    start = _RECORD_START.search(rest)
    if start:  # a record cut off at the end of the file
        yield rest[start.start():], None


def _salvaged(chunk: bytes, declarations: bytes, id_field: str) -> tuple[bytes, str | None]:
    head = chunk[:chunk.index(b">")]
    declared = {m.split(b"=")[0].strip() for m in _XMLNS.findall(head)}
    missing = b"".join(d for d in _XMLNS.findall(declarations) if d.split(b"=")[0].strip() not in declared)
    try:
        element = etree.fromstring(chunk[:len(head)] + missing + chunk[len(head):],
                                   etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError:
        return chunk, None
    identifier = _xml_identifier(element, id_field)
    if identifier is None and id_field != "001":
        identifier = _xml_identifier(element, "001")
    return etree.tostring(element, encoding="utf-8"), identifier


def marcxml_problem(body: bytes) -> str | None:
    """Why one record's MARCXML cannot be stored, for a person; None when it is well-formed."""
    try:
        etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        if not re.search(rb"</(?:[\w.-]+:)?record\s*>\s*$", body):
            return f"the record is cut off (no closing </record>): {exc}"
        return f"this record is not well-formed XML: {exc}"
    return None


def marcxml_cut_off(data: bytes) -> bool:
    """The document does not end by closing its root element: an export still being written, or cut off."""
    root = _ROOT.search(data)
    return root is not None and re.search(rb"</" + re.escape(root.group(1)) + rb"\s*>\s*$", data[-4096:]) is None


_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")  # the first element's name (the prolog starts with <? or <!)


def _xml_identifier(element, id_field: str) -> str | None:
    tag, code = parse_id_field(id_field)
    if code is None:
        found = element.xpath(f"string(*[local-name()='controlfield'][@tag='{tag}'])").strip()
    else:
        found = element.xpath(f"string(*[local-name()='datafield'][@tag='{tag}']"
                              f"/*[local-name()='subfield'][@code='{code}'])").strip()
    return found or None


# -- ids for records that have none, or share one ------------------------------------------------
def _volatile(tag: bytes) -> bool:
    """Fields left out of a derived id: the id and transaction time (001, 003, 005), copies and local
    data (852, 9XX: Koha's 952 items, Libol's local fields), so adding a copy keeps the record's id."""
    return tag in (b"001", b"003", b"005", b"852") or tag[:1] == b"9"


def content_key(body: bytes, fmt: str) -> str:
    """16 hex digits of SHA-256 over the record's bibliographic fields, in any order, bytes as received."""
    if fmt == "iso2709":
        try:
            fields = list(iso2709_fields(body))
        except ValueError:
            fields = [(b"", body[24:])]
    else:
        fields = []
        for child in etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True)):
            if not isinstance(child.tag, str):
                continue  # a comment
            tag = (child.get("tag") or "").encode()
            if etree.QName(child).localname == "controlfield":
                fields.append((tag, (child.text or "").encode()))
            elif etree.QName(child).localname == "datafield":
                value = (child.get("ind1") or " ") + (child.get("ind2") or " ") + "".join(
                    "\x1f" + (sub.get("code") or "") + (sub.text or "") for sub in child)
                fields.append((tag, value.encode()))
    kept = sorted(field for field in fields if not _volatile(field[0])) or sorted(fields)
    digest = hashlib.sha256()
    for tag, value in kept:
        digest.update(tag + b"\x1d" + value.rstrip(FIELD_END) + b"\x1d")
    return digest.hexdigest()[:16]


class RecordIds:
    """Gives every record of one export (or Z39.50 result set) an id, so none is lost or collapsed.

    A record keeps its own id unless it has none, or several different records of the same export
    carry it (``shared``): then its id is derived from its content, ``derived:<key>`` or
    ``derived:<shared id>:<key>``, so the same export read again gives the same ids; equal keys
    in one export get ``~2``, ``~3`` in file order. Returns (id, None) or (id, {"shared": ...}).
    """

    def __init__(self, shared: set[str] = frozenset()):
        self.shared = set(shared)
        self.keys: Counter[str] = Counter()

    def __call__(self, body: bytes, fmt: str, identifier: str | None) -> tuple[str, dict | None]:
        if identifier is not None and identifier not in self.shared:
            return identifier, None
        key = content_key(body, fmt)
        base = f"derived:{key}" if identifier is None else f"derived:{identifier}:{key}"
        self.keys[base] += 1
        count = self.keys[base]
        return (base if count == 1 else f"{base}~{count}"), {"shared": identifier}
