"""Coverage-guided fuzzing (atheris, libFuzzer) of everything that reads outside input.

    python tests/fuzz.py TARGET [libFuzzer options, e.g. -runs=20000 -max_total_time=30]

TARGET: iso2709 | marcxml | oai_dc | oai_page | query. Each input must end in a record, in the clean
"rejected with a reason" path (RejectedRecord, HarvestError), or for queries in a result; any other
exception is a crash, and libFuzzer's -timeout / -rss_limit_mb catch unbounded time and memory.
Seeds are the real MARC and OAI-PMH files in tests/data/third_party (this script runs on its own, so it
computes that path itself rather than importing tests/conftest.py).
tests/test_fuzz.py runs every target for a bounded time in the suite.
"""
from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
THIRD_PARTY = ROOT / "tests" / "data" / "third_party"
sys.path.insert(0, str(ROOT))

from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict

with atheris.instrument_imports():
    from harvester.oai import HarvestError, parse_page
    from normalizer import normalize
    from normalizer.records import CanonicalRecord, RejectedRecord, SourceContext
    from unionapi.app import BadRequest, parse_search
    from unionapi.search import entry_document
    from unionapi.search.embedded import EmbeddedEngine

CTX = SourceContext(library="fuzz", record_id="fuzz:1")
MARC_ORIGINS = ("aleph", "marc4j", "openlibrary", "pymarc", "recordmanager", "traject")
OAI_ORIGINS = ("pyoai", "scythe_zenodo_cassettes", "sickle", "vufindharvest")
SEED_GLOBS = {"iso2709": [f"{o}/**/*.{ext}" for o in MARC_ORIGINS for ext in ("mrc", "marc")],
              "marcxml": [f"{o}/**/*.xml" for o in MARC_ORIGINS],
              "oai_dc": [f"{o}/**/*.xml" for o in OAI_ORIGINS], "oai_page": [f"{o}/**/*.xml" for o in OAI_ORIGINS],
              "query": []}


def record(fmt: str):
    def one_input(data: bytes) -> None:
        try:
            normalize(data, fmt, CTX)
        except RejectedRecord as exc:
            assert exc.reason, "a rejection must say why"
    return one_input


def oai_page(data: bytes) -> None:
    for fmt in ("marc21", "oai_dc"):
        try:
            page = parse_page(data, fmt)
        except HarvestError as exc:
            assert str(exc)
            continue
        for item in page.bad:
            assert item["reason"]


def query_target():
    """Any query string through the API's own parameter parsing into the embedded engine."""
    engine = EmbeddedEngine(Path(tempfile.mkdtemp(prefix="unioncat-fuzz-")) / "index")
    engine.write([entry_document("e1", [CanonicalRecord(record_id="fuzz:1", library="fuzz", format="marcxml",
                                                         title="Truyện Kiều", title_sort="Truyện Kiều")])], [])

    def one_input(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        try:
            request = parse_search(MultiDict(parse_qsl(text, keep_blank_values=True)), 100, {"fuzz": None})
        except BadRequest as exc:  # the API answers 400 with this text
            assert str(exc)
            return
        result = engine.search(request)
        assert result.total >= 0 and len(result.hits) <= request.size
    return one_input


def target(name: str):
    if name in ("iso2709", "marcxml", "oai_dc"):
        return record(name)
    if name == "oai_page":
        return oai_page
    if name == "query":
        return query_target()
    raise SystemExit(f"unknown target {name!r}; one of: {', '.join(SEED_GLOBS)}")


def seeds(name: str, limit: int = 60) -> list[str]:
    found = sorted(str(p) for pattern in SEED_GLOBS[name] for p in THIRD_PARTY.glob(pattern) if p.stat().st_size < 100_000)
    return found[:limit]


def main() -> None:
    logging.disable(logging.CRITICAL)  # pymarc warns about every broken record it reads
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    name, options = sys.argv[1], sys.argv[2:]
    one_input = target(name)
    seed_files = seeds(name)
    if seed_files:
        options.append("-seed_inputs=" + ",".join(seed_files))
    atheris.Setup([sys.argv[0], *options], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
