"""The network at full scale, for benchmarking the whole chain (``bench/network.py``).

One provincial library (20% of the records), 30 district and commune libraries (1.5% each) and
200 school libraries (0.175% each). Popularity follows a zipf-like law over ``records / 3`` works
(the demo network's books first, then more varied titles), so a few books are held nearly
everywhere and most by one or two libraries. Every library has its own cataloguing habits, drawn
from the seed. The provincial and district/commune libraries are Koha-style MARC21 for OAI-PMH
providers; the schools are Libol-style ISO2709 exports.

``generate`` writes, for a size and a seed, in child processes:

- ``oai/<library>.jsonl``: the provider records (as ``network.save_records`` writes them) and
  ``oai/<library>.delta.jsonl``: the next day's records, ``{"line": n, "record": {...}}``, whose
  datestamp (``NOW_PLACEHOLDER``) is for whoever serves them to set;
- ``drops/<library>.mrc``: the export, and ``drops/<library>.delta.mrc``: the next day's export;
- ``manifest.json``: the sizes, and per library its records, changes and deletions.

The next day 1% of the records change (Koha: a copy checked out or returned, or a cataloguer's
edit; Libol: an edit) and 0.1% are deleted, spread over all libraries.
"""
from __future__ import annotations

import io
import itertools
import json
import logging
import multiprocessing
import random
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from normalizer.ids import isbn13_to_10
from unionapi.demo.books import (
    GENERATED_MIX, PUBLISHERS, TITLE_WORDS, Person, Work, build_works as build_demo_works, generated_title,
    hyphenate_isbn, isbn13_check_digit, random_person, recent_year)
from unionapi.demo.records import (
    SPAN_S, START, call_number, circulate, description, koha_items, koha_marc, libol_iso2709, list_price,
    retyped_marc, stamp)

log = logging.getLogger("unioncat.demo")
VERSION = "v1"  # of what ``generate`` writes, for those who keep it: change it when the output changes
NOW_PLACEHOLDER = "@NOW@"  # the OAI datestamp of a changed record, set when the delta is served
DELTA_DAY = datetime(2026, 11, 23, 1, 0, 0)  # 005 of the changed records: the next morning
CHANGED_SHARE, DELETED_SHARE = 0.01, 0.001

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


