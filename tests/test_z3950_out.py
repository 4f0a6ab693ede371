"""Z39.50 out: the union catalogue served by a real Zebra that the pipeline keeps up to date, beside the
API of `unioncat run`, searched by clients nobody on the project wrote (yaz-client) and by the project's
own libyaz ZOOM binding, and harvested back by a second unioncat.

The catalogue is part of the demo network harvested for real (tests/browser.py's build_demo); what each
search should find is worked out here from the records Zebra serves (an oracle folding text as the
patron search does), so every count is checked exactly, with and without diacritics.
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pymarc
import pytest
import requests
import yaml

from harvester.zoom import ZoomConnection
from normalizer import isbn13_to_10
from normalizer.text import fold
from tests.browser import TOKEN, build_demo
from tests.conftest import REPO, free_port, write_config
from unionapi.demo.network import load_records, save_records
from unionapi.publish import zebra as zebra_module
from unionapi.publish.formats import entry_holdings
from unionapi.publish.z3950 import CURSOR, DATABASE, FOLDER, ZebraFeed, start_service, update_zebra

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def unioncat(config_dir, *args):
    return subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args], cwd=REPO,
                          capture_output=True, text=True, check=True, timeout=300, env=ENV)


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


class RunService:
    """`unioncat run` as a real process: the API, the scheduler and zebrasrv."""

    def __init__(self, config_dir: Path, env: dict | None = None):
        self.log_path = config_dir / "run.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "run", "--port", str(self.port)],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env or ENV)

        def healthy() -> bool:
            try:
                return requests.get(self.url + "/api/health", timeout=1).ok
            except requests.ConnectionError:
                return False
        try:
            wait_for(lambda: healthy() or self.process.poll() is not None, 30, "the service to start")
            assert self.process.poll() is None, self.text()
        except AssertionError:
            self.stop()
            raise

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def settings_with(config_dir: Path, **publish) -> None:
    """settings.yaml of ``config_dir`` with a `publish:` section."""
    path = config_dir / "settings.yaml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    settings["publish"] = publish
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def union(tmp_path_factory):
    """Four demo libraries harvested into a union catalogue, then `unioncat run` with Z39.50 turned on:
    it loads every entry into Zebra as it starts and serves it over HTTP and Z39.50 on a free port."""
    folder = tmp_path_factory.mktemp("z3950-out")
    config_dir, providers = build_demo(folder, total_records=600)
    z_port = free_port()
    settings_with(config_dir, z3950={"enabled": True, "host": "127.0.0.1", "port": z_port})
    service = RunService(config_dir)
    try:
        wait_for(lambda: "Z39.50: serving" in service.text(), 20, "zebrasrv")
        # the demo was harvested with Z39.50 off (tests' default): `unioncat run` loads Zebra as it starts
        wait_for(lambda: "Z39.50: Zebra updated" in service.text(), 120, "the first load of Zebra")
        yield {"folder": folder, "config": config_dir, "data": config_dir / "data", "port": z_port,
               "service": service}
    finally:
        service.stop()
        for provider in providers:
            provider.stop()


# -- reading what Zebra serves ------------------------------------------------------------------------
def zoom(port: int, syntax: str = "usmarc", elements: str = "F") -> ZoomConnection:
    return ZoomConnection("127.0.0.1", port, {"databaseName": DATABASE, "preferredRecordSyntax": syntax,
                                              "elementSetName": elements, "timeout": "30"})


def marc(raw: bytes, syntax: str = "usmarc") -> pymarc.Record:
    if syntax == "xml":
        return pymarc.parse_xml_to_array(io.BytesIO(raw))[0]
    return next(iter(pymarc.MARCReader(raw, to_unicode=True, force_utf8=True)))


def fetch(port: int, query: str, syntax: str = "usmarc", elements: str = "F") -> dict[str, pymarc.Record]:
    """Every record a search finds, by 001 (present requests of 100)."""
    conn = zoom(port, syntax, elements)
    try:
        count = conn.search(query)
        found = {}
        for start in range(0, count, 100):
            for raw in conn.records(start, min(100, count - start)):
                record = marc(raw, syntax)
                found[record["001"].data] = record
        return found
    finally:
        conn.close()


def hits(port: int, query: str) -> int:
    conn = zoom(port)
    try:
        return conn.search(query)
    finally:
        conn.close()


def served(port: int) -> dict[str, pymarc.Record]:
    return fetch(port, '@attr 1=_ALLRECORDS @attr 2=103 ""')


# -- the oracle: what a search should find, worked out from the served records -------------------------
def words(text: str) -> list[str]:
    """Folded words, as the ICU chain of zebra-config/words-icu.xml makes them: hyphens between digits and
    then punctuation and symbols removed, split at spaces."""
    text = re.sub(r"(?<=[0-9])[-\u2010\u2011](?=[0-9Xx])", "", text)
    return fold("".join(c for c in text if unicodedata.category(c)[0] not in "PS")).split()


def values(record: pymarc.Record, tags, codes: str) -> list[str]:
    return [" ".join(s.value for s in f.subfields if s.code in codes) for f in record.get_fields(*tags)]


INDEXES = {  # use attribute -> the text of a record it searches (zebra-config/extract.xsl)
    4: lambda r: values(r, ("245", "246", "130", "240"), "abnp"),
    1003: lambda r: values(r, ("100", "110", "111", "700", "710", "711"), "a"),
    21: lambda r: values(r, ("600", "610", "611", "630", "650", "651", "653"), "abcdvxyz"),
    31: lambda r: [r["008"].data[7:11]] + values(r, ("260", "264"), "c"),
    1016: lambda r: [s.value for f in r.fields if not f.is_control_field() and f.tag < "900" and f.tag != "876"
                     for s in f.subfields if s.code != "8"],
    7: lambda r: [v for isbn in values(r, ("020",), "az") for v in (isbn, isbn13_to_10(isbn) or "")],
}


def expected(records: dict[str, pymarc.Record], use: int, phrase: str) -> set[str]:
    """Entries with ``phrase``'s folded words next to each other in one value of the index."""
    wanted = words(phrase)
    found = set()
    for entry_id, record in records.items():
        for value in INDEXES[use](record):
            have = words(value)
            if any(have[i:i + len(wanted)] == wanted for i in range(len(have) - len(wanted) + 1)):
                found.add(entry_id)
                break
    return found


