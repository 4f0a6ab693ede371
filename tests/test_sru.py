"""SRU at /sru (searchRetrieve and explain, versions 1.2 and 2.0) with CQL, over both search engines.

Real clients: ZOOM through the project's libyaz binding (harvester/zoom.py, ``sru=get``), and a second
unioncat instance whose SRU harvester takes every record; plain HTTP for explain, both versions,
paging and every diagnostic. The CQL parser is property-tested with hypothesis; the CQL results are
compared between the embedded engine and a real OpenSearch node (tests/opensearch.py).
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid

import pymarc
import pytest
import requests
import tantivy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from harvester.zoom import ZoomConnection, ZoomError
from normalizer.ids import isbn13_to_10
from normalizer.text import fold
from tests.conftest import REPO, ApiServer, demo_catalogue, embedded_schema_before_sru, write_config
from tests.opensearch import cluster_product  # opensearch_url: the session fixture, from tests/conftest.py
from unionapi.app import create_app
from unionapi.catalogue import Catalogue
from unionapi.pipeline import index_changes
from unionapi.publish.cql import (BOOLEANS, NAMED_RELATIONS, SYMBOLS, Boolean, Clause, CQLError, Modifier,
                                  compile_query, parse, to_cql)
from unionapi.search.cluster import ANALYSIS, MAPPING, ClusterEngine
from unionapi.search.documents import (And, Everything, Not, Or, Prefix, QueryUnsupported, SearchRequest, Value, Whole,
                                       Words, Years, value_key)
from unionapi.search.embedded import EmbeddedEngine
from unionapi.services import Services

SRU12 = "http://www.loc.gov/zing/srw/"
SRU20 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG12 = "http://www.loc.gov/zing/srw/diagnostic/"
DIAG20 = "http://docs.oasis-open.org/ns/search-ws/diagnostic"
ZEEREX = "http://explain.z3950.org/dtd/2.0/"
MARC = "http://www.loc.gov/MARC21/slim"


# -- the catalogue: the demo network's 1,000 records, normalized, deduplicated and indexed -----------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sru")
    built = demo_catalogue(folder)
    config, catalogue, raw = built["config"], built["catalogue"], built["raw"]
    index_changes(catalogue, EmbeddedEngine(config.settings.data_dir / "index"), workers=1)
    documents, config_dir = built["documents"], built["config_dir"]
    services = Services.open(config, read_only=True)
    yield {"folder": folder, "config_dir": config_dir, "config": config, "catalogue": catalogue,
           "documents": documents, "services": services, "client": create_app(services).test_client()}
    services.close()
    raw.close()
    catalogue.close()


@pytest.fixture(scope="module")
def server(demo):
    started = ApiServer(demo["config_dir"])
    yield started
    started.stop()


@pytest.fixture(scope="module")
def cluster(demo, opensearch_url):
    engine = ClusterEngine(opensearch_url, index=f"unioncat-test-{uuid.uuid4().hex[:8]}", product=cluster_product())
    engine.write(demo["documents"], [], replace_all=True)
    yield engine
    for name in engine._safe_alias_targets():
        engine._delete_quietly(name)
    engine.close()


def sru(client, **params) -> etree._Element:
    """One SRU request through Flask's test client: always HTTP 200 and SRU XML."""
    response = client.get("/sru", query_string=params)
    assert response.status_code == 200 and response.mimetype == "text/xml", response.get_data(as_text=True)[:300]
    return etree.fromstring(response.data)


def diagnostic(root: etree._Element) -> tuple[str, str]:
    found = root.find("{*}diagnostics/{*}diagnostic")
    return (found.findtext("{*}uri"), found.findtext("{*}details") or "") if found is not None else ("", "")


def ids_of(root: etree._Element) -> list[str]:
    """The entry ids of the records in an answer (MARC 001)."""
    return [r.findtext(f"{{*}}recordData/{{{MARC}}}record/{{{MARC}}}controlfield[@tag='001']")
            for r in root.iterfind("{*}records/{*}record")]


