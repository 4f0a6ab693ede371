"""Real catalogues (issue 17): no record lost, no record stops the network.

Export drops harvested through the CLI as a library's IT person runs it, on real files of the shared
corpus (tests/data/third_party) where they show the problem, and on small exports built here:
records without 001, different records sharing one 001, exports named by date, a removed file,
a refused mass deletion, a bad file read again and again, newline-separated ISO2709.
"""
from __future__ import annotations

import io
import os
import re
import shlex
import sqlite3
import time
from contextlib import redirect_stdout

import pymarc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import ConfigError, load_config
from harvester import RawStore
from harvester.marcbytes import iso2709_identifier, split_iso2709
from normalizer import iter_iso2709
from normalizer.records import RejectedRecord
from tests.conftest import THIRD_PARTY, conforms, reconcile, write_config
from unionapi import cli
from unionapi.app import create_app
from unionapi.auth import hash_token
from unionapi.services import Services

LIB = "thcs-yen-mo"
TOKEN = "real-exports-token"
OPENLIBRARY = sorted((THIRD_PARTY / "openlibrary" / "bin_input").glob("*.mrc"))


def record(title: str, control: str | None = "", year: str = "2020", **extra) -> pymarc.Record:
    """A small MARC21 book; ``control`` None: no 001; extra fields as tag=(subfield code, value)."""
    rec = pymarc.Record(force_utf8=True)
    rec.leader = rec.leader[:9] + "a" + rec.leader[10:]
    if control is not None:
        rec.add_field(pymarc.Field(tag="001", data=control or f"YM-{abs(hash(title)) % 10**6}"))
    rec.add_field(pymarc.Field(tag="005", data=f"{year}0101120000.0"))
    rec.add_field(pymarc.Field(tag="245", indicators=["1", "0"], subfields=[pymarc.Subfield("a", title)]))
    rec.add_field(pymarc.Field(tag="260", indicators=[" ", " "], subfields=[
        pymarc.Subfield("a", "Hà Nội"), pymarc.Subfield("b", "Kim Đồng"), pymarc.Subfield("c", year)]))
    for tag, (code, value) in extra.items():
        rec.add_field(pymarc.Field(tag=tag[1:], indicators=[" ", " "], subfields=[pymarc.Subfield(code, value)]))
    return rec


def books(count: int, start: int = 0, **kwargs) -> list[pymarc.Record]:
    return [record(f"Sách số {n}", control=f"YM-{n:05d}", **kwargs) for n in range(start, start + count)]


def mrc(records, separator: bytes = b"") -> bytes:
    return separator.join(r.as_marc() for r in records) + separator


def put(folder, name: str, data: bytes, age: float = 120) -> None:
    """An export as the library drops it, finished ``age`` seconds ago."""
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (time.time() - age,) * 2)


class Library:
    """One file-drop library behind the real CLI (`unioncat --config ... COMMAND`)."""

    def __init__(self, tmp_path, **options):
        self.folder = tmp_path / "exports"
        self.folder.mkdir()
        entry = {"id": LIB, "name": "Thư viện Trường THCS Yên Mô", "kind": "school", "protocol": "file",
                 "path": str(self.folder), **options}
        self.config_dir = write_config(tmp_path / "config", [entry],
                                       api={"tokens": [{"name": "lan", "sha256": hash_token(TOKEN)}]})
        self.config = load_config(self.config_dir)

    def cli(self, *args: str) -> tuple[int, str]:
        out = io.StringIO()
        with redirect_stdout(out):
            code = cli.main(["--config", str(self.config_dir), *args])
        return code, out.getvalue()

    def harvest(self, *flags: str) -> dict:
        code, _ = self.cli("harvest", LIB, *flags)
        with self.raw() as raw:
            return {"code": code, **raw.runs(LIB, limit=1)[0]}

    def raw(self):
        return _Open(RawStore(self.config.settings.data_dir / "raw.sqlite3"))

    def check(self) -> dict:
        return reconcile(self.config, LIB, update=False)

    def quality(self) -> str:
        return self.cli("quality", LIB)[1]


class _Open:
    def __init__(self, store):
        self.store = store

    def __enter__(self):
        return self.store

    def __exit__(self, *exc):
        self.store.close()


