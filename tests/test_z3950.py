"""Z39.50 / SRU harvesting against a real Zebra (installed by scripts/install-peers) and yaz-ztest.

Nothing is skipped: without Zebra these tests fail with "run scripts/install-peers".
"""
from __future__ import annotations

import ctypes
import io
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pymarc
import pytest

from config import Config, Library, Settings, Z3950_DEFAULTS
from harvester import harvest_library
from harvester import z3950, zoom
from harvester.rawstore import RawStore
from normalizer import normalize
from normalizer.records import SourceContext
from tests.conftest import assert_consistent, free_port, reconcile
from unionapi.demo import zebra as zebra_module
from unionapi.demo.network import generate_network
from unionapi.demo.zebra import ZebraError, ZebraServer

SOURCE = "tv-kim-son"
OLD_005 = "20200102030405.0"  # every test record looks old, whatever today's date is


def to_iso2709(marcxml: str, **changes) -> bytes:
    record = pymarc.parse_xml_to_array(io.BytesIO(marcxml.encode()))[0]
    record["005"].data = changes.get("stamp", OLD_005)
    if "title" in changes:
        record["245"]["a"] = changes["title"]
    if changes.get("drop_999"):
        record.remove_fields("999")
    record.force_utf8 = True
    return record.as_marc()


@pytest.fixture(scope="module")
def catalogue():
    """Koha-like MARC21 records of one district library: {001: (marcxml, iso2709)}."""
    records = {}
    for rec in generate_network(total_records=1500)[SOURCE]:
        if rec.deleted:
            continue
        xml = rec.metadata["marc21"]
        number = re.search(r'tag="001">([^<]+)<', xml).group(1)
        records[number] = (xml, to_iso2709(xml, drop_999=not records))  # the first lacks 999 $c
    return records


@pytest.fixture(scope="module")
def shared_zebra(tmp_path_factory, catalogue):
    with ZebraServer.start(tmp_path_factory.mktemp("zebra"), [iso for _, iso in catalogue.values()]) as server:
        yield server


@pytest.fixture
def own_zebra(tmp_path, catalogue):
    """A server a test may change."""
    with ZebraServer.start(tmp_path / "zebra", [iso for _, iso in catalogue.values()]) as server:
        yield server


def library(port: int, host: str = "127.0.0.1", timeout_s: float = 10, **options) -> Library:
    return Library(id=SOURCE, name="Thư viện huyện Kim Sơn", kind="district", protocol="z3950",
                   schedule="0 2 * * *", timeout_s=timeout_s,
                   options={**Z3950_DEFAULTS, "host": host, "port": port, "database": "biblios",
                            "batch_size": 100, **options})


@pytest.fixture
def harvest(tmp_path):
    """harvest(library, full=..., force=...) into one raw store; sleeps are recorded, not slept."""
    store = RawStore(tmp_path / "raw.db")
    settings = Settings(data_dir=tmp_path, harvest_max_retries=2, harvest_backoff_s=0.25,
                        harvest_allow_private_addresses=True)  # Zebra runs on 127.0.0.1
    sleeps: list[float] = []

    def run(lib: Library, full: bool = False, force: bool = False):
        return harvest_library(lib, store, settings, full=full, force=force, sleep=sleeps.append)

    run.store, run.sleeps, run.settings = store, sleeps, settings
    return run


def reconciled(harvest, lib: Library, update: bool = True) -> dict:
    """The rest of the chain over the ``harvest`` fixture's raw store, then `unioncat check` (tests.conftest)."""
    config = Config(settings=harvest.settings, libraries={lib.id: lib},
                    sources_file=harvest.settings.data_dir / "sources.yaml")
    return reconcile(config, lib.id, raw=harvest.store, update=update)


def _zebra_processes(zebra: ZebraServer) -> dict[int, str]:
    """{pid: state} of zebrasrv and the processes it forked, one per open connection (from /proc)."""
    main = zebra.process.pid
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            state, parent = (Path("/proc") / entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if (int(entry) == main or int(parent) == main) and state != "Z":
            found[int(entry)] = state
    return found


def _drop_sessions(zebra: ZebraServer) -> None:
    """The server's session processes die (SIGKILL, by pid): every open Z39.50 connection is really lost."""
    for pid in _zebra_processes(zebra):
        if pid != zebra.process.pid:
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while len(_zebra_processes(zebra)) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)