def titles_of(records: list[pymarc.Record]) -> list[str]:
    return [" ".join(record.get_fields("245")[0].get_subfields("a", "b")) for record in records]


# -- CQL: the parser and its mapping onto fielded queries ------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ('dc.title = "truyen kieu"', Words("title", ("truyen", "kieu"), True)),
    ("truyen kieu", Words("any", ("truyen", "kieu"))),  # bare words: every one of them, anywhere
    ('"TRUYỆN  KIỀU"', Words("any", ("truyen", "kieu"))),
    ('dc.creator = "Nguyễn Du"', Words("creator", ("nguyen", "du"))),  # names are written either way round
    ('DC.Title ANY "đất nước"', Or((Words("title", ("dat",)), Words("title", ("nuoc",))))),
    ('dc.subject all "lịch sử"', Words("subject", ("lich", "su"))),
    ('dc.title adj "lich su"', Words("title", ("lich", "su"), True)),
    ('dc.title exact "Truyện Kiều!"', Whole("title", "truyen kieu")),
    ('dc.author == "NGUYỄN, DU"', Whole("creator", "nguyen du")),
    ("dc.title = lich*", Prefix("title", "lich")),
    ('dc.title all "lich su viet*"', And((Words("title", ("lich", "su")), Prefix("title", "viet")))),
    ("bath.isbn = 0-85170-577-4", Value("isbn", ("9780851705774",))),
    ("bath.isbn any \"978-0-85170-577-4 0851705774\"", Value("isbn", ("9780851705774",))),
    ("rec.id = 23e51dd7928202df", Value("id", ("23e51dd7928202df",))),
    ("dc.date = 2005", Years(2005, 2005)),
    ("dc.date < 2005", Years(None, 2004)),
    ("dc.date >= 2005", Years(2005, None)),
    ('dc.date within "2010 2000"', Years(2000, 2010)),
    ("dc.date <> 2005", Not(Years(2005, 2005))),
    ("cql.allRecords = 1", Everything()),
    ("a and b or c", Or((And((Words("any", ("a",)), Words("any", ("b",)))), Words("any", ("c",))))),
    ("a not (b or c)", And((Words("any", ("a",)), Not(Or((Words("any", ("b",)), Words("any", ("c",)))))))),
    ("dc.title=kieu AND dc.date>2000", And((Words("title", ("kieu",)), Years(2001, None)))),
    ("cql.serverChoice any \"a b\"", Or((Words("any", ("a",)), Words("any", ("b",))))),
])
def test_cql_maps_onto_fielded_queries(text, expected):
    assert compile_query(text) == expected


@pytest.mark.parametrize("text,code", [
    ("", 10), ("dc.title =", 10), ("a and", 10), ("= x", 10), ("a b c = d", 10), ('"unclosed', 14),
    ("(a or b", 13), ("a)", 13), ("(" * 20 + "a" + ")" * 20, 13), (" and ".join("a" * 34), 38), ("x" * 2001, 12),
    ("dc.publisher = x", 16), ("foo = x", 16), ("dc.title fuzzy x", 19), ("dc.title < x", 22),
    ("cql.anywhere == x", 22), ("dc.date any 2000", 22), ("dc.title =/stem x", 20), ("a and/rel.algorithm=x b", 46),
    ("a prox b", 39), ("a sortby dc.title", 80), ('> dc = "info:srw/cql-context-set/1/dc-v1.1" a', 48),
    ('dc.title = "..."', 27), ('dc.title exact ""', 27), ("dc.title = a?c", 28), ("dc.title exact abc*", 28),
    ("dc.title = h*", 29), ('dc.title adj "lich su*"', 33), ("dc.date = năm", 36), ('dc.date within "2000"', 36),
    ("dc.title = ^abc", 31),
])
def test_bad_cql_is_an_sru_diagnostic(text, code):
    with pytest.raises(CQLError) as raised:
        compile_query(text)
    assert raised.value.uri == f"info:srw/diagnostic/1/{code}"


