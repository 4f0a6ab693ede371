"""Synthetic but realistic catalogues of the Sơn Nam provincial library network.

The same books are held by several libraries and every library catalogues them a little
differently (NFD text, ISBN forms, "Nxb." or not, "Nguyễn, Du", subtitles, old-style tone marks,
MARC21 from Koha or home-made Dublin Core), because that is what the union catalogue has to cope
with. Everything comes from one seeded ``random.Random``: same seed, byte-identical output. The
books are ``books.py``'s, written down with ``records.py``, as the network at full scale is.

    python -m unionapi.demo.network --out DIR     # writes DIR/<library id>.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from normalizer.ids import isbn13_to_10
from unionapi.demo.books import PUBLISHERS, Work, build_works, hyphenate_isbn
from unionapi.demo.records import (
    SPAN_S, START, call_number, circulate, description, koha_items, koha_marc, libol_marc, list_price,
    marc_fields, retyped, retyped_marc, stamp)

DEMO_SEED = 20261123
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"

DEMO_LIBRARIES = [
    {"id": "tv-tinh", "name": "Thư viện tỉnh Sơn Nam", "kind": "provincial", "parent": None,
     "system": "koha", "protocol": "oai", "formats": ["marc21", "oai_dc"], "share": 0.47,
     "repository": "tv-tinh.sonnam.vn", "sets": ["sach", "thieunhi"],
     "branch_map": {"TRUNGTAM": "Trụ sở chính", "THIEUNHI": "Phòng đọc Thiếu nhi",
                    "LUUDONG": "Thư viện lưu động"}},
    {"id": "tv-kim-son", "name": "Thư viện huyện Kim Sơn", "kind": "district", "parent": "tv-tinh",
     "system": "koha", "protocol": "oai", "formats": ["marc21", "oai_dc"], "share": 0.17,
     "repository": "tv-kim-son.sonnam.vn", "sets": ["sach", "thieunhi"],
     "branch_map": {"KIMSON": "Thư viện huyện Kim Sơn", "KS-XA": "Tủ sách xã Kim Đông"}},
    {"id": "tv-yen-mo", "name": "Thư viện huyện Yên Mô", "kind": "district", "parent": "tv-tinh",
     "system": "other", "protocol": "oai", "formats": ["oai_dc"], "share": 0.13,
     "repository": "tv-yen-mo.sonnam.vn", "sets": [], "branch_map": {}},
    {"id": "thpt-lvt", "name": "Thư viện Trường THPT Lương Văn Tụy", "kind": "school",
     "parent": "tv-tinh", "system": "other", "protocol": "oai", "formats": ["oai_dc"], "share": 0.08,
     "repository": "thpt-lvt.sonnam.edu.vn", "sets": ["thamkhao", "vanhoc"], "branch_map": {}},
    # Koha with OAI-PMH switched off: harvested over Z39.50 from its Zebra (database "biblios")
    {"id": "tv-hoa-lu", "name": "Thư viện huyện Hoa Lư", "kind": "district", "parent": "tv-tinh",
     "system": "koha", "protocol": "z3950", "formats": ["marc21"], "share": 0.10,
     "repository": "tv-hoa-lu.sonnam.vn", "sets": [],
     "branch_map": {"HOALU": "Thư viện huyện Hoa Lư", "HL-XA": "Tủ sách xã Ninh Hải"}},
    # Libol: no server at all; the school drops a MARC export (ISO2709) into a folder
    {"id": "thcs-ths", "name": "Thư viện Trường THCS Trương Hán Siêu", "kind": "school",
     "parent": "tv-hoa-lu", "system": "libol", "protocol": "file", "formats": ["marc21"], "share": 0.05,
     "repository": "thcs-ths.sonnam.edu.vn", "sets": [], "branch_map": {}},
]
LIBRARY_BY_ID = {lib["id"]: lib for lib in DEMO_LIBRARIES}
SET_NAMES = {"sach": "Sách", "thieunhi": "Sách thiếu nhi", "thamkhao": "Sách tham khảo",
             "vanhoc": "Văn học"}


@dataclass
class ProviderRecord:
    identifier: str
    datestamp: str
    deleted: bool
    sets: list[str]
    metadata: dict[str, str]  # metadataPrefix -> XML of the payload element


# --------------------------------------------------------------------------- cataloguing styles
CATEGORY_AFFINITY = {
    "tv-tinh": {"eng": 2.0, "tk": 0.3},
    "tv-kim-son": {"nn": 3.0, "tn": 2.0, "pl": 2.0, "yt": 1.5, "gt": 0.2, "eng": 0.0, "tk": 0.3},
    "tv-yen-mo": {"nn": 3.0, "tn": 2.0, "vh": 1.5, "ls": 1.5, "gt": 0.2, "eng": 0.0},
    "thpt-lvt": {"tk": 8.0, "vh": 3.0, "dich": 3.0, "gt": 0.4, "nn": 0.05, "tn": 0.5, "pl": 0.5,
                 "eng": 0.5, "yt": 0.3},
    "tv-hoa-lu": {"ls": 3.0, "nn": 2.0, "tn": 1.5, "gt": 0.2, "eng": 0.0, "tk": 0.3},
    "thcs-ths": {"tk": 6.0, "vh": 3.0, "tn": 2.0, "gt": 0.4, "nn": 0.05, "eng": 0.3},
}


def _catalogue(work: Work, lib: str, rng: random.Random) -> dict:
    """One library's description of a work: the same facts, in that library's habits."""
    r = rng.random
    full, short, place, reg = PUBLISHERS.get(work.publisher, (work.publisher, work.publisher,
                                                              work.place, ""))
    if work.place:
        place = work.place
    isbn = None
    if work.isbn:
        hyph = hyphenate_isbn(work.isbn, len(reg)) if reg else work.isbn
        if lib == "tv-tinh":
            isbn = hyph if r() < 0.8 else work.isbn
        elif lib == "tv-kim-son":
            isbn = work.isbn if r() < 0.9 else hyph
        elif lib == "tv-yen-mo":
            x = r()
            isbn = None if x < 0.3 else isbn13_to_10(work.isbn) if x < 0.6 else work.isbn
        else:
            isbn = None if r() < 0.4 else hyph
    subtitle = work.subtitle
    if subtitle and r() < {"tv-tinh": 0.05, "tv-kim-son": 0.4, "tv-yen-mo": 0.3}.get(lib, 0.5):
        subtitle = None
    comma = {"tv-tinh": 0.0, "tv-kim-son": 0.4, "tv-yen-mo": 0.25}.get(lib, 0.1) > r()
    publisher = full
    if lib == "tv-kim-son" and r() < 0.7:
        publisher = short
    elif lib == "tv-yen-mo" and r() < 0.4:
        publisher = short
    elif lib == "thpt-lvt" and full.startswith("Nxb. "):
        publisher = "NXB " + short
    if lib == "tv-kim-son" and place == "Hà Nội" and r() < 0.6:
        place = "H."
    if place == "Thành phố Hồ Chí Minh" and lib != "tv-tinh":
        place = rng.choice(["Tp. Hồ Chí Minh", "TP. HCM", "Thành phố Hồ Chí Minh"])
    year = str(work.year)
    if lib == "tv-kim-son" and r() < 0.15:
        year = f"[{year}]"
    elif lib == "tv-yen-mo" and r() < 0.1:
        year = f"c{year}"
    price = f"{list_price(work.pages)}đ" if lib == "tv-tinh" and r() < 0.7 else None
    bad_isbn = lib == "tv-tinh" and bool(work.isbn) and r() < 0.01
    use264 = lib == "tv-tinh" and work.year >= 2015 and r() < 0.7
    return description(work, isbn=isbn, subtitle=subtitle, comma=comma, publisher=publisher, place=place,
                       year=year, price=price, bad_isbn=bad_isbn, use264=use264)


# --------------------------------------------------------------------------- Dublin Core
def _dc_xml(elements: list) -> str:
    out = [f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           f'xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">']
    out.extend(f"<dc:{name}>{escape(value)}</dc:{name}>" for name, value in elements if value)
    out.append("</oai_dc:dc>")
    return "".join(out)


def _koha_dc(fields: list) -> str:
    """What Koha's MARC21slim2OAIDC stylesheet makes of the record: punctuation left in."""
    get = {}
    for tag, _, _, subs in fields:
        get.setdefault(tag, []).append(subs)
    els = []
    for subs in get.get("245", []):
        els.append(("title", " ".join(val for c, val in subs if c in "ab")))
    for tag in ("100", "700"):
        for subs in get.get(tag, []):
            els.append(("creator", " ".join(val for c, val in subs if c == "a")))
    els.append(("type", "text"))
    for tag in ("260", "264"):
        for subs in get.get(tag, []):
            els.append(("publisher", " ".join(val for c, val in subs if c in "ab")))
            els.append(("date", " ".join(val for c, val in subs if c == "c")))
    for subs in get.get("041", []):
        els.append(("language", subs[0][1]))
    for subs in get.get("500", []):
        els.append(("description", subs[0][1]))
    for subs in get.get("650", []):
        els.append(("subject", "--".join(val for c, val in subs if c in "axyzv")))
    for subs in get.get("020", []):
        els.extend(("identifier", "URN:ISBN:" + val) for c, val in subs if c == "a")
    return _dc_xml(els)


