"""The OAI-PMH 2.0 provider at /oai, harvested by clients nobody on the project wrote (sickle, pyoai's
client, and unioncat's own harvester in a second instance), over HTTP against `unioncat serve`.

The catalogue is a part of the demo network harvested for real (tests/browser.py's build_demo);
every response is validated against the OAI-PMH 2.0, MARC21 slim and oai_dc schemas kept in
tests/data/third_party/schemas. The publication state's datestamp rules are checked directly too.
"""
from __future__ import annotations

import io
import os
import random
import sqlite3
import subprocess
import sys
import time
import warnings
from collections import Counter
from datetime import datetime, timezone

import pymarc
import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from tests.browser import TOKEN, build_demo
from tests.conftest import REPO, local_schema, write_config
from unionapi.catalogue import entry_id_for
from unionapi.demo.network import load_records, save_records
from unionapi.publish.state import PublicationState, digest

OAI = "http://www.openarchives.org/OAI/2.0/"
MARC = "http://www.loc.gov/MARC21/slim"
NS = {"o": OAI, "m": MARC, "dc": "http://purl.org/dc/elements/1.1/"}


# an OAI-PMH response checks its <metadata> strictly: MARC21 slim and oai_dc are needed too
OAI_SCHEMA = local_schema((OAI, "OAI-PMH.xsd"), (MARC, "MARC21slim.xsd"),
                          ("http://www.openarchives.org/OAI/2.0/oai_dc/", "oai_dc.xsd"))


def valid(body: bytes) -> etree._Element:
    """The response parsed, after checking it against OAI-PMH 2.0 (and the metadata's own schema)."""
    root = etree.fromstring(body)
    if not OAI_SCHEMA.validate(root):
        raise AssertionError(f"not valid OAI-PMH: {OAI_SCHEMA.error_log.last_error}\n{body[:3000]!r}")
    return root


# -- the publication state's rules, directly --------------------------------------------------------
class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def document(entry_id: str, title: str, libraries=("tv-tinh",)) -> dict:
    return {"id": entry_id, "title": title, "libraries": list(libraries), "holdings": []}


def publish(state: PublicationState, documents, removed=(), full=False):
    changes = state.changes(full=full)
    list(changes.watch(documents))
    gone = changes.gone(removed)
    return changes.commit(), gone


def listed(state, start=None, end=None, libraries=None):
    gens = state.gens_between(start, end)
    return [(p.id, p.datestamp, p.deleted) for p in state.page(gens, libraries, None, 1000)] if gens else []


def test_datestamps_move_only_when_what_is_published_changes(tmp_path):
    clock = Clock(1_800_000_000.2)
    state = PublicationState(tmp_path / "publish.sqlite3", clock=clock)
    assert publish(state, [document("a", "A"), document("b", "B")])[0] == 1_800_000_000
    clock.now += 100
    assert publish(state, [document("a", "A"), document("b", "B")]) == (None, [])  # the same again: nothing moves
    assert publish(state, [document("a", "A"), document("b", "B")], full=True) == (None, [])  # a rebuild neither
    stamp, gone = publish(state, [document("a", "A2")], removed=["b", "never-published"])
    assert stamp == 1_800_000_100 and gone == ["b"]
    assert listed(state, start=1_800_000_001) == [("a", stamp, False), ("b", stamp, True)]
    clock.now += 100
    assert publish(state, [document("a", "A2")], removed=["b"]) == (None, [])  # deleted stays deleted, once
    # a full run that does not write an entry published before: it is gone
    stamp, gone = publish(state, [document("c", "C", ["tv-kim-son"])], full=True)
    assert gone == ["a"] and listed(state, start=stamp) == [("a", stamp, True), ("c", stamp, False)]
    assert listed(state, libraries=["tv-kim-son"]) == [("c", stamp, False)]
    assert listed(state, libraries=["tv-tinh"]) == [("b", 1_800_000_100, True), ("a", stamp, True)]  # kept for sets


