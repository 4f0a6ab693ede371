"""Where one ISO2709 record ends and the next begins: the one splitter the harvester and the normalizer share.

Real exports do not always follow the standard, and a reader that stops at the first surprise
loses every record after it. This one keeps going through what Libol, VietBiblio and old
conversion scripts write:
- records separated by newlines or CRLF, NUL padding, a DOS end-of-file (0x1A);
- a leader whose record length is wrong (often counted in characters, not bytes): the record
  then ends at its 0x1D terminator, or where the next record's leader begins;
- a last record without terminator;
- junk between records (a text header, a damaged leader): it comes out as a piece of its own,
  so the caller keeps it with a reason instead of losing it or the record after it.

Only ASCII structure is looked at (digits of the leader, 0x1D, 0x1E), never the text.
"""
from __future__ import annotations

import re
from typing import Iterator

import pymarc

RECORD_END = 0x1D
FIELD_END = 0x1E
SEPARATORS = b"\r\n\t \x00\x1a"  # between records: line breaks, padding, DOS end-of-file
# A leader: record length (5 digits), 7 printable bytes, base address of data (5 digits), 7 printable bytes.
_LEADER = re.compile(rb"\d{5}[\x20-\x7e]{7}\d{5}[\x20-\x7e]{7}")
# ... where a record can begin inside another one's bytes: after a field or record end, or a separator
_NEXT_LEADER = re.compile(rb"(?<=[\x1d\x1e\r\n\t \x00\x1a])" + _LEADER.pattern)


def _is_leader(data: bytes, match: re.Match | None) -> bool:
    """A leader match whose directory (12-byte entries) really ends with 0x1E at the base address it gives."""
    if match is None:
        return False
    base = int(data[match.start() + 12:match.start() + 17])
    return base > 24 and (base - 25) % 12 == 0 and data[match.start() + base - 1:match.start() + base] == b"\x1e"


def _next_leader(data: bytes, start: int, end: int) -> int:
    """Where the next plausible leader begins in data[start:end]; ``end`` when there is none."""
    for match in _NEXT_LEADER.finditer(data, start, end):
        if _is_leader(data, match):
            return match.start()
    return end


def split_records(data: bytes) -> Iterator[bytes]:
    """Every record of an ISO2709 export, bytes unchanged; junk comes out as pieces of its own.

    A record is trusted to be as long as its leader says when a 0x1D ends it there (the common,
    fast case); otherwise it ends at the first 0x1D, or before a leader that starts earlier.
    """
    position, size = 0, len(data)
    while True:
        while position < size and data[position] in SEPARATORS:
            position += 1
        if position >= size:
            return
        if data[position:position + 5].isdigit():
            length = int(data[position:position + 5])
            end = position + length
            if length > 24 and end <= size and data[end - 1] == RECORD_END:
                yield data[position:end]
                position = end
                continue
            terminator = data.find(b"\x1d", position)
            limit = size if terminator < 0 else terminator + 1
            whole_leader = _is_leader(data, _LEADER.match(data, position))  # else a damaged one, or junk
            end = _next_leader(data, position + (24 if whole_leader else 1), limit)
        else:  # junk: up to the next leader, wherever it starts
            end = _next_leader(data, position + 1, size)
        piece = data[position:end]
        if not piece.endswith(b"\x1d"):
            piece = piece.rstrip(SEPARATORS)
        yield piece
        position = end


class RecordReader:
    """pymarc.MARCReader's permissive interface (None + ``current_exception``) over ``split_records``.

    Exactly one item per piece, so a damaged record never hides the ones after it.
    """

    def __init__(self, data: bytes, **options):
        self.data, self.options = data, options
        self.current_chunk: bytes | None = None
        self.current_exception: Exception | None = None

    def __iter__(self) -> Iterator[pymarc.Record | None]:
        for chunk in split_records(self.data):
            if chunk[:5].isdigit() and int(chunk[:5]) != len(chunk) and len(chunk) <= 99999:
                chunk = b"%05d" % len(chunk) + chunk[5:]  # pymarc refuses a wrong length; only decoding sees this
            self.current_chunk, self.current_exception = chunk, None
            try:
                record = pymarc.Record(chunk, **self.options)
            except Exception as exc:  # noqa: BLE001 - pymarc raises many kinds; the caller words them
                self.current_exception, record = exc, None
            yield record