def _plain_dc(v: dict, lib: str) -> str:
    """Home-made Dublin Core of the non-Koha systems: every field in its own way."""
    title = v["title"] + (f" : {v['subtitle']}" if v["subtitle"] else "")
    els = [("title", title)]
    els.extend(("creator", heading) for heading, _ in v["authors"])
    if v["translator"]:
        els.append(("contributor", f"{v['translator'][0]} ({v['role']})"))
    if lib == "tv-yen-mo":
        els.extend(("subject", term) for subj in v["subjects"] for term in subj)
    else:
        els.extend(("subject", " -- ".join(subj)) for subj in v["subjects"])
    if v["edition"]:
        els.append(("description", v["edition"]))
    if v["original"]:
        els.append(("description", f"Tên sách nguyên bản: {v['original']}"))
    els.append(("publisher", v["publisher"]))
    els.append(("date", v["year"]))
    els.append(("type", "Sách" if lib == "tv-yen-mo" else "Text"))
    els.append(("format", f"{v['pages']} {v['pages_label']} ; {v['size']} cm"))
    if v["isbn"]:
        els.append(("identifier", f"ISBN {v['isbn']}" if lib == "tv-yen-mo" else v["isbn"]))
    lang = {"vie": "vi", "eng": "en"}.get(v["lang"], v["lang"]) if lib == "tv-yen-mo" else v["lang"]
    els.append(("language", lang))
    els.append(("coverage", v["place"]))
    return _dc_xml(els)


