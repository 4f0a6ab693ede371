"""The matcher's learned weights: estimated from a catalogue, frozen in a file, taught by cataloguers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import combinations

import pytest

from normalizer.dedup import DIFFERENT, SAME, compare, explain
from normalizer.match_model import MatchModel, default_model
from normalizer.training import Label, agreement, estimate
from bench.dedup_quality import load_demo
from tests.conftest import REPO, ApiServer, write_config
from unionapi.demo.network import DEMO_SEED, generate_network, save_records
from unionapi.demo.provider import start_provider

RECORDS = 1500
# random pairs for u: 20,000 give the same weights as 60,000 to within a few tenths of a bit (every
# assertion below keeps its margin) in a third of the time
RANDOM_PAIRS = 20_000


@pytest.fixture(scope="module")
def demo():
    """The demo network's records as the normalizer makes them, and the truth: groups of record ids."""
    records, groups, _ = load_demo(RECORDS)
    return records, [[records[k].record_id for k in sorted(group)] for group in groups]


@pytest.fixture(scope="module")
def trained(demo):
    return estimate(demo[0], name="test", random_pairs=RANDOM_PAIRS)


def test_weights_learned_from_a_catalogue_read_as_a_librarian_would(trained):
    w = trained.weight
    assert w("title", "exact") > 5 > w("title", "differ")
    assert w("authors", "agree2") >= w("authors", "agree") > w("authors", "partial") > w("authors", "conflict")
    assert w("year", "equal") > 0 > w("year", "far")
    assert w("ids", "shared") > 5
    assert trained.doubtful_at < trained.same_at
    # an exact title alone is not a match; with its author and year it is
    assert w("title", "exact") < trained.same_at <= w("title", "exact") + w("authors", "agree") + w("year", "equal")
    assert trained.trained_on["records"] > 1000 and trained.trained_on["blocked_pairs"] > 500


def test_the_model_is_frozen_the_same_each_time_and_survives_its_file(demo, trained):
    again = estimate(demo[0], name="test", random_pairs=RANDOM_PAIRS)
    assert again.to_json() == trained.to_json()  # deterministic: incremental runs decide alike
    restored = MatchModel.from_json(trained.to_json())
    assert restored.fingerprint == trained.fingerprint and restored.weights == trained.weights
    with pytest.raises(ValueError, match="not a matcher model"):
        MatchModel.from_json(json.dumps({"weights": {}}))


def test_a_missing_field_weighs_nothing(demo):
    records, groups = demo
    by_id = {r.record_id: r for r in records}
    model = default_model()
    checked = 0
    for group in groups:
        a, b = by_id[group[0]], by_id[group[1]]
        full = compare(a, b)
        if not (a.year and b.year and a.year == b.year) or full.vetoed:
            continue
        b.year, saved = None, b.year
        try:
            without = compare(a, b)
        finally:
            b.year = saved
        assert abs(full.score - without.score - model.weight("year", "equal")) < 1e-9
        assert "year" not in without.levels
        checked += 1
    assert checked > 50


def test_reasons_give_each_field_its_signed_weight_in_both_languages(demo):
    records, groups = demo
    by_id = {r.record_id: r for r in records}
    verdict = next(v for g in groups if (v := compare(by_id[g[0]], by_id[g[1]])).decision == SAME)
    english, vietnamese = explain(verdict, "en"), explain(verdict, "vi")
    assert any(line.startswith("title") and line.endswith(")") and "(+" in line for line in english)
    assert english[-1].startswith("total +") and "same from" in english[-1]
    assert any(line.startswith("Nhan đề: ") and "(+" in line for line in vietnamese)
    assert vietnamese[-1].startswith("Tổng +") and "trùng từ" in vietnamese[-1]
    assert len(vietnamese) == len(verdict.levels) + 1  # one line per field compared, then the total
    vetoed = next(v for a, b in combinations(records[:200], 2) if (v := compare(a, b)).vetoed
                  and v.decision == DIFFERENT and "title" in v.levels)
    assert any("phủ quyết" in line for line in explain(vetoed, "vi"))


def test_cataloguers_decisions_calibrate_the_threshold(demo, trained):
    """A network whose cataloguers keep apart pairs the model would merge: once they have said so
    often enough, the trained matcher stops merging such pairs on its own."""
    records, groups = demo
    by_id = {r.record_id: r for r in records}
    # the weakest "same" pairs the model makes, each kept apart by a cataloguer
    weak = sorted((v.score, g[0], g[1]) for g in groups if (v := compare(by_id[g[0]], by_id[g[1]], model=trained)).decision == SAME)
    apart = [Label(a, b, False) for _, a, b in weak[:15]]
    together = [Label(a, b, True) for _, a, b in weak[-15:]]
    labels = apart + together
    before = agreement(trained, records, labels)
    assert before["not_duplicate_same"] == 15 and before["merge_same"] == 15
    taught = estimate(records, labels, prior=trained, name="taught", random_pairs=RANDOM_PAIRS)
    after = agreement(taught, records, labels)
    assert taught.same_at > trained.same_at
    assert after["not_duplicate_same"] < 15 and after["merge_same"] == 15, after
    assert taught.trained_on["labelled_pairs"] == 30


