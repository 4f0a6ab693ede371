"""Splitting MARC exports into records and finding each record's id, without decoding any text.

The raw store keeps bytes exactly as received (legacy encodings included) and the normalizer
decodes them later; the harvester only needs record boundaries and an identifier, which ISO2709
gives in ASCII (leader, directory, 001) whatever the character set of the data.
"""
from __future__ import annotations

import io
from typing import Iterator

from lxml import etree

RECORD_END = b"\x1d"
FIELD_END = b"\x1e"
SUBFIELD = b"\x1f"
MARC_NS = "http://www.loc.gov/MARC21/slim"


class MarcBytesError(ValueError):
    """A record whose structure cannot be read; the message is for a person."""


def split_iso2709(data: bytes) -> Iterator[bytes]:
    """Records by their leader's length; raises MarcBytesError at a truncated or broken record."""
    position, size = 0, len(data)
    while position < size:
        while position < size and data[position:position + 1] in (b"\n", b"\r", b" ", b"\x1a"):
            position += 1  # some exports put line breaks or a DOS end-of-file between records
        if position >= size:
            return
        head = data[position:position + 5]
        if len(head) < 5 or not head.isdigit():
            raise MarcBytesError(f"no record length at byte {position} (found {head!r})")
        length = int(head)
        record = data[position:position + length]
        if len(record) < length:
            raise MarcBytesError(f"the last record is truncated: it says {length} bytes, {len(record)} are there "
                                 f"(byte {position}); the file may still be being written")
        if not record.endswith(RECORD_END):
            end = data.find(RECORD_END, position)
            raise MarcBytesError(f"record at byte {position} does not end where its leader says ({length} bytes)"
                                 + ("" if end < 0 else f"; its terminator is at byte {end}"))
        yield record
        position += length


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


def iso2709_identifier(record: bytes, id_field: str = "001") -> str | None:
    """001 (or 999 $c, Koha's biblionumber) read through the directory; None when absent or unreadable."""
    wanted = id_field[:3].encode()
    try:
        for tag, value in iso2709_fields(record):
            if tag != wanted:
                continue
            value = value.rstrip(FIELD_END)
            if id_field == "001":
                text = value.strip()
            else:
                code = id_field[3:].encode()
                text = next((part[1:].strip() for part in value.split(SUBFIELD)[1:] if part[:1] == code), b"")
            if text:
                return text.decode("utf-8", "replace")
    except ValueError:
        return None
    return None


def marcxml_records(data: bytes, id_field: str = "001") -> Iterator[tuple[bytes, str | None]]:
    """Each <record> of a MARCXML document serialized on its own, with its identifier.

    Raises MarcBytesError when the document is not well-formed (e.g. cut off mid-write).
    """
    parser_args = dict(events=("end",), tag=(f"{{{MARC_NS}}}record", "record"), resolve_entities=False,
                       no_network=True, load_dtd=False, huge_tree=True)
    try:
        for _, element in etree.iterparse(io.BytesIO(data), **parser_args):
            yield etree.tostring(element, encoding="utf-8"), _xml_identifier(element, id_field)
            element.clear(keep_tail=True)
    except etree.XMLSyntaxError as exc:
        raise MarcBytesError(f"MARCXML is not well-formed: {exc}") from None


def _xml_identifier(element, id_field: str) -> str | None:
    if id_field == "001":
        found = element.xpath("string(*[local-name()='controlfield'][@tag='001'])").strip()
    else:
        found = element.xpath(f"string(*[local-name()='datafield'][@tag='{id_field[:3]}']"
                              f"/*[local-name()='subfield'][@code='{id_field[3:]}'])").strip()
    return found or None
