"""The cluster engines (OpenSearch 2 / Elasticsearch 8) against a real node, and parity with the embedded engine.

The node comes from tests/opensearch.py: $UNIONCAT_SEARCH_URL, or OpenSearch 2.5.0 installed and started
by the project's scripts (about 10 s to start once installed; the first install downloads ~200 MB).
"""
from __future__ import annotations

import dataclasses
import threading
import time
import unicodedata
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml

from config import load_config
from normalizer.text import fold
from tests.conftest import conforms, demo_catalogue, free_port, write_config
from tests.opensearch import cluster_product  # opensearch_url: the session fixture, from tests/conftest.py
from unionapi.pipeline import index_changes
from unionapi.search import SearchRequest, open_engine, words
from unionapi.search.cluster import ClusterEngine, SearchIndexError, SearchUnavailable, _HTTPError
from unionapi.search.embedded import EmbeddedEngine


def alias() -> str:
    return f"unioncat-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def engine(opensearch_url):
    made = []

    def make(index=None, **options) -> ClusterEngine:
        found = ClusterEngine(opensearch_url, index=index or alias(), product=cluster_product(), **options)
        made.append(found)
        return found

    yield make
    for found in made:
        for name in found._safe_alias_targets():
            found._delete_quietly(name)
        found.close()


# -- the demo network, normalized and deduplicated in-process ----------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo network's 1,000 records through the real normalizer and matcher (no providers: the
    records go straight into the raw store, as each library's protocol would deliver them)."""
    folder = tmp_path_factory.mktemp("cluster-demo")
    built = demo_catalogue(folder)
    config, catalogue, raw = built["config"], built["catalogue"], built["raw"]
    documents, config_dir = built["documents"], built["config_dir"]
    embedded = EmbeddedEngine(folder / "index")
    embedded.write(documents, [], replace_all=True)
    yield {"config_dir": config_dir, "config": config, "catalogue": catalogue, "documents": documents,
           "embedded": embedded, "folder": folder}
    raw.close()
    catalogue.close()


@pytest.fixture(scope="module")
def demo_cluster(demo, opensearch_url):
    name = alias()
    cluster = ClusterEngine(opensearch_url, index=name, product=cluster_product())
    cluster.write(demo["documents"], [], replace_all=True)
    yield cluster
    for index in cluster._safe_alias_targets():
        cluster._delete_quietly(index)
    cluster.close()


# -- analysis: the cluster folds exactly as normalizer.text.fold does ---------------------------
def test_folded_analyzer_splits_and_folds_like_the_embedded_engine(engine, demo):
    cluster = engine()
    cluster.write([], [])  # creates the first index behind the alias
    texts = ["Đà Nẵng đường Đức", "Truyện Kiều / Nguyễn Du", "CON DẾ MÈN phiêu lưu ký", "Lịch sử Việt Nam, tập 2",
             unicodedata.normalize("NFD", "Nguyễn Thị Minh Khai"), "Tiếng Việt lớp 5 (tái bản lần thứ 3)",
             "Ǽsop's fables: 1001 đêm"]
    texts += [title for document in demo["documents"][:300] for title in document["titles"]]
    for text in texts:
        analyzed = cluster._call("POST", f"/{cluster.alias}/_analyze", body={"analyzer": "folded", "text": text})
        assert [t["token"] for t in analyzed["tokens"]] == words(fold(text)), text
        analyzed = cluster._call("POST", f"/{cluster.alias}/_analyze",
                                 body={"analyzer": "exact", "text": unicodedata.normalize("NFC", text)})
        assert [t["token"] for t in analyzed["tokens"]] == words(unicodedata.normalize("NFC", text).casefold())


# -- parity with the embedded engine on the demo data ----------------------------------------
PARITY_REQUESTS = [
    SearchRequest(q="truyen kieu", size=100),
    SearchRequest(q="Truyện Kiều", size=100),
    SearchRequest(q="nguyen du", size=100),
    SearchRequest(q=unicodedata.normalize("NFD", "Nguyễn Du"), size=100),
    SearchRequest(q="con de", size=100),
    SearchRequest(q="con dế", size=100),
    SearchRequest(q="lich su", size=100),
    SearchRequest(q="tieng viet", size=100),
    SearchRequest(q="van hoc", size=100),
    SearchRequest(q="toan", size=100),
    SearchRequest(q="kim dong", size=100),
    SearchRequest(q="truyen kieu", library=["tv-yen-mo"], size=100),
    SearchRequest(q="lich su", available=True, size=100),
    SearchRequest(q="van hoc", library=["tv-tinh", "tv-kim-son"], available=True, size=100),
    SearchRequest(q="", lang=["eng"], size=100),
    SearchRequest(q="", year_from=2000, year_to=2009, type=["book"], size=100),
    SearchRequest(q="", library=["thcs-ths"], available=True, size=100),
    SearchRequest(q="", size=20),  # everything: totals and facets (the top page is all ties)
    SearchRequest(q="sach", year_from=2015, size=100),
    SearchRequest(q="zzzz no such word", size=100),
]


