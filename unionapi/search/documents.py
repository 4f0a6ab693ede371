"""The shapes every search engine shares: the entry document, the request and the result.

Apart from the package so that the engines can import them without importing the package that
chooses among the engines (no import cycle).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from normalizer.ids import parse_identifier
from normalizer.names import corporate_key, is_vietnamese_name, person_key
from normalizer.records import AVAILABLE, CanonicalRecord
from normalizer.text import exact, fold

MAX_QUERY_TERMS = 32
MAX_RESULT_WINDOW = 10_000  # page * size may not go deeper than this
YEAR_BUCKETS = [(None, 1975), (1975, 1990), (1990, 2000), (2000, 2010), (2010, 2020), (2020, None)]
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Split text into the terms the index holds (alphanumeric runs, as tantivy's tokenizer does)."""
    return _WORD.findall(text)


class SearchUnavailable(RuntimeError):
    """The search cluster does not answer (or keeps refusing work): nothing is lost, index again later."""


# -- fielded boolean queries (SRU's CQL): a small tree that every engine executes alike ----------
TEXT_FIELDS = ("title", "creator", "subject", "any")  # folded words; "any": everything an entry says
WHOLE_FIELDS = ("title", "creator", "subject")  # one whole value (a title, an author, a subject), folded
VALUE_FIELDS = ("isbn", "issn", "id")  # ISBN-13s, ISSNs ("1234-5679") and entry ids, as stored
MAX_ENTRY_LINKS = 10  # links to digital documents an entry document carries (its members' first ones)


@dataclass(frozen=True)
class Words:
    """Folded words in one field: all of them in any order, or (``phrase``) next to each other in one value."""
    field: str
    words: tuple[str, ...]
    phrase: bool = False


@dataclass(frozen=True)
class Prefix:
    """A folded word of the field that starts with ``prefix`` (CQL right truncation, ``hist*``)."""
    field: str
    prefix: str


@dataclass(frozen=True)
class Whole:
    """A whole value of the field equals ``key`` (see ``value_key``): "Truyện Kiều" but not "Truyện Kiều tuyển chọn"."""
    field: str
    key: str


@dataclass(frozen=True)
class Value:
    """One of ``values`` exactly: an ISBN-13, an entry id."""
    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Years:
    """The entry's year within lo..hi, both included; None is open."""
    lo: int | None = None
    hi: int | None = None


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    """Every entry but those ``item`` matches (CQL's ``a not b`` is ``And((a, Not(b)))``)."""
    item: object


@dataclass(frozen=True)
class Everything:
    pass


Query = Words | Prefix | Whole | Value | Years | And | Or | Not | Everything


def value_key(text: str) -> str:
    """A whole value as ``Whole`` compares it: folded words, one space apart (punctuation does not count)."""
    return " ".join(words(fold(text)))


def needs_fields(query: Query) -> set[str]:
    """The kinds of index a query uses ("subject" words, "whole" values...), so that an engine whose index
    predates them can say so instead of finding nothing."""
    if isinstance(query, (And, Or)):
        return set().union(*(needs_fields(item) for item in query.items)) if query.items else set()
    if isinstance(query, Not):
        return needs_fields(query.item)
    if isinstance(query, Whole):
        return {"whole"}
    if isinstance(query, (Words, Prefix)) and query.field == "subject":
        return {"subject"}
    return set()


class QueryUnsupported(RuntimeError):
    """The index cannot answer this query yet (it was built by an older version: ``unioncat index --rebuild``)."""


@dataclass
class SearchRequest:
    q: str = ""
    library: list[str] = field(default_factory=list)
    lang: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    available: bool = False  # only entries with a copy on the shelf somewhere
    online: bool = False  # only entries with a link to a digital document (856 $u, a Dublin Core URL)
    rotation: bool = False  # only entries with a copy on rotation (at, or belonging to, ``library`` when given)
    page: int = 1
    size: int = 20
    query: Query | None = None  # a fielded query (SRU); replaces ``q``, the filters above still apply
    start: int | None = None  # 0-based position of the first hit, instead of ``page`` (SRU's startRecord)
    facets: bool = True  # SRU needs none: no aggregations to compute

    def offset(self) -> int:
        return self.start if self.start is not None else (self.page - 1) * self.size

    def folded_terms(self) -> list[str]:
        return words(fold(self.q))[:MAX_QUERY_TERMS]

    def exact_terms(self) -> list[str]:
        return words(exact(self.q))[:MAX_QUERY_TERMS]

    def identifier(self) -> tuple[str, str] | None:
        """``("isbn", ISBN-13)`` / ``("issn", ISSN)`` when ``q`` is one identifier in any written form
        (normalizer.ids.parse_identifier): engines then find it by that value as well as by its words."""
        return parse_identifier(self.q) if self.q and len(self.q) <= 100 else None


@dataclass
class SearchResult:
    total: int
    hits: list[dict]  # entry summaries, best first
    facets: dict[str, list[dict]]  # name -> [{"value": ..., "count": n}]


def well_cased(text: str) -> bool:
    """Not a title typed in capitals ("TRUYỆN KIỀU", as some school catalogues do) nor all in lower case."""
    if text != text.upper() and text != text.lower():  # both cases: the common answer, without a loop
        return True
    return sum(c.isupper() or c.islower() for c in text) < 4


def _quality(record: CanonicalRecord) -> tuple:
    """How well a record can speak for its entry, best first when sorted: a title in proper case, then
    MARC over Dublin Core, then the fuller description; the record id settles ties (deterministic)."""
    filled = sum(bool(v) for v in (record.title, record.authors, record.isbns, record.publisher, record.year,
                                   record.subjects, record.extent, record.edition, record.place,
                                   record.responsibility, record.series))
    return (not well_cased(record.title), record.format == "oai_dc", -filled, record.record_id)


