"""MARC export drops (protocol: file): real files in temp folders, and a real HTTP server with autoindex."""
import functools
import gzip
import io
import os
import threading
import time
import unicodedata
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pymarc
import pytest

from config import load_config
from harvester import RawStore, harvest_library
from normalizer import normalize
from normalizer.records import SourceContext
from tests.conftest import write_config
from unionapi.demo.network import generate_network

LIB = "thpt-drop"
KOHA = [r for r in generate_network(total_records=200)["tv-tinh"] if not r.deleted]  # MARCXML with 001 and 005


def xml_of(rec) -> bytes:
    return rec.metadata["marc21"].encode("utf-8")


def marc_records(start: int, count: int) -> list[pymarc.Record]:
    return [pymarc.parse_xml_to_array(io.BytesIO(xml_of(r)))[0] for r in KOHA[start:start + count]]


def mrc(records) -> bytes:
    return b"".join(r.as_marc() for r in records)


def collection(recs) -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?><collection xmlns="http://www.loc.gov/MARC21/slim">'
            + b"".join(xml_of(r) for r in recs) + b"</collection>")


def raw_iso(fields: list[tuple[str, bytes]]) -> bytes:
    """An ISO2709 record built byte by byte, leader/09 blank, as a Libol/OpenBiblio export writes it."""
    directory, data = b"", b""
    for tag, value in fields:
        value += b"\x1e"
        directory += tag.encode() + b"%04d%05d" % (len(value), len(data))
        data += value
    base = 24 + len(directory) + 1
    return b"%05dnam  22%05d   4500" % (base + len(data) + 1, base) + directory + b"\x1e" + data + b"\x1d"


TCVN3 = raw_iso([("001", b"OB-77"), ("245", b"10\x1faTruy\xd6n Ki\xd2u")])  # "Truyện Kiều" in TCVN3 (ABC)
NO_001 = raw_iso([("245", b"10\x1faS\xc3\xa1ch kh\xc3\xb4ng s\xe1\xbb\x91")])


