"""Deduplicating what changed gives the same union entries as clustering everything again."""
from __future__ import annotations

import pytest

from config import load_config
from harvester import harvest_library
from tests.conftest import write_config
from unionapi.demo.network import DEMO_SEED, generate_network, save_records, simulate_changes
from unionapi.demo.provider import start_provider
from unionapi.pipeline import deduplicate_changes, normalize_changes
from unionapi.services import Services
from unionapi.workers import cores

LIBRARIES = ("tv-tinh", "tv-kim-son", "tv-yen-mo", "thpt-lvt")


def entries(services) -> set[frozenset]:
    groups: dict[str, set] = {}
    for record_id, entry_id in services.catalogue.db.execute("SELECT id, entry_id FROM records"):
        groups.setdefault(entry_id, set()).add(record_id)
    return {frozenset(members) for members in groups.values()}


@pytest.fixture
def network(tmp_path):
    generated = generate_network(DEMO_SEED, total_records=1200)
    providers, libraries = {}, []
    for library_id in LIBRARIES:
        path = tmp_path / f"{library_id}.jsonl"
        save_records(path, generated[library_id])
        prefix = "marc21" if library_id in ("tv-tinh", "tv-kim-son") else "oai_dc"
        providers[library_id] = start_provider(path, port=0, page_size=100,
                                               formats="marc21,oai_dc" if prefix == "marc21" else "oai_dc")
        libraries.append({"id": library_id, "name": library_id, "kind": "district", "protocol": "oai",
                          "endpoint": providers[library_id].url, "metadata_prefix": prefix})
    config = load_config(write_config(tmp_path / "config", libraries))
    services = Services.open(config)
    yield config, services, generated, tmp_path
    services.close()
    for provider in providers.values():
        provider.stop()


def harvest(config, services, library_ids):
    for library_id in library_ids:
        assert harvest_library(config.library(library_id), services.raw, config.settings).outcome == "ok"
    normalize_changes(config, services.raw, services.catalogue)
    deduplicate_changes(config, services.catalogue)


def test_incremental_equals_full_rebuild(network, monkeypatch):
    import unionapi.clusters
    pools = []
    monkeypatch.setattr(unionapi.clusters, "PARALLEL_KEYS_FROM", 0)  # rebuilds compute keys in worker processes
    original = unionapi.clusters.process_pool
    monkeypatch.setattr(unionapi.clusters, "process_pool", lambda workers: pools.append(workers) or original(workers))
    config, services, generated, folder = network
    harvest(config, services, LIBRARIES[:2])       # two libraries first
    harvest(config, services, LIBRARIES[2:])       # the others arrive later: only they are matched
    incremental = entries(services)
    assert sum(len(e) > 1 for e in incremental) > 100, "the network shares many books"

    # a day of changes at the provincial library: loans, edits, deletions
    changed = simulate_changes(generated["tv-tinh"], when="2026-11-24T01:00:00Z")
    save_records(folder / "tv-tinh.jsonl", changed)
    harvest(config, services, ["tv-tinh"])
    incremental = entries(services)

    deduplicate_changes(config, services.catalogue, rebuild=True)
    assert entries(services) == incremental
    assert pools == ([cores()] if cores() > 1 else []), "the rebuild computed its keys in worker processes"


def test_a_loan_reindexes_the_entry_without_matching_again(tmp_path):
    """The daily changes of a network are mostly circulation: a copy lent out changes what patrons
    see (the entry is indexed again) but not what the matcher reads, so it is not clustered again."""
    from dataclasses import replace

    from normalizer.records import CanonicalRecord, Holding
    from unionapi.catalogue import Catalogue
    from unionapi.clusters import Clusters

    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    kieu = CanonicalRecord(record_id="tv-a:1", library="tv-a", format="marcxml", title="Truyện Kiều",
                           title_sort="Truyện Kiều", year=2015, holdings=[Holding(library="tv-a", status="available")])
    catalogue.apply([(kieu, 1)], [], [], 1)
    assert Clusters(catalogue).run() == 1
    catalogue.mark_clean(catalogue.dirty_entries())
    queued = lambda: [r[0] for r in catalogue.db.execute("SELECT record_id FROM dedup_queue")]  # noqa: E731

    lent = replace(kieu, holdings=[Holding(library="tv-a", status="on_loan", due_date="2026-12-01")])
    catalogue.apply([(lent, 2)], [], [], 2)
    assert queued() == [] and [e for e, _ in catalogue.dirty_entries()] == [catalogue.entry_of("tv-a:1")]

    catalogue.apply([(replace(lent, title="Truyện Kiều (bản dịch)"), 3)], [], [], 3)
    assert queued() == ["tv-a:1"]


