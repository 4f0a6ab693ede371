"""Citations of union entries: RIS, BibTeX and CSL-JSON, from each entry's representative record.

``entries`` is a list of ``(entry_id, members)`` pairs (one entry, or a page of search results).

Names: a Vietnamese name is family name first and is not inverted ("Nguyễn Du"); its given name is what
people are known by, so a style that initialises given names ("Nguyễn, D.") or puts them first ("Du
Nguyễn") gets it wrong. Each format is told to print it exactly as written: CSL-JSON
``{"literal": "Nguyễn Du"}`` (every CSL processor prints a literal whole, never inverted nor
initialised; ``static-ordering`` would also keep the order but is a citeproc-js extension, and styles
would still initialise "Du"), BibTeX ``{Nguyễn Du}`` (a braced name is one unit, like a body's), RIS
``AU  - Nguyễn Du`` without a comma (Zotero's RIS import splits a name at its comma into last name and
first name; without one the whole name is kept as written). "Nguyễn, Du" as some catalogues write it
is put back in order. Western names are split: "Stowe, Harriet Beecher" (and "Victor Hugo", last word
the family name) -> family / given. Corporate bodies are literals.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from normalizer.names import is_vietnamese_name
from normalizer.records import CanonicalRecord
from normalizer.text import fold
from unionapi.publish.formats import choose, clean_text

# --- names -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    literal: str | None = None
    family: str | None = None
    given: str | None = None


def citation_name(author) -> Name:
    """How a citation tool should hold an author's name (see the module's docstring)."""
    name = clean_text(author.name)
    if author.kind != "person":
        return Name(literal=name)
    if is_vietnamese_name(name):
        return Name(literal=" ".join(part.strip() for part in name.split(",") if part.strip()))
    if "," in name:
        family, _, given = name.partition(",")
        return Name(family=family.strip(), given=given.strip() or None)
    words = name.split()
    if len(words) == 1:
        return Name(family=name)
    return Name(family=words[-1], given=" ".join(words[:-1]))


# Roles (folded) that make a name an editor or a translator rather than an author
_AUTHOR_ROLES = frozenset(["tac gia", "dong tac gia", "author", "aut", "cre", "creator", "joint author"])
_EDITOR_ROLES = frozenset(["chu bien", "dong chu bien", "tong chu bien", "bien tap", "bien soan", "hieu dinh",
                           "tuyen chon", "suu tam", "editor", "ed", "eds", "edt", "comp", "compiler"])
_TRANSLATOR_ROLES = frozenset(["dich", "nguoi dich", "dich gia", "translator", "trans", "tr", "trl"])


def _role(author) -> str:
    """"author", "editor" or "translator"."""
    roles = {fold(part).strip(" .") for part in (author.role or "").split(",")}
    if roles & _AUTHOR_ROLES:  # "tác giả, dịch": the author translated it too
        return "author"
    if roles & _TRANSLATOR_ROLES:
        return "translator"
    if roles & _EDITOR_ROLES:
        return "editor"
    return "author"


def _names(rec: CanonicalRecord) -> dict[str, list[Name]]:
    """The record's names by role, each once."""
    out: dict[str, list[Name]] = {"author": [], "editor": [], "translator": []}
    for author in rec.authors:
        name = citation_name(author)
        if (name.literal or name.family) and name not in out[_role(author)]:
            out[_role(author)].append(name)
    return out


def _series(series: str) -> tuple[str, str | None]:
    """"Tủ sách Tuổi thơ ; 3" -> ("Tủ sách Tuổi thơ", "3")."""
    title, sep, number = series.rpartition(" ; ")
    return (title, number) if sep and title and number else (series, None)


# ISO 639-2/B (catalogues) -> the BCP 47 tag citation processors expect ("vi": no English title case)
_BCP47 = {"vie": "vi", "eng": "en", "fre": "fr", "ger": "de", "chi": "zh", "jpn": "ja", "kor": "ko", "rus": "ru",
          "spa": "es", "lao": "lo", "khm": "km", "tha": "th", "lat": "la", "ita": "it", "por": "pt", "dut": "nl"}
