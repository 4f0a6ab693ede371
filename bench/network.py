"""Benchmark: the whole network at full scale, through the project's real code path (issue 9).

    python bench/network.py [--records 1000000] [--seed N] [--skip-api] [--api-seconds 30] [--clients 8]

**The network.** One provincial library (20% of the records), 30 district and commune libraries
(1.5% each) and 200 school libraries (0.175% each), generated with a fixed seed. Popularity follows
a zipf-like law over ``records / 3`` works (the classics of ``unionapi.demo.network`` first), so a
few books are held nearly everywhere and most by one or two libraries. Every library has its own
cataloguing habits, drawn from the seed: NFD or NFC text, "Nguyễn, Du" or "Nguyễn Du", ISBNs missing,
hyphenated, bare or as ISBN-10, "Nxb. Kim Đồng" or "Kim Đồng" or "NXB Kim Đồng", "H." for Hà Nội,
"[2015]", subtitles dropped, old-style tone marks. The provincial and the 30 district/commune
libraries are Koha-style MARC21 (952 items with statuses, 999 $c) served over OAI-PMH by real
pyoai providers (``unionapi.demo.provider``: each library a repository with its own URL, served by
``--provider-processes`` processes, pages of ``--page-size``);
the 200 schools are Libol-style ISO2709 exports (852 holdings) dropped into one folder each.
Generated data (and the next day's changes) go to ``bench/out/network-<records>/gen/`` and are
reused while the marker for (seed, records) is there; generation is not part of any figure.

**The full build.** A fresh data directory (``bench/out/network-<records>/run/``), a
``sources.yaml`` and ``settings.yaml`` written there and read with ``config.load_config``,
``Services.open``; then ``pipeline.harvest_one`` for every library (``--harvest-workers`` at once,
default 2 = the scheduler's ``max_parallel_harvests``), then ``normalize_changes``,
``deduplicate_changes`` and ``index_changes`` under the pipeline lock, timed one by one: exactly
what ``update_catalogue`` does, with the embedded search engine. Prints

    records=N harvest_s=A normalize_s=B dedup_s=C index_s=D total_s=T peak_rss_mb=M

**The daily delta.** 1% of the records changed (Koha: a copy checked out or returned, or a
cataloguer's edit: ISBN added, subtitle, pages; Libol: an edit) and 0.1% deleted, spread over all
libraries. Providers serve the changed records with the current time as datestamp and the deleted
ones as OAI ``deleted``; schools with a change drop a replaced export (same name) without the
deleted records. Then every library is harvested again incrementally (no ``full``) and the
pipeline runs on what changed; ``delta_total_s`` is that whole cycle, harvest included:

    delta_records=K delta_total_s=S

After each cycle the catalogue's record count is compared with what the sources hold; a
difference is printed as a ``MISMATCH`` line (a real bug, not something to hide).

**The API load.** ``python -m unionapi.cli serve`` (waitress, the project's server) on a free
port of 127.0.0.1 over the built catalogue; a separate process (this script with
``--load-worker``) runs ``--clients`` threads, each with its own keep-alive ``http.client``
connection, for ``--api-warmup`` seconds of warm-up and then ``--api-seconds`` measured: title
words without and with diacritics, author names, ISBN lookups, library facet filters, page 2,
record pages, sampled from the catalogue. Non-2xx answers and exceptions are errors:

    api_qps=Q p50_ms=A p99_ms=B errors=E

Then one ``target ...: MET|MISSED (...)`` line per target (2-core machine: full build <= 1200 s,
delta <= 60 s, API >= 200 q/s with p99 < 200 ms and no errors). The script never fails because a
target is missed.

**Peak RSS.** ``peak_rss_mb`` is the benchmark process itself (``RUSAGE_SELF`` max RSS at the end
of the full build): the harvester threads, the raw store, the normalizer, deduplication and
indexing all run in it; generation runs in child processes and is not in it. The other processes
are reported on their own line, from ``VmHWM`` in ``/proc/<pid>/status`` read just before each is
stopped: the OAI providers (sum and largest), the API server, and the load process (its own
``VmHWM``). ``RUSAGE_CHILDREN`` (the largest child waited for) is printed too, but read it with care:
Linux counts in it the parent's image a child had between fork and exec, and the generators.
Wall-clock figures come with the CPU seconds of the benchmark process per stage and the load
average, since other work on the machine slows every figure.
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import itertools
import json
import logging
import multiprocessing
import os
import pstats
import random
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.normalize import TITLE_WORDS  # noqa: E402
from unionapi.demo.network import (  # noqa: E402
    _SPAN_S, _START, DEMO_SEED, GENERATED_MIX, PUBLISHERS, Person, _build_works, _bump_leader,
    _call_number, _circulate, _field_008, koha_items as demo_koha_items, _generated_title, _koha_marc, _marc_fields, _name, _person, _stamp,
    _year, hyphenate_isbn, isbn13_check_digit, isbn13_to_isbn10, old_style_tones)
from unionapi.demo.provider import terminate  # noqa: E402

log = logging.getLogger("bench.network")
OUT = Path(__file__).resolve().parent / "out"
GEN_VERSION = "v1"
NOW_PLACEHOLDER = "@NOW@"  # the OAI datestamp of a changed record, set when the delta is served
DELTA_DAY = datetime(2026, 11, 23, 1, 0, 0)  # 005 of the changed records: the next morning
EXPORT_NAME = "export-2026-11-22.mrc"
CHANGED_SHARE, DELETED_SHARE = 0.01, 0.001
TARGETS = {"full_build_s": 1200, "delta_s": 60, "api_qps": 200, "api_p99_ms": 200}
ENV_OVERRIDES = ("UNIONCAT_DATA_DIR", "UNIONCAT_SEARCH_ENGINE", "UNIONCAT_SEARCH_URL", "UNIONCAT_SEARCH_INDEX",
                 "UNIONCAT_PORT", "UNIONCAT_CONFIG")

DISTRICT_NAMES = ["Kim Sơn", "Yên Mô", "Yên Khánh", "Hoa Lư", "Gia Viễn", "Nho Quan", "Tam Điệp", "Ý Yên",
                  "Nghĩa Hưng", "Hải Hậu", "Vụ Bản", "Xuân Trường", "Giao Thủy", "Trực Ninh", "Nam Trực",
                  "Mỹ Lộc", "Duy Tiên", "Kim Bảng", "Thanh Liêm", "Bình Lục", "Lý Nhân", "Tiền Hải",
                  "Kiến Xương", "Vũ Thư", "Đông Hưng", "Quỳnh Phụ", "Hưng Hà", "Thái Thụy", "Nga Sơn",
                  "Hậu Lộc"]
SCHOOL_PATRONS = ["Lương Văn Tụy", "Trương Hán Siêu", "Nguyễn Du", "Lê Quý Đôn", "Chu Văn An", "Trần Phú",
                  "Nguyễn Trãi", "Lê Lợi", "Quang Trung", "Nguyễn Huệ", "Lý Thường Kiệt", "Trần Hưng Đạo",
                  "Hoàng Văn Thụ", "Võ Thị Sáu", "Kim Đồng", "Lê Hồng Phong", "Phan Bội Châu",
                  "Phan Chu Trinh", "Nguyễn Khuyến", "Tô Hiến Thành", "Đinh Tiên Hoàng", "Ngô Quyền",
                  "Bà Triệu", "Hai Bà Trưng", "Yết Kiêu", "Nguyễn Bỉnh Khiêm", "Lê Văn Tám", "Hàm Nghi"]
SCHOOL_LEVELS = ["Tiểu học", "THCS", "THPT"]
TOPICS = ["Hà Nội", "Huế", "Nam Bộ", "Tây Nguyên", "đồng bằng sông Cửu Long", "miền núi phía Bắc", "biển đảo",
          "nông thôn mới", "gia đình", "nhà trường"]
SUBTITLES = ["tiểu thuyết", "truyện", "tuyển tập", "sách tham khảo", "tái bản có sửa chữa"]


# --------------------------------------------------------------------------- the network
@dataclass
class Lib:
    id: str
    name: str
    kind: str
    protocol: str  # oai | file
    parent: str | None
    quota: int
    branches: dict[str, str] = field(default_factory=dict)
    habits: dict = field(default_factory=dict)


def layout(records: int, seed: int) -> list[Lib]:
    """The 231 libraries, their sizes and their cataloguing habits (fixed by the seed)."""
    libs = [Lib("tv-tinh", "Thư viện tỉnh Sơn Nam", "provincial", "oai", None, 0,
                {"TRUNGTAM": "Trụ sở chính", "THIEUNHI": "Phòng đọc Thiếu nhi", "LUUDONG": "Thư viện lưu động"})]
    for i, place in enumerate(DISTRICT_NAMES):
        code = f"H{i:02d}"
        if i < 20:
            libs.append(Lib(f"tv-huyen-{i:02d}", f"Thư viện huyện {place}", "district", "oai", "tv-tinh", 0,
                            {code: f"Thư viện huyện {place}", f"{code}-XA": f"Tủ sách xã {place}"}))
        else:
            libs.append(Lib(f"tv-huyen-{i:02d}", f"Thư viện xã {place}", "commune", "oai", f"tv-huyen-{i % 20:02d}",
                            0, {code: f"Thư viện xã {place}", f"{code}-XA": f"Tủ sách thôn {place}"}))
    for i in range(200):
        level = SCHOOL_LEVELS[i % 3]
        patron = SCHOOL_PATRONS[(i * 7) % len(SCHOOL_PATRONS)]
        place = DISTRICT_NAMES[i % 30]
        libs.append(Lib(f"truong-{i:03d}", f"Thư viện Trường {level} {patron} ({place})", "school", "file",
                        f"tv-huyen-{i % 30:02d}", 0))
    share = {"provincial": 0.20, "district": 0.015, "commune": 0.015, "school": 0.00175}
    for lib in libs:
        lib.quota = max(1, round(records * share[lib.kind]))
        lib.habits = _habits(lib, random.Random(f"{seed}:{lib.id}:habits"))
    libs[0].quota += records - sum(lib.quota for lib in libs)
    return libs


def _habits(lib: Lib, rng: random.Random) -> dict:
    """How this library catalogues: shares of records written one way or the other."""
    c = rng.choice
    if lib.kind == "provincial":
        return dict(nfd=0.0, comma=0.0, no_isbn=0.02, isbn_hyph=0.8, isbn10=0.0, drop_subtitle=0.05, short_pub=0.0,
                    pub_prefix="", abbrev_place=0.0, bracket_year=0.0, old_tones=0.0, price=0.7, use264=0.7,
                    bad_isbn=0.01)
    if lib.kind in ("district", "commune"):
        return dict(nfd=c([0.0, 0.0, 0.0, 0.03, 0.7]), comma=c([0.0, 0.1, 0.4, 0.8]), no_isbn=rng.uniform(0.05, 0.3),
                    isbn_hyph=c([0.1, 0.5, 0.9]), isbn10=c([0.0, 0.0, 0.3]), drop_subtitle=rng.uniform(0.1, 0.5),
                    short_pub=c([0.0, 0.4, 0.7, 1.0]), pub_prefix="", abbrev_place=c([0.0, 0.6]),
                    bracket_year=c([0.0, 0.15]), old_tones=c([0.0, 0.3]), price=0.0, use264=0.0, bad_isbn=0.0)
    return dict(nfd=c([0.0, 0.0, 0.1, 0.5, 0.9]), comma=c([0.0, 0.2, 0.5]), no_isbn=rng.uniform(0.2, 0.6),
                isbn_hyph=c([0.3, 0.7, 1.0]), isbn10=c([0.0, 0.2]), drop_subtitle=rng.uniform(0.3, 0.7),
                short_pub=c([0.3, 0.7, 1.0]), pub_prefix=c(["", "NXB "]), abbrev_place=c([0.0, 0.5]),
                bracket_year=c([0.0, 0.1]), old_tones=c([0.0, 0.6]), price=0.0, use264=0.0, bad_isbn=0.0)


# --------------------------------------------------------------------------- the works
@dataclass(slots=True)
class Book:
    """A work (an edition) as it really is; each library describes it in its own way."""
    title: str
    subtitle: str | None
    authors: list
    category: str
    publisher: str
    year: int
    ddc: str
    pages: int
    subjects: list
    lit_form: str = "0"
    translator: Person | None = None
    role: str = "dịch"
    original: str | None = None
    lang: str = "vie"
    orig_lang: str | None = None
    edition: str | None = None
    isbn: str | None = None
    isbn_reg: str = ""
    series: str | None = None
    size: int = 21
    illus: bool = False
    juvenile: bool = False
    place: str | None = None
    country: str = "vm "


def build_works(seed: int, count: int) -> list[Book]:
    """``count`` works, most popular first: the demo's head (classics, translations, English books,
    near-twin titles, demo-style titles), then a long tail of more varied titles."""
    rng = random.Random(f"{seed}:works")
    head_generated = max(200, min(3000, count // 20))
    head = _build_works(random.Random(f"{seed}:head"), head_generated)
    head.sort(key=lambda w: -w.weight)  # stable: classics, then translations, ...
    works = []
    used = set()
    for w in head[:count]:
        reg = PUBLISHERS[w.publisher][3] if w.publisher in PUBLISHERS else ""
        if w.isbn:
            used.add(w.isbn[:12])
        works.append(Book(w.title, w.subtitle, w.authors, w.category, w.publisher, w.year, w.ddc, w.pages,
                          w.subjects, w.lit_form, w.translator, w.role, w.original, w.lang, w.orig_lang, w.edition,
                          w.isbn, reg, w.series, w.size, w.illus, w.juvenile, w.place, w.country))
    cats = list(GENERATED_MIX)
    cat_weights = [GENERATED_MIX[c] for c in cats]
    people: dict[str, Person] = {}

    def person() -> Person:
        p = _person(rng)
        return people.setdefault(p.heading, p)

    while len(works) < count:
        cat = rng.choices(cats, cat_weights)[0]
        title, sub, subjects, ddc, pubs, form, (lo, hi) = _generated_title(rng, cat)
        if rng.random() < 0.85:  # the demo's titles are few; real catalogues are more varied
            title += " " + " ".join(rng.choice(TITLE_WORDS) for _ in range(rng.randint(1, 3)))
            if rng.random() < 0.3:
                title += " về " + rng.choice(TOPICS)
        authors = [person() for _ in range(1 if cat in ("vh", "tn", "hcm") else rng.choice([1, 1, 2, 3]))]
        if cat == "tn" and ddc.startswith("398"):
            authors = []
        translator = person() if not authors else None
        year = _year(rng)
        isbn, reg = None, ""
        if year >= 2007 and rng.random() < 0.93:
            while True:
                reg = str(rng.randrange(10, 100))
                body = "978604" + reg + f"{rng.randrange(10000):04d}"
                if body not in used:
                    used.add(body)
                    isbn = body + isbn13_check_digit(body)
                    break
        works.append(Book(title, sub, authors, cat, rng.choice(pubs), year, ddc, rng.randint(lo, hi), subjects,
                          form, translator, "kể" if translator else "dịch", None, "vie", None,
                          f"Tái bản lần thứ {rng.randint(1, 5)}" if rng.random() < 0.05 else None, isbn, reg,
                          None, rng.choice([19, 21, 24, 27]) if cat == "tn" else 21,
                          cat in ("tn", "nn", "yt") or rng.random() < 0.1, cat == "tn"))
    return works


# --------------------------------------------------------------------------- one library's description
def describe(work: Book, h: dict, rng: random.Random) -> dict:
    """The ``v`` dict of unionapi.demo.network (what _marc_fields writes), in this library's habits."""
    r = rng.random
    full, short, place, reg = PUBLISHERS.get(work.publisher, (work.publisher, work.publisher, work.place, ""))
    if work.place:
        place = work.place
    reg = work.isbn_reg or reg
    isbn = None
    if work.isbn and r() >= h["no_isbn"]:
        x = r()
        if x < h["isbn_hyph"]:
            isbn = hyphenate_isbn(work.isbn, len(reg)) if reg else work.isbn
        elif x < h["isbn_hyph"] + h["isbn10"] and work.isbn.startswith("978"):
            isbn = isbn13_to_isbn10(work.isbn)
        else:
            isbn = work.isbn
    subtitle = work.subtitle if not (work.subtitle and r() < h["drop_subtitle"]) else None
    comma = r() < h["comma"]
    publisher = full
    if full.startswith("Nxb. ") and r() < h["short_pub"]:
        publisher = h["pub_prefix"] + short
    if place == "Hà Nội" and r() < h["abbrev_place"]:
        place = "H."
    elif place == "Thành phố Hồ Chí Minh" and r() < h["abbrev_place"]:
        place = rng.choice(["Tp. Hồ Chí Minh", "TP. HCM"])
    year = str(work.year)
    if r() < h["bracket_year"]:
        year = f"[{year}]"
    resp = ", ".join(a.natural for a in work.authors)
    if work.category == "gt" and work.authors:
        resp = work.authors[0].natural + " (ch.b.)" + "".join(", " + a.natural for a in work.authors[1:])
    if work.translator:
        resp = (resp + " ; " if resp else "") + f"{work.translator.natural} {work.role}"
    return {
        "title": work.title, "subtitle": subtitle, "resp": resp or None,
        "authors": [_name(a, comma) for a in work.authors],
        "translator": _name(work.translator, comma) if work.translator else None,
        "role": work.role, "edition": work.edition, "place": place or "Hà Nội", "publisher": publisher,
        "year": year, "isbn": isbn,
        "price": f"{max(15, work.pages // 4) * 1000}đ" if r() < h["price"] else None,
        "bad_isbn": bool(work.isbn) and r() < h["bad_isbn"],
        "pages": work.pages, "illus": work.illus, "size": work.size, "series": work.series,
        "subjects": work.subjects, "ddc": work.ddc, "lang": work.lang, "orig_lang": work.orig_lang,
        "original": work.original, "juvenile": work.juvenile, "lit_form": work.lit_form, "country": work.country,
        "use264": work.year >= 2015 and r() < h["use264"], "pages_label": "p." if work.lang == "eng" else "tr.",
    }


