"""Degradations for bench/dedup_quality.py --degrade: what a careless or limited catalogue does to a record.

Each is a pure function ``(fmt, body, key) -> (fmt, body)`` on the payload a library would send
(MARCXML or oai_dc bytes; ``reencoded_names`` turns MARCXML into ISO2709), so the normalizer
reads the degraded record as it would read a real one. ``key`` (the record id) seeds the few
choices a degradation makes, so a run is repeatable. A record a degradation cannot touch (no
year to drop, no author) comes back unchanged: the bench counts only changed records as degraded.

``dirty`` degrades canonical records of DBLP-ACM the way the "dirty" DBLP-ACM of the DeepMatcher
benchmarks was made.
"""
from __future__ import annotations

import random
import re
import unicodedata

from lxml import etree

from normalizer.names import is_corporate_name
from normalizer.vn_tables import TCVN3, VNI

MARC = "{http://www.loc.gov/MARC21/slim}"
DC = "{http://purl.org/dc/elements/1.1/}"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
_ISBD_END = re.compile(r"\s*[/:;,=]\s*$")
_PERSON_TAGS = ("100", "700")
_NAME_TAGS = ("100", "110", "700", "710")


# --------------------------------------------------------------------------- payload helpers

def _parse(body: bytes):
    return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))


def _out(root) -> bytes:
    return etree.tostring(root, encoding="utf-8")


def _fields(root, *tags):
    return [f for f in root.iterfind(f"{MARC}datafield") if f.get("tag") in tags]


def _subs(field, codes=None):
    return [s for s in field.iterfind(f"{MARC}subfield") if codes is None or s.get("code") in codes]


def _set_subs(field, subs: list[tuple[str, str]]) -> None:
    for s in _subs(field):
        field.remove(s)
    for code, value in subs:
        etree.SubElement(field, f"{MARC}subfield", code=code).text = value


def _dc(root, *names):
    return [el for el in root if isinstance(el.tag, str) and el.tag in {DC + n for n in names}]


def _rng(name: str, key: str) -> random.Random:
    return random.Random(f"{name}|{key}")  # str seeds are hashed with SHA-512: stable across runs


def _title_245(field) -> tuple[str, str | None]:
    """(title with its subtitle, statement of responsibility) of a 245, ISBD punctuation removed."""
    parts = [_ISBD_END.sub("", s.text or "") for s in _subs(field, "ab")]
    if parts and parts[-1].endswith(".") and not parts[-1].endswith(".."):
        parts[-1] = parts[-1][:-1]  # the closing ISBD full stop
    resp = next((s.text for s in _subs(field, "c")), None)
    return " : ".join(p for p in parts if p), (resp.rstrip(" .") if resp else None)


def _write_245(field, title: str, resp: str | None) -> None:
    _set_subs(field, [("a", title + " /"), ("c", resp + ".")] if resp else [("a", title + ".")])


def _retitle(fmt: str, body: bytes, change) -> tuple[str, bytes]:
    """Apply ``change(title) -> title`` to 245 (whole title in $a, $c kept) or to dc:title."""
    root = _parse(body)
    if fmt == "oai_dc":
        for el in _dc(root, "title")[:1]:
            el.text = change(el.text or "")
    else:
        for f in _fields(root, "245")[:1]:
            title, resp = _title_245(f)
            _write_245(f, change(title), resp)
    return fmt, _out(root)


def _rename(fmt: str, body: bytes, change, tags=_PERSON_TAGS) -> tuple[str, bytes]:
    """Apply ``change(name) -> name`` to every name in 100/700 $a (persons) or dc:creator/contributor."""
    root = _parse(body)
    if fmt == "oai_dc":
        for el in _dc(root, "creator", "contributor"):
            el.text = _keeping_role(el.text or "", change)
    else:
        for f in _fields(root, *tags):
            for s in _subs(f, "a"):
                s.text = _keeping_role(s.text or "", change)
    return fmt, _out(root)


