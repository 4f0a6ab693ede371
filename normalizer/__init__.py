"""The normalizer: bytes in, canonical records out. Pure: no I/O, no global state.

``normalize`` handles one harvested record; ``iter_marcxml`` / ``iter_iso2709`` stream whole files
into :class:`MarcRecord` (or :class:`RejectedRecord` for what cannot be read), which
``canonical_from_marc`` turns into canonical records.

Importing the package (or a light submodule such as ``normalizer.text``) loads nothing else: the
names below come from their submodules on first use (pymarc and lxml only when a reader is asked
for), so ``from normalizer import normalize`` and ``import normalizer.text`` stay cheap.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and readers; at run time these come from __getattr__
    from .dates import best_year, parse_year
    from .dc import canonical_from_dc
    from .encodings import repair_text
    from .extract import canonical_from_marc
    from .ids import isbn10_to_13, isbn13_to_10, normalize_isbn, normalize_issn, valid_isbn10, valid_isbn13
    from .marc import MarcRecord, from_pymarc, iter_iso2709, iter_marcxml
    from .names import corporate_key, person_key, publisher_key
    from .records import CanonicalRecord, RejectedRecord, SourceContext
    from .unimarc import FLAVOURS, canonical_from_any, canonical_from_unimarc, detect_flavour

FORMATS = ("marcxml", "iso2709", "oai_dc")
# What the normalizer reads. A catalogue normalized by another revision is normalized again, once,
# from the raw store (unionapi.pipeline.normalize_changes): new fields reach records already stored.
# 2: copies on rotation (952/995 owner and current location), links to digital documents (856, dc:identifier)
REVISION = 2

# re-exported name -> the submodule that defines it (imported on first use)
_LAZY = {
    "canonical_from_dc": "dc",
    "canonical_from_marc": "extract",
    "best_year": "dates", "parse_year": "dates",
    "repair_text": "encodings",
    "isbn10_to_13": "ids", "isbn13_to_10": "ids", "normalize_isbn": "ids", "normalize_issn": "ids",
    "valid_isbn10": "ids", "valid_isbn13": "ids",
    "MarcRecord": "marc", "from_pymarc": "marc", "iter_iso2709": "marc", "iter_marcxml": "marc",
    "corporate_key": "names", "person_key": "names", "publisher_key": "names",
    "CanonicalRecord": "records", "RejectedRecord": "records", "SourceContext": "records",
    "FLAVOURS": "unimarc", "canonical_from_any": "unimarc", "canonical_from_unimarc": "unimarc",
    "detect_flavour": "unimarc",
}

__all__ = ["normalize", "iter_marcxml", "iter_iso2709", "canonical_from_marc", "canonical_from_dc",
           "MarcRecord", "from_pymarc", "normalize_isbn", "normalize_issn", "isbn10_to_13", "isbn13_to_10",
           "valid_isbn10", "valid_isbn13", "person_key", "corporate_key", "publisher_key", "parse_year", "best_year",
           "repair_text", "FORMATS", "FLAVOURS", "canonical_from_unimarc", "detect_flavour"]


def __getattr__(name: str):
    """``normalizer.X`` for a re-exported X: imported from its submodule once, then kept here."""
    submodule = _LAZY.get(name)
    if submodule is None:  # (an AttributeError lets `from normalizer import extract` import the submodule)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


_READERS: tuple | None = None  # (RejectedRecord, canonical_from_dc, iter_marcxml, iter_iso2709, canonical_from_any)


def _readers() -> tuple:
    """The readers ``normalize`` needs, imported on its first call (pymarc and lxml come with them)."""
    global _READERS
    if _READERS is None:
        from .dc import canonical_from_dc
        from .marc import iter_iso2709, iter_marcxml
        from .records import RejectedRecord
        from .unimarc import canonical_from_any
        _READERS = (RejectedRecord, canonical_from_dc, iter_marcxml, iter_iso2709, canonical_from_any)
    return _READERS


def normalize(body: bytes, fmt: str, ctx: SourceContext) -> CanonicalRecord:
    """One harvested record -> CanonicalRecord; raises RejectedRecord with a readable reason.

    ``fmt``: "marcxml" (one <record>, namespaced or not, maybe in a <collection>), "iso2709"
    (one record) or "oai_dc" (one <oai_dc:dc>). When a payload holds several records the first is
    used and a note says so.
    """
    rejected, canonical_from_dc, iter_marcxml, iter_iso2709, canonical_from_any = _READERS or _readers()
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
        raise rejected(empty)
    if isinstance(first, rejected):
        raise first
    extra = sum(1 for _ in records)
    rec = canonical_from_any(first, ctx, fmt)  # MARC21 or UNIMARC: ctx.marc_flavour
    if extra:
        rec.notes.append(f"the payload held {extra + 1} records; only the first was used")
    return rec