# --------------------------------------------------------------------------- Koha items (952)
_BRANCHES = {"tv-tinh": ["TRUNGTAM", "THIEUNHI", "LUUDONG"], "tv-kim-son": ["KIMSON", "KS-XA"],
             "tv-hoa-lu": ["HOALU", "HL-XA"]}
_BARCODE_PREFIX = {"TRUNGTAM": "VV", "THIEUNHI": "TN", "LUUDONG": "LD", "KIMSON": "KS",
                   "KS-XA": "KD", "HOALU": "HL", "HL-XA": "NH"}


def _items(v: dict, lib: str, rng: random.Random, counters: dict, call_no: str,
           itemtype: str) -> list:
    return koha_items(v, rng, counters, call_no, itemtype, provincial=lib == "tv-tinh",
                      branches=_BRANCHES[lib], barcode_prefix=_BARCODE_PREFIX.__getitem__)


# --------------------------------------------------------------------------- the network
def _pick(rng: random.Random, works: list[Work], lib: str, k: int) -> list[Work]:
    """Classics everywhere, then weighted sampling without replacement (Efraimidis-Spirakis)."""
    affinity = CATEGORY_AFFINITY[lib]
    chosen = [w for w in works if w.classic][:k]
    keyed = []
    for w in works:
        weight = w.weight * affinity.get(w.category, 1.0)
        if w.classic or weight <= 0:
            continue
        keyed.append((rng.random() ** (1.0 / weight), w.wid, w))
    keyed.sort(reverse=True)
    chosen += [w for _, _, w in keyed[: max(0, k - len(chosen))]]
    return chosen