_BIBLATEX_LANGUAGE = {"vie": "vietnamese", "eng": "english", "fre": "french", "ger": "german", "rus": "russian",
                      "spa": "spanish", "ita": "italian", "por": "portuguese", "dut": "dutch", "lat": "latin"}


# --- RIS -------------------------------------------------------------------------------------------

_RIS_TYPE = {"book": "BOOK", "serial": "SER", "map": "MAP", "score": "MUSIC", "sound": "SOUND", "video": "VIDEO",
             "image": "ART", "computer": "COMP", "mixed": "GEN", "other": "GEN"}
_RIS_NAME_TAG = {"author": "AU", "editor": "ED", "translator": "A4"}


def _ris_name(name: Name) -> str:
    if name.literal:
        return name.literal
    return f"{name.family}, {name.given}" if name.given else name.family


def ris(entries: list[tuple[str, list[CanonicalRecord]]]) -> str:
    """RIS: TY first and ER last for each entry, one "TAG  - value" line per value (CRLF, as the format
    specifies); AU authors, ED editors, A4 translators, PY year, CY place, PB publisher, ET edition, SN
    each ISBN and ISSN, T2 series, KW each subject, LA languages, CN call number."""
    lines = []
    for entry_id, members in entries:
        rec = choose(members)

        def put(tag: str, value) -> None:
            text = clean_text(str(value)) if value is not None else ""
            if text:
                lines.append(f"{tag}  - {text}")

        lines.append(f"TY  - {_RIS_TYPE.get(rec.material_type, 'GEN')}")
        put("ID", entry_id)
        put("TI", rec.title)
        for role, names in _names(rec).items():
            for name in names:
                put(_RIS_NAME_TAG[role], _ris_name(name))
        put("PY", rec.year)
        put("CY", rec.place)
        put("PB", rec.publisher)
        put("ET", rec.edition)
        for number in rec.isbns + rec.issns:
            put("SN", number)
        if rec.material_type == "book":
            put("SP", rec.pages)  # a book's number of pages (Zotero's RIS reads SP so for books)
        for series in rec.series:  # T2 is a book's (and a map's) series in Zotero's RIS, T3 a recording's
            put("T3" if rec.material_type == "sound" else "T2", series)
        for subject in rec.subjects:
            put("KW", subject)
        for language in rec.languages:
            put("LA", language)
        put("CN", rec.call_number)
        lines.append("ER  - ")
        lines.append("")
    return "\r\n".join(lines)


# --- BibTeX ----------------------------------------------------------------------------------------