def _all_ids(engine_, request_: SearchRequest) -> set[str]:
    ids, page = [], 1
    while True:
        hits = engine_.search(dataclasses.replace(request_, page=page, size=100)).hits
        ids += [h["id"] for h in hits]
        if len(hits) < 100:
            break
        page += 1
    assert len(ids) == len(set(ids)), "pages overlap"
    return set(ids)


def _facet_map(facets: dict) -> dict:
    out = {}
    for name, buckets in facets.items():
        if name == "year":
            out[name] = {(b["from"], b["to"]): b["count"] for b in buckets}
        else:
            out[name] = {b["value"]: b["count"] for b in buckets}
    return out


def _comparable(buckets: dict, truncated: bool) -> dict:
    """A facet cut at 30 values may break ties at its last count differently: compare above that count."""
    if not truncated or not buckets:
        return buckets
    floor = min(buckets.values())
    return {k: v for k, v in buckets.items() if v > floor}


@pytest.mark.parametrize("request_", PARITY_REQUESTS, ids=lambda r: f"{r.q or '*'}|{r.library}|{r.available}|"
                         f"{r.lang}|{r.year_from}-{r.year_to}")
def test_same_hits_and_facets_as_the_embedded_engine(demo, demo_cluster, request_):
    ours, theirs = demo["embedded"].search(request_), demo_cluster.search(request_)
    assert ours.total == theirs.total
    if ours.total <= request_.size:  # the whole result on one page: the same entries, the same summaries
        assert {h["id"] for h in ours.hits} == {h["id"] for h in theirs.hits}
        by_id = {h["id"]: h for h in ours.hits}
        assert all(h == by_id[h["id"]] for h in theirs.hits)
    else:  # ties make a top page ambiguous: compare every hit, page by page
        assert _all_ids(demo["embedded"], request_) == _all_ids(demo_cluster, request_)
    mine, other = _facet_map(ours.facets), _facet_map(theirs.facets)
    assert mine.keys() == other.keys()
    for name in mine:
        truncated = len(mine[name]) >= 30 or len(other[name]) >= 30
        assert _comparable(mine[name], truncated) == _comparable(other[name], truncated), name


def test_parity_requests_cover_real_results(demo):
    """The parity list is not vacuous: most queries find something, some filter, some are empty."""
    totals = [demo["embedded"].search(r).total for r in PARITY_REQUESTS]
    assert sum(1 for t in totals if t > 0) >= len(PARITY_REQUESTS) - 2
    assert totals[0] >= 2 and totals[-1] == 0


def test_exact_diacritics_rank_first(demo_cluster):
    for query, word in (("con dế", "dế"), ("con dê", "dê")):
        hits = demo_cluster.search(SearchRequest(q=query)).hits
        assert hits and word in hits[0]["title"].lower().split()
    top = demo_cluster.search(SearchRequest(q="truyen kieu")).hits[0]
    assert top["title"].startswith("Truyện Kiều") and "Nguyễn Du" in top["authors"]


def test_paging_is_stable_and_complete(demo, demo_cluster):
    total = demo_cluster.search(SearchRequest(q="", size=1)).total
    seen = []
    for page in range(1, 4):
        seen += [h["id"] for h in demo_cluster.search(SearchRequest(q="", page=page, size=50)).hits]
    assert len(seen) == len(set(seen)) == min(150, total)


# -- holdings as nested objects -------------------------------------------------------------
@dataclasses.dataclass
class BranchRequest(SearchRequest):
    branch: list[str] = dataclasses.field(default_factory=list)