def generate_network(seed: int = DEMO_SEED, total_records: int = 5200
                     ) -> dict[str, list[ProviderRecord]]:
    """All four catalogues, keyed by library id, each sorted by local record number."""
    return _generate(seed, total_records)[0]


def work_keys(seed: int = DEMO_SEED, total_records: int = 5200) -> dict[str, dict[str, int]]:
    """Ground truth for deduplication: library id -> OAI identifier -> work id.

    Records of the same edition share a work id across (and, for duplicates, within)
    libraries; reprints ("Tái bản lần thứ ...") are different works. Deleted records are absent.
    """
    return _generate(seed, total_records)[1]


def _generate(seed: int, total_records: int):
    rng = random.Random(seed)
    n_generated = max(200, int(total_records * 0.72))
    works = build_works(rng, n_generated)
    network, truth = {}, {}
    for lib_info in DEMO_LIBRARIES:
        lib = lib_info["id"]
        quota = round(total_records * lib_info["share"])
        n_deleted = {"tv-tinh": 12, "tv-yen-mo": 6}.get(lib, 0) if total_records >= 500 else 0
        n_dupes = {"tv-tinh": 8, "tv-yen-mo": 3}.get(lib, 0) if total_records >= 500 else 0
        holdings = _pick(rng, works, lib, quota - n_deleted - n_dupes)
        holdings += rng.sample(holdings, n_dupes)  # the same book catalogued twice
        slots = [w for w in holdings] + [None] * n_deleted
        rng.shuffle(slots)
        network[lib] = _library_records(rng, lib_info, slots)
        truth[lib] = {rec.identifier: work.wid
                      for rec, work in zip(network[lib], slots) if work is not None}
    return network, truth


def _library_records(rng: random.Random, lib_info: dict, slots: list) -> list[ProviderRecord]:
    lib = lib_info["id"]
    repo = lib_info["repository"]
    koha = lib_info["system"] == "koha"
    counters = {"item": 0}
    records = []
    local = 0
    # Koha batch imports leave many records with the very same datestamp second.
    bulk = START + timedelta(hours=1, minutes=30, days=rng.randrange(0, 20))
    for work in slots:
        local += 1 + (rng.randrange(1, 20) if rng.random() < 0.03 else 0)
        if koha and rng.random() < 0.08:
            when = bulk
        else:
            when = START + timedelta(seconds=rng.randrange(SPAN_S))
        if lib == "tv-tinh" or lib == "tv-kim-son":
            identifier = f"oai:{repo}:{local}"
        elif lib == "tv-yen-mo":
            identifier = f"oai:{repo}:YM{local:06d}"
        else:
            identifier = f"oai:{repo}:{local}"
        if work is None:
            records.append(ProviderRecord(identifier, stamp(when), True, [], {}))
            continue
        v = _catalogue(work, lib, rng)
        sets = _sets(lib, work)
        metadata = {}
        if lib_info["system"] == "libol":
            metadata["marc21"] = libol_marc(v, local, when, lib_info["name"])
        elif koha:
            entered_d = date(max(work.year, 2008), 1, 1) + timedelta(days=rng.randrange(0, 360))
            entered_d = min(entered_d, when.date())
            itemtype = "STN" if work.juvenile else "SACH"
            items = _items(v, lib, rng, counters, call_number(v), itemtype)
            marc = koha_marc(v, local, when, entered_d.strftime("%y%m%d"), items, itemtype,
                             corrected=rng.random() < 0.3)
            metadata["marc21"] = marc
            if "oai_dc" in lib_info["formats"]:
                metadata["oai_dc"] = _koha_dc(marc_fields(v))
        else:
            metadata["oai_dc"] = _plain_dc(v, lib)
        metadata = _encode_habits(metadata, lib, rng)
        records.append(ProviderRecord(identifier, stamp(when), False, sets, metadata))
    for rec in records:  # deleted records keep their sets when the system knows them
        if rec.deleted and lib_info["sets"]:
            rec.sets = [lib_info["sets"][0]]
    return records