_SOUP = st.sampled_from(list(' ab"()=<>/\\*?^.-đĐếÀ1') + [
    *BOOLEANS, "sortby", "dc.title", "dc.date", "bath.isbn", "rec.id", "cql.allRecords", *NAMED_RELATIONS, *SYMBOLS])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SOUP, max_size=25).map("".join) | st.text(max_size=80))
def test_any_text_is_a_query_or_a_diagnostic(text):
    try:
        query = compile_query(text)
    except CQLError as exc:
        assert exc.code in range(1, 120) and exc.message
        return
    assert isinstance(query, (Words, Prefix, Whole, Value, Years, And, Or, Not, Everything))


_words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_escaped = _words.map(lambda t: t.replace("\\", "\\\\").replace('"', '\\"'))  # a term as CQL writes it
_modifier = st.builds(Modifier, st.sampled_from(["stem", "rel.algorithm", "cql.unmasked", "distance"]),
                      st.none(), st.none()) | st.builds(Modifier, st.just("distance"), st.sampled_from(SYMBOLS),
                                                       st.sampled_from(["1", "two words"]))
_clause = st.builds(Clause, _escaped) | st.builds(
    Clause, _escaped, st.sampled_from(["dc.title", "bath.isbn", "x", "cql.serverChoice", "DC.Creator"]),
    st.sampled_from([*SYMBOLS, *NAMED_RELATIONS, "cql.any"]), st.lists(_modifier, max_size=2).map(tuple))
_tree = st.recursive(_clause, lambda inner: st.builds(
    Boolean, st.sampled_from(BOOLEANS), inner, inner, st.lists(_modifier, max_size=1).map(tuple)), max_leaves=6)


@settings(max_examples=600, deadline=None)
@given(_tree)
def test_generated_trees_round_trip(tree):
    assert parse(to_cql(tree)) == tree


# -- the engines: the same CQL results from the embedded engine and OpenSearch ----------------------------
PARITY = [
    'dc.title = "truyen kieu"', "truyen kieu", 'dc.creator = "nguyen du"', 'dc.creator all "du nguyen"',
    'dc.subject = "van hoc"', 'dc.subject any "lich su"', 'dc.subject exact "van hoc viet nam -- tho"',
    'dc.title exact "truyen kieu"', 'dc.title exact "chi pheo : tap truyen ngan"', "dc.title = lich*",
    'dc.title all "lich su viet*"', "dc.date >= 2015", 'dc.date within "2000 2005"', "dc.date <> 2010",
    'dc.title = "tap truyen ngan" and dc.date < 2015', 'dc.title any "kieu pheo" or dc.creator = "nam cao"',
    'cql.allRecords = 1 not dc.subject = "van hoc"', "sach not dc.date > 2000", 'dc.title = "de men"',
    'dc.title = "dế mèn"', "cql.anywhere = giao trinh", "cql.allRecords = 1", 'dc.title = "zzz qqq"',
]


def _every_id(engine, query) -> tuple[int, list[str]]:
    ids, start = [], 0
    while True:
        result = engine.search(SearchRequest(query=query, start=start, size=100, facets=False))
        ids += [hit["id"] for hit in result.hits]
        if len(result.hits) < 100:
            return result.total, ids
        start += 100


def test_cql_finds_the_same_entries_on_both_engines(demo, cluster):
    embedded = demo["services"].engine
    found = {}
    for text in PARITY:
        query = compile_query(text)
        ours, theirs = _every_id(embedded, query), _every_id(cluster, query)
        assert ours[0] == theirs[0] == len(ours[1]) == len(set(ours[1])), text
        assert set(ours[1]) == set(theirs[1]), text
        found[text] = ours[0]
    assert sum(1 for total in found.values() if total) >= len(PARITY) - 1, found  # not a vacuous comparison
    assert found['dc.title = "zzz qqq"'] == 0 and found["cql.allRecords = 1"] == len(demo["documents"])


