"""Every reader of outside input under coverage-guided fuzzing (atheris) for a bounded time.

Inputs up to 20 KB, each bounded to 20 s (instrumented code on a loaded 2-core machine is slow;
a record that is merely big — 10 MB, 10,000 fields — is tested in test_hostile_input.py).
A failure leaves libFuzzer's report in the assertion message and the crashing input in the
test's temporary folder: ``python tests/fuzz.py TARGET crash-...`` replays it.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is in the test extras; scripts/setup-venv installs it")

FUZZ = Path(__file__).with_name("fuzz.py")


@pytest.mark.parametrize("target", ["iso2709", "marcxml", "oai_dc", "oai_page", "query"])
def test_no_input_crashes_a_reader_or_runs_away(target, tmp_path):
    run = subprocess.run(
        [sys.executable, str(FUZZ), target, "-max_total_time=5", "-max_len=20000", "-timeout=20", "-rss_limit_mb=2048",
         f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, errors="replace", timeout=300, cwd=tmp_path)
    report = run.stderr[-4000:]
    assert run.returncode == 0, report
    assert "Done" in report and "runs in" in report, report
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*")), report