# ------------------------------------------------------------------ 2. records without 001
def test_real_records_without_001_are_all_kept_and_a_reharvest_changes_nothing(tmp_path):
    """OpenLibrary's 60 real test records as one export: 8 without 001 (two of them with a wrong leader
    length), and one whose directory is broken (pymarc cannot read it either): kept in quarantine."""
    lib = Library(tmp_path)
    put(lib.folder, "openlibrary.mrc", b"".join(path.read_bytes() for path in OPENLIBRARY))
    first = lib.harvest()
    assert (first["code"], first["added"], first["quarantined"]) == (0, 59, 1)
    with lib.raw() as raw:
        ids = sorted(raw.live_identifiers(LIB))
        derived = raw.derived_ids(LIB)
    assert len(ids) == 59 and len(derived) == 8 == sum(i.startswith("derived:") for i in ids)
    for _ in range(2):  # the same export read again: the same ids, nothing added or deleted
        again = lib.harvest("--full")
        assert (again["added"], again["updated"], again["deleted"], again["unchanged"]) == (0, 0, 0, 59)
        with lib.raw() as raw:
            assert sorted(raw.live_identifiers(LIB)) == ids and len(raw.quarantined(LIB)) == 1
    report = lib.quality()
    assert "Records without an id (kept under an id derived from their content): 8" in report
    assert re.search(r"derived:[0-9a-f]{16}: openlibrary.mrc, record \d+", report)
    checked = lib.check()
    assert checked["source"] == checked["raw"] == 59 and not checked["not_harvested"], checked["text"]


def test_a_new_copy_keeps_a_derived_id_and_an_edited_title_makes_a_new_one(tmp_path):
    """The trade-off of derived ids: holdings (852, 9XX) and 001/005 are left out of the key, the
    bibliographic fields are in it, so adding a copy updates in place and retitling replaces."""
    lib = Library(tmp_path)
    kept = [record(f"Truyện số {n}", control=None, f952=("a", "TRUNGTAM")) for n in range(5)]
    put(lib.folder, "export.mrc", mrc(kept))
    assert lib.harvest()["added"] == 5
    with lib.raw() as raw:
        before = raw.live_identifiers(LIB)
    kept[0].add_field(pymarc.Field(tag="952", indicators=[" ", " "], subfields=[pymarc.Subfield("a", "CHINHANH")]))
    kept[0]["005"].data = "20260101120000.0"
    put(lib.folder, "export.mrc", mrc(kept))
    run = lib.harvest()
    assert (run["added"], run["updated"], run["deleted"], run["unchanged"]) == (0, 1, 0, 4)
    with lib.raw() as raw:
        assert raw.live_identifiers(LIB) == before
    kept[1]["245"]["a"] = "Truyện số 1 (in lần 2)"
    put(lib.folder, "export.mrc", mrc(kept))
    run = lib.harvest()
    assert (run["added"], run["updated"], run["deleted"]) == (1, 0, 1)


@pytest.mark.parametrize("id_field, tag", [("035$a", "f035"), ("999$c", "f999"), ("999c", "f999")])
def test_id_field_names_any_subfield_and_falls_back_to_001_then_derived(tmp_path, id_field, tag):
    lib = Library(tmp_path, id_field=id_field)
    code = "a" if tag == "f035" else "c"
    with_field = [record(f"Sách {n}", control=f"OB-{n}", **{tag: (code, f"(YM){n}")}) for n in range(3)]
    only_001 = record("Chỉ có 001", control="OB-77")
    neither = record("Không có số", control=None)
    put(lib.folder, "export.iso", mrc(with_field + [only_001, neither]))
    assert lib.harvest()["added"] == 5
    with lib.raw() as raw:
        ids = raw.live_identifiers(LIB)
    assert {"(YM)0", "(YM)1", "(YM)2", "OB-77"} < ids and len(ids) == 5
    assert sum(i.startswith("derived:") for i in ids) == 1


def test_oai_has_no_id_field(tmp_path):
    """An OAI record's id is its header identifier, which the provider's deletions name too."""
    entry = {"id": "tv-a", "name": "Thư viện A", "kind": "district", "protocol": "oai",
             "endpoint": "http://127.0.0.1:1/oai", "metadata_prefix": "marc21", "id_field": "999$c"}
    with pytest.raises(ConfigError, match="OAI header"):
        load_config(write_config(tmp_path, [entry]))


# ------------------------------------------------------------------ 3. different records sharing one 001
@pytest.mark.parametrize("name, shared, count", [("chinese_mangled_multibyte.mrc", "u6080510", 4),
                                                 ("greekmissingcharsetchange.mrc", "u5960229", 3)])
