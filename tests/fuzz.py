"""Coverage-guided fuzzing (atheris, libFuzzer) of everything that reads outside input.

    python tests/fuzz.py TARGET [libFuzzer options, e.g. -runs=20000 -max_total_time=30]

TARGET: iso2709 | marcxml | oai_dc | oai_page | query. Each input must end in a record, in the clean
"rejected with a reason" path (RejectedRecord, HarvestError), or for queries in a result; any other
exception is a crash, and libFuzzer's -timeout / -rss_limit_mb catch unbounded time and memory.
Seeds are the real MARC and OAI-PMH files in tests/data/third_party (this script runs on its own, so it
computes that path itself rather than importing tests/conftest.py).

Only the modules under test are instrumented (``UNDER_TEST``: the project's pure readers), not the
libraries they call (pymarc, lxml, tantivy: still run, so a crash in them is still a crash) nor what an
import drags in: instrumenting everything (Flask, SQLAlchemy, requests...) cost a minute per target. The script
checks that each module under test really was instrumented (a module imported before the hook is not)
and says which ones on its first line. ``canary`` is the self-test of the harness: a bug planted behind
the API's real parameter parser, which the fuzzer must find, report and keep the input of.
tests/test_fuzz.py runs every target for a bounded time in the suite.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import warnings
from pathlib import Path
from urllib.parse import parse_qsl

import atheris

ROOT = Path(__file__).resolve().parents[1]
THIRD_PARTY = ROOT / "tests" / "data" / "third_party"
sys.path.insert(0, str(ROOT))

# the modules each target exercises: imported under instrumentation, and checked to be instrumented
NORMALIZER = ["normalizer", "normalizer.text", "normalizer.records", "normalizer.encodings", "normalizer.ids",
              "normalizer.dates", "normalizer.names", "normalizer.links", "normalizer.extract",
              "normalizer.unimarc"]
UNDER_TEST = {
    "iso2709": [*NORMALIZER, "normalizer.iso2709", "normalizer.marc"],
    "marcxml": [*NORMALIZER, "normalizer.marc"],
    "oai_dc": [*NORMALIZER, "normalizer.dc"],
    "oai_page": ["harvester", "harvester.oai_page"],
    "query": ["unionapi.params", "unionapi.search", "unionapi.search.embedded", "normalizer.text", "normalizer.ids"],
    "canary": ["unionapi.params", "unionapi.search", "normalizer.text"],
}
CANARY = "canary"  # the planted bug: a query whose first folded word is this one

MARC_ORIGINS = ("aleph", "marc4j", "openlibrary", "pymarc", "recordmanager", "traject")
OAI_ORIGINS = ("pyoai", "scythe_zenodo_cassettes", "sickle", "vufindharvest")
SEED_GLOBS = {"iso2709": [f"{o}/**/*.{ext}" for o in MARC_ORIGINS for ext in ("mrc", "marc")],
              "marcxml": [f"{o}/**/*.xml" for o in MARC_ORIGINS],
              "oai_dc": [f"{o}/**/*.xml" for o in OAI_ORIGINS], "oai_page": [f"{o}/**/*.xml" for o in OAI_ORIGINS],
              "query": [], "canary": []}


def workdir() -> Path:
    """This run's scratch folder (the query target's index, the dictionaries), in the system's temp folder."""
    global _WORKDIR
    if _WORKDIR is None:
        _WORKDIR = Path(tempfile.mkdtemp(prefix="unioncat-fuzz-"))
    return _WORKDIR


_WORKDIR: Path | None = None


def instrumented(name: str) -> bool:
    """Whether module ``name`` was loaded through atheris's instrumenting loader."""
    module = sys.modules.get(name)
    return module is not None and "Atheris" in type(getattr(module, "__loader__", None)).__name__


def load(name: str) -> list[str]:
    """Imports target ``name``'s modules under instrumentation; returns every module that was instrumented.

    Exits with a message when a module under test is not instrumented (it was imported before, or
    the include list no longer names its package): fuzzing it blind would pass and prove nothing.
    """
    import importlib
    modules = UNDER_TEST[name]
    packages = sorted({m.split(".")[0] for m in modules})
    with atheris.instrument_imports(include=packages):
        for module in modules:
            importlib.import_module(module)
    blind = [m for m in modules if not instrumented(m)]
    if blind:
        raise SystemExit(f"fuzz.py {name}: not instrumented (imported before the hook?): {', '.join(blind)}")
    return sorted(m for m in list(sys.modules) if instrumented(m))


