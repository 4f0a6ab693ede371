"""How a library writes a book down: its description of a work, then MARC21 (MARCXML or ISO2709).

A description (the ``v`` dict) is one library's account of a work, in its habits: which ISBN form,
which publisher name, "Nguyễn, Du" or "Nguyễn Du"... Both the demo network and the network at full
scale decide those habits their own way and write the records with the functions here.
"""
from __future__ import annotations

import random
import re
import unicodedata
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape

from normalizer.text import fold
from unionapi.demo.books import SURNAMES, Person, Work

MARC_NS = "http://www.loc.gov/MARC21/slim"
# Records were last changed in this window, before the day the demo network is harvested.
START = datetime(2026, 10, 1, 0, 0, 0)
SPAN_S = int((datetime(2026, 11, 22, 23, 59, 59) - START).total_seconds())


def stamp(dt: datetime) -> str:
    """An OAI-PMH datestamp."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- descriptions
def heading(p: Person, comma: bool) -> tuple[str, str]:
    """(heading, MARC ind1). Some cataloguers put a comma after the Vietnamese surname."""
    if p.western or "," in p.heading:
        return p.heading, "1"
    if comma and " " in p.heading and p.heading.split(" ")[0] in SURNAMES:
        head, rest = p.heading.split(" ", 1)
        return f"{head}, {rest}", "1"
    return p.heading, "0"


def description(work: Work, *, isbn: str | None, subtitle: str | None, comma: bool, publisher: str,
                place: str, year: str, price: str | None, bad_isbn: bool, use264: bool) -> dict:
    """A library's description of ``work``: the choices it made, the facts it copied."""
    resp = ", ".join(a.natural for a in work.authors)
    if work.category == "gt" and work.authors:
        resp = work.authors[0].natural + " (ch.b.)" + "".join(
            ", " + a.natural for a in work.authors[1:])
    if work.translator:
        resp = (resp + " ; " if resp else "") + f"{work.translator.natural} {work.role}"
    return {
        "title": work.title, "subtitle": subtitle, "resp": resp or None,
        "authors": [heading(a, comma) for a in work.authors],
        "translator": heading(work.translator, comma) if work.translator else None,
        "role": work.role, "edition": work.edition, "place": place, "publisher": publisher,
        "year": year, "isbn": isbn, "price": price, "bad_isbn": bad_isbn,
        "pages": work.pages, "illus": work.illus, "size": work.size, "series": work.series,
        "subjects": work.subjects, "ddc": work.ddc,
        "lang": work.lang, "orig_lang": work.orig_lang, "original": work.original,
        "juvenile": work.juvenile, "lit_form": work.lit_form, "country": work.country,
        "use264": use264, "pages_label": "p." if work.lang == "eng" else "tr.",
    }


