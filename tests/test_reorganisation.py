"""A network that changes: libraries renamed, merged, divided and moved in sources.yaml, carrying their
records, holdings, harvest state and every cataloguer's decision (issue 22).

The replay: part of the demo network, plus a second province with two commune libraries, is harvested
from real OAI-PMH providers, clustered, indexed, and decided on by a cataloguer; then sources.yaml
replays 1 July 2025 (the two provinces merged, the districts dissolved into commune libraries, one of
them divided by branch, two communes merged) and the network is harvested again. Nothing is lost,
no entry changes, the renamed libraries' harvests go on where they stopped, old ids keep working,
and counts roll up to the new tree. Config mistakes in ``replaces`` name the file, library and field.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
import requests
import yaml

from config import ConfigError, load_config
from config.network import Network, changed_ids
from normalizer.records import CanonicalRecord, Holding
from tests.conftest import REPO, conforms, write_config

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


# -- sources.yaml: replaces, valid_from, harvest_as -------------------------------------------------
def library(library_id: str, **fields) -> dict:
    entry = {"id": library_id, "name": f"Thư viện {library_id}", "kind": "commune", "protocol": "oai",
             "endpoint": "http://127.0.0.1:1/oai", "metadata_prefix": "oai_dc"}
    return {**entry, **fields}


def load(tmp_path, *entries):
    return load_config(write_config(tmp_path, list(entries)))


def refused(tmp_path, *entries) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, *entries)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "sources.yaml") + ": "), message  # the file, always
    return message


def test_a_rename_a_merge_and_a_chain_resolve_to_todays_libraries(tmp_path):
    config = load(tmp_path,
                  library("tv-tinh-moi", kind="provincial", valid_from="2025-07-01", harvest_as="tv-tinh",
                          replaces=["tv-tinh", {"id": "tv-bac", "name": "Thư viện tỉnh Bắc", "kind": "provincial",
                                                "until": "2025-06-30"}]),
                  library("xa-a", parent="tv-tinh",  # a former id as parent names its successor
                          replaces=[{"id": "huyen-a", "kind": "district", "replaces": ["huyen-a-cu"]}]),
                  library("xa-b", parent="tv-tinh-moi"))
    network = config.network
    assert network.current("tv-bac") == network.current("tv-tinh") == "tv-tinh-moi"
    assert network.current("huyen-a-cu") == "xa-a"  # C -> B -> A: C is A's
    assert network.resolve("huyen-a") == ["xa-a"] and network.resolve("nowhere") == []
    assert config.library("xa-a").parent == "tv-tinh-moi"
    assert config.library("tv-bac").id == "tv-tinh-moi"  # the CLI takes old ids too
    # the harvest goes on where it was: a rename continues the one it replaced (down the chain), a
    # merge the one it names, a new library its own
    assert config.library("tv-tinh-moi").storage_id == "tv-tinh"
    assert config.library("xa-a").storage_id == "huyen-a-cu"
    assert config.library("xa-b").storage_id == "xa-b"
    assert config.library("tv-tinh-moi").valid_from == "2025-07-01"
    assert [(f["id"], f["via"]) for f in network.history("xa-a")] == [("huyen-a", "xa-a"), ("huyen-a-cu", "huyen-a")]
    assert network.stored_ids("tv-tinh-moi") == ["tv-tinh-moi", "tv-bac", "tv-tinh"]
    own_and_tree = network.roll_up({"tv-tinh": 5, "tv-bac": 2, "huyen-a-cu": 3, "xa-b": 1, "gone": 9})
    assert own_and_tree == {"tv-tinh-moi": (7, 11), "xa-a": (3, 3), "xa-b": (1, 1)}


def test_every_kind_of_library_is_accepted(tmp_path):
    kinds = ["provincial", "district", "commune", "ward", "school", "reading_point", "rotation_point", "mobile",
             "prison", "private", "other"]
    config = load(tmp_path, *(library(f"lib-{n}", kind=kind) for n, kind in enumerate(kinds)))
    assert sorted(lib.kind for lib in config.libraries.values()) == sorted(kinds)


@pytest.mark.parametrize("entries, expected", [
    # A replaces B which replaced A
    ([library("xa-a", replaces=[{"id": "xa-b", "replaces": ["xa-a"]}])],
     "library 'xa-a', field 'replaces': a cycle: xa-a -> xa-b -> xa-a"),
    # through several steps, across two libraries' entries
    ([library("xa-x", replaces=[{"id": "xa-b", "replaces": [{"id": "xa-c", "replaces": ["xa-d"]}]}]),
      library("xa-y", replaces=[{"id": "xa-d", "replaces": ["xa-b"]}])],
     "field 'replaces': a cycle: xa-b -> xa-d -> xa-c -> xa-b"),
    ([library("xa-a", replaces=["xa-b"]), library("xa-b")],
     "library 'xa-a', field 'replaces': 'xa-b' is still a library of this file"),
    ([library("xa-a", replaces=["xa-c"]), library("xa-b", replaces=["xa-c"])],
     "library 'xa-b', field 'replaces': 'xa-c' is replaced by both 'xa-a' and 'xa-b'"),
    ([library("xa-a", replaces=[{"id": "xa-c", "branches": ["A", "B"]}]),
      library("xa-b", replaces=[{"id": "xa-c", "branches": ["B"]}])],
     "library 'xa-b', field 'replaces': branch 'B' of 'xa-c' already goes to 'xa-a'"),
    ([library("xa-a", replaces=["xa-b", "xa-c"], harvest_as="xa-d")],
     "library 'xa-a', field 'harvest_as': expected the id of a library listed in its 'replaces'"),
    ([library("xa-a", replaces=[{"id": "xa-b", "parent": "huyen-x"}])],
     "library 'xa-a', field 'replaces', former library 'xa-b', 'parent': expected the id of a library of this "
     "file or of a former one; got 'huyen-x'"),
    ([library("xa-a", replaces=[{"id": "xa-b", "until": "30/06/2025"}])],
     "library 'xa-a', field 'replaces', former library 'xa-b', 'until': expected a date YYYY-MM-DD"),
    ([library("xa-a", replaces=[{"id": "xa-b", "named": "B"}])],
     "library 'xa-a', field 'replaces', former library 'xa-b': unknown field 'named'"),
    ([library("xa-a", replaces="xa-b")], "library 'xa-a', field 'replaces': expected a list of the libraries"),
    ([library("xa-a", replaces=[{"id": "Xa B"}])], "library 'xa-a', field 'replaces': expected a list"),
    ([library("xa-a", valid_from="mùa hè 2025")], "library 'xa-a', field 'valid_from': expected a date YYYY-MM-DD"),
    ([library("xa-a", replaces=[{"id": "xa-c", "branches": ["A"]}]),
      library("xa-b", replaces=[{"id": "xa-c", "branches": ["B"]}]), library("xa-d", parent="xa-c")],
     "library 'xa-d', field 'parent': 'xa-c' was divided between xa-a, xa-b; name the one it belongs to now"),
    ([library("xa-a", replaces=["xa-b", "xa-c"], harvest_as="xa-b"),
      library("xa-d", replaces=[{"id": "xa-e", "replaces": ["xa-f"]}], harvest_as="xa-f"),
      library("xa-g", replaces=["xa-b-2"], harvest_as="xa-b-2")], None),
])
def test_mistakes_in_replaces_name_the_file_library_and_field(tmp_path, entries, expected):
    if expected is None:  # the same shapes, right: accepted
        load(tmp_path, *entries)
        return
    assert expected in refused(tmp_path, *entries)


def test_two_libraries_cannot_continue_one_harvest(tmp_path):
    message = refused(tmp_path, library("xa-a", replaces=[{"id": "xa-c", "branches": ["A"]}], harvest_as="xa-c"),
                      library("xa-b", replaces=[{"id": "xa-c", "branches": ["B"]}], harvest_as="xa-c"))
    assert "library 'xa-b', field 'harvest_as': 'xa-c' is continued by 'xa-a' already" in message


def test_a_divided_library_gives_each_successor_the_copies_at_its_branches(tmp_path):
    config = load(tmp_path,
                  library("xa-kim-son", replaces=[{"id": "tv-kim-son", "branches": ["KIMSON"]}],
                          harvest_as="tv-kim-son"),
                  library("xa-kim-dong", replaces=[{"id": "tv-kim-son", "branches": ["KS-XA"]}]))
    network = config.network
    assert network.resolve("tv-kim-son") == ["xa-kim-dong", "xa-kim-son"]
    here, there, nowhere = (Holding("tv-kim-son", branch_code=code) for code in ("KIMSON", "KS-XA", None))
    stored = CanonicalRecord("tv-kim-son:1", "tv-kim-son", "marcxml", holdings=[there, here])
    [now] = network.records([stored])
    assert [h.library for h in now.holdings] == ["xa-kim-dong", "xa-kim-son"]
    assert now.library == "xa-kim-dong" and now.record_id == "tv-kim-son:1"  # where its (first) copy went
    assert stored.library == "tv-kim-son" and stored.holdings[0].library == "tv-kim-son"  # untouched
    [bare] = network.records([dataclasses.replace(stored, holdings=[nowhere])])
    assert bare.library == "xa-kim-son"  # the rest goes to the library continuing its catalogue
    visiting = Holding("tv-kim-son", branch_code="KIMSON", owner_branch_code="KS-XA")  # on rotation at KIMSON
    [lent] = network.records([dataclasses.replace(stored, holdings=[visiting])])
    assert lent.holdings[0].library == "xa-kim-dong"  # a copy is its owner's wherever it is now
    assert network.source_ids("xa-kim-dong") == ["xa-kim-dong", "tv-kim-son"]
    assert changed_ids(Network({}).state(), network.state()) == ["tv-kim-son"]
    assert network.state()["tv-kim-son"] == {"*": "xa-kim-son", "KIMSON": "xa-kim-son", "KS-XA": "xa-kim-dong"}


# -- the replay of 1 July 2025 on the demo network ----------------------------------------------------
SEED_NORTH = 20250701  # the second province's catalogues: another generated network
BEFORE_NAMES = {"tv-tinh": "Thư viện tỉnh Sơn Nam", "tv-bac-son": "Thư viện tỉnh Bắc Sơn",
                "xa-dong-hai": "Thư viện xã Đông Hải", "xa-tay-hai": "Thư viện xã Tây Hải"}


def before(urls: dict) -> list[dict]:
    """Two provinces (two roots): Sơn Nam with two district libraries and a school, Bắc Sơn with two communes."""
    demo = {e["id"]: e for e in yaml.safe_load((REPO / "config" / "demo-sources.yaml")
                                               .read_text(encoding="utf-8"))["libraries"]}
    keep = ("id", "name", "kind", "parent", "protocol", "metadata_prefix", "branches")
    out = [{**{k: v for k, v in demo[i].items() if k in keep}, "endpoint": urls[i]}
           for i in ("tv-tinh", "tv-kim-son", "tv-yen-mo", "thpt-lvt")]
    out += [{"id": "tv-bac-son", "name": BEFORE_NAMES["tv-bac-son"], "kind": "provincial", "protocol": "oai",
             "endpoint": urls["tv-bac-son"], "metadata_prefix": "marc21", "branches": {"TRUNGTAM": "Trụ sở chính"}},
            {"id": "xa-dong-hai", "name": BEFORE_NAMES["xa-dong-hai"], "kind": "commune", "parent": "tv-bac-son",
             "protocol": "oai", "endpoint": urls["xa-dong-hai"], "metadata_prefix": "oai_dc"},
            {"id": "xa-tay-hai", "name": BEFORE_NAMES["xa-tay-hai"], "kind": "commune", "parent": "tv-bac-son",
             "protocol": "oai", "endpoint": urls["xa-tay-hai"], "metadata_prefix": "oai_dc"}]
    return out


def after(urls: dict) -> list[dict]:
    """1 July 2025: one province, no districts; Kim Sơn divided into two commune libraries by branch,
    Yên Mô a commune library, Đông Hải and Tây Hải one commune. thpt-lvt still says parent: tv-tinh."""
    return [
        {"id": "tv-son-bac", "name": "Thư viện tỉnh Sơn Bắc", "kind": "provincial", "protocol": "oai",
         "endpoint": urls["tv-tinh"], "metadata_prefix": "marc21", "valid_from": "2025-07-01", "harvest_as": "tv-tinh",
         "branches": {"TRUNGTAM": "Trụ sở chính", "THIEUNHI": "Phòng đọc Thiếu nhi", "LUUDONG": "Thư viện lưu động"},
         "replaces": [{"id": "tv-tinh", "name": "Thư viện tỉnh Sơn Nam", "kind": "provincial", "until": "2025-06-30"},
                      {"id": "tv-bac-son", "name": "Thư viện tỉnh Bắc Sơn", "kind": "provincial",
                       "until": "2025-06-30"}]},
        {"id": "xa-kim-son", "name": "Thư viện xã Kim Sơn", "kind": "commune", "parent": "tv-son-bac",
         "protocol": "oai", "endpoint": urls["tv-kim-son"], "metadata_prefix": "marc21", "valid_from": "2025-07-01",
         "harvest_as": "tv-kim-son", "branches": {"KIMSON": "Thư viện xã Kim Sơn", "KS-XA": "Tủ sách xã Kim Đông"},
         "replaces": [{"id": "tv-kim-son", "name": "Thư viện huyện Kim Sơn", "kind": "district", "parent": "tv-tinh",
                       "until": "2025-06-30", "branches": ["KIMSON"]}]},
        # its copies are in Kim Sơn's Koha, which xa-kim-son harvests: no harvest of its own
        {"id": "xa-kim-dong", "name": "Thư viện xã Kim Đông", "kind": "commune", "parent": "tv-son-bac",
         "protocol": "oai", "endpoint": urls["tv-kim-son"], "metadata_prefix": "marc21", "enabled": False,
         "replaces": [{"id": "tv-kim-son", "name": "Thư viện huyện Kim Sơn", "kind": "district",
                       "branches": ["KS-XA"]}]},
        {"id": "xa-yen-mo", "name": "Thư viện xã Yên Mô", "kind": "commune", "parent": "tv-son-bac",
         "protocol": "oai", "endpoint": urls["tv-yen-mo"], "metadata_prefix": "oai_dc", "replaces": ["tv-yen-mo"]},
        {"id": "thpt-lvt", "name": "Thư viện Trường THPT Lương Văn Tụy", "kind": "school", "parent": "tv-tinh",
         "protocol": "oai", "endpoint": urls["thpt-lvt"], "metadata_prefix": "oai_dc"},
        {"id": "xa-hai", "name": "Thư viện xã Hải", "kind": "commune", "parent": "tv-son-bac", "protocol": "oai",
         "endpoint": urls["xa-dong-hai"], "metadata_prefix": "oai_dc", "valid_from": "2025-07-01",
         "harvest_as": "xa-dong-hai", "replaces": ["xa-dong-hai", "xa-tay-hai"]},
    ]


def entries(catalogue) -> dict[str, list[str]]:
    """Every union entry: its id -> its member record ids."""
    members = catalogue.members_of(list(catalogue.all_entry_ids()))
    return {entry_id: sorted(m.record_id for m in records) for entry_id, records in members.items()}


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """The network harvested before and after the reorganisation; what was seen on each side."""
    from unionapi import actions
    from unionapi.demo.network import DEMO_SEED, generate_network, save_records, simulate_changes
    from unionapi.demo.provider import start_repositories
    from unionapi.pipeline import clusters_for, harvest_and_update
    from unionapi.search import SearchRequest
    from unionapi.services import Services
    folder = tmp_path_factory.mktemp("reorganisation")
    south, north = generate_network(DEMO_SEED, total_records=600), generate_network(SEED_NORTH, total_records=300)
    catalogues = {"tv-tinh": south["tv-tinh"], "tv-kim-son": south["tv-kim-son"], "tv-yen-mo": south["tv-yen-mo"],
                  "thpt-lvt": south["thpt-lvt"], "tv-bac-son": north["tv-tinh"], "xa-dong-hai": north["tv-yen-mo"],
                  "xa-tay-hai": north["thpt-lvt"]}
    repositories = {}
    for slug, records in catalogues.items():
        save_records(folder / f"{slug}.jsonl", records)
        formats = sorted(next(r for r in records if not r.deleted).metadata)  # marc21 and oai_dc, or oai_dc
        repositories[slug] = {"data": folder / f"{slug}.jsonl", "name": slug, "formats": formats}
    provider = start_repositories(repositories, folder / "repositories.json", page_size=100)
    urls = {slug: provider.url_for(slug) for slug in catalogues}
    seen = {}
    try:
        config_dir = write_config(folder / "config", before(urls))
        config = load_config(config_dir)
        services = Services.open(config)
        try:
            assert not harvest_and_update(services, list(config.libraries.values()))
            # a cataloguer's decisions: take a Kim Sơn record out of its entry, reject a doubtful pair
            members = services.catalogue.members_of(list(services.catalogue.all_entry_ids()))
            shared = next(e for e, records in sorted(members.items()) if len(records) > 1
                          and any(r.library == "tv-kim-son" for r in records))
            kim_son_record = next(r.record_id for r in members[shared] if r.library == "tv-kim-son")
            actions.split(services, shared, kim_son_record, "lan", "not the same edition")
            clusters = clusters_for(config, services.catalogue)
            reports = clusters.reports(status="open", limit=1000)
            if reports:
                actions.decide_report(services, reports[0]["id"], "reject", "lan", "two copies, two editions")
            clusters = clusters_for(config, services.catalogue)
            seen["before"] = {
                "entries": entries(services.catalogue), "decisions": clusters.decisions(limit=1000),
                "reports": {r["id"] for r in clusters.reports(status="open", limit=1000)},
                "records": services.catalogue.record_counts(),
                "raw": {i: services.raw.live_identifiers(i) for i in catalogues},
                "runs": {i: len(services.raw.runs(i, limit=100)) for i in catalogues},
                "published": {p: services.publication.get(p) for p in services.catalogue.all_entry_ids()},
                "split": (kim_son_record, {r.record_id for r in members[shared]} - {kim_son_record}),
                "indexed": services.engine.search(SearchRequest(size=1)).total}
        finally:
            services.close()

        # the day after: some Kim Sơn books lent and returned (their datestamps move)
        later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        changed = simulate_changes(catalogues["tv-kim-son"], when=later, changed=0.05, deleted=0)
        seen["kim_son_changed"] = sum(a != b for a, b in zip(changed, catalogues["tv-kim-son"]))
        save_records(folder / "tv-kim-son.jsonl", changed)

        write_config(folder / "config", after(urls))
        config = load_config(config_dir)
        services = Services.open(config)
        try:
            with pytest.MonkeyPatch.context() as patch:  # the documents built in worker processes, as a big network's
                patch.setattr("unionapi.pipeline.PARALLEL_INDEX_FROM", 100)
                assert not harvest_and_update(services, [lib for lib in config.libraries.values() if lib.enabled])
            from unionapi.pipeline import index_changes
            seen["index_again"] = index_changes(services.catalogue, services.engine, network=config.network)
            clusters = clusters_for(config, services.catalogue)
            seen["after"] = {
                "entries": entries(services.catalogue), "decisions": clusters.decisions(limit=1000),
                "reports": {r["id"] for r in clusters.reports(status="open", limit=1000)},
                "records": services.catalogue.record_counts(),
                "raw": {i: services.raw.live_identifiers(i) for i in catalogues},
                "runs": {i: services.raw.runs(i, limit=100) for i in [*catalogues, *config.libraries]},
                "published": {p: services.publication.get(p) for p in services.catalogue.all_entry_ids()},
                "indexed": services.engine.search(SearchRequest(size=1)).total,
                "status": {row.library.id: row for row in actions.network_status(services)}}
            from unionapi.check import check_library
            seen["check"] = {i: check_library(services, config.library(i)) for i in ("xa-kim-son", "xa-hai",
                                                                                      "xa-kim-dong", "tv-son-bac")}
            members = services.catalogue.members_of(list(services.catalogue.all_entry_ids()))
            seen["members"] = members
        finally:
            services.close()
        seen.update(config=config, config_dir=config_dir, catalogues=catalogues)
        yield seen
    finally:
        provider.stop()


def test_nothing_is_lost_and_no_entry_changes(replay):
    before, after = replay["before"], replay["after"]
    assert after["entries"] == before["entries"]  # the same ids, the same members
    assert after["records"] == before["records"]  # under the ids they were stored under, none deleted
    assert after["raw"] == before["raw"] and all(after["raw"].values())
    assert after["indexed"] == before["indexed"] == len(after["entries"])
    assert after["decisions"] == before["decisions"]  # every cataloguer's decision, as it was
    record_id, others = before["split"]
    assert not others & set(next(m for m in after["entries"].values() if record_id in m))  # ... and in force
    assert after["reports"] == before["reports"]


def test_renamed_libraries_go_on_harvesting_where_they_stopped(replay):
    runs = replay["after"]["runs"]
    for continued in ("tv-kim-son", "tv-tinh", "tv-yen-mo", "xa-dong-hai"):  # xa-kim-son, tv-son-bac, ...
        last, first = runs[continued][0], runs[continued][-1]
        assert (first["mode"], last["mode"], last["outcome"]) == ("full", "incremental", "ok"), continued
    kim_son = runs["tv-kim-son"][0]
    assert kim_son["added"] == kim_son["deleted"] == 0
    assert 0 < kim_son["updated"] == replay["kim_son_changed"] < len(replay["catalogues"]["tv-kim-son"]) / 10
    # the merged and the divided libraries' former catalogues are not harvested any more, and no
    # harvest was started under a new id
    for stopped in ("tv-bac-son", "xa-tay-hai"):
        assert len(runs[stopped]) == replay["before"]["runs"][stopped]
    assert not any(runs[i] for i in ("tv-son-bac", "xa-kim-son", "xa-kim-dong", "xa-yen-mo", "xa-hai"))


def test_documents_name_todays_libraries_and_are_published_again_once(replay):
    config, members = replay["config"], replay["members"]
    network = config.network
    from unionapi.search import entry_document
    named = set()
    for entry_id, records in members.items():
        document = entry_document(entry_id, records, network)
        named |= set(document["libraries"]) | {row["library"] for row in document["holdings"]}
    assert named <= set(config.libraries)  # no former id left in what is searched and shown
    assert "xa-kim-dong" in named  # the copies at KS-XA went to the library that took that branch
    assert replay["index_again"] == 0  # the reorganisation was indexed once; the next run has nothing to do
    before, after = replay["before"]["published"], replay["after"]["published"]
    moved = {entry_id for entry_id in after if after[entry_id].gen != before[entry_id].gen}
    touched = {entry_id for entry_id, records in members.items()
               if any(r.library != "thpt-lvt" for r in records)}
    assert moved == touched  # an entry of thpt-lvt alone (not renamed) keeps its datestamp
    assert all(after[e].datestamp >= before[e].datestamp for e in after)


def test_counts_roll_up_to_the_new_tree(replay):
    status, records = replay["after"]["status"], replay["before"]["records"]
    assert set(status) == {"tv-son-bac", "xa-kim-son", "xa-kim-dong", "xa-yen-mo", "thpt-lvt", "xa-hai"}
    assert status["tv-son-bac"].record_count == records["tv-tinh"] + records["tv-bac-son"]
    assert status["xa-hai"].record_count == records["xa-dong-hai"] + records["xa-tay-hai"]
    assert status["xa-kim-son"].record_count == records["tv-kim-son"]  # a divided library's records: to the one
    assert status["xa-kim-dong"].record_count == 0                    # continuing it; its copies: by branch
    assert status["tv-son-bac"].records_in_tree == sum(records.values())  # one root now
    assert status["xa-kim-son"].last_success is not None  # the harvest history it continues


def test_check_finds_the_renamed_libraries_consistent(replay):
    for library_id, report in replay["check"].items():
        if library_id == "xa-kim-dong":  # not harvested (enabled: false): only its entries are compared
            assert report["entries"] == report["indexed_entries"] > 0, report
            continue
        assert report["ok"], (library_id, report)
        assert report["entries"] == report["indexed_entries"] > 0


@pytest.fixture(scope="module")
def server(replay):
    from tests.conftest import ApiServer
    api = ApiServer(replay["config_dir"])
    yield api
    api.stop()


def test_old_ids_keep_working_in_urls_filters_and_the_api(replay, server):
    old = server.get("/api/search", library="tv-kim-son", size=1).json()
    new = server.get("/api/search", library=["xa-kim-son", "xa-kim-dong"], size=1).json()
    assert old["query"]["library"] == ["xa-kim-dong", "xa-kim-son"]  # a divided library: both successors
    assert old["total"] == new["total"] > 0
    renamed = server.get("/api/search", library="tv-yen-mo", size=5).json()
    assert renamed["query"]["library"] == ["xa-yen-mo"] and renamed["total"] > 0
    assert all(any(ref["id"] == "xa-yen-mo" for ref in hit["libraries"]) for hit in renamed["hits"])
    assert server.get("/api/search", library="tv-nowhere").status_code == 404
    facets = server.get("/api/search", q="", size=1).json()["facets"]["library"]
    assert {f["value"] for f in facets} <= set(replay["config"].libraries)
    labels = {f["value"]: f["label"] for f in facets}
    assert labels["tv-son-bac"] == "Thư viện tỉnh Sơn Bắc" and labels["xa-hai"] == "Thư viện xã Hải"

    page = requests.get(server.url + "/libraries/tv-yen-mo", allow_redirects=False, timeout=10)
    assert page.status_code == 301 and page.headers["Location"].endswith("/libraries/xa-yen-mo")
    assert requests.get(server.url + "/libraries/tv-bac-son", timeout=10).url.endswith("/libraries/tv-son-bac")
    divided = requests.get(server.url + "/libraries/tv-kim-son", allow_redirects=False, timeout=10)
    assert divided.status_code == 404 and "Thư viện xã Kim Đông" in divided.text

    for row in server.get("/api/libraries").json()["libraries"]:
        conforms(row, "Library")
    one = server.get("/api/libraries/tv-tinh").json()
    conforms(one, "Library")
    assert one["id"] == "tv-son-bac" and one["harvested_as"] == "tv-tinh"
    assert [f["id"] for f in one["replaces"]] == ["tv-tinh", "tv-bac-son"]
    assert server.get("/api/libraries/tv-kim-son").status_code == 409
    harvests = server.get("/api/harvests", library="tv-son-bac").json()["harvests"]
    assert [h["mode"] for h in harvests] == ["incremental", "full"]  # the history it continues
    reports = server.get("/api/duplicates", library="tv-tinh").json()["duplicates"]
    assert reports == server.get("/api/duplicates", library="tv-son-bac").json()["duplicates"]
    assert server.get("/api/libraries/tv-yen-mo/quality").json()["library"] == "xa-yen-mo"

    entry_id = next(e for e, m in replay["after"]["entries"].items() if replay["before"]["split"][0] in m)
    entry = server.get(f"/api/entries/{entry_id}").json()
    assert {h["id"] for h in entry["holdings"]} <= set(replay["config"].libraries)
    assert {ref["id"] for ref in entry["libraries"]} <= set(replay["config"].libraries)

    # published back (downloads, OAI-PMH) with the libraries of today in the 852s, their names in $z
    from lxml import etree
    ns = {"m": "http://www.loc.gov/MARC21/slim"}
    kim_son = next(e for e, m in replay["after"]["entries"].items() if any(i.startswith("tv-kim-son:") for i in m))
    oai = requests.get(server.url + "/oai", params={"verb": "GetRecord", "metadataPrefix": "marc21",
                                                     "identifier": f"oai:unioncat:{kim_son}"}, timeout=10)
    for body in (server.get(f"/api/entries/{kim_son}.xml").content, oai.content):
        fields = etree.fromstring(body).findall(".//m:datafield[@tag='852']", ns)
        held = {f.findtext("m:subfield[@code='a']", namespaces=ns): f.findtext("m:subfield[@code='z']", namespaces=ns)
                for f in fields}
        assert held and set(held) <= {"xa-kim-son", "xa-kim-dong", "tv-son-bac", "xa-yen-mo", "thpt-lvt", "xa-hai"}
        assert all(held.values())
    sets = etree.fromstring(oai.content).findall(".//{http://www.openarchives.org/OAI/2.0/}setSpec")
    assert {s.text for s in sets} & {"library:xa-kim-son", "library:xa-kim-dong"}
    assert "province:tv-son-bac" in {s.text for s in sets}


def test_the_library_page_shows_its_history_and_the_tree_its_counts(replay, server):
    page = requests.get(server.url + "/libraries/xa-kim-son", timeout=10).text
    assert "Trước đây" in page and "Thư viện huyện Kim Sơn" in page and "tv-kim-son" in page
    assert "01/07/2025" in page and "30/06/2025" in page
    province = requests.get(server.url + "/libraries/tv-son-bac", params={"lang": "en"}, timeout=10).text
    assert "Formerly" in province and "Thư viện tỉnh Bắc Sơn" in province
    total = sum(replay["before"]["records"].values())
    assert f"{total} records with the libraries under it" in province
    directory = requests.get(server.url + "/libraries", timeout=10).text
    assert "Thư viện xã Hải" in directory and "Thư viện xã Tây Hải" not in directory


def test_the_command_line_takes_old_ids(replay, capsys):
    from unionapi import cli
    where = ["--config", str(replay["config_dir"])]
    assert cli.main([*where, "duplicates", "--library", "tv-tinh", "--limit", "500"]) == 0
    old = capsys.readouterr().out
    assert cli.main([*where, "duplicates", "--library", "tv-son-bac", "--limit", "500"]) == 0
    assert capsys.readouterr().out == old and old.count("#") > 0
    assert cli.main([*where, "status"]) == 0
    status = capsys.readouterr().out
    assert "tv-son-bac" in status and "tv-tinh " not in status and "never" not in status.split("xa-kim-dong")[0]
    assert cli.main([*where, "check", "tv-yen-mo", "tv-kim-son"]) == 0  # xa-yen-mo and xa-kim-son
    checked = capsys.readouterr().out
    assert checked.startswith("xa-yen-mo: ") and "\nxa-kim-son: " in checked and "DIFFERENCES" not in checked
    assert cli.main([*where, "harvest", "tv-yen-mo"]) == 0  # harvests xa-yen-mo, where tv-yen-mo stopped
    from harvester.rawstore import RawStore
    raw = RawStore(replay["config"].settings.data_dir / "raw.sqlite3")
    try:
        assert [run["mode"] for run in raw.runs("tv-yen-mo")] == ["incremental", "incremental", "full"]
        assert raw.runs("xa-yen-mo") == []
    finally:
        raw.close()