def put(folder, name, data: bytes, age: float = 60) -> None:
    """Write an export as a library would, by default finished a minute ago."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - age
    os.utime(path, (then, then))


class Drops:
    def __init__(self, tmp_path, **options):
        self.folder = tmp_path / "exports"
        self.folder.mkdir(parents=True)
        if "url" not in options:
            options["path"] = str(self.folder)
        entry = {"id": LIB, "name": "Thư viện Trường THCS Yên Mô", "kind": "school", "protocol": "file", **options}
        self.config = load_config(write_config(tmp_path / "cfg", [entry]))
        self.store = RawStore(self.config.settings.data_dir / "raw.sqlite3")

    def run(self, full=False, force=False):
        return harvest_library(self.config.library(LIB), self.store, self.config.settings, full=full, force=force)

    def body(self, identifier):
        return self.store.get(f"{LIB}:{identifier}")


@pytest.fixture
def drops(tmp_path):
    return Drops(tmp_path)


def test_new_export_is_stored_unchanged_and_the_same_file_again_costs_nothing(drops):
    records = marc_records(0, 20)
    put(drops.folder, "export.mrc", mrc(records) + TCVN3)
    result = drops.run()
    assert (result.outcome, result.pages, result.counts.added, result.error) == ("ok", 1, 21, None)
    assert drops.store.count(LIB) == 21
    assert drops.body("OB-77").body == TCVN3  # legacy bytes untouched: decoding is the normalizer's job
    assert drops.body("OB-77").datestamp.endswith("Z")  # no 005: the file's mtime
    first = drops.body(records[0]["001"].data)
    assert first.format == "iso2709" and first.body == records[0].as_marc()
    assert first.datestamp[:4] == records[0]["005"].data[:4] and "T" in first.datestamp

    vietnamese = next(r for r in records if not r["245"]["a"].isascii())
    rec = drops.body(vietnamese["001"].data)
    canonical = normalize(rec.body, rec.format, SourceContext(LIB, rec.id))
    expected = unicodedata.normalize("NFC", vietnamese["245"]["a"]).rstrip(" /:;")
    assert canonical.title.startswith(expected) and not canonical.title.isascii()

    again = drops.run()
    assert (again.outcome, again.pages, again.counts.added, again.counts.unchanged) == ("ok", 0, 0, 0)
    assert "no new or changed export" in again.note
    runs = drops.store.runs(LIB)
    assert [(r["outcome"], r["pages"], r["added"]) for r in runs] == [("ok", 0, 0), ("ok", 1, 21)]
    assert drops.store.processed_files(LIB)[0]["records"] == 21


def test_replaced_export_updates_changed_records_and_deletes_missing_ones(drops):
    records = marc_records(0, 20)
    put(drops.folder, "libol.mrc", mrc(records))
    assert drops.run().counts.added == 20
    kept = drops.body(records[5]["001"].data)
    for record in records[:2]:
        record.add_field(pymarc.Field(tag="500", indicators=[" ", " "], subfields=[pymarc.Subfield("a", "Đã sửa")]))
    gone = [r["001"].data for r in records[-3:]]
    put(drops.folder, "libol.mrc", mrc(records[:-3]))
    result = drops.run()
    c = result.counts
    assert (result.outcome, c.added, c.updated, c.deleted, c.unchanged) == ("ok", 0, 2, 3, 15)
    assert all(drops.body(i).deleted for i in gone) and drops.store.count(LIB) == 17
    run = drops.store.runs(LIB)[0]
    assert (run["pages"], run["updated"], run["deleted"], run["unchanged"], run["note"]) == (1, 2, 3, 15, None)
    again = drops.body(records[5]["001"].data)  # an unchanged record is not stored again
    assert (again.seq, again.datestamp, again.content_hash) == (kept.seq, kept.datestamp, kept.content_hash)


def test_a_record_still_in_another_current_export_is_not_deleted(drops):
    records = marc_records(0, 10)
    put(drops.folder, "sach.mrc", mrc(records))
    put(drops.folder, "bo-sung.mrc", mrc(records[9:]))  # the last record is in both exports
    drops.run()
    put(drops.folder, "sach.mrc", mrc(records[:8]))
    result = drops.run()
    assert result.counts.deleted == 1 and drops.body(records[8]["001"].data).deleted
    assert not drops.body(records[9]["001"].data).deleted


def test_mass_deletion_is_refused_until_forced(drops):
    records = marc_records(0, 20)
    put(drops.folder, "export.mrc", mrc(records))
    drops.run()
    put(drops.folder, "export.mrc", mrc(records[:8]))  # 60% missing: more likely a broken export
    for _ in range(2):  # refused again at every run until someone decides
        result = drops.run()
        assert (result.outcome, result.counts.deleted) == ("ok", 0)
        assert "12 of 20 records (60%)" in result.note and "refused" in result.note and "--force" in result.note
        assert drops.store.count(LIB) == 20 and drops.store.runs(LIB)[0]["note"] == result.note
    forced = drops.run(force=True)
    assert forced.counts.deleted == 12 and drops.store.count(LIB) == 8 and forced.note is None
    assert "no new or changed export" in drops.run().note


def test_truncated_export_waits_until_complete(drops):
    data = mrc(marc_records(0, 20))
    put(drops.folder, "export.mrc", data[:len(data) - 300])  # cut in the middle of the last record
    result = drops.run()
    assert (result.outcome, result.pages, result.counts.added) == ("ok", 0, 0)
    assert "export.mrc not processed" in result.note and "truncated" in result.note
    assert drops.store.count(LIB) == 0 and drops.store.processed_files(LIB) == []
    put(drops.folder, "export.mrc", data)
    result = drops.run()
    assert (result.pages, result.counts.added, result.note) == (1, 20, None)


def test_a_file_still_being_written_is_skipped(drops):
    put(drops.folder, "export.mrc", mrc(marc_records(0, 5)), age=0)  # settle_s is 5 by default
    result = drops.run()
    assert result.counts.added == 0 and "export.mrc not processed: still being written" in result.note
    put(drops.folder, "export.mrc", mrc(marc_records(0, 5)), age=10)
    assert drops.run().counts.added == 5


@pytest.mark.parametrize("name, data, why", [
    ("export.mrc.gz", gzip.compress(mrc(marc_records(0, 5)))[:-20], "gzip"),
    ("export.mrc.gz", gzip.compress(mrc(marc_records(0, 5)))[:-8] + b"\0" * 8, "gzip"),  # bad CRC
    ("export.zip", b"PK\x03\x04" + b"\0" * 100, "zip"),
    ("export.xml", collection(KOHA[:5])[:-40], "cut off"),
    ("export.dat", b"Libol export\n", "neither ISO2709"),
])
def test_damaged_files_are_not_processed_and_the_run_says_why(drops, name, data, why):
    put(drops.folder, name, data)
    result = drops.run()
    assert (result.outcome, result.pages, drops.store.count(LIB)) == ("ok", 0, 0)
    assert f"{name} not processed" in result.note and why in result.note


def test_gzip_marcxml_and_zip_with_two_members(drops):
    put(drops.folder, "a.mrc.gz", gzip.compress(mrc(marc_records(0, 5))))
    put(drops.folder, "b.xml", collection(KOHA[5:10]))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("2026/sach.iso", mrc(marc_records(10, 3)))
        z.writestr("2026/bao.xml", collection(KOHA[13:17]))
        z.writestr("readme.txt", "Libol 6 export")
        z.writestr("__MACOSX/2026/._sach.iso", b"\0\5\x16\7 Mac resource fork")
    put(drops.folder, "libol.zip", archive.getvalue())
    result = drops.run()
    assert (result.outcome, result.pages, result.counts.added, result.note) == ("ok", 3, 17, None)
    xml_record = drops.body(KOHA[5].metadata["marc21"].split('tag="001">')[1].split("<")[0])
    assert xml_record.format == "marcxml" and b"<record" in xml_record.body
    assert {f["name"] for f in drops.store.processed_files(LIB)} == {"a.mrc.gz", "b.xml", "libol.zip"}
    assert drops.run().pages == 0


def test_record_without_001_is_kept_under_an_id_derived_from_its_content(drops):
    put(drops.folder, "export.mrc", mrc(marc_records(0, 5)) + NO_001)
    result = drops.run()
    assert (result.counts.added, result.counts.quarantined) == (6, 0)
    [derived] = drops.store.derived_ids(LIB)
    assert derived["identifier"].startswith("derived:") and derived["shared"] is None
    assert derived["origin"] == "export.mrc, record 6" and drops.body(derived["identifier"]).body == NO_001
    again = drops.run(full=True)  # the same file read again: the same id, nothing new
    assert (again.counts.added, again.counts.unchanged, again.counts.deleted) == (0, 6, 0)
    assert drops.store.derived_ids(LIB) == [derived]


@pytest.fixture
def web_folder(tmp_path):
    """A real web server with a real autoindex, as a library's hosting would offer."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_directory_listing_over_http(tmp_path, web_folder):
    folder, base = web_folder
    put(folder, "xuat-du-lieu/thang 11.mrc", mrc(marc_records(0, 5)))
    put(folder, "xuat-du-lieu/thang 12.xml.gz", gzip.compress(collection(KOHA[5:8])))
    put(folder, "xuat-du-lieu/ghi-chu.txt", b"not an export")
    drops = Drops(tmp_path, url=f"{base}/xuat-du-lieu")  # the server redirects to the folder/
    result = drops.run()
    assert (result.outcome, result.pages, result.counts.added, result.error) == ("ok", 2, 8, None)
    assert {f["name"] for f in drops.store.processed_files(LIB)} == {"thang 11.mrc", "thang 12.xml.gz"}
    assert "no new or changed export" in drops.run().note


