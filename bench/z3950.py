"""Benchmark: full Z39.50 harvests of >=50k records from a real local Zebra, per batch size.

    python bench/z3950.py [--records 50000] [--batch-sizes 100,500,2000] [--sru]

Generates (fixed seed, reused when present) bench/out/z3950_<N>.mrc with the synthetic
Vietnamese records of bench/normalize.py, loads them into a ZebraServer in bench/out/zebra,
then runs the real harvester (ctypes ZOOM + raw store in a temp folder) once per batch size.
Last line: ``records_per_s=N batch_size=B`` for the fastest.
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import pymarc  # noqa: E402

import normalize as synthetic  # noqa: E402  (bench/normalize.py: the record generator)
from config import Library, Settings, Z3950_DEFAULTS  # noqa: E402
from harvester.marcbytes import split_iso2709  # noqa: E402
from harvester.rawstore import RawStore  # noqa: E402
from harvester.z3950 import Z3950Harvester  # noqa: E402
from unionapi.demo.zebra import ZebraServer  # noqa: E402

OUT = BENCH / "out"
SEED = 20240105


def generate(path: Path, count: int) -> None:
    """ISO2709 (UTF-8) made with pymarc from bench/normalize.py's MARCXML records."""
    rnd = random.Random(SEED)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for start in range(1, count + 1, 1000):
            xml = "".join(synthetic.record(i, rnd) for i in range(start, min(count, start + 999) + 1))
            doc = f'<collection xmlns="http://www.loc.gov/MARC21/slim">{xml}</collection>'
            for record in pymarc.parse_xml_to_array(io.BytesIO(doc.encode())):
                record.force_utf8 = True
                out.write(record.as_marc())
    tmp.replace(path)


def harvest_once(port: int, batch_size: int, sru: bool) -> tuple[float, int, int]:
    library = Library(id="bench-zebra", name="Bench", kind="district", protocol="z3950", schedule="0 2 * * *",
                      timeout_s=120, options={**Z3950_DEFAULTS, "host": "127.0.0.1", "port": port,
                                              "database": "biblios", "batch_size": batch_size,
                                              "transport": "sru" if sru else "z3950"})
    with tempfile.TemporaryDirectory() as folder:
        store = RawStore(Path(folder) / "raw.db")
        started = time.perf_counter()
        result = Z3950Harvester(library, store, Settings(data_dir=Path(folder), harvest_allow_private_addresses=True)
                                ).harvest(full=True)  # Zebra runs on 127.0.0.1
        elapsed = time.perf_counter() - started
        if result.outcome != "ok":
            raise SystemExit(f"harvest failed: {result.error}")
        return elapsed, result.counts.added, result.pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch-sizes", default="100,500,2000")
    parser.add_argument("--sru", action="store_true", help="harvest over SRU instead of Z39.50")
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    path = OUT / f"z3950_{args.records}.mrc"
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / 1e6:.0f} MB)")
    else:
        print(f"generating {args.records:,} synthetic Vietnamese records into {path} (seed {SEED})", flush=True)
        generate(path, args.records)
    records = list(split_iso2709(path.read_bytes()))
    started = time.perf_counter()
    with ZebraServer.start(OUT / "zebra", records) as zebra:
        print(f"Zebra indexed {len(records):,} records in {time.perf_counter() - started:.1f} s "
              f"(port {zebra.port})", flush=True)
        best = None
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            elapsed, count, pages = harvest_once(zebra.port, batch_size, args.sru)
            if count != len(records):
                raise SystemExit(f"batch size {batch_size}: harvested {count:,} of {len(records):,} records")
            rate = count / elapsed
            print(f"batch_size={batch_size:>5}: {count:,} records, {pages} present requests, {elapsed:.2f} s, "
                  f"{rate:,.0f} records/s", flush=True)
            if best is None or rate > best[0]:
                best = (rate, batch_size)
    print(f"records_per_s={best[0]:.0f} batch_size={best[1]}")


if __name__ == "__main__":
    main()