def list_price(pages: int) -> int:
    """In đồng: what a book of that many pages costs."""
    return max(15, pages // 4) * 1000


def _cutter(v: dict) -> str:
    name = v["authors"][0][0] if v["authors"] else v["title"]
    parts = fold(name).upper().replace(",", "").split()
    if not v["authors"] or len(parts) < 2:
        return "".join(parts)[:3]
    return f"{parts[0][:2]}-{parts[-1][:1]}"  # Nguyễn Du -> NG-D


def call_number(v: dict) -> str:
    ddc = v["ddc"]
    if "." in ddc and len(ddc.split(".")[1]) > 3:
        whole, frac = ddc.split(".")
        ddc = f"{whole}.{frac[:3]} {frac[3:]}"
    return f"{ddc} {_cutter(v)}"


# --------------------------------------------------------------------------- MARC21
def _leader(status: str, desc: str, n_fields: int, data_length: int) -> str:
    """The ISO 2709 leader: record length and base address of the data."""
    base = 24 + 12 * n_fields + 1
    return f"{base + data_length + 1:05d}{status}am a22{base:05d} {desc} 4500"


def _marc_xml(status: str, desc: str, controls: list, fields: list) -> str:
    """MARCXML with a leader whose length and base address match the ISO 2709 form."""
    body = sum(len(v.encode()) + 1 for _, v in controls)
    body += sum(3 + sum(2 + len(val.encode()) for _, val in subs) for _, _, _, subs in fields)
    leader = _leader(status, desc, len(controls) + len(fields), body)
    out = [f'<record xmlns="{MARC_NS}"><leader>{leader}</leader>']
    for tag, value in controls:
        out.append(f'<controlfield tag="{tag}">{escape(value)}</controlfield>')
    for tag, i1, i2, subs in fields:
        out.append(f'<datafield tag="{tag}" ind1="{i1}" ind2="{i2}">')
        out.extend(f'<subfield code="{c}">{escape(val)}</subfield>' for c, val in subs)
        out.append("</datafield>")
    out.append("</record>")
    return "".join(out)


def _iso2709(status: str, desc: str, controls: list, fields: list, retype=None) -> bytes:
    """The same record as ISO 2709 bytes, each value passed through ``retype`` if given."""
    directory, data, offset = [], [], 0
    for tag, value in controls:
        chunk = (retype(value) if retype else value).encode() + b"\x1e"
        directory.append(f"{tag}{len(chunk):04d}{offset:05d}")
        data.append(chunk)
        offset += len(chunk)
    for tag, i1, i2, subs in fields:
        chunk = (i1 + i2).encode() + b"".join(
            b"\x1f" + code.encode() + (retype(value) if retype else value).encode() for code, value in subs
        ) + b"\x1e"
        directory.append(f"{tag}{len(chunk):04d}{offset:05d}")
        data.append(chunk)
        offset += len(chunk)
    leader = _leader(status, desc, len(directory), offset)
    return (leader + "".join(directory)).encode() + b"\x1e" + b"".join(data) + b"\x1d"


def _nonfiling(title: str, lang: str) -> str:
    if lang != "eng":
        return "0"
    for article in ("The ", "An ", "A "):
        if title.startswith(article):
            return str(len(article))
    return "0"


def marc_fields(v: dict) -> list:
    """The bibliographic data fields of a description: (tag, ind1, ind2, [(code, value)])."""
    fields = []
    if v["isbn"]:
        subs = [("a", v["isbn"])] + ([("c", v["price"])] if v["price"] else [])
        fields.append(("020", " ", " ", subs))
    if v["bad_isbn"]:
        bad = (v["isbn"] or "9786040000000").replace("-", "")
        fields.append(("020", " ", " ", [("z", bad[:12] + str((int(bad[12]) + 1) % 10))]))
    if v["orig_lang"]:
        fields.append(("041", "1", " ", [("a", v["lang"]), ("h", v["orig_lang"])]))
    else:
        fields.append(("041", "0", " ", [("a", v["lang"])]))
    fields.append(("082", "0", "4", [("a", v["ddc"]), ("2", "23")]))
    if v["authors"]:
        name, ind1 = v["authors"][0]
        fields.append(("100", ind1, " ", [("a", name)]))
    # 245 with ISBD punctuation at the end of each subfield, as Koha records carry it
    t = [("a", v["title"])]
    if v["subtitle"]:
        t = [("a", v["title"] + " :"), ("b", v["subtitle"])]
    if v["resp"]:
        t[-1] = (t[-1][0], t[-1][1] + " /")
        t.append(("c", v["resp"] + "."))
    elif not t[-1][1].endswith(("!", "?", ".")):
        t[-1] = (t[-1][0], t[-1][1] + ".")
    fields.append(("245", "1" if v["authors"] else "0", _nonfiling(v["title"], v["lang"]), t))
    if v["edition"]:
        fields.append(("250", " ", " ", [("a", v["edition"])]))
    pub = [("a", v["place"] + " :"), ("b", v["publisher"] + ","), ("c", v["year"] + ".")]
    fields.append(("264", " ", "1", pub) if v["use264"] else ("260", " ", " ", pub))
    extent = f"{v['pages']} {v['pages_label']}"
    size = f"{v['size']} cm."
    if v["illus"]:
        fields.append(("300", " ", " ", [("a", extent + " :"), ("b", "minh họa ;"), ("c", size)]))
    else:
        fields.append(("300", " ", " ", [("a", extent + " ;"), ("c", size)]))
    if v["series"]:
        fields.append(("490", "0", " ", [("a", v["series"])]))
    if v["original"]:
        fields.append(("500", " ", " ", [("a", f"Tên sách nguyên bản: {v['original']}")]))
    for subj in v["subjects"]:
        subs = [("a", subj[0])] + [("x", s) for s in subj[1:]]
        fields.append(("650", " ", "7", subs + [("2", "Bộ TK TVQG")]))
    for name, ind1 in v["authors"][1:]:
        fields.append(("700", ind1, " ", [("a", name)]))
    if v["translator"]:
        name, ind1 = v["translator"]
        fields.append(("700", ind1, " ", [("a", name + ","), ("e", v["role"])]))
    return fields


def _field_008(v: dict, entered: str) -> str:
    year = re.sub(r"\D", "", v["year"])[:4]
    ill = "a   " if v["illus"] else "    "
    aud = "j" if v["juvenile"] else " "
    value = f"{entered}s{year}    {v['country']}{ill}{aud}      000 {v['lit_form']} {v['lang']} d"
    assert len(value) == 40, value
    return value


def koha_marc(v: dict, biblionumber: int, when: datetime, entered: str, items: list,
              itemtype: str, corrected: bool) -> str:
    """A Koha biblio as MARCXML: items in 952, biblionumber in 001 and 999."""
    controls = [("001", str(biblionumber)), ("005", when.strftime("%Y%m%d%H%M%S.0")),
                ("008", _field_008(v, entered))]
    fields = marc_fields(v)
    fields.append(("942", " ", " ", [("2", "ddc"), ("c", itemtype)]))
    fields.extend(("952", " ", " ", item) for item in items)
    fields.append(("999", " ", " ", [("c", str(biblionumber)), ("d", str(biblionumber))]))
    desc = "i" if v["use264"] else "a"
    return _marc_xml("c" if corrected else "n", desc, controls, fields)


def _libol_record(v: dict, number: int, when: datetime, library_name: str) -> tuple[list, list]:
    controls = [("001", str(number)), ("005", when.strftime("%Y%m%d%H%M%S.0")),
                ("008", _field_008(v, when.strftime("%y%m%d")))]
    return controls, marc_fields(v) + [("852", " ", " ", [("a", library_name), ("h", call_number(v))])]


def libol_marc(v: dict, number: int, when: datetime, library_name: str) -> str:
    """A Libol export: MARC21 with the copy described in 852 (no Koha 952 items)."""
    controls, fields = _libol_record(v, number, when, library_name)
    return _marc_xml("n", "i" if v["use264"] else "a", controls, fields)


def libol_iso2709(v: dict, number: int, when: datetime, library_name: str, nfd: bool,
                  old_tones: bool) -> bytes:
    """The same Libol export record as ISO 2709 (UTF-8), typed in the library's habits."""
    controls, fields = _libol_record(v, number, when, library_name)
    return _iso2709("n", "i" if v["use264"] else "a", controls, fields,
                    (lambda s: retyped(s, nfd, old_tones)) if (nfd or old_tones) else None)


# --------------------------------------------------------------------------- Koha items (952)
# Shelving locations ($c): KHOMO kho mở, KHODOC kho đọc, KHOMUON kho mượn, TRA CUU kho tra cứu;
# item types ($y): SACH sách, STN sách thiếu nhi.
def koha_items(v: dict, rng: random.Random, counters: dict, call_no: str, itemtype: str,
               provincial: bool, branches: list[str], barcode_prefix) -> list:
    """1-4 copies with Koha's status subfields; most on the shelf, a fifth out on loan."""
    items = []
    n = rng.choice([1, 1, 2, 2, 2, 3, 3, 4]) if provincial else rng.choice([1, 1, 1, 2, 2])
    for copy in range(1, n + 1):
        if provincial:
            if v["juvenile"]:
                home = rng.choice(["THIEUNHI", "THIEUNHI", "TRUNGTAM", "LUUDONG"])
            else:
                home = rng.choice(["TRUNGTAM", "TRUNGTAM", "TRUNGTAM", "LUUDONG"])
        else:  # a district library: mostly its own building, some in a commune book cabinet
            home = branches[0] if rng.random() < 0.8 else branches[1]
        holding = home if rng.random() < 0.95 else rng.choice(branches)
        location = rng.choice(["KHOMO", "KHOMO", "KHOMUON", "KHODOC"])
        x = rng.random()
        status = ("available" if x < 0.70 else "loan" if x < 0.90 else "reference" if x < 0.95
                  else "lost" if x < 0.97 else "withdrawn" if x < 0.985 else "damaged")
        if status == "reference":
            location = "TRA CUU" if home == "TRUNGTAM" else "KHODOC"
        counters["item"] += 1
        counters[home] = counters.get(home, 0) + 1
        acquired = date(max(int(re.sub(r"\D", "", v["year"])[:4]), 2008), 1, 1) + timedelta(
            days=rng.randrange(0, 330))
        subs = [("0", "1" if status == "withdrawn" else "0"),
                ("1", "1" if status == "lost" else "0"),
                ("4", "1" if status == "damaged" else "0"),
                ("7", "1" if status == "reference" else "0"),
                ("9", str(counters["item"])), ("a", home), ("b", holding), ("c", location),
                ("d", acquired.isoformat()), ("g", str(list_price(v["pages"]))),
                ("l", str(rng.randrange(0, 40))), ("o", call_no),
                ("p", f"{barcode_prefix(home)}{counters[home]:06d}")]
        if status == "loan":
            due = date(2026, 11, 1) + timedelta(days=rng.randrange(0, 61))
            subs.append(("q", due.isoformat()))
        subs += [("t", str(copy)), ("y", itemtype)]
        items.append(subs)
    return items


# --------------------------------------------------------------------------- typing habits
_OLD_TONES = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè",
              "óe": "oé", "ỏe": "oẻ", "õe": "oẽ", "ọe": "oẹ", "ùy": "uỳ", "úy": "uý",
              "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ"}