def test_unioncat_dedup_train_saves_the_weights_and_keeps_every_decision(tmp_path, demo):
    """`unioncat dedup --train` on a harvested network: weights saved beside the data, what changed
    and the agreement with past decisions printed, entries rebuilt once with the decisions kept."""
    generated = generate_network(DEMO_SEED, total_records=800)
    providers, libraries = [], []
    try:
        for library_id in ("tv-tinh", "tv-kim-son", "tv-yen-mo"):
            save_records(tmp_path / f"{library_id}.jsonl", generated[library_id])
            provider = start_provider(tmp_path / f"{library_id}.jsonl", port=0, formats="marc21,oai_dc")
            providers.append(provider)
            libraries.append({"id": library_id, "name": library_id, "kind": "district", "protocol": "oai",
                              "endpoint": provider.url,
                              "metadata_prefix": "oai_dc" if library_id == "tv-yen-mo" else "marc21"})
        config_dir = write_config(tmp_path / "config", libraries)
        run = lambda *args: subprocess.run(  # noqa: E731
            [sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args], cwd=REPO, text=True,
            capture_output=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert run("harvest").returncode == 0

        from config import load_config
        from unionapi.pipeline import clusters_for
        from unionapi.services import Services
        config = load_config(config_dir)
        services = Services.open(config)
        clusters = clusters_for(config, services.catalogue)
        report = clusters.reports(limit=1)[0]
        a, b = report["a"], report["b"]
        entry_of = services.catalogue.entry_of
        together = [r[0] for r in services.catalogue.db.execute(
            "SELECT id FROM records WHERE entry_id IN (SELECT entry_id FROM records GROUP BY entry_id"
            " HAVING count(*) = 2) ORDER BY id LIMIT 2")]
        clusters.decide("merge", "test", a=a, b=b)
        clusters.decide("reject", "test", a=together[0], b=together[1])
        assert entry_of(a) == entry_of(b) and entry_of(together[0]) != entry_of(together[1])
        services.close()

        trained = run("dedup", "--train")
        assert trained.returncode == 0, trained.stderr
        path = next((p for p in tmp_path.rglob("match_model.json")), None)
        assert path is not None, trained.stdout
        saved = MatchModel.from_json(path.read_text("utf-8"))
        assert saved.trained_on["labelled_pairs"] == 2 and saved.trained_on["libraries"] == 3
        assert f"matcher weights saved to {path}" in trained.stdout
        assert "agreement with cataloguers' decisions" in trained.stdout and "merge same:" in trained.stdout

        services = Services.open(config)
        try:
            assert entry_of(a) == entry_of(b) and entry_of(together[0]) != entry_of(together[1])
            entries = dict(services.catalogue.db.execute("SELECT id, entry_id FROM records"))
            edges = clusters_for(config, services.catalogue).why(entry_of(a))
            assert any(edge["by"] == "cataloguer" for edge in edges)
            matched = services.catalogue.db.execute("SELECT entry_id FROM edges WHERE kind = 'matcher'").fetchone()
            edge = next(e for e in clusters_for(config, services.catalogue).why(matched[0]) if e["by"] == "matcher")
            assert any(line.startswith("Tổng +") for line in edge["reasons_vi"])
            assert any(line.startswith("total +") for line in edge["reasons"])
        finally:
            services.close()
        again = run("dedup")  # the frozen weights: a second rebuild changes nothing
        assert again.returncode == 0, again.stderr
        services = Services.open(config)
        try:
            assert dict(services.catalogue.db.execute("SELECT id, entry_id FROM records")) == entries
        finally:
            services.close()

        server = ApiServer(config_dir)  # what a cataloguer or the IT person sees of it
        try:
            matcher = server.get("/api/matcher").json()
        finally:
            server.stop()
        assert matcher["name"].startswith("trained on this network") and matcher["decisions"] == 2
        assert matcher["weights"]["title"]["exact"]["vi"] == "trùng khớp"
        assert matcher["weights"]["title"]["exact"]["weight"] > 0 > matcher["weights"]["title"]["differ"]["weight"]
        assert sum(n for k, n in matcher["agreement"].items() if k.startswith("merge_")) == 1
        assert sum(n for k, n in matcher["agreement"].items() if k.startswith("not_duplicate_")) == 1

        path.write_text("{not json", "utf-8")
        broken = run("dedup")
        assert broken.returncode != 0 and "is not a matcher model" in broken.stderr + broken.stdout
    finally:
        for provider in providers:
            provider.stop()
