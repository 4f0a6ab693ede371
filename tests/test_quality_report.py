"""A school's legacy export: repaired on the way in, and reported so the source can be fixed."""
import os
import subprocess
import sys
import time

from tests.conftest import REPO, conforms, write_config
from tests.test_file_drops import NO_001, TCVN3, raw_iso

VNI_TITLE = raw_iso([("001", b"OB-78"), ("245", b"10\x1faDe\xe1 Me\xf8n phie\xe2u l\xf6u ky\xf9")])  # VNI
BAD_ISBN = raw_iso([("001", b"OB-79"), ("020", b"  \x1fa978-604-1-23456-0"),
                    ("245", b"10\x1faS\xe1\xbb\x91 \xc4\x91\xe1\xbb\x8f")])  # "Số đỏ", wrong check digit


def test_repairs_warnings_and_quarantine_are_reported(tmp_path, api_server):
    drop = tmp_path / "drop"
    drop.mkdir()
    export = drop / "libol-export.mrc"
    export.write_bytes(TCVN3 + VNI_TITLE + BAD_ISBN + NO_001)
    os.utime(export, (time.time() - 3600,) * 2)
    config_dir = write_config(tmp_path / "config", [{
        "id": "thcs-a", "name": "Thư viện Trường THCS A", "kind": "school", "protocol": "file", "path": str(drop)}])
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args], cwd=REPO, capture_output=True,
        text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    run("harvest")

    text = run("quality").stdout
    assert "4 records, 2 repaired" in text and "0 kept in quarantine by the harvester" in text
    assert "TCVN3" in text and "VNI" in text and "Truyện Kiều" in text
    assert "ISBN # is not valid" in text
    assert "Records without an id (kept under an id derived from their content): 1" in text
    assert "libol-export.mrc, record 4" in text

    server = api_server(config_dir)
    report = server.get("/api/libraries/thcs-a/quality").json()
    conforms(report, "QualityReport")
    assert {r["code"]: r["count"] for r in report["repairs"]} == {"TCVN3": 1, "VNI": 1}
    assert report["quarantined"]["count"] == 0 and report["derived_ids"]["count"] == 1
    # the repaired text is what patrons find, without diacritics too
    hits = server.get("/api/search", q="truyen kieu").json()["hits"]
    assert [h["title"] for h in hits] == ["Truyện Kiều"]
    assert server.get("/api/search", q="de men phieu luu ky").json()["hits"][0]["title"] == "Dế Mèn phiêu lưu ký"