def test_the_sru_answers_are_the_same_over_the_cluster(demo, cluster):
    services = Services(config=demo["config"], raw=demo["services"].raw, catalogue=demo["services"].catalogue,
                        engine=cluster)
    on_cluster = create_app(services).test_client()
    for text in ('dc.title = "truyen kieu"', 'dc.subject = "van hoc" and dc.date >= 2018', "bath.isbn = 9786046901167"):
        ours = sru(demo["client"], query=text, maximumRecords="100")
        theirs = sru(on_cluster, query=text, maximumRecords="100")
        assert ours.findtext("{*}numberOfRecords") == theirs.findtext("{*}numberOfRecords") != "0", text
        assert sorted(ids_of(ours)) == sorted(ids_of(theirs)), text


def test_cql_finds_what_it_says(demo):
    engine, documents = demo["services"].engine, {d["id"]: d for d in demo["documents"]}

    def hits(text):
        return [documents[i] for i in _every_id(engine, compile_query(text))[1]]

    kieu = hits('dc.title = "truyen kieu"')
    assert kieu and all("truyen kieu" in fold(" ".join(d["titles"])) for d in kieu)
    assert {d["id"] for d in kieu} == {d["id"] for d in hits('dc.title = "Truyện Kiều"')}  # folded
    assert all(any(value_key(t) == "truyen kieu" for t in d["titles"]) for d in hits('dc.title exact "truyen kieu"'))
    longer = [d for d in documents.values() if any(value_key(t).startswith("truyen kieu ") for t in d["titles"])]
    assert not {d["id"] for d in longer} & {d["id"] for d in hits('dc.title exact "truyen kieu"')}
    assert all(2000 <= d["year"] <= 2005 for d in hits('dc.date within "2000 2005"'))
    assert all(d["year"] != 2010 for d in hits("dc.date <> 2010"))
    with_isbn = next(d for d in documents.values() if any(i.startswith("978") for i in d["isbns"]))
    isbn10 = isbn13_to_10(next(i for i in with_isbn["isbns"] if i.startswith("978")))
    hyphenated = f"{isbn10[0]}-{isbn10[1:4]}-{isbn10[4:9]}-{isbn10[9]}"
    assert with_isbn["id"] in {d["id"] for d in hits(f"bath.isbn = {hyphenated}")}
    assert [d["id"] for d in hits(f"rec.id = {with_isbn['id']}")] == [with_isbn["id"]]
    poetry = hits('dc.subject = "van hoc viet nam"')
    assert poetry and all(any("van hoc viet nam" in fold(s) for s in d["subjects"]) for d in poetry)
    not_poetry = hits('cql.allRecords = 1 not dc.subject = "van hoc viet nam"')
    assert len(poetry) + len(not_poetry) == len(documents)


# -- an index built before fielded search: still answering, then rebuilt -----------------------------------
def test_an_embedded_index_from_before_is_served_then_rebuilt_in_a_new_folder(tmp_path, demo):
    documents = demo["documents"][:60]
    (tmp_path / "index").mkdir()
    old = tantivy.Index(embedded_schema_before_sru(), path=str(tmp_path / "index"))
    writer = old.writer(heap_size=20_000_000, num_threads=1)
    writer.commit()
    del writer, old
    engine = EmbeddedEngine(tmp_path / "index")
    assert engine.stale
    engine.write(documents, [])  # incremental writes go on into the old index
    reader = EmbeddedEngine(tmp_path / "index", read_only=True)  # the API, in another process
    title_words = tuple(fold(documents[0]["titles"][0]).split()[:1])
    assert reader.search(SearchRequest(q=" ".join(title_words))).total >= 1  # the patron search still works
    assert reader.search(SearchRequest(query=Words("title", title_words))).total >= 1
    with pytest.raises(QueryUnsupported, match="unioncat index --rebuild"):
        reader.search(SearchRequest(query=Whole("title", value_key(documents[0]["titles"][0]))))
    services = Services(config=demo["config"], raw=demo["services"].raw, catalogue=demo["services"].catalogue,
                        engine=reader)
    client = create_app(services).test_client()  # SRU on it: "temporarily unavailable", with what to run
    exact = sru(client, query=f'dc.title exact "{documents[0]["titles"][0]}"')
    assert diagnostic(exact)[0] == "info:srw/diagnostic/1/2" and "--rebuild" in exact.findtext("{*}diagnostics/{*}"
                                                                                                 "diagnostic/{*}message")
    assert documents[0]["id"] in ids_of(sru(client, query=f"dc.title = {title_words[0]}", maximumRecords="100"))
    engine.write(documents, [], replace_all=True)  # `unioncat index --rebuild`
    assert not engine.stale and not (tmp_path / "index.new").exists() and not (tmp_path / "index.old").exists()
    whole = SearchRequest(query=Whole("title", value_key(documents[0]["titles"][0])))
    assert documents[0]["id"] in {h["id"] for h in engine.search(whole).hits}
    time.sleep(1.1)  # readers look for a new folder at most once a second
    assert documents[0]["id"] in {h["id"] for h in reader.search(whole).hits} and not reader.stale
    assert reader.count() == len(documents)