def edited(v: dict, work: Book, rng: random.Random) -> dict:
    """A cataloguer's correction: the missing ISBN added, the subtitle (title statement) or the pages fixed."""
    v = dict(v)
    kind = rng.random()
    if v["isbn"] is None and work.isbn and kind < 0.4:
        v["isbn"] = work.isbn
    elif kind < 0.75:
        v["subtitle"] = None if v["subtitle"] else (work.subtitle or rng.choice(SUBTITLES))
    else:
        v["pages"] = max(8, v["pages"] + rng.choice([-4, -2, 2, 4]))
    return v


def _text_habits(text: str, nfd: bool, old: bool) -> str:
    if old:
        text = old_style_tones(text)
    if nfd:
        text = unicodedata.normalize("NFD", text)
    return text


def xml_habits(xml: str, nfd: bool, old: bool) -> str:
    if not (nfd or old):
        return xml
    before = len(xml.encode())
    xml = _text_habits(xml, nfd, old)
    return _bump_leader(xml, len(xml.encode()) - before)  # the leader keeps the ISO2709 length true


def koha_items(v: dict, lib: Lib, rng: random.Random, counters: dict, call_number: str, itemtype: str) -> list:
    """Koha 952 items, as the demo network makes them, for this library's branches."""
    return demo_koha_items(v, rng, counters, call_number, itemtype, provincial=lib.kind == "provincial",
                           branches=list(lib.branches), barcode_prefix=lambda home: home.replace("-", "")[:3])