def _sets(lib: str, work: Work) -> list[str]:
    if lib in ("tv-tinh", "tv-kim-son"):
        return ["thieunhi"] if work.juvenile else ["sach"]
    if lib == "thpt-lvt":
        if work.category in ("tk", "gt"):
            return ["thamkhao"]
        if work.category in ("vh", "dich") or work.classic:
            return ["vanhoc"]
    return []


def _encode_habits(metadata: dict, lib: str, rng: random.Random) -> dict:
    """Old-style tone marks (school) and NFD (Yên Mô's software, some Kim Sơn imports)."""
    old_tones = {"thpt-lvt": 0.6, "tv-yen-mo": 0.3}.get(lib, 0.0) > rng.random()
    nfd = {"tv-yen-mo": 0.7, "tv-kim-son": 0.03}.get(lib, 0.0) > rng.random()
    return {prefix: (retyped_marc if prefix == "marc21" else retyped)(xml, nfd, old_tones)
            for prefix, xml in metadata.items()}


# --------------------------------------------------------------------------- the next day
def simulate_changes(records: list[ProviderRecord], when: str = "2026-11-24T01:00:00Z",
                     seed: int = DEMO_SEED, changed: float = 0.02, deleted: int = 2
                     ) -> list[ProviderRecord]:
    """A day later: check-outs and returns move Koha records' datestamps (a 952 $q appears or
    goes, 005 changes), other systems re-export a few records, some records are deleted.

    Returns a new list (same order); the records given are left alone.
    """
    rng = random.Random(f"{seed}:{when}")
    start = datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ")
    live = [i for i, r in enumerate(records) if not r.deleted]
    picked = rng.sample(live, min(len(live), round(len(live) * changed) + deleted))
    gone = set(picked[:deleted])
    out = list(records)
    for i in picked:
        rec = records[i]
        changed_at = start + timedelta(seconds=rng.randrange(8 * 3600))
        if i in gone:
            out[i] = ProviderRecord(rec.identifier, stamp(start), True, rec.sets, {})
            continue
        metadata = dict(rec.metadata)
        if "marc21" in metadata:
            metadata["marc21"] = circulate(metadata["marc21"], changed_at, rng)
        out[i] = ProviderRecord(rec.identifier, stamp(changed_at), False, rec.sets, metadata)
    return out


# --------------------------------------------------------------------------- files
def as_iso2709(records: list[ProviderRecord]) -> list[bytes]:
    """The MARC21 records as ISO2709, as Zebra indexes them and Libol exports them."""
    import io

    import pymarc
    out = []
    for record in records:
        if not record.deleted:
            [parsed] = pymarc.parse_xml_to_array(io.BytesIO(record.metadata["marc21"].encode("utf-8")))
            out.append(parsed.as_marc())
    return out


def save_records(path, records: list[ProviderRecord]) -> None:
    """JSON lines, UTF-8; written to a temporary file and renamed, so a running provider
    never reads half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(json.dumps(asdict(rec), ensure_ascii=False) + "\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600
    os.replace(tmp, path)


def load_records(path) -> list[ProviderRecord]:
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                records.append(ProviderRecord(d["identifier"], d["datestamp"], d["deleted"],
                                              d["sets"], d["metadata"]))
    return records


def write_network(out_dir, seed: int = DEMO_SEED, total_records: int = 5200) -> dict[str, Path]:
    """Writes <out_dir>/<library id>.jsonl for every library; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for lib, records in generate_network(seed, total_records).items():
        paths[lib] = out_dir / f"{lib}.jsonl"
        save_records(paths[lib], records)
    return paths


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Write the demo network's catalogues as JSON lines.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=DEMO_SEED)
    ap.add_argument("--total", type=int, default=5200)
    args = ap.parse_args(argv)
    for lib, path in write_network(args.out, args.seed, args.total).items():
        print(f"{lib}\t{path}")


if __name__ == "__main__":
    main()