def _doc(entry_id: str, title: str, holdings: list[tuple], year=2001) -> dict:
    return {"id": entry_id, "title": title, "title_sort": fold(title), "titles": [title], "authors": ["Tô Hoài"],
            "subjects": ["Văn học thiếu nhi"], "publisher": "Kim Đồng", "year": year, "languages": ["vie"],
            "material_type": "book", "isbns": [], "libraries": sorted({h[0] for h in holdings}),
            "available_libraries": sorted({h[0] for h in holdings if h[3] == "available"}),
            "holdings": [dict(zip(("library", "branch", "call_number", "status"), h)) for h in holdings],
            "member_count": 1, "other_text": []}


def test_available_at_a_branch_matches_one_copy_not_a_mix(engine):
    cluster = engine()
    cluster.write([
        # on loan at the children's room, available at headquarters: NOT available at the children's room
        _doc("e1", "Dế Mèn phiêu lưu ký", [("tv-tinh", "Phòng đọc Thiếu nhi", "895.9 T450", "on_loan"),
                                            ("tv-tinh", "Trụ sở chính", "895.9 T450", "available")]),
        _doc("e2", "Dế Mèn phiêu lưu ký (tái bản)", [("tv-tinh", "Phòng đọc Thiếu nhi", "895.9 T450", "available")]),
        _doc("e3", "Dế Mèn", [("tv-kim-son", "Phòng đọc Thiếu nhi", "895.9", "available")]),
    ], [])
    found = lambda **kw: {h["id"] for h in cluster.search(BranchRequest(q="de men", **kw)).hits}  # noqa: E731
    assert found(branch=["Phòng đọc Thiếu nhi"], available=True) == {"e2", "e3"}
    assert found(branch=["Phòng đọc Thiếu nhi"], library=["tv-tinh"], available=True) == {"e2"}
    assert found(branch=["Phòng đọc Thiếu nhi"]) == {"e1", "e2", "e3"}  # held there, whatever the status
    assert found(library=["tv-tinh"], available=True) == {"e1", "e2"}  # as available_libraries says


# -- index lifecycle ------------------------------------------------------------------------
def test_incremental_upserts_and_deletes(engine):
    cluster = engine()
    assert cluster.count() == 0 and cluster.search(SearchRequest(q="de men")).total == 0  # nothing yet
    cluster.write([_doc("e1", "Dế Mèn", [("a", "b", "c", "available")]),
                   _doc("e2", "Vợ chồng A Phủ", [("a", "b", "c", "on_loan")])], [])
    assert cluster.count() == 2
    cluster.write([_doc("e1", "Dế Mèn phiêu lưu ký", [("a", "b", "c", "on_loan")])], ["e2", "never-there"])
    assert cluster.count() == 1
    [hit] = cluster.search(SearchRequest(q="phieu luu")).hits
    assert hit["title"] == "Dế Mèn phiêu lưu ký" and hit["available_libraries"] == []
    assert len(cluster._indexes_behind_alias()) == 1


def test_rebuild_swaps_the_alias_while_search_keeps_answering(engine):
    cluster = engine()
    cluster.write([_doc(f"old{i}", f"Sách cũ {i}", [("a", "b", "c", "available")]) for i in range(50)], [],
                  replace_all=True)
    [old_index] = cluster._indexes_behind_alias()
    reader = engine(index=cluster.alias)
    started, answers = threading.Event(), []

    def slow_documents():
        for i in range(300):
            if i == 100:
                started.set()
                time.sleep(0.5)  # the rebuild is half-way: searches (every 50 ms) must still answer from the old index
            yield _doc(f"new{i}", f"Sách mới {i}", [("a", "b", "c", "available")])

    writer = threading.Thread(target=cluster.write, args=(slow_documents(), []), kwargs={"replace_all": True})
    writer.start()
    assert started.wait(30)
    while writer.is_alive():
        answers.append(reader.search(SearchRequest(q="sach", size=1)).total)
        time.sleep(0.05)
    writer.join()
    assert answers and set(answers) <= {50, 300} and answers[0] == 50
    assert reader.count() == 300 and reader.search(SearchRequest(q="sach cu")).total == 0
    [new_index] = cluster._indexes_behind_alias()
    assert new_index != old_index
    assert cluster._call("GET", f"/_cat/indices/{cluster.alias}-v*", params={"format": "json"}) == [
        row for row in cluster._call("GET", f"/_cat/indices/{cluster.alias}-v*", params={"format": "json"})
        if row["index"] == new_index]  # the old index is gone