def _freeze(zebra: ZebraServer, frozen: bool) -> None:
    """SIGSTOP / SIGCONT zebrasrv and its sessions: a server that hangs (the kernel still accepts connections,
    nothing answers)."""
    for pid in _zebra_processes(zebra):
        os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any((state == "T") != frozen for state in _zebra_processes(zebra).values()):
        time.sleep(0.01)


# --------------------------------------------------------------------------- full harvests
def test_a_record_over_the_size_cap_is_quarantined_and_the_rest_harvested(shared_zebra, catalogue, tmp_path):
    """harvest.max_record_mb holds for Z39.50 as for OAI-PMH: the big record is kept in quarantine,
    its first bytes and the reason with it, and the harvest goes on."""
    sizes = sorted(len(iso) for _, iso in catalogue.values())
    cap = sizes[len(sizes) * 9 // 10]  # the largest tenth of the catalogue goes over it
    settings = Settings(data_dir=tmp_path, harvest_allow_private_addresses=True, harvest_max_record_mb=cap / 1024 / 1024)
    store = RawStore(tmp_path / "raw.db")
    result = harvest_library(library(shared_zebra.port), store, settings)
    over = sum(1 for size in sizes if size > cap)
    assert result.outcome == "ok", result.error
    assert result.counts.quarantined == over > 0 and store.count(SOURCE) == len(catalogue) - over
    kept = store.quarantined(SOURCE)
    assert len(kept) == over and all("(harvest.max_record_mb)" in q["reason"] for q in kept)


def test_full_harvest_gets_every_record_intact(shared_zebra, catalogue, harvest):
    result = harvest(library(shared_zebra.port))
    assert result.outcome == "ok", result.error
    assert result.mode == "full"
    assert result.counts.added == len(catalogue) == harvest.store.count(SOURCE)
    assert result.pages == -(-len(catalogue) // 100)  # one present request per batch
    # Vietnamese text and Koha items come through byte-exact: the harvested ISO2709 normalizes
    # exactly like the library's own MARCXML
    checked = 0
    for number, (xml, _) in catalogue.items():
        if "952" not in xml or not re.search(r"[^\x00-\x7f]", xml.split('tag="245"')[1][:200]):
            continue
        raw = harvest.store.get(f"{SOURCE}:{number}")
        assert raw.format == "iso2709"
        ctx = SourceContext(library=SOURCE, record_id=raw.id)
        got, want = normalize(raw.body, "iso2709", ctx), normalize(xml.encode(), "marcxml", ctx)
        assert got.title == want.title and got.title != ""
        assert [(h.barcode, h.call_number, h.status) for h in got.holdings] == \
               [(h.barcode, h.call_number, h.status) for h in want.holdings]
        assert len(got.holdings) == xml.count('tag="952"') > 0
        checked += 1
        if checked == 20:
            break
    assert checked == 20


def test_vietnamese_search_is_folded_by_zebra(shared_zebra):
    """The demo Zebra's ICU chain: unaccented words (and d for đ) find Vietnamese titles."""
    conn = zoom.ZoomConnection("127.0.0.1", shared_zebra.port, {"databaseName": "biblios"})
    try:
        accented = conn.search("@attr 1=1003 Nguyễn")
        assert accented > 0 and conn.search("@attr 1=1003 nguyen") == accented
        assert conn.search("@attr 1=1016 dong") == conn.search("@attr 1=1016 đông") > 0
    finally:
        conn.close()


@pytest.mark.parametrize("id_field", ["999c", "999$c"])
def test_a_record_without_the_id_field_falls_back_to_its_001(shared_zebra, catalogue, harvest, id_field):
    result = harvest(library(shared_zebra.port, id_field=id_field, batch_size=500))
    assert result.outcome == "ok", result.error
    assert (result.counts.added, result.counts.quarantined) == (len(catalogue), 0)
    first = next(iter(catalogue))  # the one record without 999 $c is stored under its 001
    assert harvest.store.get(f"{SOURCE}:{first}") is not None
    assert harvest.store.count(SOURCE) == len(catalogue) and harvest.store.derived_ids(SOURCE) == []


def test_records_without_any_id_or_sharing_one_get_stable_derived_ids(tmp_path, catalogue):
    """No 001 and no id field: the id comes from the content; a second, different record with an id already
    seen in the result set gets one too; the same result set read again gives the same ids."""
    def strip_001(iso: bytes) -> bytes:
        record = pymarc.Record(iso, force_utf8=True)
        record.remove_fields("001")
        return record.as_marc()

    isos = [iso for _, iso in list(catalogue.values())[:4]]
    clash = pymarc.Record(isos[1], force_utf8=True)
    clash["001"].data = pymarc.Record(isos[0], force_utf8=True)["001"].data
    batch = [strip_001(isos[0]), isos[0], clash.as_marc(), strip_001(isos[3])]
    runs = []
    for _ in range(2):
        harvester = z3950.Z3950Harvester(library(210), RawStore(tmp_path / "raw.db"), Settings(data_dir=tmp_path, harvest_allow_private_addresses=True))
        items, bad = harvester._items(batch, 0)
        runs.append([item["identifier"] for item in items])
        assert bad == []
    ids = runs[0]
    assert runs[0] == runs[1] and len(set(ids)) == 4
    assert ids[0].startswith("derived:") and ids[3].startswith("derived:") and ids[1] == list(catalogue)[0]
    assert ids[2].startswith(f"derived:{list(catalogue)[0]}:")


@pytest.mark.parametrize("query", ['@attr 1=_ALLRECORDS @attr 2=103 ""', "cql.allRecords=1"])
def test_sru_transport_harvests_the_same_zebra(shared_zebra, catalogue, harvest, query):
    result = harvest(library(shared_zebra.port, transport="sru", batch_size=50, query=query))
    assert result.outcome == "ok", result.error
    assert result.counts.added == len(catalogue) and result.pages == -(-len(catalogue) // 50)
    number, (xml, _) = next(iter(catalogue.items()))
    raw = harvest.store.get(f"{SOURCE}:{number}")
    assert raw.format == "marcxml"
    ctx = SourceContext(library=SOURCE, record_id=raw.id)
    assert normalize(raw.body, "marcxml", ctx).title == normalize(xml.encode(), "marcxml", ctx).title


def test_broken_records_are_quarantined_with_a_reason(tmp_path, catalogue):
    harvester = z3950.Z3950Harvester(library(210), RawStore(tmp_path / "raw.db"), Settings(data_dir=tmp_path, harvest_allow_private_addresses=True))
    good = next(iter(catalogue.values()))[1]
    items, bad = harvester._items([good[:-40], None, b"garbage", list(catalogue.values())[3][1]], 200)
    assert [i["identifier"] for i in items] == [list(catalogue)[3]]
    reasons = [b["reason"] for b in bad]
    assert reasons[0].startswith("result set position 201: broken record: the record is truncated")
    assert "position 202: the server sent no record" in reasons[1]
    assert "position 203: broken record: no record length" in reasons[2]


# --------------------------------------------------------------------------- changes at the server
def _change_two(zebra: ZebraServer, catalogue) -> tuple[str, str]:
    """Edit one record (new title, 005 = now) and delete another, with zebraidx."""
    numbers = list(catalogue)
    changed, gone = numbers[5], numbers[6]
    now = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S.0")
    zebra.update([to_iso2709(catalogue[changed][0], stamp=now, title="Lịch sử Đà Nẵng (sửa)")])
    zebra.delete([catalogue[gone][1]])
    return changed, gone


def test_full_harvest_sees_an_update_and_a_deletion(own_zebra, catalogue, harvest):
    lib = library(own_zebra.port)
    assert harvest(lib).counts.added == len(catalogue)
    changed, gone = _change_two(own_zebra, catalogue)
    result = harvest(lib)
    assert result.outcome == "ok", result.error
    c = result.counts
    assert (c.added, c.updated, c.deleted, c.unchanged) == (0, 1, 1, len(catalogue) - 2)
    assert harvest.store.get(f"{SOURCE}:{gone}").deleted
    body = harvest.store.get(f"{SOURCE}:{changed}").body
    assert "Lịch sử Đà Nẵng (sửa)" in body.decode("utf-8")


@pytest.mark.parametrize("transport,query", [("z3950", Z3950_DEFAULTS["query"]), ("sru", "cql.allRecords=1")])
def test_incremental_harvest_fetches_only_the_changed_record(own_zebra, catalogue, harvest, transport, query):
    lib = library(own_zebra.port, incremental=True, transport=transport, query=query)
    first = harvest(lib)
    assert (first.mode, first.counts.added) == ("full", len(catalogue))
    changed, gone = _change_two(own_zebra, catalogue)
    result = harvest(lib)
    assert result.outcome == "ok", result.error
    assert result.mode == "incremental"
    c = result.counts
    assert (c.added, c.updated, c.deleted, c.unchanged) == (0, 1, 0, 0)  # no deletions from an incremental run
    assert not harvest.store.get(f"{SOURCE}:{gone}").deleted
    full = harvest(lib, full=True)  # deletions need a complete listing
    assert (full.mode, full.counts.deleted, full.counts.updated) == ("full", 1, 0)


def test_mass_deletion_is_refused_then_forced(own_zebra, catalogue, harvest):
    lib = library(own_zebra.port)
    assert harvest(lib).counts.added == len(catalogue)
    own_zebra.replace_all([])  # a wiped Zebra has no database at all: a failure, nothing deleted
    wiped = harvest(lib)
    assert (wiped.outcome, wiped.counts.deleted) == ("failed", 0)
    assert "Z39.50 diagnostic 109: Database unavailable (biblios)" in wiped.error
    first = next(iter(catalogue.values()))[1]
    own_zebra.update([first])
    own_zebra.delete([first])  # the database is there but answers with zero records
    empty = harvest(lib)
    assert (empty.outcome, empty.counts.deleted) == ("ok", 0)
    assert "refused" in empty.note
    own_zebra.replace_all([iso for _, iso in list(catalogue.values())[:5]])  # or with very few
    few = harvest(lib)
    assert (few.outcome, few.counts.deleted, few.counts.unchanged) == ("ok", 0, 5)
    assert "refused" in few.note and "--force" in few.note
    assert harvest.store.runs(SOURCE)[0]["note"] == few.note
    assert harvest.store.count(SOURCE) == len(catalogue)
    forced = harvest(lib, force=True)
    assert (forced.outcome, forced.counts.deleted, forced.note) == ("ok", len(catalogue) - 5, None)
    assert harvest.store.count(SOURCE) == 5


def test_a_lost_connection_mid_harvest_is_resumed(own_zebra, catalogue, harvest, monkeypatch):
    """The server's session process dies between two presents (zebrasrv forks one per connection; the test
    kills it: a real lost connection). The batch is retried on a new connection; if the server's result set
    changed meanwhile, positions moved, so the run keeps what it got but looks for no deletions: check names
    the records gone at the source, and the next full listing finds the deletions."""
    real_records = zoom.ZoomConnection.records
    calls = {"n": 0, "on_failure": lambda: None}

    def lose_the_connection_before_the_second_present(self, start, count):
        calls["n"] += 1
        if calls["n"] == 2:
            calls["on_failure"]()
            _drop_sessions(own_zebra)
        return real_records(self, start, count)

    monkeypatch.setattr(zoom.ZoomConnection, "records", lose_the_connection_before_the_second_present)
    lib = library(own_zebra.port)
    steady = harvest(lib)
    assert (steady.outcome, steady.counts.added, steady.note) == ("ok", len(catalogue), None)
    assert harvest.sleeps == [0.25]
    assert_consistent(reconciled(harvest, lib), len(catalogue))

    gone = list(catalogue)[:3]
    calls.update(n=0, on_failure=lambda: own_zebra.delete([catalogue[number][1] for number in gone]))
    moved = harvest(lib)
    assert (moved.outcome, moved.counts.deleted) == ("ok", 0)
    assert "deletions were not looked for" in moved.note
    assert harvest.store.count(SOURCE) == len(catalogue)
    behind = reconciled(harvest, lib)
    assert not behind["ok"] and behind["gone_at_source"] == sorted(gone), behind["text"]
    assert (behind["source"], behind["raw"]) == (len(catalogue) - 3, len(catalogue))
    assert f"3 harvested but no longer at the source (run `unioncat harvest {SOURCE} --full`)" in behind["text"]

    monkeypatch.undo()
    again = harvest(lib)  # Z39.50 without incremental: every run is a complete listing
    assert (again.outcome, again.counts.deleted) == ("ok", 3), again.error
    assert_consistent(reconciled(harvest, lib), len(catalogue) - 3)


def test_a_zebra_that_stops_answering_mid_present_is_caught_up(own_zebra, catalogue, harvest, monkeypatch):
    """zebrasrv hangs (SIGSTOP) after the first batch: the present times out, reconnecting times out, the run
    fails keeping the first batch; check cannot read the source and says so. Once the server answers again
    (SIGCONT) the next run catches up and everything agrees."""
    lib = library(own_zebra.port, timeout_s=1)
    real_records = zoom.ZoomConnection.records
    calls = {"n": 0}

    def hang_before_the_second_present(self, start, count):
        calls["n"] += 1
        if calls["n"] == 2:
            _freeze(own_zebra, True)
        return real_records(self, start, count)

    monkeypatch.setattr(zoom.ZoomConnection, "records", hang_before_the_second_present)
    try:
        result = harvest(lib)
        monkeypatch.undo()
        assert result.outcome == "failed"
        assert "timeout" in result.error.lower() and "gave up after 3 attempts" in result.error, result.error
        assert harvest.store.count(SOURCE) == 100  # the first batch is kept
        hung = reconciled(harvest, lib)
        assert not hung["ok"] and hung["source"] is None and hung["raw"] == hung["catalogue"] == 100, hung["text"]
        assert "the source could not be read" in hung["text"] and "within 1 s" in hung["text"], hung["text"]
    finally:
        _freeze(own_zebra, False)
    again = harvest(lib)
    assert (again.outcome, again.counts.added) == ("ok", len(catalogue) - 100), again.error
    assert_consistent(reconciled(harvest, lib), len(catalogue))


# --------------------------------------------------------------------------- failures
def test_timeout_is_retried_then_reported(tmp_path, harvest):
    """yaz-ztest's search-delay: the retry and backoff policy on a timeout. yaz-ztest serves synthetic records,
    not a catalogue, so there is nothing to reconcile here: the same fault against a real Zebra, ending with
    `unioncat check`, is test_a_zebra_that_stops_answering_mid_present_is_caught_up."""
    port = free_port()
    with open(tmp_path / "ztest.log", "wb") as log:
        ztest = subprocess.Popen(["yaz-ztest", f"tcp:127.0.0.1:{port}"], cwd=tmp_path,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port)
        started = time.monotonic()
        result = harvest(library(port, timeout_s=1, database="Default?search-delay=3"))
        elapsed = time.monotonic() - started
    finally:
        ztest.terminate()
        ztest.wait(5)
    assert result.outcome == "failed"
    assert "10007" in result.error and "timeout" in result.error.lower()
    assert "within 1 s" in result.error and "gave up after 3 attempts" in result.error
    assert harvest.sleeps == [0.25, 0.5]  # exponential backoff
    assert elapsed < 8
    assert harvest.store.runs(SOURCE)[0]["outcome"] == "failed"


def test_unreachable_host_fails_readably(harvest, catalogue, tmp_path):
    port = free_port()
    lib = library(port)
    result = harvest(lib)  # nothing listens there
    assert result.outcome == "failed"
    assert "connect failed" in result.error.lower() and "gave up after 3 attempts" in result.error
    assert harvest.sleeps == [0.25, 0.5]
    down = reconciled(harvest, lib)
    assert not down["ok"] and down["source"] is None and down["raw"] == 0, down["text"]
    assert "the source could not be read" in down["text"] and "connect failed" in down["text"], down["text"]
    # the library's server comes up at its address: the next run harvests it all, and everything agrees
    with ZebraServer.start(tmp_path / "zebra", [iso for _, iso in catalogue.values()], port=port):
        again = harvest(lib)
        assert (again.outcome, again.counts.added) == ("ok", len(catalogue)), again.error
        assert_consistent(reconciled(harvest, lib), len(catalogue))


def test_bad_query_reports_the_server_diagnostic(shared_zebra, harvest):
    result = harvest(library(shared_zebra.port, query="@attr 1=9999 x"))
    assert result.outcome == "failed"
    assert "Z39.50 diagnostic 114: Unsupported Use attribute (9999)" in result.error
    assert harvest.sleeps == []  # a diagnostic does not heal by retrying


def test_missing_libyaz_is_explained(monkeypatch, harvest):
    def no_library(*args, **kwargs):
        raise OSError("libyaz.so.5: cannot open shared object file")

    monkeypatch.setattr(zoom, "_lib", None)
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    result = harvest(library(210))
    assert result.outcome == "failed" and "scripts/install-peers" in result.error


def test_missing_zebra_is_explained(monkeypatch, tmp_path):
    monkeypatch.setattr(zebra_module.shutil, "which", lambda name: None)
    with pytest.raises(ZebraError, match="run scripts/install-peers"):
        ZebraServer.start(tmp_path, [])


def test_zebra_is_installed():
    """./run-tests installs it; a missing Zebra is a failure here, never a skip."""
    assert shutil.which("zebrasrv") and shutil.which("zebraidx") and shutil.which("yaz-ztest"), \
        "Zebra / yaz are not installed: run scripts/install-peers"


def _wait_for_port(port: int) -> None:
    import socket
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"yaz-ztest did not listen on port {port}")
