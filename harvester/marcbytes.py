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


def iso2709_identifier(record: bytes, id_field: str = "001") -> str | None:
    """001 (or 999 $c, Koha's biblionumber) read through the directory; None when absent."""
    if len(record) < 24 or not record[12:17].isdigit():
        return None
    base = int(record[12:17])
    directory = record[24:base - 1]
    tag_wanted = id_field[:3].encode()
    for start in range(0, len(directory) - 11, 12):
        entry = directory[start:start + 12]
        if entry[:3] != tag_wanted or not entry[3:12].isdigit():
            continue
        length, offset = int(entry[3:7]), int(entry[7:12])
        value = record[base + offset: base + offset + length].rstrip(FIELD_END)
        if id_field == "001":
            text = value.strip()
        else:
            code = id_field[3:].encode()
            text = next((part[1:].strip() for part in value.split(SUBFIELD)[1:] if part[:1] == code), b"")
        if text:
            return text.decode("utf-8", "replace")
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
