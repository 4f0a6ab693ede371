"""The normalizer: bytes in, canonical records out. Pure: no I/O, no global state.

``normalize`` handles one harvested record; ``iter_marcxml`` / ``iter_iso2709`` stream whole files
into :class:`MarcRecord` (or :class:`RejectedRecord` for what cannot be read), which
``canonical_from_marc`` turns into canonical records.
"""
from __future__ import annotations

from .dc import canonical_from_dc
from .extract import canonical_from_marc
from .dates import best_year, parse_year
from .encodings import repair_text
from .ids import isbn10_to_13, isbn13_to_10, normalize_isbn, normalize_issn, valid_isbn10, valid_isbn13
from .marc import MarcRecord, from_pymarc, iter_iso2709, iter_marcxml
from .names import corporate_key, person_key, publisher_key
from .records import CanonicalRecord, RejectedRecord, SourceContext
from .unimarc import FLAVOURS, canonical_from_any, canonical_from_unimarc, detect_flavour

FORMATS = ("marcxml", "iso2709", "oai_dc")

__all__ = ["normalize", "iter_marcxml", "iter_iso2709", "canonical_from_marc", "canonical_from_dc",
           "MarcRecord", "from_pymarc", "normalize_isbn", "normalize_issn", "isbn10_to_13", "isbn13_to_10",
           "valid_isbn10", "valid_isbn13", "person_key", "corporate_key", "publisher_key", "parse_year", "best_year",
           "repair_text", "FORMATS", "FLAVOURS", "canonical_from_unimarc", "detect_flavour"]


def normalize(body: bytes, fmt: str, ctx: SourceContext) -> CanonicalRecord:
    """One harvested record -> CanonicalRecord; raises RejectedRecord with a readable reason.

    ``fmt``: "marcxml" (one <record>, namespaced or not, maybe in a <collection>), "iso2709"
    (one record) or "oai_dc" (one <oai_dc:dc>). When a payload holds several records the first is
    used and a note says so.
    """
    if fmt == "oai_dc":
        return canonical_from_dc(body, ctx)
    if fmt == "marcxml":
        records = iter_marcxml(body)
        empty = "no MARCXML <record> element found"
    elif fmt == "iso2709":
        records = iter_iso2709(body)
        empty = "no ISO2709 record found (empty input)"
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    first = next(records, None)
    if first is None:
        raise RejectedRecord(empty)
    if isinstance(first, RejectedRecord):
        raise first
    extra = sum(1 for _ in records)
    rec = canonical_from_any(first, ctx, fmt)  # MARC21 or UNIMARC: ctx.marc_flavour
    if extra:
        rec.notes.append(f"the payload held {extra + 1} records; only the first was used")
    return rec