def test_a_cluster_index_from_before_is_copied_into_the_current_mapping(demo, opensearch_url):
    engine = ClusterEngine(opensearch_url, index=f"unioncat-test-{uuid.uuid4().hex[:8]}", product=cluster_product())
    try:
        old_mapping = {**MAPPING, "properties": {**MAPPING["properties"], **{
            name: {key: value for key, value in MAPPING["properties"][name].items() if key != "fields"}
            for name in ("subjects",)}}}
        for name in ("titles", "authors"):
            old_mapping["properties"][name] = {**MAPPING["properties"][name],
                                               "fields": {"exact": MAPPING["properties"][name]["fields"]["exact"]}}
        old = f"{engine.alias}-v20200101000000000000"
        analysis = {key: value for key, value in ANALYSIS.items() if key != "normalizer"}
        engine._call("PUT", f"/{old}", body={"settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0},
                                                           "analysis": analysis}, "mappings": old_mapping})
        engine._call("POST", "/_aliases", body={"actions": [{"add": {"index": old, "alias": engine.alias}}]})
        engine._bulk(engine.alias, engine._operations(demo["documents"], []))
        engine._call("POST", f"/{engine.alias}/_refresh")
        assert not engine.has_current_mapping()
        whole = SearchRequest(query=Whole("title", value_key(demo["documents"][0]["titles"][0])))
        with pytest.raises(QueryUnsupported):
            engine.search(whole)
        assert engine.search(SearchRequest(q="truyen kieu")).total >= 1  # the patron search still works
        engine.write([], [])  # the next `unioncat index`
        assert engine._indexes_behind_alias() != [old] and engine.has_current_mapping()
        assert engine.count() == len(demo["documents"])
        assert demo["documents"][0]["id"] in {h["id"] for h in engine.search(whole).hits}
    finally:
        for name in engine._safe_alias_targets():
            engine._delete_quietly(name)
        engine.close()


def test_the_whole_value_key_is_the_same_in_the_cluster(cluster, demo):
    texts = ["Truyện Kiều / Nguyễn Du", "  Đất nước -- Lịch sử!! ", "Ǽsop's fables: 1001 đêm", "TIẾNG VIỆT 5"]
    texts += [t for d in demo["documents"][:150] for t in (*d["titles"], *d["authors"], *d["subjects"])]
    for text in texts:
        analyzed = cluster._call("POST", f"/{cluster.alias}/_analyze", body={"normalizer": "key", "text": text})
        assert [t["token"] for t in analyzed["tokens"]] == [value_key(text)], text