def test_datestamps_never_go_back_and_a_commit_across_a_second_moves_its_stamp(tmp_path):
    clock = Clock(1_800_000_000.9)
    state = PublicationState(tmp_path / "publish.sqlite3", clock=clock)
    first, _ = publish(state, [document("a", "A")])
    clock.now = 1_799_999_000.0  # the clock set back an hour
    second, _ = publish(state, [document("b", "B")])
    assert second == first  # never earlier than one already given
    assert [p.id for p in state.page(state.gens_between(first, None), None, None, 10)] == ["a", "b"]

    class Ticking(Clock):  # one more second has passed when the commit is checked
        def __call__(self):
            self.now += 0.6
            return self.now
    ticking = Ticking(1_800_000_100.0)
    state.clock = ticking
    third, _ = publish(state, [document("c", "C")])
    assert third == int(ticking.now) > 1_800_000_100  # moved to the second its commit was seen in
    assert state.get("c").datestamp == third


def test_a_change_only_marc_shows_moves_the_datestamp(tmp_path):
    """The extent (300) is published in MARC but is not in the search document: changing only it
    still moves the entry's datestamp, and the search engine never sees the members' digest."""
    from config import load_config
    from normalizer.records import CanonicalRecord
    from unionapi.catalogue import Catalogue
    from unionapi.pipeline import deduplicate_changes, index_changes

    class Engine:  # stands for a search engine: only what it is given matters here
        written: list[dict] = []

        def write(self, documents, deleted_ids, replace_all=False):
            self.written.extend(documents)

    config = load_config(write_config(tmp_path, [{"id": "tv-tinh", "name": "Thư viện tỉnh", "kind": "provincial",
                                                  "protocol": "file", "path": str(tmp_path)}]))
    catalogue, engine = Catalogue(tmp_path / "catalogue.sqlite3"), Engine()
    record = CanonicalRecord(record_id="tv-tinh:1", library="tv-tinh", format="marcxml", title="Truyện Kiều",
                             title_sort="Truyện Kiều", extent="200 tr.", pages=200, year=2015)
    catalogue.apply([(record, 1)], [], [], 1)
    deduplicate_changes(config, catalogue)
    index_changes(catalogue, engine, workers=1)
    state = PublicationState.beside(catalogue.path)
    entry = catalogue.entry_of("tv-tinh:1")
    first = state.get(entry)
    record.extent = "200 tr. : minh họa"  # pages unchanged: the search document is the same
    time.sleep(1.1)
    catalogue.apply([(record, 2)], [], [], 2)
    deduplicate_changes(config, catalogue)
    index_changes(catalogue, engine, workers=1)
    assert state.get(entry).datestamp > first.datestamp
    assert engine.written and all("_members" not in d for d in engine.written)
    state.close()
    catalogue.close()


def test_digest_is_stable():
    assert digest({"b": [1, "ễ"], "a": None}) == digest({"a": None, "b": [1, "ễ"]})
    assert digest({"a": 1}) != digest({"a": 2})


# -- a union catalogue served by `unioncat serve` --------------------------------------------------
def unioncat(config_dir, *args):
    return subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), *args], cwd=REPO,
                          capture_output=True, text=True, check=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def catalogue_entries(config_dir) -> set[str]:
    db = sqlite3.connect(f"file:{config_dir / 'data' / 'catalogue.sqlite3'}?mode=ro", uri=True)
    try:
        return {r[0] for r in db.execute("SELECT DISTINCT entry_id FROM records")}
    finally:
        db.close()


@pytest.fixture(scope="module")
def union(tmp_path_factory):
    """Four demo libraries (1,000 records) harvested into a union catalogue, served over HTTP."""
    from tests.conftest import ApiServer
    config_dir, providers = build_demo(tmp_path_factory.mktemp("union"), total_records=1000)
    for provider in providers:
        provider.stop()
    server = ApiServer(config_dir)
    yield {"config_dir": config_dir, "url": server.url + "/oai", "entries": catalogue_entries(config_dir)}
    server.stop()


