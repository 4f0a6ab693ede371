"""A large backlog is parsed, and many entries are built into documents, by worker processes, with the
same outcome as in one process."""
from __future__ import annotations

import yaml

from config import load_config
from harvester.rawstore import RawStore
from tests.conftest import REPO, write_config
from unionapi import pipeline
from unionapi.catalogue import Catalogue
from unionapi.demo.network import DEMO_SEED, generate_network
from unionapi.search import SearchRequest
from unionapi.search.embedded import EmbeddedEngine


def _raw_store(folder, config) -> RawStore:
    """The demo network's records as each library's protocol would deliver them, plus one broken record."""
    raw = RawStore(folder / "raw.sqlite3")
    generated = generate_network(DEMO_SEED, total_records=1000)
    for library in config.libraries.values():
        prefix = library.metadata_prefix or "marc21"
        items = [{"identifier": r.identifier, "datestamp": r.datestamp, "deleted": r.deleted, "sets": r.sets,
                  "format": "oai_dc" if prefix == "oai_dc" else "marcxml",
                  "body": None if r.deleted else r.metadata[prefix].encode("utf-8")}
                 for r in generated[library.id]]
        raw.store_page(library.id, items, None)
    library = next(iter(config.libraries))
    raw.store_page(library, [{"identifier": "broken-1", "datestamp": "2026-11-23T00:00:00Z", "deleted": False,
                              "sets": [], "format": "marcxml", "body": b"<record><datafield tag='245'>"}], None)
    return raw


def _catalogue_state(catalogue: Catalogue) -> tuple:
    records = sorted(catalogue.db.execute("SELECT id, raw_seq, data FROM records"))
    rejected = sorted(catalogue.db.execute("SELECT record_id, raw_seq, reason FROM rejected"))
    issues = sorted(catalogue.db.execute("SELECT * FROM record_issues"))
    return records, rejected, issues, catalogue.cursor()


def test_worker_processes_give_the_catalogue_one_process_gives(tmp_path, monkeypatch):
    libraries = yaml.safe_load((REPO / "config" / "demo-sources.yaml").read_text(encoding="utf-8"))["libraries"]
    config = load_config(write_config(tmp_path / "config", libraries))
    raw = _raw_store(tmp_path, config)

    alone = Catalogue(tmp_path / "alone.sqlite3")
    report = pipeline.normalize_changes(config, raw, alone, workers=1)
    assert report.rejected == 1 and report.normalized > 900

    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 0)  # the demo is small: make it count as a backlog
    monkeypatch.setattr(pipeline, "BATCH", 100)
    shared = Catalogue(tmp_path / "shared.sqlite3")
    parallel = pipeline.normalize_changes(config, raw, shared, workers=2)
    assert (parallel.normalized, parallel.deleted, parallel.rejected) == (
        report.normalized, report.deleted, report.rejected)
    assert _catalogue_state(shared) == _catalogue_state(alone)
    broken = shared.db.execute("SELECT reason FROM rejected WHERE record_id LIKE '%broken-1'").fetchone()
    assert broken and broken[0], "the broken record is kept with a reason"


def test_worker_processes_build_the_index_one_process_builds(tmp_path, monkeypatch):
    """Many dirty entries are turned into documents by worker processes; a patron finds the same."""
    libraries = yaml.safe_load((REPO / "config" / "demo-sources.yaml").read_text(encoding="utf-8"))["libraries"]
    config = load_config(write_config(tmp_path / "config", libraries))
    raw = _raw_store(tmp_path, config)
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    pipeline.normalize_changes(config, raw, catalogue, workers=1)
    pipeline.deduplicate_changes(config, catalogue)

    alone = EmbeddedEngine(tmp_path / "alone")
    pipeline.index_changes(catalogue, alone, rebuild=True, workers=1)
    monkeypatch.setattr(pipeline, "PARALLEL_INDEX_FROM", 0)  # the demo is small: make it count as many
    monkeypatch.setattr(pipeline, "INDEX_BATCH", 50)
    parallel = EmbeddedEngine(tmp_path / "parallel")
    pipeline.index_changes(catalogue, parallel, rebuild=True, workers=2)
    assert parallel.count() == alone.count() == catalogue.entry_count()
    for query in ("truyen kieu", "Nguyễn", "lich su viet nam", ""):
        request = SearchRequest(q=query, size=100)
        found = alone.search(request)
        assert found.total > 0, query
        assert parallel.search(request) == found, query


def test_a_new_normalizer_revision_normalizes_stored_records_again_once(tmp_path, monkeypatch):
    """A catalogue made by an older normalizer (which read no copies on rotation, no links) gets what
    the new one reads at the next run, without `index --rebuild`; the run after that has nothing to do."""
    libraries = yaml.safe_load((REPO / "config" / "demo-sources.yaml").read_text(encoding="utf-8"))["libraries"]
    config = load_config(write_config(tmp_path / "config", libraries))
    raw = _raw_store(tmp_path, config)
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    pipeline.normalize_changes(config, raw, catalogue, workers=1)
    assert catalogue.normalizer_revision() == pipeline.NORMALIZER_REVISION
    current = _catalogue_state(catalogue)
    with catalogue.transaction() as db:  # what an older revision left: one record without a field it did not read
        record_id, data = db.execute("SELECT id, data FROM records ORDER BY id LIMIT 1").fetchone()
        assert '"title": "' in data
        db.execute("UPDATE records SET data = ? WHERE id = ?", (data.replace('"title": "', '"title": "OLD '), record_id))
        catalogue.note_normalizer_revision(db, pipeline.NORMALIZER_REVISION - 1)
    report = pipeline.normalize_changes(config, raw, catalogue, workers=1)
    assert report.normalized > 900 and _catalogue_state(catalogue) == current
    assert catalogue.normalizer_revision() == pipeline.NORMALIZER_REVISION
    assert pipeline.normalize_changes(config, raw, catalogue, workers=1).normalized == 0