# -- SRU over HTTP: real clients ------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1.2", "2.0"])
def test_zoom_searches_the_union_catalogue_and_pymarc_reads_the_records(server, demo, version):
    connection = ZoomConnection(f"{server.url}/sru", 0, {"sru": "get", "sru_version": version,
                                                         "preferredRecordSyntax": "xml", "schema": "marcxml"})
    try:
        total = connection.search('dc.title = "truyen kieu"', cql=True)
        records = [pymarc.parse_xml_to_array(io.BytesIO(data))[0] for data in connection.records(0, total)]
        assert total >= 2 and all(title.startswith("Truyện Kiều") for title in titles_of(records))
        assert all(record.get_fields("852") and record.get_fields("001") for record in records)  # holdings, entry id
        assert {r["001"].data for r in records} == set(_every_id(demo["services"].engine,
                                                                 compile_query('dc.title = "truyen kieu"'))[1])
        by_author = connection.search('dc.creator = "Nguyễn Du" and dc.title = kieu', cql=True)
        assert by_author == total
        isbn = records[0]["020"]["a"]
        assert connection.search(f"bath.isbn = {isbn}", cql=True) >= 1
        [again] = [pymarc.parse_xml_to_array(io.BytesIO(d))[0] for d in connection.records(0, 1)]
        assert isbn in [f["a"] for f in again.get_fields("020")]
        with pytest.raises(ZoomError) as refused:
            connection.search("dc.publisher = kim", cql=True)
        assert refused.value.code == 16  # SRU diagnostic 16: unsupported index
    finally:
        connection.close()


def test_a_second_unioncat_harvests_every_entry_over_sru(server, demo, tmp_path):
    """With the harvester's default batch (500): the server caps each answer at 100 and the harvester asks again."""
    union = {"id": "lien-hop", "name": "Mục lục liên hợp", "kind": "provincial", "protocol": "z3950",
             "transport": "sru", "host": "127.0.0.1", "port": server.port, "database": "sru",
             "query": "cql.allRecords = 1", "schedule": "0 2 * * *"}
    config_dir = write_config(tmp_path / "second", [union])
    run = subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "harvest"], cwd=REPO,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr[-2000:]
    second = Catalogue(tmp_path / "second" / "data" / "catalogue.sqlite3")
    try:
        records = second.load(second.record_ids("lien-hop"))
        ours = {d["id"]: d for d in demo["documents"]}
        assert len(records) == len(ours)
        assert {record_id.split(":", 1)[1] for record_id in records} == set(ours)  # 001: the entry ids
        for record_id, record in records.items():
            assert record.title in ours[record_id.split(":", 1)[1]]["titles"]
    finally:
        second.close()


# -- SRU over HTTP: the protocol --------------------------------------------------------------------
def test_explain_in_both_versions(server):
    for params, namespace, version in (({"version": "1.2", "operation": "explain"}, SRU12, "1.2"),
                                       ({"version": "1.2"}, SRU12, "1.2"), ({}, SRU20, "2.0")):
        response = requests.get(server.url + "/sru", params=params, timeout=10)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
        root = etree.fromstring(response.content)
        assert root.tag == f"{{{namespace}}}explainResponse"
        assert (root.findtext(f"{{{namespace}}}version") == "1.2") == (version == "1.2")
        assert root.findtext(f"{{{namespace}}}record/{{{namespace}}}recordSchema") == ZEEREX
        zeerex = root.find(f"{{{namespace}}}record/{{{namespace}}}recordData/{{{ZEEREX}}}explain")
        info = zeerex.find(f"{{{ZEEREX}}}serverInfo")
        assert (info.get("protocol"), info.get("version")) == ("SRU", version)
        assert (info.findtext(f"{{{ZEEREX}}}port"), info.findtext(f"{{{ZEEREX}}}database")) == (str(server.port), "sru")
        names = {f"{n.get('set')}.{n.text}" for n in zeerex.iter(f"{{{ZEEREX}}}name")}
        assert {"dc.title", "dc.creator", "dc.subject", "bath.isbn", "dc.date", "rec.id", "cql.anywhere"} <= names
        schemas = {s.get("identifier") for s in zeerex.iter(f"{{{ZEEREX}}}schema")}
        assert schemas == {"info:srw/schema/1/marcxml-v1.1", "info:srw/schema/1/dc-v1.1"}