def oai(url: str, method: str = "GET", **params) -> etree._Element:
    """One request; the answer checked against the schemas."""
    response = (requests.post(url, data=params, timeout=30) if method == "POST"
                else requests.get(url, params=params, timeout=30))
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml"), response.text
    return valid(response.content)


def error_of(root) -> str | None:
    found = root.find(f"{{{OAI}}}error")
    return None if found is None else found.get("code")


def checked_sickle(url: str):
    """sickle, with every page it reads validated against the schemas and kept."""
    from sickle import Sickle

    class Checked(Sickle):
        pages: list = []

        def harvest(self, **kwargs):
            response = super().harvest(**kwargs)
            self.pages.append(valid(response.http_response.content))
            return response
    Checked.pages = []
    return Checked(url, max_retries=1, timeout=60)


def tokens_of(pages) -> list[tuple]:
    """(cursor, completeListSize, token) of each page's resumptionToken element."""
    found = []
    for page in pages:
        token = page.find(f".//{{{OAI}}}resumptionToken")
        found.append(None if token is None else (token.get("cursor"), token.get("completeListSize"), token.text))
    return found


def test_sickle_lists_every_identifier_with_resumption(union):
    sickle = checked_sickle(union["url"])
    headers = list(sickle.ListIdentifiers(metadataPrefix="marc21"))
    entries = union["entries"]
    assert len(headers) == len(entries) > 500  # more than one page of 500
    assert {h.identifier.removeprefix("oai:unioncat:") for h in headers} == entries
    assert not any(h.deleted for h in headers)
    pages = tokens_of(sickle.pages)
    n = len(entries)
    assert [(cursor, size) for cursor, size, _ in pages] == [("0", str(n)), ("500", str(n))]
    assert pages[0][2] and pages[-1][2] is None  # the last page of a split list: an empty resumptionToken
    # every header names its sets; a library's set lists exactly what that library holds
    held = [h for h in headers if "library:thpt-lvt" in h.setSpecs]
    school = list(checked_sickle(union["url"]).ListIdentifiers(metadataPrefix="oai_dc", set="library:thpt-lvt"))
    assert {h.identifier for h in school} == {h.identifier for h in held} and held
    assert all("level:school" in h.setSpecs and "province:tv-tinh" in h.setSpecs for h in held)
    levels = list(checked_sickle(union["url"]).ListIdentifiers(metadataPrefix="oai_dc", set="level:school"))
    assert {h.identifier for h in levels} == {h.identifier for h in held}
    province = list(checked_sickle(union["url"]).ListIdentifiers(metadataPrefix="oai_dc", set="province:tv-tinh"))
    assert len(province) == n
    # from/until at day granularity: the whole day, both ends included
    days = sorted(h.datestamp[:10] for h in headers)
    whole_days = checked_sickle(union["url"]).ListIdentifiers(metadataPrefix="marc21", until=days[-1],
                                                              **{"from": days[0]})
    assert len(list(whole_days)) == n


def first_page(url: str, verb: str = "ListIdentifiers", **params):
    root = oai(url, verb=verb, metadataPrefix="oai_dc", **params)
    token = root.find(f".//{{{OAI}}}resumptionToken").text
    identifier = root.find(f".//{{{OAI}}}header/{{{OAI}}}identifier").text
    return token, identifier


