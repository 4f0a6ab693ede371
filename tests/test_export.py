"""`unioncat export`, run as a user runs it (a subprocess) on part of the demo network harvested for real:
every entry once in each format, read back by pymarc and checked against the MARC21 slim schema; the
--library and --since selections; deletions; the errors that say what to do; and the streaming itself
(records written while later batches are still unread).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import pymarc
import pytest
from lxml import etree

from config import load_config
from tests.browser import build_demo
from tests.conftest import REPO, local_schema
from unionapi import actions
from unionapi.publish import export as export_module
from unionapi.publish.export import export
from unionapi.publish.state import utc
from unionapi.services import Services

MARC_NS = "http://www.loc.gov/MARC21/slim"


MARC_SCHEMA = local_schema((MARC_NS, "MARC21slim.xsd"))


def unioncat(config_dir, *args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args], cwd=REPO,
                          capture_output=True, timeout=300, check=check, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """Four demo libraries (300 records) harvested into a union catalogue (changed by the --since test,
    which runs last)."""
    folder = tmp_path_factory.mktemp("export")
    config_dir, providers = build_demo(folder, total_records=300)
    for provider in providers:
        provider.stop()
    services = Services.open(load_config(config_dir))
    yield {"config_dir": config_dir, "services": services, "folder": folder}
    services.close()


def entries(services, library: str | None = None) -> set[str]:
    catalogue = services.catalogue
    if library is None:
        return set(catalogue.all_entry_ids())
    return set(catalogue.entries_of(catalogue.record_ids(library)).values())


def read_iso2709(path) -> list[pymarc.Record]:
    with open(path, "rb") as file:
        records = list(pymarc.MARCReader(file, to_unicode=True))
    assert all(r is not None for r in records), "pymarc could not read a record"
    return records


def read_marcxml(path) -> list[pymarc.Record]:
    root = etree.parse(str(path)).getroot()
    assert MARC_SCHEMA.validate(root), MARC_SCHEMA.error_log.last_error
    return pymarc.parse_xml_to_array(str(path))


def test_every_entry_once_in_each_format(network):
    config_dir, folder = network["config_dir"], network["folder"]
    expected = entries(network["services"])
    assert len(expected) > 100
    run = unioncat(config_dir, "export", "--format", "iso2709", "--output", str(folder / "all.mrc"),
                   "--progress-every", "50")
    stderr = run.stderr.decode()
    assert "exported 50 entries" in stderr and "exported 100 entries" in stderr
    assert f"exported {len(expected)} entries to {folder / 'all.mrc'}" in stderr
    assert not (folder / "all.mrc.part").exists()
    marc = read_iso2709(folder / "all.mrc")
    assert [r["001"].data for r in marc] and sorted(r["001"].data for r in marc) == sorted(expected)
    assert all(r.leader[9] == "a" and r.leader[5] == "n" and r["245"] and r["005"] for r in marc)
    assert sum(len(r.get_fields("852")) for r in marc) >= len(marc)  # the network's holdings

    unioncat(config_dir, "export", "--format", "marcxml", "-o", str(folder / "all.xml"))
    collection = read_marcxml(folder / "all.xml")
    assert [[str(f) for f in r.fields] for r in collection] == [[str(f) for f in r.fields] for r in marc]

    lines = unioncat(config_dir, "export", "--format", "jsonl").stdout.decode("utf-8").splitlines()  # to stdout
    documents = [json.loads(line) for line in lines]
    assert [d["id"] for d in documents] == [r["001"].data for r in marc]
    assert all(d["datestamp"].endswith("Z") and d["holdings"] is not None for d in documents)


def test_one_library_and_the_errors_that_say_what_to_do(network):
    config_dir, folder = network["config_dir"], network["folder"]
    school = entries(network["services"], "thpt-lvt")
    assert 0 < len(school) < len(entries(network["services"]))
    unioncat(config_dir, "export", "--format", "iso2709", "--library", "thpt-lvt", "-o", str(folder / "lvt.mrc"))
    records = read_iso2709(folder / "lvt.mrc")
    assert {r["001"].data for r in records} == school and len(records) == len(school)
    assert all("thpt-lvt" in {f["a"] for f in r.get_fields("852")} for r in records)

    for args, message in (
            (["--library", "tv-nowhere"], "unknown library 'tv-nowhere'; the libraries of this network: "
                                          "thpt-lvt, tv-kim-son, tv-tinh, tv-yen-mo"),
            (["--since", "2026-02-30"], "use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ"),
            (["--since", "yesterday"], "'yesterday' is not a date"),
            (["-o", str(folder / "no-such-folder" / "x.mrc")], "the folder"),
    ):
        run = unioncat(config_dir, "export", "--format", "marcxml", *args, check=False)
        assert run.returncode == 2 and message in run.stderr.decode(), run.stderr
    run = unioncat(config_dir, "export", "--format", "mods", check=False)
    assert run.returncode == 2 and "invalid choice: 'mods'" in run.stderr.decode()
    assert not list(folder.glob("*.part"))


def test_entries_are_read_in_batches_and_written_as_they_come(network, monkeypatch):
    """Constant memory: with batches of 7 the output grows while later batches are still unread."""
    services = network["services"]
    monkeypatch.setattr(export_module, "BATCH", 7)
    reads, writes = [], []
    members_of = services.catalogue.members_of

    def counted(ids):
        reads.append(len(ids))
        return members_of(ids)
    monkeypatch.setattr(services.catalogue, "members_of", counted)

    class Output(io.BytesIO):
        def write(self, data):
            writes.append(len(reads))  # how many batches were read when this was written
            return super().write(data)
    out, progress = Output(), []
    stats = export(services, "marcxml", out, progress=progress.append, every=20)
    assert stats.entries == len(entries(services)) and max(reads) == 7
    assert len(reads) == -(-stats.entries // 7)
    assert writes[0] < len(reads) / 2 and len(set(writes)) > len(reads) / 2  # written along the way
    assert progress[0].startswith("exported 20 entries (")
    whole = pymarc.parse_xml_to_array(io.BytesIO(out.getvalue()))
    assert len(whole) == stats.entries


def test_without_publication_dates_the_catalogue_is_listed_and_since_is_refused(network, monkeypatch):
    """A data directory indexed before the publication state existed: every entry still goes out (from the
    catalogue, without 005), and --since says to run `unioncat index` first, before writing anything."""
    from unionapi.publish.export import ExportError
    services = network["services"]
    monkeypatch.setattr(services, "publication", None)
    out = io.BytesIO()
    stats = export(services, "iso2709", out)
    records = list(pymarc.MARCReader(io.BytesIO(out.getvalue()), to_unicode=True))
    assert sorted(r["001"].data for r in records) == sorted(entries(services)) and stats.entries == len(records)
    assert not any(r.get_fields("005") for r in records)
    school = io.BytesIO()
    export(services, "jsonl", school, library="thpt-lvt")
    assert {json.loads(line)["id"] for line in school.getvalue().splitlines()} == entries(services, "thpt-lvt")
    untouched = io.BytesIO()
    with pytest.raises(ExportError, match="run `unioncat index` once"):
        export(services, "marcxml", untouched, since=0)
    assert untouched.getvalue() == b""


def test_since_a_date_and_deletions(network):
    """A split, then its undo: each moves the entries it touches to a new datestamp; the undo deletes
    the entry the split made. --since exports exactly what changed; --deleted says what went."""
    config_dir, folder, services = network["config_dir"], network["folder"], network["services"]
    everything = entries(services)
    entry_id = next(e for e in sorted(everything) if len(services.catalogue.members(e)) >= 2)
    record_id = services.catalogue.members(entry_id)[-1].record_id
    time.sleep(1.1)  # the next datestamp is a later second than the harvest's
    decision = actions.split(services, entry_id, record_id, "test")
    split_off = services.catalogue.entry_of(record_id)
    assert split_off != entry_id
    since_split = services.publication.get(split_off).datestamp
    assert services.publication.get(entry_id).datestamp == since_split

    run = unioncat(config_dir, "export", "--format", "iso2709", "--since", utc(since_split), "-o",
                   str(folder / "split.mrc"))
    assert sorted(r["001"].data for r in read_iso2709(folder / "split.mrc")) == sorted([entry_id, split_off])
    assert run.returncode == 0

    time.sleep(1.1)
    actions.undo(services, decision, "test")
    assert services.catalogue.entry_of(record_id) == entry_id
    since_undo = services.publication.get(split_off).datestamp
    assert since_undo > since_split and services.publication.get(split_off).deleted
    unioncat(config_dir, "export", "--format", "iso2709", "--since", utc(since_undo), "-o", str(folder / "u.mrc"))
    assert [r["001"].data for r in read_iso2709(folder / "u.mrc")] == [entry_id]
    run = unioncat(config_dir, "export", "--format", "marcxml", "--since", utc(since_undo), "--deleted",
                   "-o", str(folder / "u.xml"))
    records = {r["001"].data: r for r in read_marcxml(folder / "u.xml")}
    assert set(records) == {entry_id, split_off}
    assert records[split_off].leader[5] == "d" and not records[split_off].get_fields("245")
    assert records[entry_id].leader[5] == "n"
    assert "and 1 deletions" in run.stderr.decode()
    lines = unioncat(config_dir, "export", "--format", "jsonl", "--since", utc(since_undo),
                     "--deleted").stdout.decode().splitlines()
    assert {"id": split_off, "deleted": True, "datestamp": utc(since_undo)} in map(json.loads, lines)

    # a day's date takes in the whole day; a date after the last change exports nothing (and says so)
    day = utc(services.publication.earliest())[:10]
    assert len(read_iso2709_bytes(unioncat(config_dir, "export", "--format", "iso2709", "--since", day).stdout)) \
        == len(everything)
    later = unioncat(config_dir, "export", "--format", "iso2709", "--since", utc(since_undo + 1))
    assert later.stdout == b"" and "nothing to export published since" in later.stderr.decode()


def read_iso2709_bytes(data: bytes) -> list[pymarc.Record]:
    return list(pymarc.MARCReader(io.BytesIO(data), to_unicode=True))