def libol_iso2709(v: dict, number: int, stamp: datetime, library_name: str, nfd: bool, old: bool) -> bytes:
    """A Libol export record: MARC21 in ISO2709 (UTF-8), the copy described in 852."""
    controls = [("001", str(number)), ("005", stamp.strftime("%Y%m%d%H%M%S.0")),
                ("008", _field_008(v, stamp.strftime("%y%m%d")))]
    fields = _marc_fields(v, "") + [("852", " ", " ", [("a", library_name), ("h", _call_number(v))])]
    return iso2709("n", "i" if v["use264"] else "a", controls, fields,
                   (lambda s: _text_habits(s, nfd, old)) if (nfd or old) else None)


def iso2709(status: str, desc: str, controls: list, fields: list, transform=None) -> bytes:
    """The same leader as unionapi.demo.network._marc_xml, with a real directory and data."""
    directory, data, offset = [], [], 0
    for tag, value in controls:
        chunk = (transform(value) if transform else value).encode() + b"\x1e"
        directory.append(f"{tag}{len(chunk):04d}{offset:05d}")
        data.append(chunk)
        offset += len(chunk)
    for tag, i1, i2, subs in fields:
        chunk = (i1 + i2).encode() + b"".join(
            b"\x1f" + code.encode() + (transform(value) if transform else value).encode() for code, value in subs
        ) + b"\x1e"
        directory.append(f"{tag}{len(chunk):04d}{offset:05d}")
        data.append(chunk)
        offset += len(chunk)
    base = 24 + 12 * len(directory) + 1
    leader = f"{base + offset + 1:05d}{status}am a22{base:05d} {desc} 4500"
    return (leader + "".join(directory)).encode() + b"\x1e" + b"".join(data) + b"\x1d"


# --------------------------------------------------------------------------- generation (child processes)
_WORKS: list[Book] = []
_CUM: list[float] = []


def _gen_init(seed: int, n_works: int) -> None:
    global _WORKS, _CUM
    _WORKS = build_works(seed, n_works)
    _CUM = list(itertools.accumulate(1.0 / (rank + 1) ** 0.7 for rank in range(len(_WORKS))))


def _holdings(rng: random.Random, quota: int) -> list[int]:
    """Which works a library holds: zipf-like draws (popular books nearly everywhere), then any."""
    n = len(_WORKS)
    chosen = list(dict.fromkeys(rng.choices(range(n), cum_weights=_CUM, k=min(quota * 2, 4 * n))))[:quota]
    if len(chosen) < quota:
        have = set(chosen)
        rest = [i for i in range(n) if i not in have]
        rng.shuffle(rest)
        chosen += rest[:quota - len(chosen)]
    rng.shuffle(chosen)
    return chosen


