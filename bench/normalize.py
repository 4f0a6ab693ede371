"""Benchmark: our streaming MARCXML path against pymarc's, on >=100k synthetic Vietnamese records.

    python bench/normalize.py [--records 100000] [--repeat 3] [--baseline-repeat 3]

Generates (fixed seed, reused when present) bench/out/vn_repair5_<N>.xml, where about 5% of the
records need repair (a TCVN3 or VNI title read as Windows-1252, a UTF-8 mojibake title, or NFD
author/subject fields), then times (a) iter_marcxml + canonical_from_marc and (b)
pymarc.parse_xml_to_array + from_pymarc + canonical_from_marc over every record, all repairs
enabled in both; medians of the repeats. Last line:
``records_per_s=N baseline_records_per_s=M ratio=R``.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymarc  # noqa: E402

from normalizer import canonical_from_marc, from_pymarc, iter_marcxml  # noqa: E402
from normalizer.records import RejectedRecord, SourceContext  # noqa: E402
from normalizer.vn_tables import TCVN3, VNI  # noqa: E402
from unionapi.demo.books import TITLE_WORDS, hyphenate_isbn, isbn13_check_digit  # noqa: E402

TO_TCVN3 = {ch: bytes([b]) for b, ch in TCVN3.items() if b >= 0x80 and ch.isalpha()}
REPAIR_SHARE = 0.05

OUT = Path(__file__).resolve().parent / "out"

FAMILY = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Trương".split()
MIDDLE = "Văn Thị Hữu Đức Minh Ngọc Thanh Quang Xuân Kim Thu Gia".split()
GIVEN = "An Bình Chi Dũng Hà Hải Hạnh Hòa Hùng Hương Khánh Lan Linh Long Mai Nam Phong Phương Quân Sơn Tâm " \
        "Thảo Thắng Trang Trung Tuấn Việt Yến".split()
SUBJECTS = ["Văn học Việt Nam", "Lịch sử", "Kinh tế", "Giáo dục", "Nông nghiệp", "Y học", "Thiếu nhi",
            "Truyện ngắn", "Tiểu thuyết", "Pháp luật", "Tin học", "Địa lý", "Văn hóa dân gian", "Toán học"]
PLACES = ["Hà Nội", "Tp. Hồ Chí Minh", "Huế", "Đà Nẵng", "Cần Thơ", "Hải Phòng", "Nghệ An"]
PUBLISHERS = ["Nxb. Kim Đồng", "Nxb. Giáo dục Việt Nam", "Nxb. Trẻ", "Nxb. Văn học", "Nxb. Chính trị quốc gia",
              "Nxb. Khoa học xã hội", "Nxb. Hội Nhà văn", "Nxb. Đại học Quốc gia Hà Nội"]
BRANCHES = ["TT", "TN", "HX", "LD", "BT"]
ROLES = ["biên soạn", "dịch", "minh họa", "chủ biên", "hiệu đính"]


def person_name(rnd: random.Random) -> str:
    return f"{rnd.choice(FAMILY)} {rnd.choice(MIDDLE)} {rnd.choice(GIVEN)}"


def isbn13(rnd: random.Random) -> str:
    """A hyphenated 978-604 ISBN with a two-digit registrant, any of them."""
    body = "978604" + "".join(rnd.choice("0123456789") for _ in range(6))
    return hyphenate_isbn(body + isbn13_check_digit(body), 2)


def df(tag: str, ind: str, *subs: tuple[str, str]) -> str:
    inner = "".join(f'<subfield code="{c}">{escape(v)}</subfield>' for c, v in subs)
    return f'  <datafield tag="{tag}" ind1="{ind[0]}" ind2="{ind[1]}">{inner}</datafield>\n'


def as_cp1252(data: bytes) -> str:
    """What a Windows-1252 system makes of these bytes (undefined positions fall back to Latin-1)."""
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in data)


def damage(title: str, rnd: random.Random) -> tuple[str, bool]:
    """A title as a broken export delivers it: legacy 8-bit bytes or UTF-8 read as Windows-1252."""
    kind = rnd.choice(["tcvn3", "vni", "mojibake", "nfd"])
    if kind == "tcvn3":
        return as_cp1252(b"".join(TO_TCVN3.get(ch) or ch.encode("ascii") for ch in title)), False
    if kind == "vni":
        return as_cp1252(b"".join(VNI.get(ch) or ch.encode("ascii") for ch in title)), False
    if kind == "mojibake":
        return as_cp1252(title.encode("utf-8")), False
    return unicodedata.normalize("NFD", title), True


def record(i: int, rnd: random.Random) -> str:
    year = rnd.randint(1975, 2024)
    title = " ".join(rnd.choice(TITLE_WORDS) for _ in range(rnd.randint(2, 6))).capitalize()
    author = person_name(rnd)
    nfd = False
    if rnd.random() < REPAIR_SHARE:
        title, nfd = damage(title, rnd)
        author = unicodedata.normalize("NFD", author) if nfd else author
    out = ["<record>\n  <leader>00000nam a2200000 a 4500</leader>\n",
           f'  <controlfield tag="001">{i}</controlfield>\n',
           f'  <controlfield tag="005">{year + 1}0105101500.0</controlfield>\n',
           f'  <controlfield tag="008">{str(year)[2:]}0105s{year}    vm            000 0 vie d</controlfield>\n',
           df("020", "  ", ("a", isbn13(rnd) + rnd.choice(["", " (bìa mềm)", " (bìa cứng)"])),
              ("c", f"{rnd.randint(20, 300)}000đ")),
           df("041", "0 ", ("a", "vie"), *([("a", "eng")] if rnd.random() < 0.2 else [])),
           df("082", "04", ("a", f"{rnd.randint(0, 999)}.{rnd.randint(1, 9999)}")),
           df("100", "0 ", ("a", author + ","), ("e", "tác giả.")),
           df("245", "10", ("a", title + " :"), ("b", rnd.choice(["truyện", "giáo trình", "tuyển tập", "khảo cứu"]) + " /"),
              ("c", f"{author} ; {rnd.choice(ROLES)}: {person_name(rnd)}.")),
           df("250", "  ", ("a", f"Tái bản lần thứ {rnd.randint(1, 20)}.")) if rnd.random() < 0.5 else ""]
    imprint = (("a", rnd.choice(PLACES) + " :"), ("b", rnd.choice(PUBLISHERS) + ","), ("c", f"{year}."))
    out.append(df("264", " 1", *imprint) if rnd.random() < 0.3 else df("260", "  ", *imprint))
    out.append(df("300", "  ", ("a", f"{rnd.randint(40, 900)} tr. :"), ("b", "minh họa ;"), ("c", "21 cm.")))
    for subject in rnd.sample(SUBJECTS, 2):
        subject = unicodedata.normalize("NFD", subject) if nfd else subject
        out.append(df("650", " 7", ("a", subject), ("z", "Việt Nam"), ("v", "Sách tham khảo")))
    out.append(df("700", "0 ", ("a", person_name(rnd) + ","), ("e", rnd.choice(ROLES) + ".")))
    for n in range(rnd.randint(1, 3)):
        branch = rnd.choice(BRANCHES)
        status = rnd.choice([(), (), (), (("q", f"2026-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)} 23:59:00"),),
                             (("7", "1"),), (("1", "1"),)])
        out.append(df("952", "  ", ("a", branch), ("b", branch), ("c", "KHO-MO"),
                      ("o", f"{rnd.randint(0, 999)} {author[:1]}{rnd.randint(100, 999)}"),
                      ("p", f"{branch}{i:07d}{n}"), ("y", "BK"), *status))
    out.append("</record>\n")
    return "".join(out)


def generate(path: Path, count: int) -> None:
    rnd = random.Random(20240105)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="http://www.loc.gov/MARC21/slim">\n')
        for i in range(1, count + 1):
            out.write(record(i, rnd))
            if i % 25000 == 0:
                print(f"  generated {i:,} records", flush=True)
        out.write("</collection>\n")
    tmp.replace(path)


CTX = SourceContext(library="tv-tinh", record_id="tv-tinh:bench", branch_map={"TT": "Trụ sở chính"})


def ours(path: Path) -> int:
    n = repaired = 0
    with open(path, "rb") as f:
        for marc in iter_marcxml(f):
            if isinstance(marc, RejectedRecord):
                raise SystemExit(f"unexpected rejection: {marc.reason}")
            repaired += bool(canonical_from_marc(marc, CTX, "marcxml").repairs)
            n += 1
    ours.repaired = repaired
    return n


def baseline(path: Path) -> int:
    n = 0
    for record in pymarc.parse_xml_to_array(str(path)):
        canonical_from_marc(from_pymarc(record), CTX, "marcxml")
        n += 1
    return n


def timed(label: str, fn, path: Path, repeat: int) -> tuple[float, int]:
    times = []
    count = 0
    for r in range(repeat):
        start = time.perf_counter()
        count = fn(path)
        times.append(time.perf_counter() - start)
        print(f"  {label} run {r + 1}/{repeat}: {count:,} records in {times[-1]:.2f} s "
              f"({count / times[-1]:,.0f} records/s)", flush=True)
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-repeat", type=int, default=3)
    args = parser.parse_args()

    path = OUT / f"vn_repair5_{args.records}.xml"
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / 1e6:.0f} MB)")
    else:
        print(f"generating {args.records:,} synthetic Vietnamese records into {path} (seed 20240105)")
        generate(path, args.records)
        print(f"  {path.stat().st_size / 1e6:.0f} MB")

    print("(a) ours: iter_marcxml + canonical_from_marc")
    ours_s, n_ours = timed("ours", ours, path, args.repeat)
    print(f"  records with an encoding repair: {ours.repaired:,} ({ours.repaired / n_ours:.1%}; "
          f"NFD records are made NFC without a repair)")
    print("(b) baseline: pymarc.parse_xml_to_array + from_pymarc + canonical_from_marc")
    base_s, n_base = timed("baseline", baseline, path, args.baseline_repeat)
    if n_ours != n_base:
        raise SystemExit(f"record counts differ: ours {n_ours}, baseline {n_base}")
    rate, base_rate = n_ours / ours_s, n_base / base_s
    print(f"medians: ours {ours_s:.2f} s, baseline {base_s:.2f} s over {n_ours:,} records")
    print(f"records_per_s={rate:.0f} baseline_records_per_s={base_rate:.0f} ratio={rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