def by_quality(members: list[CanonicalRecord]) -> list[CanonicalRecord]:
    """The members of an entry, the one that shows it first (see _quality)."""
    return sorted(members, key=_quality)


def representative(members: list[CanonicalRecord]) -> CanonicalRecord:
    """The member whose description speaks for the entry: its title, publisher, edition ... are shown."""
    return min(members, key=_quality)


def _name_key(author) -> str:
    return (person_key(author.name) if author.kind == "person" else corporate_key(author.name)) or exact(author.name)


def display_authors(ordered: list[CanonicalRecord]) -> list[str]:
    """Each author once: names sharing a key ("Nguyễn Du", "Nguyễn, Du", "NGUYỄN DU") are one, shown
    as the best record writes it, unless another writes it in proper case, or a Vietnamese name in
    its own order (not inverted with a comma)."""
    forms: dict[str, list[tuple]] = {}
    for rank, member in enumerate(ordered):
        for author in member.authors:
            name = author.name
            if not name:
                continue
            inverted = "," in name and is_vietnamese_name(name)
            forms.setdefault(_name_key(author), []).append((not well_cased(name), inverted, rank, name))
    return [min(candidates)[3] for candidates in forms.values()]


def _unique(values):
    seen, out = set(), []
    for value in values:
        if value and value not in seen:
            seen.add(value)
            out.append(value)
    return out


def _unique_by(key, values) -> list:
    seen, out = set(), []
    for value in values:
        k = key(value) if value else None
        if k and k not in seen:
            seen.add(k)
            out.append(value)
    return out


def entry_document(entry_id: str, members: list[CanonicalRecord], network=None) -> dict:
    """What every engine indexes for one union entry: summary fields plus searchable text.

    ``network`` (``config.Config.network``) names the libraries of today: records and holdings stored
    under a former library's id count for the library that replaced it (None: as stored)."""
    if network is not None:
        members = network.records(members)
    ordered = by_quality(members)
    best = ordered[0]
    authors = display_authors(ordered)
    subjects = _unique(s for m in ordered for s in m.subjects)
    libraries = sorted({h.library for m in members for h in m.holdings} | {m.library for m in members})
    available = sorted({h.library for m in members for h in m.holdings if h.status == AVAILABLE})
    year = best.year if best.year is not None else next((m.year for m in ordered if m.year is not None), None)
    titles = _unique_by(lambda t: " ".join(words(exact(t))), (m.title for m in ordered))  # "TRUYỆN KIỀU" once
    # one row per distinct (library, branch, call number, status): cluster engines index them as nested
    # objects, so "available at branch X" matches a copy that is both at X and available
    holdings = holding_rows(ordered)
    other_text = _unique([best.responsibility or "", *(m.publisher or "" for m in ordered),
                          *(s for m in ordered for s in m.series), *(m.edition or "" for m in ordered),
                          *(m.call_number or "" for m in ordered), *(i for m in ordered for i in m.isbns)])
    return {
        "id": entry_id,
        "title": best.title,
        "title_sort": fold(best.title_sort or best.title),
        "titles": titles,
        "authors": authors,
        "subjects": subjects,
        "publisher": best.publisher or next((m.publisher for m in ordered if m.publisher), None),
        "year": year,
        "languages": _unique(lang for m in ordered for lang in m.languages),
        "material_type": best.material_type,
        "isbns": _unique(i for m in ordered for i in m.isbns),
        "libraries": libraries,
        "available_libraries": available,
        "holdings": holdings,
        "member_count": len(members),
        "other_text": other_text,
        **optional_fields(ordered),
    }


def holding_rows(ordered: list[CanonicalRecord]) -> list[dict]:
    """One row per distinct (library, branch, call number, status, owner) over the members' copies. A copy
    on rotation (its owner branch set) adds ``owner`` (the library it belongs to) and ``owner_branch``:
    ``branch`` stays where it is now, so "on the shelf at branch X" means at X today."""
    rows = []
    for row in _unique((h.library, h.branch or h.branch_code, h.call_number, h.status,
                        h.owner_branch or h.owner_branch_code) for m in ordered for h in m.holdings):
        found = dict(zip(("library", "branch", "call_number", "status"), row))
        if row[4]:
            found.update(owner=row[0], owner_branch=row[4])
        rows.append(found)
    return rows


def entry_links(ordered: list[CanonicalRecord]) -> list[dict]:
    """The members' links to digital documents, each address once, the best member's first, with the
    library whose record gives it."""
    return _unique_by(lambda link: link["url"], ({**link, "library": m.library} for m in ordered for link in m.links
                                                 if link.get("url")))


def optional_fields(ordered: list[CanonicalRecord]) -> dict:
    """Document fields added after documents were first published, present only when they say something
    (``links`` and ``online``, ``issns``): the document of an entry without them is what it was, and
    an upgrade moves no OAI datestamp by itself (unionapi.publish.state digests documents)."""
    found = {}
    links = entry_links(ordered)[:MAX_ENTRY_LINKS]
    if links:
        found.update(links=links, online=True)
    issns = _unique(i for m in ordered for i in m.issns)
    if issns:
        found["issns"] = issns
    return found


def summary(document: dict) -> dict:
    """The part of an entry document a result list shows (``online``: it has links to digital documents)."""
    keys = ("id", "title", "authors", "year", "publisher", "material_type", "languages", "isbns", "libraries",
            "available_libraries", "member_count")
    found = {key: document[key] for key in keys}
    found["online"] = bool(document.get("links"))
    found["links"] = document.get("links") or []
    return found