def test_a_failed_rebuild_leaves_the_old_index_serving(engine):
    cluster = engine()
    cluster.write([_doc(f"e{i}", f"Sách {i}", [("a", "b", "c", "available")]) for i in range(20)], [],
                  replace_all=True)
    before = cluster._indexes_behind_alias()

    def broken():
        for i in range(2500):  # more than one bulk chunk has gone out before it breaks
            yield _doc(f"n{i}", f"Mới {i}", [])
        raise OSError("the catalogue database went away")

    with pytest.raises(OSError):
        cluster.write(broken(), [], replace_all=True)
    # a document the cluster refuses fails the rebuild too, with the reason
    with pytest.raises(SearchIndexError, match="n1"):
        cluster.write([_doc("n0", "Mới", []), {**_doc("n1", "Hỏng", []), "year": "không rõ"}], [], replace_all=True)
    assert cluster._indexes_behind_alias() == before and cluster.count() == 20
    names = [row["index"] for row in cluster._call("GET", f"/_cat/indices/{cluster.alias}-v*",
                                                   params={"format": "json"})]
    assert names == before  # the half-built indexes were removed


def test_bulk_retries_on_429_and_5xx(engine):
    cluster = engine(backoff_s=0.01, chunk_docs=10)
    real = cluster.transport.request
    calls = {"bulk": 0}

    def flaky(method, path, body=None, params=None, ndjson=False, timeout=None):
        if path.endswith("/_bulk"):
            calls["bulk"] += 1
            if calls["bulk"] == 1:
                raise _HTTPError(429, {"error": {"type": "es_rejected_execution_exception", "reason": "queue full"}})
            if calls["bulk"] == 2:
                raise _HTTPError(503, {"error": {"type": "unavailable_shards_exception", "reason": "restarting"}})
            if calls["bulk"] == 3:  # the request went through, but each document was turned away
                count = body.count(b"\n") // 2
                return {"errors": True, "items": [{"index": {"_id": str(i), "status": 429, "error": {
                    "type": "es_rejected_execution_exception", "reason": "busy"}}} for i in range(count)]}
        return real(method, path, body=body, params=params, ndjson=ndjson, timeout=timeout)

    cluster.transport.request = flaky
    cluster.write([_doc(f"e{i}", f"Sách {i}", []) for i in range(35)], [])
    assert cluster.count() == 35 and calls["bulk"] >= 4 + 3


def test_bulk_gives_up_with_a_clear_error(engine):
    cluster = engine(backoff_s=0.01, max_retries=2)
    real = cluster.transport.request

    def always_busy(method, path, body=None, params=None, ndjson=False, timeout=None):
        if path.endswith("/_bulk"):
            raise _HTTPError(429, {"error": {"type": "es_rejected_execution_exception", "reason": "queue full"}})
        return real(method, path, body=body, params=params, ndjson=ndjson, timeout=timeout)

    cluster.transport.request = always_busy
    with pytest.raises(SearchUnavailable, match=r"still failing after 2 retries .*429.*run `unioncat index`"):
        cluster.write([_doc("e1", "Sách", [])], [])


def test_a_cluster_that_is_down_keeps_entries_dirty(demo, engine):
    """The engine level; the whole chain with `unioncat check` before and after the catch-up is
    tests/test_faults.py::test_search_cluster_down_during_indexing_is_caught_up."""
    catalogue = demo["catalogue"]
    catalogue.mark_all_dirty()
    dirty = len(catalogue.dirty_entries())
    assert dirty > 500
    down = ClusterEngine(f"http://127.0.0.1:{free_port()}", index="unioncat", product="opensearch", timeout_s=3)
    with pytest.raises(SearchUnavailable) as caught:
        index_changes(catalogue, down)
    message = str(caught.value)
    assert message.startswith(f"OpenSearch at {down.url} is not answering: ")
    assert "the harvest is kept; run `unioncat index` when it is back" in message
    assert len(catalogue.dirty_entries()) == dirty  # nothing was marked clean
    # when it is back, the next run catches up
    cluster = engine()
    assert index_changes(catalogue, cluster) == dirty
    assert catalogue.dirty_entries() == [] and cluster.count() == len(demo["documents"])


def test_credentials_in_the_url_are_used_and_never_shown(opensearch_url):
    cluster = ClusterEngine(opensearch_url.replace("http://", "http://reader:s3cret@"), index=alias())
    assert "s3cret" not in cluster.url and cluster.count() == 0  # the test node has no security: ignored
    cluster.close()