_ROLE = re.compile(r"^(.*?)(\s*\([^)]*\)\s*|[\s,.]*)$")


def _keeping_role(text: str, change) -> str:
    """'Lê Văn An (dịch)' / 'Hugo, Victor,' -> the name changed, the role or punctuation kept."""
    m = _ROLE.match(text)
    name, rest = m.group(1), m.group(2)
    return change(name) + rest if name.strip() else text


# --------------------------------------------------------------------------- the degradations

def no_year(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """A school that never records years: 260/264 $c and the 008 dates gone (dc:date)."""
    root = _parse(body)
    if fmt == "oai_dc":
        for el in _dc(root, "date"):
            root.remove(el)
        return fmt, _out(root)
    for f in _fields(root, "260", "264"):
        for s in _subs(f, "c"):
            f.remove(s)
        last = _subs(f)
        if last:
            last[-1].text = _ISBD_END.sub("", last[-1].text or "") + "."
    for c in root.iterfind(f"{MARC}controlfield"):
        if c.get("tag") == "008" and c.text and len(c.text) >= 15:
            c.text = c.text[:6] + "nuuuuuuuu" + c.text[15:]  # 008/06 n: dates unknown
    return fmt, _out(root)


def no_authors(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """No access points for people or bodies: 100/110/700/710 gone (dc:creator, dc:contributor);
    the statement of responsibility (245 $c) stays, as such catalogues keep it."""
    root = _parse(body)
    if fmt == "oai_dc":
        for el in _dc(root, "creator", "contributor"):
            root.remove(el)
        return fmt, _out(root)
    for f in _fields(root, *_NAME_TAGS):
        root.remove(f)
    for f in _fields(root, "245"):
        f.set("ind1", "0")
    return fmt, _out(root)


def responsibility_in_title(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """The whole 245 typed into $a: 'Title : subtitle / Author names' (dc:title + ' / ' + creators)."""
    root = _parse(body)
    if fmt == "oai_dc":
        names = [_ROLE.match(el.text or "").group(1) for el in _dc(root, "creator")]
        titles = _dc(root, "title")
        if names and titles:
            titles[0].text = f"{_ISBD_END.sub('', titles[0].text or '')} / {', '.join(names)}"
        return fmt, _out(root)
    for f in _fields(root, "245")[:1]:
        title, resp = _title_245(f)
        if not resp:
            resp = ", ".join(s.text for g in _fields(root, *_PERSON_TAGS) for s in _subs(g, "a")[:1] if s.text)
            resp = ", ".join(n.strip(" ,") for n in resp.split(", ")) if resp else None
        if resp:
            _set_subs(f, [("a", f"{title} / {resp}.")])
    return fmt, _out(root)


def _swap_name(name: str, rng: random.Random) -> str:
    """'Hugo, Victor' -> 'Victor Hugo', 'Nguyễn, Du' -> 'Du Nguyễn' (inversion undone);
    'Isaac Asimov' -> 'Asimov, Isaac'; 'Nguyễn Văn An' -> 'Văn An Nguyễn' (family name moved last,
    as in English texts) or 'An, Nguyễn Văn' (inverted Western-style at the last word)."""
    if "," in name:
        family, _, given = name.partition(",")
        return f"{given.strip()} {family.strip()}".strip()
    words = name.split()
    if len(words) < 2:
        return name
    if rng.random() < 0.5:
        return " ".join(words[1:] + words[:1])
    return f"{words[-1]}, {' '.join(words[:-1])}"


def name_order(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """Person names in another order than the heading: family name last, or inverted at the last word."""
    rng = _rng("name_order", key)
    return _rename(fmt, body, lambda name: name if is_corporate_name(name) else _swap_name(name, rng))


def _words_kept(title: str) -> str:
    words = title.replace(" : ", " ").split()
    return " ".join(words[:max(1, round(0.6 * len(words)))])


def truncated_title(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """Only the first 60% of the title's words (subtitle included), as a short title field keeps."""
    return _retitle(fmt, body, _words_kept)


_SUBTITLES = ("tuyển tập", "sách tham khảo", "dành cho học sinh", "tư liệu tham khảo", "truyện ngắn",
              "selected works")


def reworded_title(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """One small rewording: a word dropped, two neighbouring words swapped, or a subtitle added."""
    rng = _rng("reworded_title", key)

    def change(title: str) -> str:
        words = title.split()
        how = rng.choice(("drop", "swap", "subtitle") if len(words) >= 3 else ("subtitle",))
        if how == "subtitle" and " : " not in title:
            return f"{title} : {rng.choice(_SUBTITLES)}"
        if how == "subtitle":
            how = "drop"
        k = rng.randrange(1, len(words) - 1) if len(words) >= 3 else 0
        if how == "drop" and len(words) >= 2:
            return " ".join(words[:k] + words[k + 1:])
        if len(words) >= 2:
            words[k], words[k + 1] = words[k + 1], words[k]
        return " ".join(words)

    return _retitle(fmt, body, change)


def _unaccent(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if not unicodedata.combining(c))


def unaccented_names(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """Names typed without diacritics ('Nguyen Van An'), as on a keyboard without Vietnamese."""
    return _rename(fmt, body, _unaccent, tags=_NAME_TAGS)


# legacy encoders: Unicode (NFC) -> TCVN3 / VNI bytes
_TO_TCVN3 = {ch: bytes([b]) for b, ch in TCVN3.items()}


def tcvn3_bytes(text: str) -> bytes:
    """TCVN3 (ABC) bytes; a capital TCVN3 has no precomposed form for is written base + tone byte."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch.isascii():
            out.append(ch.encode())
        elif ch in _TO_TCVN3:
            out.append(_TO_TCVN3[ch])
        else:
            base, *marks = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", base + "".join(m for m in marks if m in "\u0302\u0306\u031b"))
            tones = "".join(m for m in marks if m not in "\u0302\u0306\u031b")
            out.append(_TO_TCVN3.get(base, base.encode("ascii", "replace")))
            out.extend(_TO_TCVN3.get(t, b"") for t in tones)
    return b"".join(out)


def vni_bytes(text: str) -> bytes:
    return b"".join(VNI.get(ch, ch.encode("ascii", "replace")) for ch in unicodedata.normalize("NFC", text))


def _as_cp1252(data: bytes) -> str:
    """What a Windows system shows for these bytes (positions cp1252 leaves undefined: Latin-1)."""
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in data)


FT, SF, RT = b"\x1e", b"\x1f", b"\x1d"


def marcxml_to_iso2709(root, encode) -> bytes:
    """One MARCXML record as ISO2709 bytes, each subfield value encoded by ``encode(tag, code, text)``;
    leader/09 blank (the record does not claim UTF-8), lengths and base address recomputed."""
    leader = (root.findtext(f"{MARC}leader") or "").ljust(24)
    tags, data = [], []
    for el in root:
        if el.tag == f"{MARC}controlfield":
            tags.append(el.get("tag"))
            data.append((el.text or "").encode() + FT)
        elif el.tag == f"{MARC}datafield":
            tag = el.get("tag")
            subs = b"".join(SF + s.get("code").encode() + encode(tag, s.get("code"), s.text or "") for s in _subs(el))
            tags.append(tag)
            data.append((el.get("ind1", " ") + el.get("ind2", " ")).encode() + subs + FT)
    directory, pos = b"", 0
    for tag, d in zip(tags, data):
        directory += f"{tag}{len(d):04d}{pos:05d}".encode()
        pos += len(d)
    base = 24 + len(directory) + 1
    leader = f"{base + pos + 1:05d}{leader[5:9]} {leader[10:12]}{base:05d}{leader[17:24]}"
    return leader.encode("ascii") + directory + FT + b"".join(data) + RT


def reencoded_names(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """Names in a legacy encoding, as in records merged from an old catalogue: a MARC record comes as
    ISO2709 whose 100/110/700/710 $a are TCVN3 or VNI bytes (one per record) and the rest UTF-8; a
    Dublin Core record shows them as such bytes read as Windows-1252 ('T« Hoµi')."""
    legacy = tcvn3_bytes if _rng("reencoded_names", key).random() < 0.5 else vni_bytes
    root = _parse(body)
    if fmt == "oai_dc":
        for el in _dc(root, "creator", "contributor"):
            el.text = _as_cp1252(legacy(el.text or ""))
        return fmt, _out(root)

    def encode(tag: str, code: str, text: str) -> bytes:
        return legacy(text) if tag in _NAME_TAGS and code == "a" else text.encode("utf-8")

    return "iso2709", marcxml_to_iso2709(root, encode)


def _oai_dc(elements: list[tuple[str, str]]) -> bytes:
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC[1:-1]})
    for name, value in elements:
        if value:
            etree.SubElement(root, DC + name).text = value
    return _out(root)


def dublin_core(fmt: str, body: bytes, key: str) -> tuple[str, bytes]:
    """The record sent as oai_dc instead of MARC, crosswalked as Koha's MARC21slim2OAIDC does:
    title (245 $a $b, punctuation left in), creators, type, publisher ('place : name'), date,
    language (008/35-37), identifier (URN:ISBN:), subjects. Pages, edition and series are lost."""
    if fmt == "oai_dc":
        return fmt, body
    root = _parse(body)
    els = [("title", " ".join(s.text or "" for f in _fields(root, "245")[:1] for s in _subs(f, "ab")))]
    els += [("creator", " ".join(s.text or "" for s in _subs(f, "a"))) for f in _fields(root, *_NAME_TAGS)]
    els.append(("type", "text"))
    for f in _fields(root, "260", "264")[:1]:
        els.append(("publisher", " ".join(s.text or "" for s in _subs(f, "ab"))))
        els.append(("date", " ".join(s.text or "" for s in _subs(f, "c"))))
    f008 = next((c.text for c in root.iterfind(f"{MARC}controlfield") if c.get("tag") == "008"), "") or ""
    els.append(("language", f008[35:38].strip()))
    els += [("subject", "--".join(s.text or "" for s in _subs(f, "axyzv"))) for f in _fields(root, "650")]
    els += [("identifier", "URN:ISBN:" + (s.text or "")) for f in _fields(root, "020") for s in _subs(f, "a")]
    return "oai_dc", _oai_dc(els)


DEGRADATIONS = {f.__name__: f for f in (no_year, no_authors, responsibility_in_title, name_order, truncated_title,
                                        reworded_title, reencoded_names, unaccented_names, dublin_core)}


# --------------------------------------------------------------------------- DBLP-ACM "dirty"

def dirty(records, seed: int = 1):
    """DeepMatcher's dirty DBLP-ACM: each attribute other than the title (authors, venue, year) is
    moved into the title with probability 1/2 and left empty. Returns new records and the indices changed."""
    from dataclasses import replace
    rng, out, changed = random.Random(seed), [], set()
    for i, rec in enumerate(records):
        title, moved = rec.title, {}
        for attr, value in (("authors", ", ".join(a.name for a in rec.authors)),
                            ("series", " ".join(rec.series)), ("year", str(rec.year or ""))):
            if rng.random() < 0.5 and value:
                title, moved[attr] = f"{title} {value}", True
        if moved:
            changed.add(i)
            rec = replace(rec, title=title, title_sort=title,
                          authors=[] if "authors" in moved else rec.authors,
                          series=[] if "series" in moved else rec.series,
                          year=None if "year" in moved else rec.year)
        out.append(rec)
    return out, changed