def record(fmt: str):
    from normalizer import normalize
    from normalizer.records import RejectedRecord, SourceContext
    ctx = SourceContext(library="fuzz", record_id="fuzz:1")

    def one_input(data: bytes) -> None:
        try:
            normalize(data, fmt, ctx)
        except RejectedRecord as exc:
            assert exc.reason, "a rejection must say why"
    return one_input


def oai_page():
    from harvester import HarvestError
    from harvester.oai_page import parse_page

    def one_input(data: bytes) -> None:
        for fmt in ("marc21", "oai_dc"):
            try:
                page = parse_page(data, fmt)
            except HarvestError as exc:
                assert str(exc)
                continue
            for item in page.bad:
                assert item["reason"]
    return one_input


def query():
    """Any query string through the API's own parameter parsing into the embedded engine."""
    from werkzeug.datastructures import MultiDict  # what Flask hands parse_search (not instrumented)

    from normalizer.records import CanonicalRecord
    from unionapi.params import BadRequest
    from unionapi.params import parse_search
    from unionapi.search import entry_document
    from unionapi.search.embedded import EmbeddedEngine
    engine = EmbeddedEngine(workdir() / "index")
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


def canary():
    """The query target with a planted bug: a query whose first folded word is CANARY crashes. No seed or
    dictionary entry holds the word: libFuzzer learns it from the comparison that guards the bug, which
    atheris reports to it, puts it after the dictionary's ``q=``, and must then stop with the crash, its
    traceback and the input kept, as it does for a real bug."""
    from werkzeug.datastructures import MultiDict

    from unionapi.params import parse_search

    @atheris.instrument_func  # (the harness itself: its comparison with CANARY is what tells the fuzzer the word)
    def one_input(data: bytes) -> None:
        try:
            request = parse_search(MultiDict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True)),
                                   100, {"fuzz": None})
        except Exception:  # noqa: BLE001 - real bugs are the query target's business; this one looks for its own
            return
        terms = request.folded_terms()
        if terms and terms[0] == CANARY:
            raise RuntimeError(f"planted bug reached: q={request.q!r}")
    return one_input


def target(name: str):
    if name in ("iso2709", "marcxml", "oai_dc"):
        return record(name)
    return {"oai_page": oai_page, "query": query, "canary": canary}[name]()


def seeds(name: str, limit: int = 60) -> list[str]:
    found = sorted(str(p) for pattern in SEED_GLOBS[name] for p in THIRD_PARTY.glob(pattern) if p.stat().st_size < 100_000)
    return found[:limit]


def dictionary(name: str) -> Path | None:
    """A libFuzzer dictionary for the query targets: the parameter names and values the API knows (a set
    lookup gives the fuzzer no comparison to learn them from, so without it nearly every input stops at
    "unknown parameter")."""
    if name == "canary":  # the parameter only: the word it must learn from the comparison that guards the bug
        tokens = ["q="]
    elif name == "query":
        from unionapi.params import MATERIAL_TYPES, SEARCH_PARAMS
        tokens = [f"{p}=" for p in sorted(SEARCH_PARAMS)] + ["&", ",", "true", "false", "vie", "eng", "fuzz",
                                                             *MATERIAL_TYPES]
    else:
        return None
    path = workdir() / f"{name}.dict"
    path.write_text("".join(f'"{token}"\n' for token in tokens), encoding="utf-8")
    return path


def main() -> None:
    logging.disable(logging.CRITICAL)  # pymarc warns about every broken record it reads
    warnings.simplefilter("ignore")  # (and pymarc.BadSubfieldCodeWarning, once per record)
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    name, options = sys.argv[1], sys.argv[2:]
    if name not in UNDER_TEST:
        raise SystemExit(f"unknown target {name!r}; one of: {', '.join(UNDER_TEST)}")
    # str.startswith/endswith in the instrumented code tell the fuzzer what they look for (set before the
    # imports). Not the "RegEx" hook: its pattern proxy breaks pattern.match(data, pos), used by the readers.
    atheris.enabled_hooks.add("str")
    modules = load(name)
    print(f"fuzz.py {name}: {len(modules)} modules instrumented: {' '.join(modules)}", file=sys.stderr, flush=True)
    one_input = target(name)
    seed_files = seeds(name)
    if seed_files:
        options.append("-seed_inputs=" + ",".join(seed_files))
    tokens = dictionary(name)
    if tokens and not any(option.startswith("-dict=") for option in options):
        options.append(f"-dict={tokens}")
    atheris.Setup([sys.argv[0], *options], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
