"""oai_dc -> CanonicalRecord: the one format every OAI-PMH provider must offer."""
from __future__ import annotations

import re

from lxml import etree

from .extract import pages_from_extent, trim, year_from_text
from .ids import normalize_isbn, normalize_issn
from .records import UNKNOWN, Author, CanonicalRecord, Holding, RejectedRecord, SourceContext
from .text import fold, nfc

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
_DC = "{%s}" % DC

_LANGUAGES = {"vi": "vie", "vie": "vie", "tieng viet": "vie", "vietnamese": "vie",
              "en": "eng", "eng": "eng", "english": "eng", "tieng anh": "eng",
              "fr": "fre", "fre": "fre", "fra": "fre", "french": "fre", "tieng phap": "fre",
              "zh": "chi", "zho": "chi", "ja": "jpn", "ko": "kor", "de": "ger", "deu": "ger", "ru": "rus",
              "es": "spa", "lo": "lao", "km": "khm", "th": "tha"}
_TYPES = {"text": "book", "book": "book", "sach": "book", "monograph": "book",
          "periodical": "serial", "serial": "serial", "journal": "serial", "bao": "serial", "tap chi": "serial",
          "image": "image", "stillimage": "image", "still image": "image", "hinh anh": "image",
          "sound": "sound", "audio": "sound", "am thanh": "sound",
          "movingimage": "video", "moving image": "video", "video": "video",
          "software": "computer", "dataset": "computer", "map": "map", "ban do": "map",
          "score": "score", "notated music": "score", "collection": "mixed"}
_ISBN_LABEL = re.compile(r"^\s*(?:urn:isbn:|isbn(?:-1[03])?\s*:?\s*)", re.IGNORECASE)
_ISSN_LABEL = re.compile(r"^\s*(?:urn:issn:|issn\s*:?\s*)", re.IGNORECASE)
_BARE_ISBN = re.compile(r"^[0-9][0-9\- ]{8,15}[0-9Xx]$")

_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                       remove_comments=True, remove_pis=True)


def _parse(body: bytes):
    try:
        return etree.fromstring(body, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise RejectedRecord(f"not well-formed XML: {exc}") from None


def canonical_from_dc(body: bytes, ctx: SourceContext) -> CanonicalRecord:
    """One <oai_dc:dc> element (bare or inside an OAI-PMH <record>/<metadata>) -> CanonicalRecord."""
    root = _parse(body)
    dc = root if root.tag == "{%s}dc" % OAI_DC else next(root.iter("{%s}dc" % OAI_DC), None)
    if dc is None:
        raise RejectedRecord(f"no oai_dc:dc element (the document's root is <{etree.QName(root).localname}>)")
    values: dict[str, list[str]] = {}
    for el in dc:
        if isinstance(el.tag, str) and el.tag.startswith(_DC):
            text = nfc("".join(el.itertext()))
            if text:
                values.setdefault(el.tag[len(_DC):], []).append(text)

    rec = CanonicalRecord(record_id=ctx.record_id, library=ctx.library, format="oai_dc")
    notes = rec.notes
    titles = values.get("title", [])
    rec.title = rec.title_sort = trim(titles[0]) if titles else ""
    if not rec.title:
        notes.append("no dc:title")
    for tag in ("creator", "contributor"):
        for name in values.get(tag, []):
            name = trim(name)
            if name and all(a.name != name for a in rec.authors):
                rec.authors.append(Author(name=name, kind="person"))
    for subject in values.get("subject", []):
        subject = trim(subject)
        if subject and subject not in rec.subjects:
            rec.subjects.append(subject)
    publishers = values.get("publisher", [])
    rec.publisher = trim(publishers[0]) if publishers else None
    dates = values.get("date", [])
    rec.date_text = dates[0] if dates else None
    for d in dates:
        rec.year = year_from_text(d)
        if rec.year:
            break

    for ident in values.get("identifier", []):
        _identifier(ident, rec)
    for lang in values.get("language", []):
        code = _LANGUAGES.get(fold(lang))
        if code is None and len(lang) == 3 and lang.isascii() and lang.isalpha():
            code = lang.lower()
        if code is None:
            notes.append(f"language {lang!r} not understood")
        elif code not in rec.languages:
            rec.languages.append(code)
    for kind in values.get("type", []):
        material = _TYPES.get(fold(kind))
        if material:
            rec.material_type = material
            break
    for fmt in values.get("format", []) + values.get("extent", []):
        pages = pages_from_extent(fmt)
        if pages:
            rec.extent, rec.pages = trim(fmt), pages
            break
    rec.holdings.append(Holding(library=ctx.library, status=UNKNOWN))
    return rec


def _identifier(ident: str, rec: CanonicalRecord) -> None:
    """ISBNs ("ISBN 978-...", "urn:isbn:...", or a bare string that validates), ISSNs, other ids."""
    if ident.lower().startswith(("http://", "https://")):
        return
    labelled = _ISBN_LABEL.match(ident)
    if labelled or _BARE_ISBN.match(ident):
        isbn, found = normalize_isbn(ident[labelled.end():] if labelled else ident)
        if isbn:
            if isbn not in rec.isbns:
                rec.isbns.append(isbn)
            return
        if labelled:
            rec.invalid_isbns.append(found)
            rec.notes.append(f"ISBN {found} is not valid (wrong check digit or length)")
            return
    issn_label = _ISSN_LABEL.match(ident)
    if issn_label:
        issn, found = normalize_issn(ident[issn_label.end():])
        if issn:
            rec.issns.append(issn)
        else:
            rec.notes.append(f"ISSN {found} has a wrong check digit or form, skipped")
        return
    if ident not in rec.system_numbers:
        rec.system_numbers.append(ident)
