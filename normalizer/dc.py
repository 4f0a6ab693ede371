"""oai_dc -> CanonicalRecord: the one format every OAI-PMH provider must offer."""
from __future__ import annotations

import re

from lxml import etree

from .dates import parse_year
from .encodings import is_vietnamese_text, needs_look, repair_entry, repair_values
from .extract import pages_from_extent, trim
from .ids import normalize_isbn, normalize_issn
from .links import add_link, looks_like_address
from .records import UNKNOWN, Author, CanonicalRecord, Holding, RejectedRecord, SourceContext
from .names import is_corporate_name
from .text import fold

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
_DC = "{%s}" % DC
_DCTERMS = "{%s}" % DCTERMS
_OAI_DC_TAG = "{%s}dc" % OAI_DC

# Folded dc:language values -> ISO 639-2/B (the MARC codes): ISO 639-1, 639-2/T, English and
# Vietnamese names ("Tiếng Việt", "tiếng Anh", "Việt").
_LANGUAGES = {"vi": "vie", "vie": "vie", "viet": "vie", "tieng viet": "vie", "vietnamese": "vie", "viet ngu": "vie",
              "en": "eng", "eng": "eng", "english": "eng", "tieng anh": "eng", "anh": "eng",
              "fr": "fre", "fre": "fre", "fra": "fre", "french": "fre", "tieng phap": "fre", "phap": "fre",
              "zh": "chi", "zho": "chi", "chi": "chi", "chinese": "chi", "tieng trung": "chi", "tieng hoa": "chi",
              "tieng han": "kor", "ja": "jpn", "jpn": "jpn", "japanese": "jpn", "tieng nhat": "jpn",
              "ko": "kor", "kor": "kor", "korean": "kor", "tieng han quoc": "kor", "de": "ger", "deu": "ger",
              "ger": "ger", "german": "ger", "tieng duc": "ger", "ru": "rus", "rus": "rus", "russian": "rus",
              "tieng nga": "rus", "es": "spa", "spa": "spa", "spanish": "spa", "tieng tay ban nha": "spa",
              "lo": "lao", "lao": "lao", "tieng lao": "lao", "km": "khm", "khm": "khm", "khmer": "khm",
              "tieng khmer": "khm", "th": "tha", "tha": "tha", "thai": "tha", "tieng thai": "tha",
              "la": "lat", "lat": "lat", "latin": "lat", "ces": "cze", "nld": "dut", "ell": "gre", "fas": "per",
              "msa": "may", "mya": "bur", "sqi": "alb", "hye": "arm", "eus": "baq", "kat": "geo", "isl": "ice",
              "mkd": "mac", "mri": "mao", "ron": "rum", "slk": "slo", "bod": "tib", "cym": "wel",
              # Vietnam's minority languages, by the MARC codes that exist for them (as unionapi.i18n names them)
              "hmn": "hmn", "hmong": "hmn", "tieng mong": "hmn", "tieng hmong": "hmn", "tieng h'mong": "hmn",
              "tieng h mong": "hmn",
              "tai": "tai", "tieng tay": "tai", "tieng nung": "tai", "tieng tay thai": "tai",
              "mkh": "mkh", "tieng muong": "mkh", "tieng ba na": "mkh", "tieng bahnar": "mkh", "tieng xo dang": "mkh",
              "cmc": "cmc", "tieng cham": "cmc", "tieng e de": "cmc", "tieng ede": "cmc", "tieng gia rai": "cmc",
              "tieng jrai": "cmc", "zha": "zha"}