def found_ids(port: int, use: int, term: str) -> set[str]:
    return set(fetch(port, f'@attr 1={use} "{term}"'))


def catalogue_entries(data: Path) -> dict[str, list]:
    """entry id -> member records, from the catalogue file."""
    from unionapi.catalogue import Catalogue
    catalogue = Catalogue(data / "catalogue.sqlite3")
    try:
        ids = sorted(catalogue.all_entry_ids())
        return catalogue.members_of(ids)
    finally:
        catalogue.close()


# -- the tests ------------------------------------------------------------------------------------------
def test_the_pipeline_fed_zebra_and_unioncat_run_serves_every_entry(union):
    records = served(union["port"])
    entries = catalogue_entries(union["data"])
    assert set(records) == set(entries) and len(records) > 250
    cursor = json.loads((union["data"] / FOLDER / CURSOR).read_text())
    with sqlite3.connect(f"file:{union['data'] / 'publish.sqlite3'}?mode=ro", uri=True) as db:
        assert cursor["gen"] == db.execute("SELECT max(gen) FROM stamps").fetchone()[0]
        live = {r[0] for r in db.execute("SELECT id FROM entries WHERE deleted = 0")}
    assert live == set(records)
    for entry_id, record in records.items():
        assert record.leader[9] == "a" and record["003"].data == "unioncat"
        assert len(record.get_fields("852")) == len(entry_holdings(entries[entry_id])), entry_id