def _gen_library(task) -> tuple[str, dict]:
    lib, seed, changed, deleted, gen_dir = task
    rng = random.Random(f"{seed}:{lib.id}:records")
    drng = random.Random(f"{seed}:{lib.id}:delta")
    changed, deleted = set(changed), set(deleted)
    ids = _holdings(rng, lib.quota)
    local = 0
    stats = {"records": len(ids), "changed": len(changed), "deleted": len(deleted), "nfd": 0}
    if lib.protocol == "oai":
        repo = f"{lib.id}.sonnam.vn"
        counters = {"item": 0}
        bulk = _START + timedelta(hours=1, minutes=30, days=rng.randrange(0, 20))
        with open(gen_dir / "oai" / f"{lib.id}.jsonl", "w", encoding="utf-8") as base, \
                open(gen_dir / "oai" / f"{lib.id}.delta.jsonl", "w", encoding="utf-8") as delta:
            for idx, wi in enumerate(ids):
                work = _WORKS[wi]
                local += 1 + (rng.randrange(1, 20) if rng.random() < 0.03 else 0)
                when = bulk if rng.random() < 0.08 else _START + timedelta(seconds=rng.randrange(_SPAN_S))
                v = describe(work, lib.habits, rng)
                nfd, old = rng.random() < lib.habits["nfd"], rng.random() < lib.habits["old_tones"]
                stats["nfd"] += nfd
                entered = min(date(max(work.year, 2008), 1, 1) + timedelta(days=rng.randrange(0, 360)), when.date())
                itemtype = "STN" if work.juvenile else "SACH"
                items = koha_items(v, lib, rng, counters, _call_number(v), itemtype)
                xml = xml_habits(_koha_marc(v, local, when, entered.strftime("%y%m%d"), items, itemtype,
                                            corrected=rng.random() < 0.3), nfd, old)
                identifier = f"oai:{repo}:{local}"
                sets = ["thieunhi"] if work.juvenile else ["sach"]
                base.write(json.dumps({"identifier": identifier, "datestamp": _stamp(when), "deleted": False,
                                       "sets": sets, "metadata": {"marc21": xml}}, ensure_ascii=False) + "\n")
                if idx in deleted:
                    record = {"identifier": identifier, "datestamp": NOW_PLACEHOLDER, "deleted": True, "sets": sets,
                              "metadata": {}}
                elif idx in changed:
                    stamp = DELTA_DAY + timedelta(seconds=drng.randrange(8 * 3600))
                    if drng.random() < 0.7:  # a copy checked out or returned: 952 $q and 005 change
                        new = _circulate(xml, stamp, drng)
                    else:
                        new = xml_habits(_koha_marc(edited(v, work, drng), local, stamp, entered.strftime("%y%m%d"),
                                                    items, itemtype, corrected=True), nfd, old)
                    record = {"identifier": identifier, "datestamp": NOW_PLACEHOLDER, "deleted": False,
                              "sets": sets, "metadata": {"marc21": new}}
                else:
                    continue
                delta.write(json.dumps({"line": idx, "record": record}, ensure_ascii=False) + "\n")
    else:
        folder = gen_dir / "drops"
        has_delta = bool(changed or deleted)
        with open(folder / f"{lib.id}.mrc", "wb") as base, \
                (open(folder / f"{lib.id}.delta.mrc", "wb") if has_delta else io.BytesIO()) as delta:
            for idx, wi in enumerate(ids):
                work = _WORKS[wi]
                local += 1 + (rng.randrange(1, 20) if rng.random() < 0.03 else 0)
                when = _START + timedelta(seconds=rng.randrange(_SPAN_S))
                v = describe(work, lib.habits, rng)
                nfd, old = rng.random() < lib.habits["nfd"], rng.random() < lib.habits["old_tones"]
                stats["nfd"] += nfd
                record = libol_iso2709(v, local, when, lib.name, nfd, old)
                base.write(record)
                if idx in deleted:
                    continue
                if idx in changed:
                    stamp = DELTA_DAY + timedelta(seconds=drng.randrange(8 * 3600))
                    record = libol_iso2709(edited(v, work, drng), local, stamp, lib.name, nfd, old)
                delta.write(record)
    return lib.id, stats