_LANGUAGE_SPLIT = re.compile(r"\s*(?:[;,/+&]|\s-\s|\bva\b|\band\b)\s*")
_TYPES = {"text": "book", "book": "book", "sach": "book", "monograph": "book",
          "periodical": "serial", "serial": "serial", "journal": "serial", "bao": "serial", "tap chi": "serial",
          "image": "image", "stillimage": "image", "still image": "image", "hinh anh": "image",
          "sound": "sound", "audio": "sound", "am thanh": "sound",
          "movingimage": "video", "moving image": "video", "video": "video",
          "software": "computer", "dataset": "computer", "map": "map", "ban do": "map",
          "score": "score", "notated music": "score", "collection": "mixed",
          "thesis": "book", "luan van": "book", "luan an": "book", "masterthesis": "book", "doctoralthesis": "book",
          "bachelorthesis": "book", "sach dien tu": "book", "ebook": "book", "tai lieu": "book",
          "bang hinh": "video", "phim": "video", "bang am thanh": "sound", "interactiveresource": "computer",
          "phan mem": "computer", "tranh anh": "image", "anh": "image", "newspaper": "serial"}
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


# The fifteen Dublin Core elements; DC terms that refine one of them ("issued" is a date).
_ELEMENTS = frozenset("""title creator subject description publisher contributor date type format identifier
    source language relation coverage rights""".split())
_TERMS = {"issued": "date", "created": "date", "dateCopyrighted": "date", "extent": "extent", "medium": "format",
          "alternative": "alternative", "abstract": "description", "tableOfContents": "description"}
_TERMS.update({name: name for name in _ELEMENTS})


def _local(el) -> str:
    return etree.QName(el).localname


def _container(root):
    """The element holding the Dublin Core elements: <oai_dc:dc> as the standard says, else any
    <dc> (default namespace, no namespace, the OAI namespace inherited), else the parent of the
    first element in a DC namespace (a payload without wrapper)."""
    if root.tag == _OAI_DC_TAG:
        return root
    found = next(root.iter(_OAI_DC_TAG), None)
    if found is None:
        found = next((el for el in root.iter() if isinstance(el.tag, str) and _local(el) == "dc"), None)
    if found is None:
        found = next((el.getparent() for el in root.iter()
                      if isinstance(el.tag, str) and etree.QName(el).namespace in (DC, DCTERMS)), None)
    if found is None and etree.QName(root).namespace in (DC, DCTERMS):  # one element alone: <dc:title>
        found = etree.Element("dc")
        found.append(root)
    return found


def _elements(dc):
    """(element name, element) of every Dublin Core element: by namespace URI (DC elements, then
    DC terms mapped onto the element they refine), or by local name when the payload puts its
    elements in no namespace or one of its own (``<dc><title>``). Tags compared as strings: fast."""
    found, terms, others = [], [], []
    for el in dc:
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag.startswith(_DC):
            found.append((tag[len(_DC):], el))
        elif tag.startswith(_DCTERMS):
            terms.append((_TERMS.get(tag[len(_DCTERMS):]), el))
        else:
            others.append((tag.rsplit("}", 1)[-1].lower(), el))
    if found or terms:
        return found + [(name, el) for name, el in terms if name]
    return [(name, el) for name, el in others if name in _ELEMENTS or name == "extent"]