# LaTeX's special characters; braces become commands so that every value's braces stay balanced (BibTeX
# counts "\{" as a brace too)
_BIBTEX_ESCAPES = str.maketrans({"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}",
                                 "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                                 "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"})
_KEY_CHARS = re.compile(r"[^a-z0-9]")


def _bibtex_text(value) -> str:
    return clean_text(str(value)).translate(_BIBTEX_ESCAPES)


def _bibtex_name(name: Name) -> str:
    if name.literal:
        return "{" + _bibtex_text(name.literal) + "}"
    family = _bibtex_text(name.family)
    if " " in family:  # "van Gogh", "Lê Văn" read by a Western style: keep the family name whole
        family = "{" + family + "}"
    return f"{family}, {_bibtex_text(name.given)}" if name.given else family


def _key_part(text: str | None) -> str:
    for word in (text or "").split():
        part = _KEY_CHARS.sub("", fold(word))
        if part:
            return part
    return ""


def _bibtex_key(entry_id: str, rec: CanonicalRecord, names: dict[str, list[Name]], used: set[str]) -> str:
    """ASCII, unique in the file: family name + year + first title word ("nguyen2019truyen"), folded."""
    first = next(iter(names["author"] or names["editor"] or names["translator"]), None)
    who = _key_part(first.literal or first.family) if first else ""
    base = (who + (str(rec.year) if rec.year else "") + _key_part(rec.title))[:40]
    if not base:
        base = "entry" + _KEY_CHARS.sub("", fold(entry_id))[:32]
    key, n = base, 0
    while key in used:
        n += 1
        key = base + (chr(ord("a") + n - 1) if n <= 26 else str(n))
    used.add(key)
    return key


def bibtex(entries: list[tuple[str, list[CanonicalRecord]]]) -> str:
    """BibTeX (UTF-8; biblatex reads it too): @book for books, @misc otherwise; one entry per input, keys
    ASCII and unique; titles double-braced so styles keep their case; LaTeX specials escaped."""
    out, used = [], set()
    for entry_id, members in entries:
        rec = choose(members)
        names = _names(rec)
        fields: list[tuple[str, str]] = []

        def put(name: str, value, braced: bool = False) -> None:
            text = _bibtex_text(value) if value is not None else ""
            if text:
                fields.append((name, "{" + text + "}" if braced else text))

        put("title", rec.title, braced=True)
        for role in ("author", "editor", "translator"):
            if names[role]:
                fields.append((role, " and ".join(_bibtex_name(n) for n in names[role])))
        put("edition", rec.edition)
        put("address", rec.place)
        put("publisher", rec.publisher)
        put("year", rec.year)
        if rec.series:
            title, number = _series(rec.series[0])
            put("series", title)
            put("number", number)
        put("pagetotal", rec.pages)
        put("isbn", ", ".join(rec.isbns) or None)
        put("issn", ", ".join(rec.issns) or None)
        put("langid", next((_BIBLATEX_LANGUAGE[c] for c in rec.languages if c in _BIBLATEX_LANGUAGE), None))
        put("keywords", ", ".join(rec.subjects) or None)
        kind = "book" if rec.material_type == "book" else "misc"
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        out.append(f"@{kind}{{{_bibtex_key(entry_id, rec, names, used)},\n{body}\n}}\n")
    return "\n".join(out)


# --- CSL-JSON --------------------------------------------------------------------------------------

_CSL_TYPE = {"book": "book", "serial": "periodical", "map": "map", "score": "musical_score", "sound": "song",
             "video": "motion_picture", "image": "graphic", "computer": "software", "mixed": "collection",
             "other": "document"}


def _csl_name(name: Name) -> dict:
    if name.literal:
        return {"literal": name.literal}
    return {"family": name.family, "given": name.given} if name.given else {"family": name.family}


def csl_json(entries: list[tuple[str, list[CanonicalRecord]]]) -> list[dict]:
    """CSL-JSON items (citeproc-js, Zotero, pandoc): the entry id as the item id, "language" as a BCP 47
    tag so that processors do not title-case a Vietnamese title, "circa" for a year the catalogue only
    infers."""
    items = []
    for entry_id, members in entries:
        rec = choose(members)
        item: dict = {"id": entry_id, "type": _CSL_TYPE.get(rec.material_type, "document")}

        def put(name: str, value) -> None:
            text = clean_text(str(value)) if value is not None else ""
            if text:
                item[name] = text

        put("title", rec.title)
        for role, names in _names(rec).items():
            if names:
                item[role] = [_csl_name(n) for n in names]
        if rec.year is not None:
            item["issued"] = {"date-parts": [[rec.year]]}
            if rec.year_confidence not in ("exact", "none"):
                item["issued"]["circa"] = True
        put("publisher", rec.publisher)
        put("publisher-place", rec.place)
        put("edition", rec.edition)
        if rec.series:
            title, number = _series(rec.series[0])
            put("collection-title", title)
            put("collection-number", number)
        if rec.pages:
            item["number-of-pages"] = rec.pages
        put("ISBN", rec.isbns[0] if rec.isbns else None)
        put("ISSN", rec.issns[0] if rec.issns else None)
        put("language", next((_BCP47.get(c, c) for c in rec.languages), None))
        put("keyword", ", ".join(rec.subjects) or None)
        put("call-number", rec.call_number)
        items.append(item)
    return items