def sample(records: dict[str, pymarc.Record], count: int = 6) -> list[pymarc.Record]:
    """Entries whose titles carry Vietnamese marks, spread over the catalogue."""
    marked = [r for _, r in sorted(records.items())
              if r.get("245") and r["245"].get("a") and fold(r["245"]["a"]) != r["245"]["a"].lower()]
    return marked[:: max(1, len(marked) // count)][:count]


def test_title_author_subject_date_and_any_find_what_they_should_with_or_without_marks(union):
    port, records = union["port"], served(union["port"])
    checked = 0
    for record in sample(records):
        title = " ".join(record["245"]["a"].split()[:2])
        author = (record.get_fields("100", "700") or [None])[0]
        subject = (record.get_fields("650") or [None])[0]
        cases = [(4, title), (1016, record["245"]["a"].split()[0]), (31, record["008"].data[7:11])]
        if author and author.get("a"):
            cases.append((1003, author["a"]))
        if subject and subject.get("a"):
            cases.append((21, subject["a"]))
        for use, term in cases:
            want = expected(records, use, term)
            assert record["001"].data in want, (use, term)
            assert found_ids(port, use, term) == want, (use, term)
            if fold(term) != term.lower():  # the same without diacritics (đ -> d): lich su finds Lịch sử
                assert found_ids(port, use, fold(term)) == want, (use, fold(term))
            checked += 1
    assert checked >= 25
    # a phrase is searched as words next to each other, whatever the punctuation between them
    record = next(r for r in records.values() if r.get("245") and r["245"].get("a") and r["245"].get("b"))
    whole = f"{record['245']['a']} {record['245']['b']}"
    for typed in (whole, " ".join(words(whole))):  # as catalogued (" : ", " / "), or as words only
        assert record["001"].data in found_ids(port, 4, typed), typed


def hyphenated(digits: str, cuts: tuple[int, ...]) -> str:
    parts, start = [], 0
    for cut in (*cuts, len(digits)):
        parts.append(digits[start:cut])
        start = cut
    return "-".join(parts)


def test_isbn_in_any_form_a_user_types(union):
    port, records = union["port"], served(union["port"])
    with_isbn = [(r["001"].data, r["020"]["a"]) for r in records.values()
                 if r.get("020") and (r["020"].get("a") or "").startswith("978")]
    assert len(with_isbn) >= 5
    for entry_id, isbn13 in with_isbn[:5]:
        want = {e for e, r in records.items() if isbn13 in values(r, ("020",), "a")}
        isbn10 = isbn13_to_10(isbn13)
        for typed in (isbn13, hyphenated(isbn13, (3, 4, 7, 12)), isbn10, hyphenated(isbn10, (1, 4, 9)),
                      hyphenated(isbn10, (3, 6))):
            assert set(fetch(port, f"@attr 1=7 {typed}")) == want, typed
        assert entry_id in want
    assert hits(port, "@attr 1=7 0-00-000000-0") == 0


def test_records_as_usmarc_and_marcxml_are_the_same_record_that_pymarc_reads(union):
    from config import load_config
    from unionapi.publish.formats import entry_marc
    port = union["port"]
    names = {library.id: library.name for library in load_config(union["config"]).libraries.values()}
    entries = catalogue_entries(union["data"])
    entry_id = max(entries, key=lambda e: (len(entry_holdings(entries[e])), e))  # the most copies
    query = f"@attr 1=12 {entry_id}"
    forms = {("usmarc", "F"): None, ("usmarc", ""): None, ("xml", "marcxml"): None, ("xml", "F"): None,
             ("xml", ""): None}
    for syntax, elements in forms:
        found = fetch(port, query, syntax, elements)
        assert list(found) == [entry_id], (syntax, elements)
        forms[syntax, elements] = found[entry_id]
    ours = entry_marc(entry_id, entries[entry_id], libraries=names)
    for (syntax, elements), record in forms.items():
        assert record["245"].value() == ours["245"].value(), (syntax, elements)
        copies = [f.value() for f in record.get_fields("852", "876")]
        assert copies == [f.value() for f in ours.get_fields("852", "876")], (syntax, elements)
        assert [(f.tag, f.value()) for f in record.fields if f.tag != "005"] == \
            [(f.tag, f.value()) for f in forms["usmarc", "F"].fields if f.tag != "005"], (syntax, elements)
    assert len(ours.get_fields("852")) >= 2


def test_yaz_client_searches_and_retrieves_records(union, tmp_path):
    """yaz-client (Index Data's command-line client): a client nobody on the project wrote."""
    port, records = union["port"], served(union["port"])
    record = sample(records)[0]
    title = fold(" ".join(record["245"]["a"].split()[:2]))
    isbn_record = next(r for r in records.values() if r.get("020") and (r["020"].get("a") or "").startswith("978"))
    isbn10 = hyphenated(isbn13_to_10(isbn_record["020"]["a"]), (1, 4, 9))
    out = tmp_path / "yaz.mrc"
    commands = (f"open tcp:127.0.0.1:{port}/{DATABASE}\nformat usmarc\n"
                f'find @attr 1=4 "{title}"\nshow 1+{len(expected(records, 4, title))}\n'
                f"find @attr 1=7 {isbn10}\nshow 1\nquit\n")
    done = subprocess.run(["yaz-client", "-m", str(out)], input=commands, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    hits_said = [int(n) for n in re.findall(r"Number of hits: (\d+)", done.stdout)]
    assert hits_said == [len(expected(records, 4, title)), 1], done.stdout[-2000:]
    got = list(pymarc.MARCReader(out.read_bytes(), to_unicode=True, force_utf8=True))
    assert {r["001"].data for r in got} == expected(records, 4, title) | {isbn_record["001"].data}
    assert all(r.get("245") and r.get_fields("852") for r in got)


def test_a_second_unioncat_harvests_this_zebra_and_ends_with_the_same_titles_and_holdings(union):
    """The round trip: `protocol: z3950` against our own server."""
    from unionapi.publish.formats import choose
    second = write_config(union["folder"] / "second", [
        {"id": "union", "name": "Mục lục liên hợp tỉnh", "kind": "provincial", "protocol": "z3950",
         "host": "127.0.0.1", "port": union["port"], "database": DATABASE, "batch_size": 100,
         "schedule": "0 2 * * *"}], publish={"z3950": {"enabled": False}})
    entries = catalogue_entries(union["data"])
    unioncat(second, "harvest")
    assert not (second / "data" / FOLDER).exists()  # publish.z3950.enabled: false feeds no Zebra
    with sqlite3.connect(f"file:{second / 'data' / 'catalogue.sqlite3'}?mode=ro", uri=True) as db:
        harvested = {record_id.removeprefix("union:"): json.loads(data)
                     for record_id, data in db.execute("SELECT id, data FROM records")}
    assert set(harvested) == set(entries)
    for entry_id, members in entries.items():
        assert harvested[entry_id]["title"] == choose(members).title, entry_id
        copies = [(h["branch"] or h["library"], h["call_number"], h["status"]) for h in entry_holdings(members)]
        assert [(h["branch"], h["call_number"], h["status"]) for h in harvested[entry_id]["holdings"]] == copies


def zebra_log_since(data: Path, offset: int) -> str:
    return (data / FOLDER / "zebraidx.log").read_text(encoding="utf-8")[offset:]


def records_line_totals(log_text: str) -> tuple[int, int, int]:
    """Inserted, updated and deleted records over the zebraidx runs of this log text."""
    totals = [0, 0, 0]
    for found in re.findall(r"Records: +\d+ i/u/d (\d+)/(\d+)/(\d+)", log_text):
        totals = [a + int(b) for a, b in zip(totals, found)]
    return tuple(totals)


def sole_record_entry(data: Path, library: str, avoid: set[str]) -> tuple[str, str]:
    """(record id, entry id) of a record of ``library`` that is alone in its entry."""
    with sqlite3.connect(f"file:{data / 'catalogue.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, entry_id FROM records WHERE source = ? AND entry_id IN (SELECT entry_id FROM"
                          " records GROUP BY entry_id HAVING count(*) = 1) ORDER BY id", (library,)).fetchall()
    return next((r, e) for r, e in rows if e not in avoid)


def test_changes_deletions_and_merges_reach_zebra_incrementally(union):
    port, data, config = union["port"], union["data"], union["config"]
    log_offset = len((data / FOLDER / "zebraidx.log").read_text(encoding="utf-8"))
    cursor_before = json.loads((data / FOLDER / CURSOR).read_text())
    total_before = hits(port, '@attr 1=_ALLRECORDS @attr 2=103 ""')

    # a provincial record retitled, a district record deleted at its source
    retitled_record, retitled = sole_record_entry(data, "tv-tinh", set())
    deleted_record, deleted = sole_record_entry(data, "tv-kim-son", {retitled})
    for library, record_id, change in (("tv-tinh", retitled_record, "retitle"),
                                       ("tv-kim-son", deleted_record, "delete")):
        path = union["folder"] / f"{library}.jsonl"
        records = load_records(path)
        identifier = record_id.removeprefix(f"{library}:")
        index = next(i for i, r in enumerate(records) if r.identifier == identifier)
        record = records[index]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if change == "delete":
            records[index] = type(record)(record.identifier, now, True, record.sets, {})
        else:
            xml = re.sub(r'(<datafield tag="245"[^>]*><subfield code="a">)[^<]*', r"\1Sổ tay đánh bắt cá heo /",
                         record.metadata["marc21"], count=1)
            records[index] = type(record)(record.identifier, now, False, record.sets,
                                          {**record.metadata, "marc21": xml})
        save_records(path, records)
    old_title = served_one(port, retitled)["245"]["a"]
    unioncat(config, "harvest", "tv-tinh", "tv-kim-son")  # the pipeline's last step feeds Zebra

    log_text = zebra_log_since(data, log_offset)
    assert "zebraidx init" not in log_text  # no reload
    assert records_line_totals(log_text) == (0, 1, 1), log_text  # Zebra touched those two entries only
    cursor = json.loads((data / FOLDER / CURSOR).read_text())
    assert cursor["signature"] == cursor_before["signature"] and cursor["gen"] > cursor_before["gen"]
    assert hits(port, f"@attr 1=12 {deleted}") == 0
    assert list(fetch(port, '@attr 1=4 "so tay danh bat ca heo"')) == [retitled]
    assert hits(port, f'@and @attr 1=12 {retitled} @attr 1=4 "{old_title.rstrip(" /:")}"') == 0
    assert hits(port, '@attr 1=_ALLRECORDS @attr 2=103 ""') == total_before - 1

    # a cataloguer's merge through the API of `unioncat run`: its feed follows within seconds
    service = union["service"]
    reports = requests.get(service.url + "/api/duplicates", timeout=10).json()["duplicates"]
    report = next(r for r in reports if len({side["entry_id"] for side in r["records"]}) == 2)
    before = {side["entry_id"] for side in report["records"]}
    copies = {entry_id: len(served_one(port, entry_id).get_fields("852")) for entry_id in before}
    log_offset = len((data / FOLDER / "zebraidx.log").read_text(encoding="utf-8"))
    answer = requests.post(f"{service.url}/api/duplicates/{report['id']}/merge", json={"comment": "the same book"},
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    with sqlite3.connect(f"file:{data / 'catalogue.sqlite3'}?mode=ro", uri=True) as db:
        kept = db.execute("SELECT entry_id FROM records WHERE id = ?", (report["a"],)).fetchone()[0]
    (gone,) = before - {kept}
    wait_for(lambda: hits(port, f"@attr 1=12 {gone}") == 0, 30, "the merged-away entry to leave Zebra")
    assert len(served_one(port, kept).get_fields("852")) == len(entry_holdings(catalogue_entries(data)[kept]))
    assert len(served_one(port, kept).get_fields("852")) >= max(copies.values())
    assert records_line_totals(zebra_log_since(data, log_offset)) == (0, 1, 1)


def served_one(port: int, entry_id: str) -> pymarc.Record:
    return fetch(port, f"@attr 1=12 {entry_id}")[entry_id]


# -- turned off, or Zebra missing: the rest goes on --------------------------------------------------------
def test_without_zebra_the_api_serves_and_the_pipeline_goes_on(tmp_path, monkeypatch, caplog):
    """A machine without Zebra: `unioncat run` says what to do and serves the API; a pipeline step logs it."""
    config_dir = write_config(tmp_path / "config", [], publish={"z3950": {"port": free_port()}})
    bin_dir = tmp_path / "bin"  # a PATH holding python only: no zebrasrv, no zebraidx
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    service = RunService(config_dir, env={**ENV, "PATH": str(bin_dir)})
    try:
        wait_for(lambda: "Z39.50: not served" in service.text(), 20, "the Z39.50 message")
        assert "run scripts/install-peers" in service.text()
        assert requests.get(service.url + "/api/health", timeout=5).ok
    finally:
        service.stop()

    from config import load_config
    from unionapi.services import Services
    monkeypatch.setattr(zebra_module.shutil, "which", lambda name: None)
    services = Services.open(load_config(config_dir))
    try:
        with caplog.at_level(logging.ERROR, logger="unioncat.z3950"):
            assert update_zebra(services) is None
            assert start_service(services) is None
        assert "run scripts/install-peers" in caplog.text
    finally:
        services.close()


def test_turned_off_nothing_is_fed_or_started(tmp_path, caplog):
    from config import load_config
    from unionapi.services import Services
    config_dir = write_config(tmp_path / "config", [], publish={"z3950": {"enabled": False}})
    services = Services.open(load_config(config_dir))
    try:
        with caplog.at_level(logging.INFO, logger="unioncat.z3950"):
            assert update_zebra(services) is None and start_service(services) is None
        assert "not served (publish.z3950.enabled: false)" in caplog.text
        assert not (tmp_path / "config" / "data" / FOLDER).exists()
    finally:
        services.close()


def test_a_step_that_dies_is_done_again_and_a_new_configuration_reloads(union, tmp_path, monkeypatch):
    """The feed on a copy of the catalogue, in its own folder: a failed zebraidx leaves the cursor where it was."""
    from unionapi.catalogue import Catalogue
    from unionapi.publish.state import PublicationState
    catalogue = Catalogue(union["data"] / "catalogue.sqlite3")
    publication = PublicationState(union["data"] / "publish.sqlite3")
    try:
        feed = ZebraFeed(tmp_path / "zebra", catalogue, publication, batch=100)
        calls = []
        real_apply = feed.db.apply

        def apply_then_die(path):
            calls.append(path)
            if len(calls) == 2:
                raise zebra_module.ZebraError("zebraidx update failed (1): disk full")
            real_apply(path)
        monkeypatch.setattr(feed.db, "apply", apply_then_die)
        with pytest.raises(zebra_module.ZebraError):
            feed.step()
        first = feed.cursor()
        assert first["gen"] >= 1 and first["id"]  # the first batch of 100 is kept
        monkeypatch.setattr(feed.db, "apply", real_apply)
        report = feed.step()
        live = publication.db.execute("SELECT count(*) FROM entries WHERE deleted = 0").fetchone()[0]
        last_gen = publication.db.execute("SELECT max(gen) FROM stamps").fetchone()[0]
        first_batch = [p for p in publication.page((1, last_gen), None, None, 100) if not p.deleted]
        assert not report.reloaded and len(report.updated) == live - len(first_batch)
        assert feed.step().changed == 0  # nothing new
        monkeypatch.setattr(ZebraFeed, "signature", staticmethod(lambda: "another configuration"))
        report = feed.step()
        assert report.reloaded and len(report.updated) == live
        with zebra_module.ZebraServer.start(tmp_path / "zebra", database=DATABASE, fresh=False) as server:
            assert hits(server.port, '@attr 1=_ALLRECORDS @attr 2=103 ""') == live
    finally:
        catalogue.close()
        publication.close()