_OLD_TONES_RE = re.compile(r"(?<![qQ])(" + "|".join(_OLD_TONES) + r")(?![\wà-ỹ])")


def old_style_tones(text: str) -> str:
    """'hòa' -> 'hoà', 'thủy' -> 'thuỷ': the older placement many cataloguers still type."""
    return _OLD_TONES_RE.sub(lambda m: _OLD_TONES[m.group(1)], text)


def retyped(text: str, nfd: bool, old_tones: bool) -> str:
    """The text as a library's software and cataloguers type it: old-style tones, then NFD."""
    if old_tones:
        text = old_style_tones(text)
    if nfd:
        text = unicodedata.normalize("NFD", text)
    return text


def retyped_marc(marc: str, nfd: bool, old_tones: bool) -> str:
    """MARCXML retyped, its leader's record length kept true to the bytes."""
    if not (nfd or old_tones):
        return marc
    before = len(marc.encode())
    marc = retyped(marc, nfd, old_tones)
    return bump_leader(marc, len(marc.encode()) - before)


def bump_leader(marc: str, delta: int) -> str:
    return re.sub(r"<leader>(\d{5})", lambda m: f"<leader>{int(m.group(1)) + delta:05d}", marc,
                  count=1)


# --------------------------------------------------------------------------- the next day
_FIRST_952 = re.compile(r'<datafield tag="952" ind1=" " ind2=" ">.*?</datafield>')
_DUE = re.compile(r'<subfield code="q">[^<]*</subfield>')


def circulate(marc: str, when: datetime, rng: random.Random) -> str:
    """The first copy of a Koha record returned or checked out at ``when`` (952 $q, 005 change)."""
    item = _FIRST_952.search(marc)
    if not item:
        return marc
    text = item.group(0)
    if _DUE.search(text):  # returned
        new_item, delta = _DUE.sub("", text), -12
    else:  # checked out: $q goes before $t, as Koha orders subfields
        due = (when + timedelta(days=rng.choice([14, 21, 30]))).strftime("%Y-%m-%d")
        new_item = text.replace('<subfield code="t">', f'<subfield code="q">{due}</subfield>'
                                '<subfield code="t">', 1)
        delta = 12
    marc = marc[:item.start()] + new_item + marc[item.end():]
    marc = re.sub(r'(<controlfield tag="005">)[^<]*', lambda m: m.group(1) + when.strftime(
        "%Y%m%d%H%M%S.0"), marc, count=1)
    return bump_leader(marc, delta)