def test_search_retrieve_in_both_versions_and_both_schemas(demo):
    client = demo["client"]
    query = 'dc.title = "truyen kieu"'
    old = sru(client, version="1.2", operation="searchRetrieve", query=query)
    new = sru(client, query=query)  # 2.0: no version, no operation
    assert old.tag == f"{{{SRU12}}}searchRetrieveResponse" and old.findtext(f"{{{SRU12}}}version") == "1.2"
    assert new.tag == f"{{{SRU20}}}searchRetrieveResponse" and new.find(f"{{{SRU20}}}version") is None
    assert new.findtext(f"{{{SRU20}}}resultCountPrecision") == "info:srw/vocabulary/resultCountPrecision/1/exact"
    assert old.findtext(f"{{{SRU12}}}numberOfRecords") == new.findtext(f"{{{SRU20}}}numberOfRecords") != "0"
    assert ids_of(old) == ids_of(new)
    record = old.find(f"{{{SRU12}}}records/{{{SRU12}}}record")
    assert [etree.QName(child).localname for child in record] == ["recordSchema", "recordPacking", "recordData",
                                                                  "recordPosition"]
    record = new.find(f"{{{SRU20}}}records/{{{SRU20}}}record")
    assert [etree.QName(child).localname for child in record] == ["recordSchema", "recordXMLEscaping", "recordData",
                                                                  "recordPosition"]
    for schema in ("dc", "info:srw/schema/1/dc-v1.1"):
        dc = sru(client, version="1.2", query=query, recordSchema=schema)
        assert dc.findtext("{*}records/{*}record/{*}recordSchema") == "info:srw/schema/1/dc-v1.1"
        assert dc.findtext("{*}records/{*}record/{*}recordData/{info:srw/schema/1/dc-schema}dc/"
                           "{http://purl.org/dc/elements/1.1/}title").startswith("Truyện Kiều")
    for params in ({"version": "1.2", "recordPacking": "string"}, {"recordXMLEscaping": "string"}):
        packed = sru(client, query=query, recordSchema="info:srw/schema/1/marcxml-v1.1", **params)
        text = packed.findtext("{*}records/{*}record/{*}recordData")
        [record] = pymarc.parse_xml_to_array(io.BytesIO(text.encode("utf-8")))
        assert titles_of([record])[0].startswith("Truyện Kiều")
    posted = client.post("/sru", data={"version": "1.2", "operation": "searchRetrieve", "query": query})
    assert posted.status_code == 200 and ids_of(etree.fromstring(posted.data)) == ids_of(old)


def test_paging_walks_the_whole_result_with_next_record_position(demo):
    client, query = demo["client"], 'dc.subject = "van hoc"'
    first = sru(client, version="1.2", query=query, maximumRecords="7")
    total = int(first.findtext("{*}numberOfRecords"))
    assert total > 20
    seen, start = [], 1
    while True:
        page = sru(client, version="1.2", query=query, maximumRecords="7", startRecord=str(start))
        positions = [int(p) for p in page.xpath("//*[local-name()='recordPosition']/text()")]
        assert positions == list(range(start, start + len(positions)))
        seen += ids_of(page)
        following = page.findtext("{*}nextRecordPosition")
        if following is None:
            break
        assert int(following) == start + 7
        start = int(following)
    assert len(seen) == len(set(seen)) == total
    assert len(ids_of(sru(client, version="1.2", query=query, maximumRecords="500"))) == 100  # the cap
    counted = sru(client, version="1.2", query=query, maximumRecords="0")
    assert counted.findtext("{*}numberOfRecords") == str(total) and not ids_of(counted)
    beyond = sru(client, version="1.2", query=query, startRecord=str(total + 1))
    assert diagnostic(beyond) == ("info:srw/diagnostic/1/61", str(total + 1))
    assert beyond.findtext("{*}numberOfRecords") == str(total)
    last = sru(client, version="1.2", query=query, startRecord=str(total))
    assert len(ids_of(last)) == 1 and last.find("{*}nextRecordPosition") is None


