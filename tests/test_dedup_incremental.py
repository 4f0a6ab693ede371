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


def test_incremental_equals_full_rebuild(network):
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