@pytest.mark.parametrize("change", ["edited", "deleted"])
def test_a_record_held_back_joins_when_what_held_it_back_goes(tmp_path, change):
    """Ngọc's library (tv-b) has two records of one book; only one may join the entry. When that
    one is corrected into another book, or deleted, the other joins — incrementally, exactly as a
    rebuild would place it, although it changed nothing itself."""
    from dataclasses import replace

    from normalizer.records import Author, CanonicalRecord
    from unionapi.catalogue import Catalogue
    from unionapi.clusters import Clusters

    def book(record_id, **changes):
        library = record_id.split(":")[0]
        base = CanonicalRecord(record_id=record_id, library=library, format="marcxml", title="Truyện Kiều",
                               title_sort="Truyện Kiều", year=2015, pages=220, publisher="Văn học",
                               authors=[Author(name="Nguyễn Du")], languages=["vie"])
        return replace(base, **changes)

    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    catalogue.apply([(book("tv-a:1"), 1), (book("tv-b:1"), 2), (book("tv-b:2"), 3)], [], [], 3)
    clusters = Clusters(catalogue)
    clusters.run()
    assert catalogue.entry_of("tv-a:1") == catalogue.entry_of("tv-b:1") != catalogue.entry_of("tv-b:2")

    if change == "edited":  # tv-b:1 was another book after all
        catalogue.apply([(book("tv-b:1", title="Lục Vân Tiên", title_sort="Lục Vân Tiên",
                               authors=[Author(name="Nguyễn Đình Chiểu")], year=1990), 4)], [], [], 4)
    else:
        catalogue.apply([], ["tv-b:1"], [], 4)
    clusters.run()
    incremental = entries_of(catalogue)
    assert catalogue.entry_of("tv-a:1") == catalogue.entry_of("tv-b:2")

    clusters.run(rebuild=True)
    assert entries_of(catalogue) == incremental


def entries_of(catalogue) -> set[frozenset]:
    groups: dict[str, set] = {}
    for record_id, entry_id in catalogue.db.execute("SELECT id, entry_id FROM records"):
        groups.setdefault(entry_id, set()).add(record_id)
    return {frozenset(members) for members in groups.values()}


def test_entries_made_under_older_matching_rules_are_clustered_again_once(tmp_path, caplog):
    """An upgrade that changes how records are matched re-clusters the whole catalogue on the next
    run, by itself and once: the IT person need not know that `unioncat dedup` is due."""
    from normalizer.dedup import MATCHER_REVISION
    from normalizer.records import Author, CanonicalRecord
    from unionapi.catalogue import Catalogue
    from unionapi.clusters import Clusters

    title = "Giáo trình kỹ thuật trồng lúa"
    full = CanonicalRecord(record_id="tv-a:1", library="tv-a", format="marcxml", title=title, title_sort=title,
                           year=2018, languages=["vie"],
                           authors=[Author(name=n) for n in ("Trần Văn Đạt", "Lê Thị Hoa", "Phạm Quang Minh")])
    minimal = CanonicalRecord(record_id="tv-b:1", library="tv-b", format="marcxml", title=title, title_sort=title,
                              year=2018, languages=["vie"], authors=[Author(name="Trần, Văn Đạt")])
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    catalogue.apply([(full, 1), (minimal, 2)], [], [], 2)
    Clusters(catalogue).run()
    assert catalogue.entry_of("tv-a:1") == catalogue.entry_of("tv-b:1")

    # the file as an older unioncat left it: the minimal record on its own, no revision recorded
    with catalogue.transaction() as db:
        db.execute("UPDATE records SET entry_id = 'older' WHERE id = 'tv-b:1'")
        db.execute("INSERT INTO entries (id) VALUES ('older')")
        db.execute("DELETE FROM cursors WHERE name = 'matcher_revision'")
    with caplog.at_level("WARNING", logger="unioncat.dedup"):
        assert Clusters(catalogue).run() == 2  # every record, though nothing was queued
    assert "matching rules changed" in caplog.text
    assert catalogue.entry_of("tv-a:1") == catalogue.entry_of("tv-b:1")
    assert catalogue.db.execute("SELECT seq FROM cursors WHERE name = 'matcher_revision'").fetchone() == (MATCHER_REVISION,)
    assert Clusters(catalogue).run() == 0  # once


def test_an_older_catalogue_says_it_is_building_its_new_indexes(tmp_path, caplog):
    """Opening a catalogue made before an index existed builds it once (minutes at a national
    scale): the log says so before and after, and says nothing the next time."""
    from normalizer.records import CanonicalRecord
    from unionapi.catalogue import Catalogue
    from unionapi.clusters import Clusters

    path = tmp_path / "catalogue.sqlite3"
    catalogue = Catalogue(path)
    kieu = CanonicalRecord(record_id="tv-a:1", library="tv-a", format="marcxml", title="Truyện Kiều",
                           title_sort="Truyện Kiều", year=2015)
    catalogue.apply([(kieu, 1)], [], [], 1)
    Clusters(catalogue).run()
    catalogue.db.execute("DROP INDEX records_by_entry")  # as a file from before that index
    catalogue.db.execute("DROP INDEX match_keys_by_key")
    catalogue.close()

    with caplog.at_level("INFO", logger="unioncat.storage"):
        reopened = Catalogue(path)
        Clusters(reopened)
    assert "building 1 new index(es) after an update (records_by_entry)" in caplog.text
    assert "building 1 new index(es) after an update (match_keys_by_key)" in caplog.text
    assert "new indexes built in" in caplog.text
    reopened.close()
    caplog.clear()
    with caplog.at_level("INFO", logger="unioncat.storage"):
        Clusters(Catalogue(path))
    assert "building" not in caplog.text
