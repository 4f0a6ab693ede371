"""Every reader of outside input under coverage-guided fuzzing (atheris) for a bounded time.

Inputs up to 20 KB, each bounded to 20 s (instrumented code on a loaded 2-core machine is slow;
a record that is merely big — 10 MB, 10,000 fields — is tested in test_hostile_input.py).
A failure leaves libFuzzer's report (and the Python traceback) in the assertion message and the
crashing input in the test's temporary folder: ``python tests/fuzz.py TARGET crash-...`` replays it.

That the fuzzing is guided by the code under test is checked too: tests/fuzz.py refuses to run when
a module under test was not instrumented, each target must report coverage far beyond what an
uninstrumented run sees (a handful of edges), and the canary target must find its planted bug.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    from tests.fuzz import UNDER_TEST  # (imports atheris)
except ImportError as exc:  # a missing fuzzer is a failure of every test here (at setup), never a skip
    MISSING, UNDER_TEST = f"atheris is missing ({exc}): run scripts/install-peers", {}
else:
    MISSING = None

FUZZ = Path(__file__).with_name("fuzz.py")
TARGETS = ["iso2709", "marcxml", "oai_dc", "oai_page", "query"]
# The targets run side by side, each for FUZZ_SECONDS: on 2 cores each still runs more inputs than it did
# alone for 5 s (measured: 2,000 to 36,000 per target), in a third of the wall time of one after the other.
FUZZ_SECONDS = 10
# an uninstrumented run reports 4-5 edges (the harness alone); these readers give 50 to 1000
MIN_COVERAGE = 30


class Run:
    """One ``python tests/fuzz.py TARGET`` in its own folder (its output in files: no pipe to fill)."""

    def __init__(self, target: str, folder: Path, *options: str):
        self.target, self.folder = target, folder
        self.out, self.err = open(folder / "stdout.txt", "wb"), open(folder / "stderr.txt", "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(FUZZ), target, "-max_len=20000", "-timeout=20", "-rss_limit_mb=2048",
             f"-artifact_prefix={folder}/", *options], stdout=self.out, stderr=self.err, cwd=folder)

    def wait(self) -> tuple[int, str, str]:
        """(exit status, stderr, report): the report is libFuzzer's end of stderr after atheris's traceback."""
        try:
            self.process.wait(300)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
            self.out.close()
            self.err.close()
        stdout = (self.folder / "stdout.txt").read_text(errors="replace")
        stderr = (self.folder / "stderr.txt").read_text(errors="replace")
        # atheris prints the Python traceback on stdout, libFuzzer its report on stderr
        traceback = stdout[stdout.rfind("=== Uncaught Python exception"):] if "Uncaught" in stdout else ""
        return self.process.returncode, stderr, (traceback[-3000:] + "\n" + stderr[-4000:]).strip()


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Every selected target (and the canary) started at once; each test waits for its own."""
    if MISSING:
        pytest.fail(MISSING, pytrace=False)
    selected = {item.callspec.params.get("target", "canary") if hasattr(item, "callspec") else "canary"
                for item in request.session.items if item.module is request.module and "runs" in item.fixturenames}
    started = {target: Run(target, tmp_path_factory.mktemp(f"fuzz-{target}"), f"-max_total_time={FUZZ_SECONDS}")
               for target in TARGETS if target in selected}
    if "canary" in selected:
        started["canary"] = Run("canary", tmp_path_factory.mktemp("fuzz-canary"), "-max_total_time=60", "-seed=1")
    yield started
    for run in started.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)


@pytest.mark.parametrize("target", TARGETS)
def test_no_input_crashes_a_reader_or_runs_away(target, runs):
    run = runs[target]
    status, stderr, report = run.wait()
    assert status == 0, report
    assert "Done" in report and "runs in" in report, report
    assert not list(run.folder.glob("crash-*")) and not list(run.folder.glob("timeout-*")), report
    instrumented = re.search(rf"fuzz.py {target}: \d+ modules instrumented: (.*)", stderr)
    assert instrumented and set(UNDER_TEST[target]) <= set(instrumented.group(1).split()), report
    coverage = [int(n) for n in re.findall(r"\bcov: (\d+)", stderr)]
    assert coverage and max(coverage) >= MIN_COVERAGE, f"the fuzzer is blind to the code under test\n{report}"


def test_the_fuzzer_finds_a_planted_bug(runs):
    """The canary target: a crash behind the API's real parameter parser, which no seed holds, is found,
    reported with its traceback and its input kept — within seconds (libFuzzer stops at the first crash)."""
    run = runs["canary"]
    status, _, report = run.wait()
    assert status != 0, report
    assert "planted bug reached" in report, report
    assert len(list(run.folder.glob("crash-*"))) == 1, report


# what none of the modules under test may drag in (the service around them: web, stores, HTTP clients)
SERVICE = {"flask", "werkzeug", "sqlalchemy", "apscheduler", "requests", "httpx", "sickle", "urllib3", "opensearchpy",
           "elasticsearch", "waitress", "jinja2", "prometheus_client"}


# module -> what else it must not load
LIGHT = {"normalizer.text": {"pymarc", "lxml"}, "normalizer": {"pymarc", "lxml"}, "unionapi": set(),
         "unionapi.params": {"tantivy"}, "harvester.oai_page": set(), "normalizer.marc": set()}


@pytest.mark.parametrize("module", LIGHT)
def test_the_pure_modules_import_alone(module):
    """Package __init__s are light and the readers under fuzzing load only what they use: instrumenting or
    even importing the service around them is what made each fuzz target spend a minute starting."""
    run = subprocess.run([sys.executable, "-c", f"import sys, {module}; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[1])
    assert run.returncode == 0, run.stderr
    loaded = set(run.stdout.split())
    assert not {name.split(".")[0] for name in loaded} & (SERVICE | LIGHT[module]), run.stdout