def canonical_from_dc(body: bytes, ctx: SourceContext) -> CanonicalRecord:
    """One Dublin Core record (<oai_dc:dc>, or an unprefixed <dc>, bare or inside an OAI-PMH
    <record>/<metadata>) -> CanonicalRecord."""
    root = _parse(body)
    dc = _container(root)
    if dc is None:
        raise RejectedRecord(f"no oai_dc:dc element, nor a <dc> or any element in the Dublin Core namespace "
                             f"(the document's root is <{_local(root)}>)")
    elements = _elements(dc)
    values: dict[str, list[str]] = {}
    rec = CanonicalRecord(record_id=ctx.record_id, library=ctx.library, format="oai_dc")
    notes = rec.notes
    texts = ["".join(el.itertext()) for _, el in elements]
    vietnamese = None  # do the other values hold Vietnamese? asked only when one needs a look
    for (name, el), text in zip(elements, texts):
        if needs_look(text):  # mojibake or legacy 8-bit text read as Latin-1 (see encodings)
            if vietnamese is None:
                vietnamese = is_vietnamese_text(texts)
            repaired, encoding = repair_values([text], vietnamese=vietnamese)
            if repaired:
                rec.repairs.append(repair_entry("dc:" + name, encoding, [text], repaired))
                text = repaired[0]
        text = trim(text)  # NFC, one leftover level of entities decoded, ISBD punctuation: once per value
        if text:
            values.setdefault(name, []).append(text)
    notes += [f"repaired {r['field']} from {r['from']}: {r['after']!r}" for r in rec.repairs]
    titles = values.get("title", [])
    rec.title = rec.title_sort = titles[0] if titles else ""
    if not rec.title:
        notes.append("no dc:title")
    kinds = ctx.dc_creators
    for tag in ("creator", "contributor"):
        for name in values.get(tag, []):
            if all(a.name != name for a in rec.authors):
                corporate = kinds == "corporate" or (kinds != "person" and is_corporate_name(name))
                rec.authors.append(Author(name=name, kind="corporate" if corporate else "person"))
    for subject in values.get("subject", []):
        if subject not in rec.subjects:
            rec.subjects.append(subject)
    publishers = values.get("publisher", [])
    rec.publisher = publishers[0] if publishers else None
    rec.edition = _edition([d for d in values.get("description", []) if len(d) <= 120] + titles)  # not abstracts
    dates = values.get("date", [])
    rec.date_text = dates[0] if dates else None
    for d in dates:
        rec.year, rec.year_confidence = parse_year(d)
        if rec.year:
            break

    for ident in values.get("identifier", []):
        _identifier(ident, rec)
    for relation in values.get("relation", []):  # a series name, or the address of a related document
        if looks_like_address(relation):
            add_link(rec.links, notes, "dc:relation", relation)
    for value in values.get("language", []):
        for lang in _LANGUAGE_SPLIT.split(fold(value)):
            if not lang:
                continue
            code = _LANGUAGES.get(lang) or _LANGUAGES.get(lang.split("-")[0])  # "vi-VN", "en-US"
            if code is None and len(lang) == 3 and lang.isascii() and lang.isalpha():
                code = lang
            if code is None:
                notes.append(f"language {value!r} not understood")
            elif code not in rec.languages:
                rec.languages.append(code)
    for kind in values.get("type", []):
        kind = fold(kind).rstrip("/").rsplit("/", 1)[-1]  # DCMI type URIs, info:eu-repo/semantics/...
        material = _TYPES.get(kind) or _TYPES.get(kind.replace(" ", ""))
        if material:
            rec.material_type = material
            break
    for fmt in values.get("format", []) + values.get("extent", []):
        pages = pages_from_extent(fmt)
        if pages:
            rec.extent, rec.pages = fmt, pages
            break
    rec.holdings.append(Holding(library=ctx.library, status=UNKNOWN))
    return rec


# Dublin Core has no edition element: Koha-style crosswalks leave MARC 250 in dc:description, or a
# whole ISBD title ("… / Nguyễn Du. - Tái bản lần thứ 2") in dc:title. Only the statement is taken;
# the title stays as sent.
_EDITION = re.compile(r"(?<!\w)(?:(?:tái bản|in)\s+(?:lần\s+)?(?:thứ\s+)?(?:[0-9]+|\w+)(?:\s*,\s*có sửa chữa"
                      r"(?:,?\s*(?:và\s+)?bổ sung)?)?|(?:[0-9]+(?:st|nd|rd|th)|first|second|third|fourth|fifth|"
                      r"revised|new)\s+ed(?:ition|\.|(?!\w)))", re.IGNORECASE)


def _edition(texts: list[str]) -> str | None:
    """'Tái bản lần thứ 2' / '2nd ed.' found in a description or a title, as catalogued."""
    for text in texts:
        m = _EDITION.search(text)
        if m and (not m.group(0).lower().startswith("in ") or "lần" in m.group(0).lower()):
            return trim(m.group(0))
    return None


def _identifier(ident: str, rec: CanonicalRecord) -> None:
    """ISBNs ("ISBN 978-...", "urn:isbn:...", or a bare string that validates), ISSNs, addresses (a
    repository's page of the document: a link, checked), other ids."""
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
    if looks_like_address(ident):
        add_link(rec.links, rec.notes, "dc:identifier", ident)
        return
    if ident not in rec.system_numbers:
        rec.system_numbers.append(ident)