# -- settings and the API ------------------------------------------------------------------------
def test_open_engine_reads_url_and_index_from_settings_and_environment(tmp_path, monkeypatch):
    for name in ("UNIONCAT_SEARCH_ENGINE", "UNIONCAT_SEARCH_URL", "UNIONCAT_SEARCH_INDEX"):
        monkeypatch.delenv(name, raising=False)
    config_dir = write_config(tmp_path, [], search={"engine": "opensearch", "url": "http://10.0.0.5:9200",
                                                      "index": "catalogue"})
    engine_ = open_engine(load_config(config_dir).settings)
    assert (engine_.name, engine_.url, engine_.alias) == ("opensearch", "http://10.0.0.5:9200", "catalogue")
    monkeypatch.setenv("UNIONCAT_SEARCH_ENGINE", "elasticsearch")
    monkeypatch.setenv("UNIONCAT_SEARCH_URL", "https://elastic:pw@search.example:9243")
    monkeypatch.setenv("UNIONCAT_SEARCH_INDEX", "national")
    engine_ = open_engine(load_config(config_dir).settings)
    assert (engine_.name, engine_.url, engine_.alias) == ("elasticsearch", "https://search.example:9243", "national")


def test_the_api_serves_from_the_cluster(demo, demo_cluster, opensearch_url, api_server):
    settings = yaml.safe_load((demo["config_dir"] / "settings.yaml").read_text())
    sources = yaml.safe_load((demo["config_dir"] / "sources.yaml").read_text())["libraries"]
    config_dir = write_config(demo["folder"] / "api-config", sources, data_dir=settings["data_dir"],
                              search={"engine": cluster_product(), "url": opensearch_url, "index": demo_cluster.alias})
    server = api_server(config_dir)
    health = server.get("/api/health").json()
    assert health == {**health, "status": "ok", "engine": cluster_product(), "entries": len(demo["documents"])}
    body = server.get("/api/search", q="truyen kieu", library="tv-yen-mo").json()
    conforms(body, "SearchResult")
    assert body["total"] >= 1 and all(h["title"].startswith("Truyện Kiều") or "kiều" in h["title"].lower()
                                      for h in body["hits"][:1])
    assert server.get(body["hits"][0]["url"]).status_code == 200


# -- the Elasticsearch 8 client, through a proxy that makes the node look like Elasticsearch -------
class _ElasticLookalike(BaseHTTPRequestHandler):
    """Forwards to the OpenSearch node and adds the header the Elasticsearch 8 client insists on, so the
    Elasticsearch engine's client code (requests, errors, bodies) runs for real in CI."""
    upstream = ""

    def _forward(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
        if headers.get("content-type", headers.get("Content-Type", "")).startswith("application/vnd.elasticsearch"):
            headers = {"content-type": "application/json"}
        answer = requests.request(self.command, self.upstream + self.path, data=body, headers=headers, timeout=60)
        self.send_response(answer.status_code)
        self.send_header("content-type", answer.headers.get("content-type", "application/json"))
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    def log_message(self, *args):
        pass


def test_elasticsearch_engine_speaks_through_the_elasticsearch_client(demo, opensearch_url):
    handler = type("Handler", (_ElasticLookalike,), {"upstream": opensearch_url})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    cluster = ClusterEngine(f"http://127.0.0.1:{proxy.server_address[1]}", index=alias(), product="elasticsearch")
    try:
        assert cluster.count() == 0
        cluster.write(demo["documents"], [], replace_all=True)
        for request_ in PARITY_REQUESTS[:6]:
            expected = demo["embedded"].search(request_)
            got = cluster.search(request_)
            assert got.total == expected.total
            assert {h["id"] for h in got.hits} == {h["id"] for h in expected.hits}
        cluster.write(demo["documents"][:10], [demo["documents"][-1]["id"]])
        assert cluster.count() == len(demo["documents"]) - 1
        with pytest.raises(SearchIndexError):
            cluster.write([{**demo["documents"][0], "year": "không rõ"}], [])
    finally:
        for name in cluster._safe_alias_targets():
            cluster._delete_quietly(name)
        cluster.close()
        proxy.shutdown()
    # and an OpenSearch node answering the Elasticsearch client directly is named for what it is
    direct = ClusterEngine(opensearch_url, index=alias(), product="elasticsearch")
    with pytest.raises(SearchUnavailable, match="not Elasticsearch"):
        direct.write([], [])
    direct.close()