def test_single_file_url_and_a_missing_one(tmp_path, web_folder):
    folder, base = web_folder
    put(folder, "export.mrc", mrc(marc_records(0, 4)))
    result = Drops(tmp_path / "one", url=f"{base}/export.mrc").run()
    assert (result.outcome, result.counts.added) == ("ok", 4)
    missing = Drops(tmp_path / "two", url=f"{base}/gone.mrc").run()
    assert missing.outcome == "failed" and "HTTP 404" in missing.error


def test_big_exports_are_stored_in_batches(drops, monkeypatch):
    import harvester.files
    monkeypatch.setattr(harvester.files, "BATCH", 7)
    pages = []
    real_store_page = drops.store.store_page
    monkeypatch.setattr(drops.store, "store_page", lambda *a, **k: pages.append(len(a[1])) or real_store_page(*a, **k))
    put(drops.folder, "export.mrc", mrc(marc_records(0, 15)) + NO_001 + mrc(marc_records(15, 10)))
    result = drops.run()
    assert (result.counts.added, result.counts.quarantined) == (26, 0)
    assert max(pages) <= 7 and sum(pages) == 26


def test_a_broken_marcxml_export_keeps_every_record_it_can_read(drops):
    """Control characters left by a conversion, one broken record, a cut-off end: the rest is stored."""
    records = [xml_of(r) for r in KOHA[:6]]
    records[1] = records[1].replace(b"</controlfield>", b"\x02</controlfield>", 1)  # illegal in XML 1.0
    records[3] = records[3].replace(b"</subfield>", b"<b></subfield>", 1)  # an unclosed tag
    body = (b'<?xml version="1.0" encoding="UTF-8"?><collection xmlns="http://www.loc.gov/MARC21/slim">'
            + b"".join(records) + records[0][:200])  # and the file ends in the middle of a record
    put(drops.folder, "export.xml", body, age=2 * 3600)  # long settled: this is the whole export
    result = drops.run()
    assert (result.outcome, result.counts.added, result.counts.quarantined) == ("ok", 5, 2)
    reasons = [q["reason"] for q in drops.store.quarantined(LIB)]
    assert any("not well-formed" in r for r in reasons) and any("cut off" in r for r in reasons), reasons
    assert drops.run(full=True).counts.quarantined == 2 and len(drops.store.quarantined(LIB)) == 2