# --------------------------------------------------------------------------- the libraries
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
def build_works(seed: int, count: int) -> list[Work]:
    """``count`` works, most popular first: the demo's books (classics, translations, English books,
    near-twin titles, demo-style titles), then a long tail of more varied titles."""
    rng = random.Random(f"{seed}:works")
    head = build_demo_works(random.Random(f"{seed}:head"), max(200, min(3000, count // 20)))
    wids = itertools.count(len(head) + 1)
    head.sort(key=lambda w: -w.weight)  # stable: classics, then translations, ...
    works = head[:count]
    used = {w.isbn[:12] for w in works if w.isbn}
    cats = list(GENERATED_MIX)
    cat_weights = [GENERATED_MIX[c] for c in cats]
    people: dict[str, Person] = {}

    def person() -> Person:
        p = random_person(rng)
        return people.setdefault(p.heading, p)

    while len(works) < count:
        cat = rng.choices(cats, cat_weights)[0]
        title, sub, subjects, ddc, pubs, form, (lo, hi) = generated_title(rng, cat)
        if rng.random() < 0.85:  # the demo's titles are few; real catalogues are more varied
            title += " " + " ".join(rng.choice(TITLE_WORDS) for _ in range(rng.randint(1, 3)))
            if rng.random() < 0.3:
                title += " về " + rng.choice(TOPICS)
        authors = [person() for _ in range(1 if cat in ("vh", "tn", "hcm") else rng.choice([1, 1, 2, 3]))]
        if cat == "tn" and ddc.startswith("398"):
            authors = []
        translator = person() if not authors else None
        year = recent_year(rng)
        isbn, registrant = None, ""
        if year >= 2007 and rng.random() < 0.93:
            while True:
                registrant = str(rng.randrange(10, 100))
                body = "978604" + registrant + f"{rng.randrange(10000):04d}"
                if body not in used:
                    used.add(body)
                    isbn = body + isbn13_check_digit(body)
                    break
        works.append(Work(
            wid=next(wids), title=title, subtitle=sub, authors=authors, category=cat, publisher=rng.choice(pubs),
            year=year, ddc=ddc, pages=rng.randint(lo, hi), subjects=subjects, lit_form=form,
            translator=translator, role="kể" if translator else "dịch",
            edition=f"Tái bản lần thứ {rng.randint(1, 5)}" if rng.random() < 0.05 else None,
            isbn=isbn, registrant=registrant, size=rng.choice([19, 21, 24, 27]) if cat == "tn" else 21,
            illus=cat in ("tn", "nn", "yt") or rng.random() < 0.1, juvenile=cat == "tn"))
    return works


# --------------------------------------------------------------------------- one library's description
def describe(work: Work, h: dict, rng: random.Random) -> dict:
    """The library's description of ``work`` (see ``records.description``), in its habits ``h``."""
    r = rng.random
    full, short, place, reg = PUBLISHERS.get(work.publisher, (work.publisher, work.publisher, work.place, ""))
    if work.place:
        place = work.place
    reg = work.registrant or reg
    isbn = None
    if work.isbn and r() >= h["no_isbn"]:
        x = r()
        if x < h["isbn_hyph"]:
            isbn = hyphenate_isbn(work.isbn, len(reg)) if reg else work.isbn
        elif x < h["isbn_hyph"] + h["isbn10"] and work.isbn.startswith("978"):
            isbn = isbn13_to_10(work.isbn)
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
    price = f"{list_price(work.pages)}đ" if r() < h["price"] else None
    bad_isbn = bool(work.isbn) and r() < h["bad_isbn"]
    use264 = work.year >= 2015 and r() < h["use264"]
    return description(work, isbn=isbn, subtitle=subtitle, comma=comma, publisher=publisher, place=place,
                       year=year, price=price, bad_isbn=bad_isbn, use264=use264)


def edited(v: dict, work: Work, rng: random.Random) -> dict:
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


def _items(v: dict, lib: Lib, rng: random.Random, counters: dict, call_no: str, itemtype: str) -> list:
    """Koha 952 items, as the demo network makes them, for this library's branches."""
    return koha_items(v, rng, counters, call_no, itemtype, provincial=lib.kind == "provincial",
                      branches=list(lib.branches), barcode_prefix=lambda home: home.replace("-", "")[:3])


# --------------------------------------------------------------------------- generation (child processes)
_WORKS: list[Work] = []
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
        bulk = START + timedelta(hours=1, minutes=30, days=rng.randrange(0, 20))
        with open(gen_dir / "oai" / f"{lib.id}.jsonl", "w", encoding="utf-8") as base, \
                open(gen_dir / "oai" / f"{lib.id}.delta.jsonl", "w", encoding="utf-8") as delta:
            for idx, wi in enumerate(ids):
                work = _WORKS[wi]
                local += 1 + (rng.randrange(1, 20) if rng.random() < 0.03 else 0)
                when = bulk if rng.random() < 0.08 else START + timedelta(seconds=rng.randrange(SPAN_S))
                v = describe(work, lib.habits, rng)
                nfd, old = rng.random() < lib.habits["nfd"], rng.random() < lib.habits["old_tones"]
                stats["nfd"] += nfd
                entered = min(date(max(work.year, 2008), 1, 1) + timedelta(days=rng.randrange(0, 360)), when.date())
                itemtype = "STN" if work.juvenile else "SACH"
                items = _items(v, lib, rng, counters, call_number(v), itemtype)
                xml = retyped_marc(koha_marc(v, local, when, entered.strftime("%y%m%d"), items, itemtype,
                                             corrected=rng.random() < 0.3), nfd, old)
                identifier = f"oai:{repo}:{local}"
                sets = ["thieunhi"] if work.juvenile else ["sach"]
                base.write(json.dumps({"identifier": identifier, "datestamp": stamp(when), "deleted": False,
                                       "sets": sets, "metadata": {"marc21": xml}}, ensure_ascii=False) + "\n")
                if idx in deleted:
                    record = {"identifier": identifier, "datestamp": NOW_PLACEHOLDER, "deleted": True, "sets": sets,
                              "metadata": {}}
                elif idx in changed:
                    changed_at = DELTA_DAY + timedelta(seconds=drng.randrange(8 * 3600))
                    if drng.random() < 0.7:  # a copy checked out or returned: 952 $q and 005 change
                        new = circulate(xml, changed_at, drng)
                    else:
                        new = retyped_marc(koha_marc(edited(v, work, drng), local, changed_at,
                                                     entered.strftime("%y%m%d"), items, itemtype, corrected=True),
                                           nfd, old)
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
                when = START + timedelta(seconds=rng.randrange(SPAN_S))
                v = describe(work, lib.habits, rng)
                nfd, old = rng.random() < lib.habits["nfd"], rng.random() < lib.habits["old_tones"]
                stats["nfd"] += nfd
                record = libol_iso2709(v, local, when, lib.name, nfd, old)
                base.write(record)
                if idx in deleted:
                    continue
                if idx in changed:
                    changed_at = DELTA_DAY + timedelta(seconds=drng.randrange(8 * 3600))
                    record = libol_iso2709(edited(v, work, drng), local, changed_at, lib.name, nfd, old)
                delta.write(record)
    return lib.id, stats


def generate(gen_dir: Path, records: int, seed: int, workers: int) -> dict:
    """Every library's data and its next-day changes, in ``workers`` processes; returns the manifest."""
    libs = layout(records, seed)
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