# (arguments, expected error code): every OAI-PMH error this repository can give, with its condition
ERRORS = [
    ({}, "badVerb"),  # no verb
    ({"verb": "ListEverything"}, "badVerb"),
    ({"verb": ["Identify", "Identify"]}, "badVerb"),  # repeated
    ({"verb": ["Identify", "ListSets"]}, "badVerb"),
    ({"verb": "identify"}, "badVerb"),  # verbs are case sensitive
    ({"verb": "Identify", "metadataPrefix": "marc21"}, "badArgument"),  # an argument the verb does not take
    ({"verb": "Identify", "resumptionToken": "x"}, "badArgument"),
    ({"verb": "ListRecords"}, "badArgument"),  # required metadataPrefix missing
    ({"verb": "ListIdentifiers", "metadataPrefix": ["marc21", "marc21"]}, "badArgument"),  # repeated
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2026-13-01"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2026-02-30"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2026-01-01T00:00:00"}, "badArgument"),  # no Z
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "until": "2026-01-01T00:00:00.5Z"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2026-01-01T00:00Z"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2020-01-01",
      "until": "2020-01-01T00:00:00Z"}, "badArgument"),  # mixed granularities
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2021-01-01", "until": "2020-01-01"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "set": "library:a b"}, "badArgument"),  # not a setSpec
    ({"verb": "ListRecords", "metadataPrefix": "marc 21"}, "badArgument"),  # not a metadataPrefix
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "resumptionToken": "{token}"}, "badArgument"),  # exclusive
    ({"verb": "ListIdentifiers", "set": "library:tv-tinh", "resumptionToken": "{token}"}, "badArgument"),
    ({"verb": "GetRecord", "identifier": "{identifier}"}, "badArgument"),  # metadataPrefix missing
    ({"verb": "GetRecord", "metadataPrefix": "marc21"}, "badArgument"),  # identifier missing
    ({"verb": "ListIdentifiers", "resumptionToken": "bm9uc2Vuc2U"}, "badResumptionToken"),
    ({"verb": "ListIdentifiers", "resumptionToken": "!!!"}, "badResumptionToken"),
    ({"verb": "ListRecords", "resumptionToken": "{token}"}, "badResumptionToken"),  # a ListIdentifiers token
    ({"verb": "ListSets", "resumptionToken": "{token}"}, "badResumptionToken"),  # ListSets issues none
    ({"verb": "ListRecords", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "marc21x", "set": "library:tv-tinh"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": "{identifier}", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": "oai:unioncat:0000000000000000", "metadataPrefix": "marc21"},
     "idDoesNotExist"),
    ({"verb": "GetRecord", "identifier": "{identifier}x", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
    ({"verb": "GetRecord", "identifier": "oai:elsewhere:{entry}", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
    ({"verb": "ListMetadataFormats", "identifier": "oai:unioncat:nothing"}, "idDoesNotExist"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2000-01-01", "until": "2000-12-31"},
     "noRecordsMatch"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2999-01-01T00:00:00Z"}, "noRecordsMatch"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "library:tv-nowhere"}, "noRecordsMatch"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "level:commune"}, "noRecordsMatch"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "nothing:here"}, "noRecordsMatch"),
]


def test_every_error_with_its_condition(union):
    url = union["url"]
    token, identifier = first_page(url)
    values = {"token": token, "identifier": identifier, "entry": identifier.rsplit(":", 1)[-1]}
    for arguments, code in ERRORS:
        arguments = {k: [x.format(**values) for x in v] if isinstance(v, list) else v.format(**values)
                     for k, v in arguments.items()}
        for method in ("GET", "POST"):
            root = oai(url, method, **arguments)
            assert error_of(root) == code, (method, arguments, etree.tostring(root)[:600])
            echoed = root.find(f"{{{OAI}}}request")
            assert echoed.text == url
            if code in ("badVerb", "badArgument"):
                assert not echoed.attrib, arguments  # OAI-PMH 3.6: the base URL only
            else:
                assert dict(echoed.attrib) == arguments, arguments
    # and the same requests right are answered
    assert error_of(oai(url, verb="GetRecord", identifier=identifier, metadataPrefix="oai_dc")) is None
    assert error_of(oai(url, "POST", verb="ListIdentifiers", resumptionToken=token)) is None
    assert error_of(oai(url, verb="ListMetadataFormats", identifier=identifier)) is None


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(arguments=st.dictionaries(
    st.sampled_from(["verb", "metadataPrefix", "identifier", "from", "until", "set", "resumptionToken", "x", ""]),
    st.one_of(st.sampled_from(["Identify", "ListRecords", "ListIdentifiers", "GetRecord", "ListSets",
                               "ListMetadataFormats", "marc21", "oai_dc", "2026-01-01", "library:tv-tinh",
                               "oai:unioncat:0", "W1siTGlzdFJlY29yZHMiXQ", ""]),
              st.text(max_size=40)), max_size=5),
    method=st.sampled_from(["GET", "POST"]))
def test_garbage_gets_an_oai_answer_never_a_500(union, arguments, method):
    root = oai(union["url"], method, **arguments)
    assert root.find(f"{{{OAI}}}responseDate") is not None


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=9) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=20)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=st.one_of(_JSON, st.tuples(st.sampled_from(["ListRecords", "ListIdentifiers"]),
                                          st.sampled_from(["marc21", "oai_dc", "x"]), _JSON, _JSON, _JSON,
                                          _JSON, _JSON, _JSON).map(list)),
       verb=st.sampled_from(["ListRecords", "ListIdentifiers"]))
def test_forged_resumption_tokens_never_a_500(union, payload, verb):
    """Tokens are base64 of JSON: anyone can forge one; a bad one is badResumptionToken, whatever it holds."""
    import base64
    import json
    token = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    root = oai(union["url"], verb=verb, resumptionToken=token)
    assert error_of(root) in (None, "badResumptionToken", "noRecordsMatch")


def test_odd_requests_never_a_500(union):
    url = union["url"]
    for query in ("verb=%FF%FE", "verb=Identify&%00=1", "verb=GetRecord&identifier=%00&metadataPrefix=oai_dc",
                  "verb=ListRecords&metadataPrefix=oai_dc&from=%E2%80%8B2026-01-01", "&&&=&=", "verb"):
        response = requests.get(f"{url}?{query}", timeout=10)
        assert response.status_code == 200, query
        assert error_of(valid(response.content)) in ("badVerb", "badArgument"), query
    assert requests.put(url, data="verb=Identify", timeout=10).status_code == 405
    long = requests.get(url, params={"verb": "ListRecords", "resumptionToken": "A" * 6000}, timeout=10)
    assert error_of(valid(long.content)) == "badResumptionToken"


def response_date(root) -> str:
    return root.findtext(f"{{{OAI}}}responseDate")


def next_second() -> None:
    """Wait for the next whole second: what was published before has an earlier datestamp than what follows."""
    time.sleep(1.02 - time.time() % 1)


def headers_from(url: str, since: str) -> dict[str, bool]:
    """identifier -> deleted, of ListIdentifiers from=``since`` (sickle, every page validated)."""
    from sickle.oaiexceptions import NoRecordsMatch
    try:
        return {h.identifier.removeprefix("oai:unioncat:"): h.deleted
                for h in checked_sickle(url).ListIdentifiers(metadataPrefix="marc21", **{"from": since})}
    except NoRecordsMatch:
        return {}


def checked_out(marc: str, when: datetime) -> str:
    """The Koha record's copy lent (952 $q due date) or returned, as a day of circulation does."""
    from unionapi.demo.records import circulate
    return circulate(marc, when, random.Random(0))


def test_incremental_harvest_sees_exactly_the_changed_and_the_merged(tmp_path, api_server):
    config_dir, providers = build_demo(tmp_path, total_records=1000)
    try:
        server = api_server(config_dir)
        url, auth = server.url + "/oai", {"Authorization": f"Bearer {TOKEN}"}
        catalogue = config_dir / "data" / "catalogue.sqlite3"

        def entry_of(record_id: str) -> str:
            with sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True) as db:
                return db.execute("SELECT entry_id FROM records WHERE id = ?", (record_id,)).fetchone()[0]

        next_second()
        harvester = checked_sickle(url)
        assert len(list(harvester.ListIdentifiers(metadataPrefix="marc21"))) == len(catalogue_entries(config_dir))
        last = response_date(harvester.pages[-1])
        assert headers_from(url, last) == {}  # nothing since

        # two merges a cataloguer makes, of four different entries
        reports, taken = [], set()
        for report in requests.get(server.url + "/api/duplicates", timeout=10).json()["duplicates"]:
            entries = {side["entry_id"] for side in report["records"]}
            if len(entries) == 2 and not entries & taken and len(reports) < 2:
                reports.append(report)
                taken |= entries
        assert len(reports) == 2
        # ten books lent or returned at the provincial library, each the only copy of its entry there
        path = tmp_path / "tv-tinh.jsonl"
        records = load_records(path)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        changed, changed_entries = [], set()
        for index, record in enumerate(records):
            marc = record.metadata.get("marc21", "")
            entry = None if record.deleted or marc.count('tag="952"') != 1 else entry_of(f"tv-tinh:{record.identifier}")
            if entry and entry not in taken | changed_entries and len(changed) < 10:
                changed.append(index)
                changed_entries.add(entry)
        assert len(changed) == 10
        for index in changed:
            record = records[index]
            records[index] = type(record)(record.identifier, now.strftime("%Y-%m-%dT%H:%M:%SZ"), False, record.sets,
                                          {**record.metadata, "marc21": checked_out(record.metadata["marc21"], now)})
        save_records(path, records)
        unioncat(config_dir, "harvest", "tv-kim-son", "tv-tinh")
        assert headers_from(url, last) == {entry: False for entry in changed_entries}

        merged_away, kept = set(), set()
        for report in reports:
            answer = requests.post(f"{server.url}/api/duplicates/{report['id']}/merge", headers=auth,
                                   json={"comment": "the same book"}, timeout=60)
            assert answer.status_code == 200, answer.text
            before = {side["entry_id"] for side in report["records"]}
            after = entry_of(report["a"])
            assert after == entry_of(report["b"]) and after in before
            kept.add(after)
            merged_away |= before - {after}
        assert headers_from(url, last) == ({entry: False for entry in changed_entries | kept}
                                           | {entry: True for entry in merged_away})

        # a merged-away entry stays deleted: a split re-creating its records gets another id
        gone = sorted(merged_away)[0]
        gone_header = oai(url, verb="GetRecord", identifier=f"oai:unioncat:{gone}", metadataPrefix="marc21")
        assert gone_header.find(f".//{{{OAI}}}header").get("status") == "deleted"
        assert gone_header.find(f".//{{{OAI}}}metadata") is None
        with sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True) as db:  # the record that founded it
            founder, survivor = next((r, e) for r, e in db.execute("SELECT id, entry_id FROM records")
                                     if entry_id_for(r) == gone)
        answer = requests.post(f"{server.url}/api/entries/{survivor}/split", headers=auth,
                               json={"record_id": founder, "comment": "not the same"}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert entry_of(founder) == entry_id_for(f"{founder}#1")  # not its old id: that one is retired
        assert headers_from(url, last)[entry_of(founder)] is False
        assert oai(url, verb="GetRecord", identifier=f"oai:unioncat:{gone}", metadataPrefix="oai_dc").find(
            f".//{{{OAI}}}header").get("status") == "deleted"

        # a rebuild with nothing changed moves no datestamp
        next_second()
        settled = response_date(oai(url, verb="Identify"))
        unioncat(config_dir, "index", "--rebuild")
        assert headers_from(url, settled) == {}
        assert headers_from(url, last)[gone] is True
    finally:
        for provider in providers:
            provider.stop()



def test_sickle_harvests_every_record_in_both_formats(union):
    entries = union["entries"]
    sickle = checked_sickle(union["url"])
    records = list(sickle.ListRecords(metadataPrefix="marc21"))
    assert len(records) == len(entries)
    assert {r.header.identifier.removeprefix("oai:unioncat:") for r in records} == entries
    pages = tokens_of(sickle.pages)
    assert len(pages) == -(-len(entries) // 100)  # 100 records a page
    assert [int(cursor) for cursor, _, _ in pages] == list(range(0, len(entries), 100))
    assert {size for _, size, _ in pages} == {str(len(entries))} and pages[-1][2] is None
    read = 0
    for record in records:
        [marc_record] = record.xml.findall(f".//{{{MARC}}}record")
        [parsed] = pymarc.parse_xml_to_array(io.BytesIO(etree.tostring(marc_record)))
        assert parsed["001"].data == record.header.identifier.removeprefix("oai:unioncat:")
        assert parsed["245"]["a"] and parsed.get_fields("852")
        assert parsed.leader[9] == "a"
        read += 1
    assert read == len(entries)
    dc = list(checked_sickle(union["url"]).ListRecords(metadataPrefix="oai_dc"))
    assert len(dc) == len(entries) and all(r.metadata["title"] for r in dc)
    # GetRecord gives what the list gave
    one = records[7]
    single = checked_sickle(union["url"]).GetRecord(identifier=one.header.identifier, metadataPrefix="marc21")
    assert etree.tostring(single.xml.find(f".//{{{MARC}}}record")) == etree.tostring(
        one.xml.find(f".//{{{MARC}}}record"))
    identify = checked_sickle(union["url"]).Identify()
    assert identify.deletedRecord == "persistent" and identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.protocolVersion == "2.0" and identify.baseURL == union["url"]
    sets = {s.setSpec for s in checked_sickle(union["url"]).ListSets()}
    assert {"library:tv-tinh", "library:thpt-lvt", "level:school", "level:district", "province:tv-tinh"} <= sets
    formats = {f.metadataPrefix for f in checked_sickle(union["url"]).ListMetadataFormats()}
    assert formats == {"marc21", "oai_dc"}


class _EtreeWithEvaluate:
    """lxml as pyoai 2.5.0 expects it: its XPath evaluators had an ``evaluate`` method, gone in lxml 5."""

    def __getattr__(self, name):
        return getattr(etree, name)

    @staticmethod
    def XPathEvaluator(*args, **kwargs):
        evaluator = etree.XPathEvaluator(*args, **kwargs)
        return type("Evaluator", (), {"evaluate": staticmethod(evaluator)})()


def pyoai_client():
    with warnings.catch_warnings():  # pyoai imports pkg_resources
        warnings.simplefilter("ignore")
        from oaipmh import client, metadata
    client.etree = metadata.etree = _EtreeWithEvaluate()
    return client.Client, metadata.MetadataRegistry, metadata.oai_dc_reader


def test_pyoai_client_harvests_everything(union):
    """pyoai's client posts its requests (application/x-www-form-urlencoded) and reads every page."""
    Client, MetadataRegistry, oai_dc_reader = pyoai_client()
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    registry.registerReader("marc21", lambda element: element.find(f"{{{MARC}}}record"))
    client = Client(union["url"], registry)
    identify = client.identify()
    assert identify.repositoryName() == "unioncat" and identify.deletedRecord() == "persistent"
    client.updateGranularity()
    entries = union["entries"]
    dc = list(client.listRecords(metadataPrefix="oai_dc"))
    assert len(dc) == len(entries) and all(metadata["title"] for _, metadata, _ in dc)
    marc = list(client.listRecords(metadataPrefix="marc21", set="province:tv-tinh"))
    assert {header.identifier().removeprefix("oai:unioncat:") for header, _, _ in marc} == entries
    assert all(pymarc.parse_xml_to_array(io.BytesIO(etree.tostring(m)))[0]["245"] for _, m, _ in marc)
    earliest = identify.earliestDatestamp()
    headers = list(client.listIdentifiers(metadataPrefix="marc21", from_=earliest))
    assert len(headers) == len(entries) and not any(h.isDeleted() for h in headers)
    assert all(h.datestamp() >= earliest for h in headers)
    assert {s[0] for s in client.listSets()} >= {"library:tv-tinh", "level:provincial"}
    header, metadata, _ = client.getRecord(identifier=headers[3].identifier(), metadataPrefix="oai_dc")
    assert header.identifier() == headers[3].identifier() and metadata["title"]


def test_a_second_unioncat_harvests_the_first_and_ends_with_the_same_entries(union, tmp_path):
    """Round trip: another unioncat harvests /oai (marc21) with its own harvester and normalizer."""
    from unionapi.catalogue import Catalogue
    from unionapi.publish.formats import entry_holdings
    from unionapi.search import entry_document
    second = write_config(tmp_path / "second", [{
        "id": "union-1", "name": "Mục lục liên hợp tỉnh", "kind": "provincial", "protocol": "oai",
        "endpoint": union["url"], "metadata_prefix": "marc21", "schedule": "0 2 * * *"}])
    unioncat(second, "harvest")
    first = Catalogue(union["config_dir"] / "data" / "catalogue.sqlite3")
    theirs = Catalogue(second / "data" / "catalogue.sqlite3")
    try:
        ours = first.members_of(sorted(union["entries"]))
        copied = {entry_id: members for entry_id, members in theirs.members_of(list(theirs.all_entry_ids())).items()}
        assert len(copied) == len(ours)
        by_source = {members[0].record_id.removeprefix("union-1:oai:unioncat:"): members
                     for members in copied.values()}
        assert all(len(members) == 1 for members in copied.values())  # one record each: nothing merged
        assert set(by_source) == set(ours)
        titles = {entry_id: entry_document(entry_id, members)["title"] for entry_id, members in ours.items()}
        assert {entry_id: members[0].title for entry_id, members in by_source.items()} == titles
        # Holdings: every one comes back, branch, call number and status kept, but attributed to the
        # library harvested (union-1); a holding without a branch (a Dublin Core library's) is read back
        # with the holding library's id (852 $a) as its branch.
        differences = {}
        for entry_id, members in ours.items():
            published = Counter((h["branch"] or h["library"], h["call_number"], h["status"])
                                for h in entry_holdings(members))
            read_back = Counter((h.branch, h.call_number, h.status) for h in by_source[entry_id][0].holdings)
            if published != read_back:
                differences[entry_id] = (published, read_back)
        assert not differences, (len(differences), list(differences.items())[:2])
        assert {h.library for members in by_source.values() for h in members[0].holdings} == {"union-1"}
    finally:
        first.close()
        theirs.close()


def test_a_page_is_found_by_an_index_seek_whatever_its_depth(tmp_path):
    """A first publication puts every entry in one generation: the next page must be sought by (generation,
    id), not found by walking the generation from its start (1M entries: quadratic)."""
    from unionapi.publish.state import HELD_SQL, PAGE_SQL
    state = PublicationState(tmp_path / "publish.sqlite3")
    plans = [" ".join(row[-1] for row in state.db.execute("EXPLAIN QUERY PLAN " + sql, args))
             for sql, args in ((PAGE_SQL, (9, 1, "a", 100)), (HELD_SQL, ("tv-tinh", 9, 1, "a", 100)))]
    assert "(gen,id)>(?,?)" in plans[0] and "(gen,entry)>(?,?)" in plans[1], plans


def test_identify_says_what_the_settings_say(tmp_path):
    from config import load_config
    from unionapi.app import create_app
    from unionapi.services import Services
    config = load_config(write_config(tmp_path, [], publish={"z3950": {"enabled": False}, "oai": {
        "repository_name": "Mục lục liên hợp tỉnh Lào Cai", "repository_identifier": "thuvien.laocai.gov.vn",
        "admin_email": "thuvien@laocai.gov.vn"}}))
    services = Services.open(config)
    try:
        root = valid(create_app(services).test_client().get("/oai?verb=Identify").data)
    finally:
        services.close()
    identify = root.find(f"{{{OAI}}}Identify")
    assert identify.findtext(f"{{{OAI}}}repositoryName") == "Mục lục liên hợp tỉnh Lào Cai"
    assert identify.findtext(f"{{{OAI}}}adminEmail") == "thuvien@laocai.gov.vn"