def test_real_records_sharing_one_001_are_all_kept_and_reported(tmp_path, name, shared, count):
    lib = Library(tmp_path)
    put(lib.folder, name, (THIRD_PARTY / "marc4j" / name).read_bytes())
    run = lib.harvest()
    assert (run["added"], run["updated"], run["quarantined"]) == (count, 0, 0)
    with lib.raw() as raw:
        ids = raw.live_identifiers(LIB)
    assert len(ids) == count and all(i.startswith(f"derived:{shared}:") for i in ids)
    again = lib.harvest("--full")
    assert (again["added"], again["unchanged"], again["deleted"]) == (0, count, 0)
    report = lib.quality()
    assert "Ids shared by different records (a cataloguing error at the library" in report
    assert f"{shared}: {count} records" in report


def test_shared_001_in_the_quality_api(tmp_path):
    lib = Library(tmp_path)
    clash = [record("Tắt đèn", control="42"), record("Số đỏ", control="42"), record("Chí Phèo", control="42")]
    put(lib.folder, "export.mrc", mrc(books(4) + clash + [record("Vô danh", control=None)]))
    assert lib.harvest()["added"] == 8
    services = Services.open(lib.config, read_only=True)
    try:
        client = create_app(services).test_client()
        report = client.get(f"/api/libraries/{LIB}/quality").get_json()
        login = client.get("/cataloguer/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
        assert client.post("/cataloguer/login", data={"token": TOKEN, "csrf": csrf}).status_code == 302
        page = client.get(f"/cataloguer/quality?library={LIB}&lang=en").get_data(as_text=True)
    finally:
        services.close()
    assert "One record id (001) given to several different records" in page and "<code>42</code>: 3 records" in page
    assert "Records without an id" in page and "derived:" in page
    conforms(report, "QualityReport")
    assert report["shared_ids"]["count"] == 1 and report["shared_ids"]["examples"][0]["identifier"] == "42"
    assert report["shared_ids"]["examples"][0]["records"] == 3
    assert report["derived_ids"]["count"] == 1


# ------------------------------------------------------------------ 4. deletions from export drops
def test_snapshot_latest_dated_exports_bring_deletions_and_check_advice_fixes(tmp_path):
    lib = Library(tmp_path, snapshot="latest")
    records = books(20)
    put(lib.folder, "export-2026-12-01.mrc", mrc(records), age=7200)
    assert lib.harvest()["added"] == 20
    records[3]["245"]["a"] = "Sách số 3 (sửa)"
    put(lib.folder, "export-2026-12-02.mrc", mrc(records[:18]), age=60)  # two withdrawn, one edited
    checked = lib.check()  # before the harvest: check says what differs and what to run
    assert not checked["ok"] and len(checked["gone_at_source"]) == 2, checked["text"]
    run_advice(lib, checked["text"])
    run = lib.harvest()
    assert (run["deleted"], run["added"]) == (0, 0)  # the advice already applied it
    with lib.raw() as raw:
        assert raw.count(LIB) == 18 and raw.count(LIB, deleted=True) == 2
        assert b"(s\xe1\xbb\xada)" in raw.get(f"{LIB}:YM-00003").body
    assert_fixed(lib)


def test_snapshot_latest_mass_deletion_is_a_warning_everywhere_until_forced(tmp_path):
    lib = Library(tmp_path, snapshot="latest")
    put(lib.folder, "export-2026-12-01.mrc", mrc(books(20)), age=7200)
    lib.harvest()
    put(lib.folder, "export-2026-12-02.mrc", mrc(books(5)), age=60)  # 75% missing: more likely a broken export
    run = lib.harvest()
    assert (run["code"], run["outcome"], run["deleted"]) == (0, "ok", 0)
    assert "15 of 20 records (75%)" in run["warning"] and "--full --force" in run["warning"]
    assert_warning_shown(lib, "15 of 20 records (75%)")
    again = lib.harvest()  # refused again at every run until someone decides
    assert again["deleted"] == 0 and "refused" in again["warning"]
    checked = lib.check()
    assert "unioncat harvest thcs-yen-mo --full --force" in checked["text"], checked["text"]
    run_advice(lib, checked["text"])
    assert_fixed(lib)
    with lib.raw() as raw:
        assert raw.count(LIB) == 5 and raw.warning(LIB) is None
    code, status = lib.cli("status")
    assert "WARNING since" not in status


def test_union_removed_file_deletes_what_only_it_held(tmp_path):
    lib = Library(tmp_path)
    records = books(12)
    put(lib.folder, "sach.mrc", mrc(records[:10]))
    put(lib.folder, "bo-sung.mrc", mrc(records[9:]))  # YM-00009 is in both
    assert lib.harvest()["added"] == 12
    (lib.folder / "bo-sung.mrc").unlink()
    run = lib.harvest()
    assert (run["deleted"], run["warning"]) == (2, None)
    with lib.raw() as raw:
        assert raw.count(LIB) == 10 and not raw.get(f"{LIB}:YM-00009").deleted
    assert_fixed(lib)


def test_union_dated_exports_keep_the_union_and_check_agrees(tmp_path):
    """Today's behaviour stays the default: with every export kept, a record of an older one stays."""
    lib = Library(tmp_path)
    put(lib.folder, "export-2026-12-01.mrc", mrc(books(6)), age=7200)
    put(lib.folder, "export-2026-12-02.mrc", mrc(books(5)), age=60)
    lib.harvest()
    with lib.raw() as raw:
        assert raw.count(LIB) == 6
    assert_fixed(lib)


def run_advice(lib: Library, text: str) -> None:
    """Run every command check printed, as a person would paste it."""
    commands = re.findall(r"run `(unioncat [^`]+)`", text)
    assert commands, text
    for command in dict.fromkeys(commands):
        args = shlex.split(command)[1:]
        assert lib.cli(*args)[0] == 0, command


def assert_fixed(lib: Library) -> None:
    """check, after running what it advises if anything, says consistent."""
    lib.cli("index")
    checked = lib.check()
    if not checked["ok"]:
        run_advice(lib, checked["text"])
        checked = lib.check()
    assert checked["ok"], checked["text"]


# ------------------------------------------------------------------ 5. a refused mass deletion is a warning
def assert_warning_shown(lib: Library, text: str) -> None:
    code, status = lib.cli("status")
    assert "deletions refused" in status and f"{LIB}: WARNING since" in status and text in status
    services = Services.open(lib.config, read_only=True)
    try:
        client = create_app(services).test_client()
        [library] = client.get("/api/libraries").get_json()["libraries"]
        conforms(library, "Library")
        assert text in library["warning"]["message"] and library["last_run"]["outcome"] == "ok"
        [run] = client.get("/api/harvests", query_string={"library": LIB, "limit": 1}).get_json()["harvests"]
        conforms(run, "Run")
        assert text in run["warning"]
        page = client.get("/cataloguer/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        client.post("/cataloguer/login", data={"token": TOKEN, "csrf": csrf})
        harvest_page = client.get("/cataloguer/harvest", query_string={"lang": "en"}).get_data(as_text=True)
        assert 'class="outcome o-warning">warning</span>' in harvest_page and text in harvest_page
    finally:
        services.close()


# ------------------------------------------------------------------ 11. quarantine keyed by content
def test_reading_the_same_bad_file_again_adds_nothing_to_quarantine(tmp_path):
    bad = (THIRD_PARTY / "pymarc" / "bad_records.mrc").read_bytes()  # 5 of 8 with a broken structure
    lib = Library(tmp_path)
    put(lib.folder, "bad.mrc", bad)
    counts = []
    for _ in range(3):
        lib.harvest("--full")
        with lib.raw() as raw:
            counts.append(len(raw.quarantined(LIB)))
    assert counts == [5, 5, 5]
    assert "5 kept in quarantine by the harvester" in lib.quality()


def test_an_older_store_with_duplicate_quarantine_rows_is_cleaned_once(tmp_path):
    path = tmp_path / "raw.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,
        identifier TEXT, reason TEXT NOT NULL, body BLOB, created_at TEXT NOT NULL);""")
    for n in range(3):  # 51 -> 102 -> 153, in small
        db.executemany("INSERT INTO quarantine (source, reason, body, created_at) VALUES (?,?,?,?)",
                       [(LIB, f"record {i}: no 001", b"record %d" % i, f"2026-01-0{n + 1}") for i in range(2)])
    db.commit()
    db.close()
    store = RawStore(path)
    assert [(q["reason"], q["created_at"]) for q in store.quarantined(LIB)] == [
        ("record 0: no 001", "2026-01-01"), ("record 1: no 001", "2026-01-01")]
    store.quarantine(LIB, None, "record 0: read again", b"record 0")
    assert len(store.quarantined(LIB)) == 2


# ------------------------------------------------------------------ 12. one ISO2709 splitter
@pytest.mark.parametrize("separator", [b"\n", b"\r\n", b"\n\x1a"])
def test_newline_separated_export_is_read_whole_by_harvester_and_normalizer(tmp_path, separator):
    data = mrc(books(20), separator)
    assert len(list(iter_iso2709(data))) == 20 == len(list(split_iso2709(data)))
    lib = Library(tmp_path)
    put(lib.folder, "libol.mrc", data)
    run = lib.harvest()
    assert (run["added"], run["quarantined"]) == (20, 0)
    lib.cli("index")
    assert reconcile(lib.config, LIB, update=False)["catalogue"] == 20


def test_wrong_lengths_junk_and_a_last_record_without_terminator(tmp_path):
    records = [r.as_marc() for r in books(4)]
    wrong = b"%05d" % (len(records[1]) - 7) + records[1][5:]  # length counted in characters, say
    data = b"LIBOL 6.0 EXPORT\r\n" + records[0] + wrong + b"\r\n" + records[2] + records[3][:-1]
    lib = Library(tmp_path)
    put(lib.folder, "export.dat", data)
    run = lib.harvest()
    assert (run["added"], run["quarantined"]) == (4, 1)  # the text header is kept in quarantine, with a reason
    with lib.raw() as raw:
        [junk] = raw.quarantined(LIB)
        assert "not a MARC record" in junk["reason"]
    items = list(iter_iso2709(data))
    assert len(items) == 5 == len(list(split_iso2709(data)))


def test_a_cut_off_export_waits_then_is_read_with_its_tail_in_quarantine(tmp_path):
    cut = (THIRD_PARTY / "marc4j" / "008008027.mrc").read_bytes()  # 19 records cut at 64 KiB
    lib = Library(tmp_path)
    put(lib.folder, "export.mrc", cut, age=120)
    run = lib.harvest()
    assert run["added"] == 0 and "the record is truncated" in run["note"]
    put(lib.folder, "export.mrc", cut, age=2 * 3600)  # nobody finished it: what is there is read
    run = lib.harvest()
    assert (run["added"], run["quarantined"]) == (18, 1)


MARC_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(titles=st.lists(MARC_TEXT, min_size=1, max_size=6),
       separators=st.lists(st.sampled_from([b"", b"\n", b"\r\n", b"  ", b"\x00\x00", b"\x1a"]), min_size=6, max_size=6),
       wrong=st.lists(st.integers(-30, 30), min_size=6, max_size=6),
       junk=st.lists(st.sampled_from([b"", b"", b"EXPORT\n", b"-- trang 2 --\r\n"]), min_size=6, max_size=6),
       last_terminator=st.booleans())
def test_the_two_readers_agree_on_any_concatenation(titles, separators, wrong, junk, last_terminator):
    """Whatever the separators, leader lengths and junk, the harvester and the normalizer see the same
    pieces, and every record is one of them, unchanged but for a wrong leader length."""
    pieces = []
    for n, title in enumerate(titles):
        body = record(title, control=f"P-{n}").as_marc()
        if wrong[n]:
            body = b"%05d" % max(0, len(body) + wrong[n]) + body[5:]
        pieces.append(junk[n] + body + separators[n])
    data = b"".join(pieces)
    if not last_terminator:
        data = data.rstrip(b"\n\r \x00\x1a")[:-1]
    split = list(split_iso2709(data))
    assert len(split) == len(list(iter_iso2709(data))) == len(titles) + sum(1 for j in junk[:len(titles)] if j)
    assert [iso2709_identifier(piece) for piece in split if piece[:1].isdigit()] == [
        f"P-{n}" for n in range(len(titles))]
    assert [item.fields[0][1] for item in iter_iso2709(data) if not isinstance(item, RejectedRecord)] == [
        f"P-{n}" for n in range(len(titles))]


SEPARATORS = b"\r\n\t \x00\x1a"
SAMPLE = [r.as_marc() for r in books(3)]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.one_of(st.binary(max_size=60), st.sampled_from(SAMPLE),
                                st.sampled_from(SAMPLE).map(lambda r: r[:len(r) // 2])), max_size=8))
def test_any_bytes_lose_nothing_but_separators_and_both_readers_agree(parts):
    data = b"".join(parts)
    pieces = list(split_iso2709(data))
    assert len(pieces) == len(list(iter_iso2709(data)))
    assert b"".join(pieces).translate(None, SEPARATORS) == data.translate(None, SEPARATORS)