@pytest.mark.parametrize("params,code,details", [
    ({"version": "1.2", "operation": "searchRetrieve"}, 7, "query"),
    ({"version": "1.2", "operation": "searchRetrieve", "query": "  "}, 7, "query"),
    ({"version": "3.0", "query": "kieu"}, 5, "2.0"),
    ({"version": "1.2", "operation": "scan", "scanClause": "dc.title=a"}, 4, "scan"),
    ({"version": "1.2", "query": "kieu", "startRecord": "0"}, 6, "startRecord"),
    ({"version": "1.2", "query": "kieu", "startRecord": "abc"}, 6, "startRecord"),
    ({"query": "kieu", "startRecord": "-3"}, 6, "startRecord"),
    ({"version": "1.2", "query": "kieu", "maximumRecords": "-1"}, 6, "maximumRecords"),
    ({"version": "1.2", "query": "kieu", "recordSchema": "mods"}, 66, "mods"),
    ({"version": "1.2", "query": "kieu", "recordPacking": "json"}, 71, "json"),
    ({"query": "kieu", "recordPacking": "unpacked"}, 71, "unpacked"),
    ({"query": "kieu", "queryType": "xpath"}, 6, "queryType"),
    ({"version": "1.2", "query": "kieu", "sortKeys": "dc.title"}, 80, "sortKeys"),
    ({"version": "1.2", "query": "kieu", "stylesheet": "/x.xsl"}, 110, "stylesheet"),
    ({"version": "1.2", "query": "kieu", "startRecord": "10001"}, 61, "10000"),
    ({"version": "1.2", "query": "dc.title ="}, 10, "10"),
    ({"version": "1.2", "query": "dc.publisher = kim"}, 16, "dc.publisher"),
    ({"version": "1.2", "query": "dc.title fuzzy kieu"}, 19, "fuzzy"),
    ({"query": 'dc.title = "kieu'}, 14, "11"),
])
def test_bad_requests_get_sru_diagnostics(demo, params, code, details):
    root = sru(demo["client"], **params)
    version = params.get("version", "2.0")
    namespace, diag = (SRU12, DIAG12) if version == "1.2" else (SRU20, DIAG20)
    assert root.tag == f"{{{namespace}}}searchRetrieveResponse"
    found = root.find(f"{{{namespace}}}diagnostics/{{{diag}}}diagnostic")
    assert found.findtext(f"{{{diag}}}uri") == f"info:srw/diagnostic/1/{code}"
    assert found.findtext(f"{{{diag}}}details") == details and found.findtext(f"{{{diag}}}message")
    assert root.find(f"{{{namespace}}}records") is None


def test_search_words_are_folded_like_the_patron_search(demo):
    client = demo["client"]
    folded = sru(client, query='dc.title = "truyen kieu"', maximumRecords="100")
    marked = sru(client, query='dc.title = "TRUYỆN KIỀU"', maximumRecords="100")
    patron = client.get("/api/search", query_string={"q": "truyen kieu", "size": "100"}).get_json()
    assert sorted(ids_of(folded)) == sorted(ids_of(marked)) and ids_of(folded)
    assert set(ids_of(folded)) <= {hit["id"] for hit in patron["hits"]}
    assert sorted(ids_of(sru(client, query="truyen kieu", maximumRecords="100"))) == sorted(
        hit["id"] for hit in patron["hits"])  # bare words: the patron search's every-word match


_PARAMS = st.dictionaries(
    st.sampled_from(["version", "operation", "query", "startRecord", "maximumRecords", "recordSchema",
                     "recordPacking", "recordXMLEscaping", "queryType", "sortKeys", "x-pquery", "stylesheet"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
    | st.sampled_from(["1.2", "2.0", "searchRetrieve", "explain", "dc", "marcxml", "0", "1", "101", "string",
                       'dc.title = "kiều"', "cql.allRecords=1", "99999999999999999999"]),
    max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(params=_PARAMS)
def test_any_request_is_answered_in_sru_never_with_a_500(demo, params):
    root = sru(demo["client"], **params)
    assert etree.QName(root).namespace in (SRU12, SRU20)
    assert etree.QName(root).localname in ("searchRetrieveResponse", "explainResponse")
    uri, _ = diagnostic(root)
    assert uri != "info:srw/diagnostic/1/1", params  # no unexpected failure behind a diagnostic either