def generate(gen_dir: Path, libs: list[Lib], seed: int, workers: int) -> dict:
    """Every library's data and its next-day changes, in ``workers`` processes; returns the manifest."""
    if gen_dir.exists():
        shutil.rmtree(gen_dir)
    (gen_dir / "oai").mkdir(parents=True)
    (gen_dir / "drops").mkdir(parents=True)
    total = sum(lib.quota for lib in libs)
    n_changed, n_deleted = round(total * CHANGED_SHARE), round(total * DELETED_SHARE)
    picks = random.Random(f"{seed}:delta-pick").sample(range(total), n_changed + n_deleted)
    deleted_g, changed_g = set(picks[:n_deleted]), set(picks[n_deleted:])
    tasks, start = [], 0
    for lib in libs:
        span = range(start, start + lib.quota)
        tasks.append((lib, seed, [i - start for i in span if i in changed_g],
                      [i - start for i in span if i in deleted_g], gen_dir))
        start += lib.quota
    tasks.sort(key=lambda t: -t[0].quota)  # biggest first, so the workers finish together
    n_works = max(300, total // 3)
    log.info("generating %d records of %d works for %d libraries (seed %d) in %d processes", total, n_works,
             len(libs), seed, workers)
    started = time.monotonic()
    stats = {}
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_gen_init, initargs=(seed, n_works)) as pool:
        for done, (lib_id, s) in enumerate(pool.imap_unordered(_gen_library, tasks), start=1):
            stats[lib_id] = s
            if done % 25 == 0 or done == len(tasks):
                log.info("generated %d of %d libraries (%.0f s)", done, len(tasks), time.monotonic() - started)
    manifest = {"seed": seed, "records": total, "works": n_works, "changed": n_changed, "deleted": n_deleted,
                "libraries": {lib.id: stats[lib.id] for lib in libs},
                "generation_s": round(time.monotonic() - started, 1)}
    (gen_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    size = sum(p.stat().st_size for p in gen_dir.rglob("*") if p.is_file())
    log.info("generated in %.0f s: %.0f MB in %s", time.monotonic() - started, size / 1e6, gen_dir)
    return manifest


# --------------------------------------------------------------------------- helpers for the run
def rss_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(config_dir: Path, data_dir: Path, libs: list[Lib], endpoints: dict, drops_dir: Path,
                 workers: int) -> None:
    import yaml
    config_dir.mkdir(parents=True, exist_ok=True)
    settings = {"data_dir": str(data_dir), "search": {"engine": "embedded"},
                "api": {"host": "127.0.0.1", "port": 8080, "max_page_size": 100, "tokens": []},
                "harvest": {"max_retries": 5, "backoff_s": 2, "max_pages": 100000,
                            "allow_private_addresses": True},  # the bench's providers are on 127.0.0.1
                "scheduler": {"max_parallel_harvests": workers}}
    entries = []
    for lib in libs:
        entry = {"id": lib.id, "name": lib.name, "kind": lib.kind}
        if lib.parent:
            entry["parent"] = lib.parent
        if lib.protocol == "oai":
            entry.update(protocol="oai", endpoint=endpoints[lib.id], metadata_prefix="marc21", schedule="0 2 * * *",
                         branches=lib.branches)
        else:
            entry.update(protocol="file", path=str(drops_dir / lib.id), schedule="*/30 * * * *")
        entries.append(entry)
    (config_dir / "settings.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False),
                                              encoding="utf-8")
    (config_dir / "sources.yaml").write_text(
        "# written by bench/network.py for this run\n" +
        yaml.safe_dump({"libraries": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")


class _ThinProgress(logging.Filter):
    """The pipeline logs every 1000 records; keep one line in 50."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "normalized %d of %d" and record.args and record.args[0] % 50_000:
            return False
        return True


class Profiler:
    """With --profile: the chosen stages under cProfile, stats written next to the run."""

    def __init__(self, folder: Path | None, stages: set[str] = frozenset()):
        self.folder = folder
        self.stages = stages

    def on(self, name: str) -> bool:
        """``name`` is "<cycle>-<stage>"; a stage is chosen for both cycles ("dedup") or for one ("delta-dedup")."""
        return self.folder is not None and (name in self.stages or name.split("-", 1)[1] in self.stages)

    def run(self, name: str, fn, *args, **kwargs):
        if not self.on(name):
            return fn(*args, **kwargs)
        profile = cProfile.Profile()
        try:
            return profile.runcall(fn, *args, **kwargs)
        finally:
            self.folder.mkdir(parents=True, exist_ok=True)
            profile.dump_stats(self.folder / f"{name}.pstats")
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
            text.write("\n")
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(30)
            (self.folder / f"{name}.txt").write_text(text.getvalue())
            log.info("profile of %s written to %s", name, self.folder / f"{name}.txt")


def harvest_all(services, libs, workers: int, profiler: Profiler, label: str) -> dict:
    """pipeline.harvest_one for every library, ``workers`` at a time; per-protocol sums of library times."""
    from unionapi.pipeline import harvest_one
    config = services.config
    times: dict[str, float] = {}
    results = {}

    def one(lib_id: str):
        started = time.monotonic()
        try:
            results[lib_id] = harvest_one(services, config.library(lib_id))
        except Exception as exc:  # a failed harvest is a figure too
            log.exception("%s: harvest raised", lib_id)
            results[lib_id] = exc
        times[lib_id] = time.monotonic() - started

    order = [lib.id for lib in sorted(libs, key=lambda lib: -lib.quota)]
    if workers <= 1 or profiler.on(f"{label}-harvest"):
        profiler.run(f"{label}-harvest", lambda: [one(lib_id) for lib_id in order])
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="harvest") as pool:
            list(pool.map(one, order))
    summary = {"oai_s": 0.0, "file_s": 0.0, "added": 0, "updated": 0, "deleted": 0, "unchanged": 0,
               "quarantined": 0, "failed": []}
    protocol = {lib.id: lib.protocol for lib in libs}
    for lib_id, result in results.items():
        summary["oai_s" if protocol[lib_id] == "oai" else "file_s"] += times[lib_id]
        if isinstance(result, Exception) or result.outcome != "ok":
            summary["failed"].append((lib_id, str(result) if isinstance(result, Exception) else result.error))
            continue
        for name in ("added", "updated", "deleted", "unchanged", "quarantined"):
            summary[name] += getattr(result.counts, name)
    return summary


def cycle(services, libs, workers: int, profiler: Profiler, label: str, stop_after_normalize: bool = False) -> dict:
    """Harvest everything, then normalize -> deduplicate -> index what changed, each timed."""
    from storage.locks import hold
    from unionapi.pipeline import deduplicate_changes, index_changes, normalize_changes
    t0, c0 = time.monotonic(), time.process_time()
    log.info("[%s] harvesting %d libraries, %d at a time", label, len(libs), workers)
    harvest = harvest_all(services, libs, workers, profiler, label)
    t1, c1 = time.monotonic(), time.process_time()
    rss = {"harvest": _maxrss()}
    log.info("[%s] harvest done in %.1f s", label, t1 - t0)
    with hold(services.locks_dir, "pipeline", wait_s=3600):
        report = profiler.run(f"{label}-normalize", normalize_changes, services.config, services.raw,
                              services.catalogue)
        t2, c2 = time.monotonic(), time.process_time()
        rss["normalize"] = _maxrss()
        if stop_after_normalize:
            return {"harvest_s": t1 - t0, "normalize_s": t2 - t1, "cpu": {"harvest": c1 - c0, "normalize": c2 - c1},
                    "rss": rss, "harvest": harvest, "normalized": report.normalized, "rejected": report.rejected}
        profiler.run(f"{label}-dedup", deduplicate_changes, services.config, services.catalogue)
        t3, c3 = time.monotonic(), time.process_time()
        rss["dedup"] = _maxrss()
        log.info("[%s] deduplication done in %.1f s", label, t3 - t2)
        indexed = profiler.run(f"{label}-index", index_changes, services.catalogue, services.engine)
        t4, c4 = time.monotonic(), time.process_time()
        rss["index"] = _maxrss()
    return {"harvest_s": t1 - t0, "normalize_s": t2 - t1, "dedup_s": t3 - t2, "index_s": t4 - t3, "total_s": t4 - t0,
            "cpu": {"harvest": c1 - c0, "normalize": c2 - c1, "dedup": c3 - c2, "index": c4 - c3}, "rss": rss,
            "harvest": harvest, "normalized": report.normalized, "norm_deleted": report.deleted,
            "rejected": report.rejected, "indexed": indexed}


def cpu_line(label: str, result: dict) -> str:
    """CPU seconds of this process per stage (all its threads), beside the wall-clock figures: on a
    busy machine the difference is time spent waiting for a core (or, for the harvest, for the providers)."""
    return (f"[{label}] cpu seconds of the benchmark process: " +
            ", ".join(f"{k} {v:.1f}" for k, v in result["cpu"].items()) +
            "; its peak RSS (MB) after each stage: " + ", ".join(f"{k} {v:.0f}" for k, v in result["rss"].items()) +
            f"; load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _maxrss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_counts(services, expected: int, per_library: dict[str, int], label: str) -> bool:
    """The catalogue must hold every live record of the sources; a rejected record counts as missing (and is shown)."""
    catalogue, raw = services.catalogue, services.raw
    records = catalogue.db.execute("SELECT count(*) FROM records").fetchone()[0]
    rejected = catalogue.db.execute("SELECT count(*) FROM rejected").fetchone()[0]
    live_raw = raw.count()
    entries = catalogue.entry_count()
    indexed = services.engine.count()
    quarantined = raw.db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    dirty = catalogue.db.execute("SELECT count(*) FROM entries WHERE dirty != 0").fetchone()[0]
    print(f"[{label}] catalogue records={records} expected={expected} (raw live={live_raw}, rejected={rejected}, "
          f"quarantined={quarantined}) entries={entries} indexed={indexed} dirty_entries={dirty}", flush=True)
    ok = True
    if records != expected:
        ok = False
        print(f"[{label}] MISMATCH: the catalogue holds {records} records, the sources hold {expected} "
              f"(rejected by the normalizer: {rejected})", flush=True)
        counts = catalogue.record_counts()
        diffs = [(lib, counts.get(lib, 0), want) for lib, want in per_library.items() if counts.get(lib, 0) != want]
        for lib, have, want in diffs[:20]:
            print(f"[{label}] MISMATCH   {lib}: catalogue {have}, source {want}", flush=True)
        if len(diffs) > 20:
            print(f"[{label}] MISMATCH   ... and {len(diffs) - 20} more libraries", flush=True)
    if live_raw != expected:
        ok = False
        print(f"[{label}] MISMATCH: the raw store holds {live_raw} live records, the sources hold {expected}",
              flush=True)
    if indexed != entries:
        ok = False
        print(f"[{label}] MISMATCH: the index holds {indexed} entries, the catalogue {entries}", flush=True)
    return ok


def serve_delta(gen_dir: Path, serve_dir: Path, drops_dir: Path, libs: list[Lib], manifest: dict) -> list[str]:
    """The next day at every library (not timed): providers' files with the changes, replaced exports.

    Returns the ids of the OAI libraries whose file changed (their providers reload it)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    changed_oai = []
    for lib in libs:
        stats = manifest["libraries"][lib.id]
        if not (stats["changed"] or stats["deleted"]):
            continue
        if lib.protocol == "oai":
            replacements = {}
            with open(gen_dir / "oai" / f"{lib.id}.delta.jsonl", encoding="utf-8") as f:
                for line in f:
                    item = json.loads(line)
                    item["record"]["datestamp"] = now
                    replacements[item["line"]] = json.dumps(item["record"], ensure_ascii=False) + "\n"
            target = serve_dir / f"{lib.id}.jsonl"
            tmp = serve_dir / f".{lib.id}.jsonl.tmp"
            with open(gen_dir / "oai" / f"{lib.id}.jsonl", encoding="utf-8") as src, \
                    open(tmp, "w", encoding="utf-8") as out:
                for number, line in enumerate(src):
                    out.write(replacements.get(number, line))
            os.replace(tmp, target)
            changed_oai.append(lib.id)
        else:
            folder = drops_dir / lib.id
            tmp = folder / ".export.tmp"
            shutil.copyfile(gen_dir / "drops" / f"{lib.id}.delta.mrc", tmp)
            os.utime(tmp, (time.time() - 3600,) * 2)  # the new export finished an hour ago: settled
            os.replace(tmp, folder / EXPORT_NAME)
    return changed_oai


def sample_queries(services, libs: list[Lib], count: int, seed: int) -> list[str]:
    """A mix of patron requests, from records of the catalogue (popular books come up more often)."""
    from normalizer.text import fold
    from unionapi.search import words
    rng = random.Random(f"{seed}:queries")
    db = services.catalogue.db
    top = db.execute("SELECT max(rowid) FROM records").fetchone()[0] or 0
    rowids = sorted(rng.sample(range(1, top + 1), min(top, count * 2)))
    rows = []
    for start in range(0, len(rowids), 500):
        chunk = rowids[start:start + 500]
        rows += db.execute(f"SELECT entry_id, data FROM records WHERE rowid IN ({','.join('?' * len(chunk))})",
                           chunk).fetchall()
    rng.shuffle(rows)
    kinds = ["title_folded"] * 25 + ["title_exact"] * 15 + ["author"] * 15 + ["isbn"] * 10 + ["library"] * 15 + \
            ["page2"] * 10 + ["record"] * 10
    out = []
    for entry_id, data in rows:
        if len(out) >= count:
            break
        record = json.loads(data)
        title_words = words(record["title"])
        kind = rng.choice(kinds)
        if kind == "record":
            out.append(f"/api/entries/{entry_id}")
            continue
        if kind == "isbn":
            if not record["isbns"]:
                continue
            out.append("/api/search?" + urlencode({"q": rng.choice(record["isbns"])}))
            continue
        if kind == "author":
            if not record["authors"]:
                continue
            name = record["authors"][0]["name"]
            out.append("/api/search?" + urlencode({"q": fold(name) if rng.random() < 0.5 else name}))
            continue
        if not title_words:
            continue
        n = min(len(title_words), rng.randint(2, 3))
        start = rng.randrange(len(title_words) - n + 1)
        phrase = " ".join(title_words[start:start + n])
        if kind == "title_exact":
            out.append("/api/search?" + urlencode({"q": phrase}))
        elif kind == "title_folded":
            out.append("/api/search?" + urlencode({"q": fold(phrase)}))
        elif kind == "library":
            lib = record["library"] if rng.random() < 0.7 else rng.choice(libs).id
            out.append("/api/search?" + urlencode({"q": fold(title_words[0]), "library": lib}))
        else:  # page 2 of a short, broad query
            out.append("/api/search?" + urlencode({"q": fold(title_words[0]), "page": 2}))
    return out


def start_server(config_dir: Path, port: int, threads: int, log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "serve", "--host", "127.0.0.1",
           "--port", str(port), "--threads", str(threads)]
    log.info("starting the API: %s", " ".join(cmd))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT)


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the API server did not answer /api/health within {timeout:.0f} s")


def verdict(name: str, ok: bool, shown: str) -> str:
    return f"target {name}: {'MET' if ok else 'MISSED'} ({shown})"


# --------------------------------------------------------------------------- the run
def run(args) -> int:
    from config import load_config
    from unionapi.demo.provider import start_repositories
    from unionapi.services import Services

    for name in ENV_OVERRIDES:
        os.environ.pop(name, None)
    out = OUT / f"network-{args.records}"
    gen_dir = out / "gen"
    libs = layout(args.records, args.seed)
    marker = gen_dir / f"generated-{GEN_VERSION}-{args.seed}-{args.records}"
    if marker.exists():
        manifest = json.loads((gen_dir / "manifest.json").read_text())
        log.info("reusing the generated network in %s (%d records, seed %d)", gen_dir, manifest["records"], args.seed)
    else:
        manifest = generate(gen_dir, libs, args.seed, args.gen_workers)
        marker.touch()
    total, n_changed, n_deleted = manifest["records"], manifest["changed"], manifest["deleted"]
    n_oai = sum(lib.quota for lib in libs if lib.protocol == "oai")
    print(f"network: {len(libs)} libraries ({sum(lib.protocol == 'oai' for lib in libs)} over OAI-PMH holding "
          f"{n_oai} records, {sum(lib.protocol == 'file' for lib in libs)} export drops holding {total - n_oai}); "
          f"{manifest['works']} works; generated in {manifest['generation_s']} s (not timed)", flush=True)
    import hashlib
    import importlib
    importlib.import_module("unionapi.clusters")  # now: the code measured is the code of this moment
    versions = " ".join(f"{name}={hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:10]}"
                        for name in ("unionapi/clusters.py", "normalizer/dedup.py", "unionapi/pipeline.py",
                                     "harvester/rawstore.py"))
    print(f"code: {versions}", flush=True)
    print(f"machine: {os.cpu_count()} cores; load average before the run "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine slows every figure)",
          flush=True)

    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    data_dir, serve_dir, drops_dir, logs = (run_dir / "data", run_dir / "serve", run_dir / "drops",
                                            run_dir / "logs")
    for folder in (data_dir, serve_dir, drops_dir, logs):
        folder.mkdir(parents=True)
    for lib in libs:
        if lib.protocol == "oai":
            os.link(gen_dir / "oai" / f"{lib.id}.jsonl", serve_dir / f"{lib.id}.jsonl")
        else:
            (drops_dir / lib.id).mkdir()
            export = drops_dir / lib.id / EXPORT_NAME
            shutil.copyfile(gen_dir / "drops" / f"{lib.id}.mrc", export)
            os.utime(export, (time.time() - 3600,) * 2)  # finished an hour ago, as the demo does
    stages = {"harvest", "normalize", "dedup", "index"}
    known = stages | {f"{cycle_name}-{stage}" for cycle_name in ("full", "delta") for stage in stages}
    wanted = stages if args.profile == "all" else set((args.profile or "").split(",")) - {""}
    if wanted - known:
        raise SystemExit(f"--profile: unknown stage(s) {', '.join(sorted(wanted - known))}; "
                         f"known: {', '.join(sorted(stages))}, or one cycle's, e.g. delta-dedup")
    profiler = Profiler(out / "profile" if wanted else None, wanted)
    if wanted:
        print(f"profiling {', '.join(sorted(wanted))} (their figures include cProfile's overhead"
              f"{'; the harvest runs one library at a time' if wanted & {'harvest', 'full-harvest', 'delta-harvest'} else ''})", flush=True)
    figures: dict = {}
    peaks: dict = {}

    with ExitStack() as stack:
        # -- the libraries' own servers (not timed: they are the libraries', not ours). Every library is a
        # repository of its own (its own URL, Identify, datestamps); --provider-processes processes serve them.
        oai_libs = [lib for lib in libs if lib.protocol == "oai"]
        started = time.monotonic()
        groups: list[list[Lib]] = [[] for _ in range(max(1, min(args.provider_processes, len(oai_libs))))]
        for lib in sorted(oai_libs, key=lambda lib: -lib.quota):  # balanced by records
            min(groups, key=lambda g: sum(x.quota for x in g)).append(lib)
        providers = {}  # process number -> ProviderProcess
        serving = {}  # library id -> process number

        def start(number: int):
            repos = {lib.id: {"data": serve_dir / f"{lib.id}.jsonl", "name": lib.name, "formats": ["marc21"]}
                     for lib in groups[number]}
            providers[number] = start_repositories(repos, run_dir / f"providers-{number}.json", port=0,
                                                   page_size=args.page_size,
                                                   log_path=logs / f"provider-{number}.log", timeout=1800)
            serving.update((lib.id, number) for lib in groups[number])

        try:
            with ThreadPoolExecutor(len(groups)) as pool:
                list(pool.map(start, range(len(groups))))
        finally:
            for provider in providers.values():
                stack.callback(provider.stop)
        log.info("%d OAI-PMH repositories served by %d provider processes, up in %.0f s (page size %d)",
                 len(serving), len(providers), time.monotonic() - started, args.page_size)
        endpoints = {lib_id: providers[number].url_for(lib_id) for lib_id, number in serving.items()}
        config_dir = run_dir / "config"
        write_config(config_dir, data_dir, libs, endpoints, drops_dir, args.harvest_workers)
        config = load_config(config_dir)
        services = Services.open(config)
        stack.callback(services.close)

        # -- the full build
        if args.stop_after_normalize:
            part = cycle(services, libs, args.harvest_workers, profiler, "full", stop_after_normalize=True)
            print(cpu_line("full", part), flush=True)
            print(f"records={total} harvest_s={part['harvest_s']:.1f} normalize_s={part['normalize_s']:.1f} "
                  f"(stopped after normalize: normalized {part['normalized']}, rejected {part['rejected']}; no dedup, "
                  "index, delta or API)", flush=True)
            return 0
        full = cycle(services, libs, args.harvest_workers, profiler, "full")
        peaks["self"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        h = full["harvest"]
        print(f"[full] harvest: {h['added']} added, {h['updated']} updated, {h['deleted']} deleted, "
              f"{h['quarantined']} quarantined; library-seconds: OAI {h['oai_s']:.0f} s, drops {h['file_s']:.0f} s; "
              f"normalized {full['normalized']}, rejected {full['rejected']}; {full['indexed']} entries indexed",
              flush=True)
        for lib_id, error in h["failed"]:
            print(f"[full] HARVEST FAILED {lib_id}: {error}", flush=True)
        print(cpu_line("full", full), flush=True)
        check_counts(services, total, {k: s["records"] for k, s in manifest["libraries"].items()}, "full")
        figures["full"] = full
        print(f"records={total} harvest_s={full['harvest_s']:.1f} normalize_s={full['normalize_s']:.1f} "
              f"dedup_s={full['dedup_s']:.1f} index_s={full['index_s']:.1f} total_s={full['total_s']:.1f} "
              f"peak_rss_mb={peaks['self']:.0f}", flush=True)

        # -- the next day
        if not args.skip_delta:
            started = time.monotonic()
            changed_oai = serve_delta(gen_dir, serve_dir, drops_dir, libs, manifest)
            for lib_id in changed_oai:  # let each repository reload its file before the clock starts
                url = urlsplit(endpoints[lib_id])
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
                conn.request("GET", f"{url.path}?verb=Identify")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status != 200:
                    print(f"[delta] the provider of {lib_id} answered HTTP {response.status} to Identify", flush=True)
            log.info("the next day's changes are at the sources (%d providers reloaded) in %.0f s (not timed)",
                     len(changed_oai), time.monotonic() - started)
            time.sleep(1.1)  # the OAI datestamps of the changes are this second: be past it
            delta = cycle(services, libs, args.harvest_workers, profiler, "delta")
            h = delta["harvest"]
            oai_changed = sum(manifest["libraries"][lib.id]["changed"] for lib in oai_libs)
            oai_deleted = sum(manifest["libraries"][lib.id]["deleted"] for lib in oai_libs)
            print(f"[delta] harvest: {h['added']} added, {h['updated']} updated (expected {n_changed}: "
                  f"{oai_changed} OAI, {n_changed - oai_changed} drops), {h['deleted']} deleted (expected {n_deleted}: "
                  f"{oai_deleted} OAI, {n_deleted - oai_deleted} drops), {h['unchanged']} unchanged, "
                  f"{h['quarantined']} quarantined; library-seconds: OAI {h['oai_s']:.1f} s, drops {h['file_s']:.1f} s",
                  flush=True)
            print(f"[delta] stages: harvest_s={delta['harvest_s']:.1f} normalize_s={delta['normalize_s']:.1f} "
                  f"dedup_s={delta['dedup_s']:.1f} index_s={delta['index_s']:.1f}; normalized {delta['normalized']}, "
                  f"deletions {delta['norm_deleted']}, rejected {delta['rejected']}; {delta['indexed']} entries "
                  "reindexed", flush=True)
            print(cpu_line("delta", delta), flush=True)
            for lib_id, error in h["failed"]:
                print(f"[delta] HARVEST FAILED {lib_id}: {error}", flush=True)
            if h["updated"] != n_changed or h["deleted"] != n_deleted or h["added"]:
                print(f"[delta] MISMATCH: the incremental harvest saw {h['added']} added, {h['updated']} updated, "
                      f"{h['deleted']} deleted; the sources changed {n_changed} and deleted {n_deleted}", flush=True)
            per_lib = {}
            for lib in libs:
                s = manifest["libraries"][lib.id]
                per_lib[lib.id] = s["records"] - s["deleted"]
            check_counts(services, total - n_deleted, per_lib, "delta")
            figures["delta"] = delta
            print(f"delta_records={n_changed + n_deleted} delta_total_s={delta['total_s']:.1f}", flush=True)

        queries = sample_queries(services, libs, args.queries, args.seed)
        services.close()
        provider_peaks = {number: rss_hwm_mb(p.proc.pid) for number, p in providers.items()}
        for provider in providers.values():
            provider.stop()
        known = [v for v in provider_peaks.values() if v]
        if known:
            peaks["providers_sum"], peaks["providers_max"] = sum(known), max(known)

        # -- the API under load, from another process
        if not args.skip_api:
            queries_file = run_dir / "queries.txt"
            queries_file.write_text("\n".join(queries) + "\n", encoding="utf-8")
            port = free_port()
            server = start_server(config_dir, port, args.server_threads, logs / "server.log")
            stack.callback(terminate, server, 15)
            health = wait_healthy(port, server)
            log.info("API up on port %d: %s", port, health)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--load-worker", "--url",
                   f"http://127.0.0.1:{port}", "--queries-file", str(queries_file),
                   "--api-seconds", str(args.api_seconds),
                   "--api-warmup", str(args.api_warmup), "--clients", str(args.clients), "--seed", str(args.seed)]
            log.info("API load: %d clients, %.0f s warm-up, %.0f s measured, %d distinct requests", args.clients,
                     args.api_warmup, args.api_seconds, len(set(queries)))
            done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            peaks["server"] = rss_hwm_mb(server.pid)
            terminate(server, 15)
            if done.returncode != 0:
                print(f"API load process failed with code {done.returncode}", flush=True)
            else:
                api = json.loads(done.stdout.strip().splitlines()[-1])
                figures["api"] = api
                peaks["load"] = api["peak_rss_mb"]
                print(f"[api] {api['requests']} requests in {api['seconds']:.0f} s measured; by kind (p50/p99 ms): "
                      + ", ".join(f"{k} {v['n']}x {v['p50_ms']:.0f}/{v['p99_ms']:.0f}" for k, v in api['kinds'].items())
                      + f"; warm-up errors {api['warmup_errors']}" + (f"; first errors: {api['error_samples']}"
                                                                      if api["error_samples"] else "")
                      + f"; load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
                print(f"api_qps={api['qps']:.1f} p50_ms={api['p50_ms']:.1f} p99_ms={api['p99_ms']:.1f} "
                      f"errors={api['errors']}", flush=True)

    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("peak rss (MB): benchmark process (harvest+pipeline) {:.0f}; OAI providers {}; API server {}; "
          "load process {}; RUSAGE_CHILDREN max {:.0f} (see the docstring)".format(
              peaks["self"],
              f"sum {peaks['providers_sum']:.0f} (largest {peaks['providers_max']:.0f}, {len(providers)} processes)"
              if "providers_sum" in peaks else "?",
              f"{peaks['server']:.0f}" if peaks.get("server") else "-",
              f"{peaks['load']:.0f}" if peaks.get("load") else "-", children), flush=True)
    full = figures["full"]
    print(verdict(f"full_build<={TARGETS['full_build_s']}s", full["total_s"] <= TARGETS["full_build_s"],
                  f"{full['total_s']:.0f} s"), flush=True)
    if "delta" in figures:
        d = figures["delta"]["total_s"]
        print(verdict(f"delta<={TARGETS['delta_s']}s", d <= TARGETS["delta_s"], f"{d:.1f} s"), flush=True)
    if "api" in figures:
        api = figures["api"]
        print(verdict(f"api_qps>={TARGETS['api_qps']}", api["qps"] >= TARGETS["api_qps"], f"{api['qps']:.1f} q/s"),
              flush=True)
        print(verdict(f"api_p99<{TARGETS['api_p99_ms']}ms", api["p99_ms"] < TARGETS["api_p99_ms"],
                      f"{api['p99_ms']:.1f} ms"), flush=True)
        print(verdict("api_errors=0", api["errors"] == 0, f"{api['errors']} errors"), flush=True)
    return 0


# --------------------------------------------------------------------------- the load process
def load_worker(args) -> int:
    """Runs in its own process: ``clients`` keep-alive connections, warm-up, then the measured window."""
    queries = [line for line in Path(args.queries_file).read_text(encoding="utf-8").splitlines() if line]
    url = urlsplit(args.url)
    host, port = url.hostname, url.port
    begin = time.monotonic() + 0.2
    measure_from = begin + args.api_warmup
    end = measure_from + args.api_seconds
    results = [[] for _ in range(args.clients)]  # (kind, seconds, ok)
    warm_errors = [0] * args.clients
    error_samples: list[str] = []

    def kind_of(path: str) -> str:
        if path.startswith("/api/entries/"):
            return "record"
        if "library=" in path:
            return "library"
        if "page=2" in path:
            return "page2"
        q = path.split("q=", 1)[1].split("&", 1)[0]
        if q.isdigit():
            return "isbn"
        return "search"

    def client(k: int) -> None:
        rng = random.Random(f"{args.seed}:client:{k}")
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while time.monotonic() < begin:
            time.sleep(0.01)
        while True:
            t = time.monotonic()
            if t >= end:
                break
            path = rng.choice(queries)
            ok, problem = False, None
            try:
                conn.request("GET", path, headers={"Accept": "application/json"})
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
                if not ok:
                    problem = f"HTTP {response.status} for {path}"
                if response.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=60)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc} for {path}"
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
            done = time.monotonic()
            if problem and len(error_samples) < 5:
                error_samples.append(problem)
            if t >= measure_from and done <= end:
                results[k].append((kind_of(path), done - t, ok))
            elif t < measure_from and not ok:
                warm_errors[k] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [r for rs in results for r in rs]
    latencies = sorted(r[1] for r in everything)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    kinds = {}
    for name in sorted({r[0] for r in everything}):
        values = sorted(r[1] for r in everything if r[0] == name)
        kinds[name] = {"n": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99)}
    print(json.dumps({"requests": len(everything), "seconds": args.api_seconds,
                      "qps": len(everything) / args.api_seconds, "p50_ms": pct(latencies, 0.5),
                      "p99_ms": pct(latencies, 0.99), "errors": sum(1 for r in everything if not r[2]),
                      "warmup_errors": sum(warm_errors), "error_samples": error_samples, "kinds": kinds,
                      "peak_rss_mb": rss_hwm_mb(os.getpid())}), flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--skip-api", action="store_true", help="stop after the delta")
    parser.add_argument("--skip-delta", action="store_true", help="no daily delta")
    parser.add_argument("--api-seconds", type=float, default=30.0, help="measured seconds of API load (default 30)")
    parser.add_argument("--api-warmup", type=float, default=5.0, help="warm-up seconds before measuring (default 5)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients (default 8)")
    parser.add_argument("--server-threads", type=int, default=8,
                        help="waitress threads of `unioncat serve` (default 8)")
    parser.add_argument("--queries", type=int, default=3000, help="distinct requests sampled for the load")
    parser.add_argument("--harvest-workers", type=int, default=2,
                        help="libraries harvested at once (default 2, the scheduler's max_parallel_harvests)")
    parser.add_argument("--page-size", type=int, default=500, help="OAI-PMH records per page (default 500)")
    parser.add_argument("--provider-processes", type=int, default=2,
                        help="processes serving the 31 OAI-PMH repositories (default 2)")
    parser.add_argument("--gen-workers", type=int, default=2, help="processes generating the network (default 2)")
    parser.add_argument("--profile", nargs="?", const="all", metavar="STAGES",
                        help="cProfile the stages (all, or e.g. harvest,normalize,index, or one cycle's: delta-dedup; the harvest then runs one "
                             "library at a time) into bench/out/network-<records>/profile/; figures include the "
                             "profiler's overhead")
    parser.add_argument("--stop-after-normalize", action="store_true",
                        help="only harvest and normalize (e.g. to profile those two at scale quickly)")
    parser.add_argument("--load-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_worker:
        return load_worker(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    for noisy in ("urllib3", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("unioncat.pipeline").addFilter(_ThinProgress())
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
