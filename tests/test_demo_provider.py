"""The demo OAI-PMH provider, as a real process spoken to over HTTP."""
import concurrent.futures
import dataclasses
import unicodedata

import pytest
import requests
from lxml import etree

from unionapi.demo.network import ProviderRecord, generate_network, load_records, save_records
from unionapi.demo.provider import ProviderStartError, start_provider

OAI = {"o": "http://www.openarchives.org/OAI/2.0/", "m": "http://www.loc.gov/MARC21/slim",
       "dc": "http://purl.org/dc/elements/1.1/"}
PAGE = 25


@pytest.fixture(scope="module")
def network():
    return generate_network(total_records=600)


@pytest.fixture(scope="module")
def tinh(network, tmp_path_factory):
    path = tmp_path_factory.mktemp("oai") / "tv-tinh.jsonl"
    save_records(path, network["tv-tinh"])
    with start_provider(path, page_size=PAGE, name="Thư viện tỉnh Sơn Nam") as provider:
        provider.records = network["tv-tinh"]
        yield provider


@pytest.fixture(scope="module")
def yen_mo(network, tmp_path_factory):
    path = tmp_path_factory.mktemp("oai") / "tv-yen-mo.jsonl"
    save_records(path, network["tv-yen-mo"])
    with start_provider(path, page_size=PAGE, formats=["oai_dc"]) as provider:
        yield provider


def oai(provider, **params):
    if "from_" in params:
        params["from"] = params.pop("from_")
    r = requests.get(provider.url, params=params, timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/xml")
    return etree.fromstring(r.content)


def error_code(root):
    err = root.find("o:error", OAI)
    return err.get("code") if err is not None else None


def harvest(provider, verb="ListRecords", **params):
    """All records of a list request, following resumption tokens; also the pages' tokens."""
    items, tokens = [], []
    root = oai(provider, verb=verb, **params)
    while True:
        assert error_code(root) is None, etree.tostring(root)
        container = root.find(f"o:{verb}", OAI)
        items += container.findall("o:record" if verb == "ListRecords" else "o:header", OAI)
        token = container.find("o:resumptionToken", OAI)
        tokens.append(None if token is None else token.text or "")
        if token is None or not token.text:
            return items, tokens
        root = oai(provider, verb=verb, resumptionToken=token.text)


def header(item):
    return item if item.tag.endswith("header") else item.find("o:header", OAI)


def ident(item):
    return header(item).findtext("o:identifier", namespaces=OAI)


def test_identify(tinh):
    root = oai(tinh, verb="Identify")
    ident_el = root.find("o:Identify", OAI)
    get = lambda tag: ident_el.findtext(f"o:{tag}", namespaces=OAI)  # noqa: E731
    assert get("repositoryName") == "Thư viện tỉnh Sơn Nam"
    assert get("baseURL") == tinh.url == f"http://127.0.0.1:{tinh.port}/oai"
    assert get("protocolVersion") == "2.0"
    assert get("earliestDatestamp") == min(r.datestamp for r in tinh.records)
    assert get("deletedRecord") == "persistent"
    assert get("granularity") == "YYYY-MM-DDThh:mm:ssZ"
    assert get("adminEmail")


def test_list_metadata_formats_and_sets(tinh, yen_mo):
    prefixes = [e.text for e in oai(tinh, verb="ListMetadataFormats").iterfind(".//o:metadataPrefix", OAI)]
    assert prefixes == ["marc21", "oai_dc"]
    prefixes = [e.text for e in oai(yen_mo, verb="ListMetadataFormats").iterfind(".//o:metadataPrefix", OAI)]
    assert prefixes == ["oai_dc"]
    specs = [e.text for e in oai(tinh, verb="ListSets").iterfind(".//o:setSpec", OAI)]
    assert specs == ["sach", "thieunhi"]
    assert error_code(oai(yen_mo, verb="ListSets")) == "noSetHierarchy"
    assert error_code(oai(yen_mo, verb="ListRecords", metadataPrefix="oai_dc", set="sach")) == "noSetHierarchy"


def test_list_records_pages_through_everything_once(tinh):
    records, tokens = harvest(tinh, metadataPrefix="marc21")
    expected = {r.identifier: r for r in tinh.records}
    got = [ident(r) for r in records]
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == set(expected)
    assert len(tokens) == -(-len(expected) // PAGE)
    assert tokens[-1] == ""  # an empty token closes a resumed list (pyoai leaves it out)
    deleted = 0
    for rec in records:
        stored = expected[ident(rec)]
        assert header(rec).findtext("o:datestamp", namespaces=OAI) == stored.datestamp
        if stored.deleted:
            deleted += 1
            assert header(rec).get("status") == "deleted"
            assert rec.find("o:metadata", OAI) is None
        else:
            assert header(rec).get("status") is None
            marc = rec.find("o:metadata/m:record", OAI)
            assert marc.findtext("m:controlfield[@tag='001']", namespaces=OAI) == ident(rec).rsplit(":", 1)[1]
            assert [s.text for s in header(rec).findall("o:setSpec", OAI)] == stored.sets
    assert deleted == sum(r.deleted for r in tinh.records) > 0


def test_from_until_and_set_filtering(tinh):
    stamps = sorted(r.datestamp for r in tinh.records)
    middle = stamps[len(stamps) // 2]
    headers, _ = harvest(tinh, verb="ListIdentifiers", metadataPrefix="oai_dc", from_=middle)
    assert {ident(h) for h in headers} == {r.identifier for r in tinh.records if r.datestamp >= middle}
    headers, _ = harvest(tinh, verb="ListIdentifiers", metadataPrefix="oai_dc",
                         from_="2026-10-10", until="2026-10-20")
    assert {ident(h) for h in headers} == {
        r.identifier for r in tinh.records if "2026-10-10" <= r.datestamp[:10] <= "2026-10-20"}
    records, _ = harvest(tinh, metadataPrefix="oai_dc", set="thieunhi")
    assert {ident(r) for r in records} == {r.identifier for r in tinh.records if "thieunhi" in r.sets}
    assert records and all(r.find("o:metadata/*", OAI).tag == "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
                           for r in records if header(r).get("status") is None)
    assert error_code(oai(tinh, verb="ListRecords", metadataPrefix="marc21", from_="2027-01-01")) == "noRecordsMatch"


def test_get_record(tinh):
    live = next(r for r in tinh.records if not r.deleted)
    root = oai(tinh, verb="GetRecord", identifier=live.identifier, metadataPrefix="marc21")
    payload = root.find("o:GetRecord/o:record/o:metadata/m:record", OAI)
    compact = etree.XMLParser(remove_blank_text=True)  # the response is pretty-printed
    assert etree.tostring(etree.fromstring(etree.tostring(payload), compact), method="c14n", exclusive=True) == \
        etree.tostring(etree.fromstring(live.metadata["marc21"].encode()), method="c14n", exclusive=True)
    gone = next(r for r in tinh.records if r.deleted)
    root = oai(tinh, verb="GetRecord", identifier=gone.identifier, metadataPrefix="oai_dc")
    assert root.find("o:GetRecord/o:record/o:header", OAI).get("status") == "deleted"


def test_nfd_payloads_travel_unchanged(yen_mo, network):
    nfd = next(r for r in network["tv-yen-mo"]
               if not r.deleted and unicodedata.normalize("NFC", r.metadata["oai_dc"]) != r.metadata["oai_dc"])
    root = oai(yen_mo, verb="GetRecord", identifier=nfd.identifier, metadataPrefix="oai_dc")
    title = root.findtext(".//dc:title", namespaces=OAI)
    assert unicodedata.normalize("NFC", title) != title


@pytest.mark.parametrize("params, code", [
    ({"verb": "ListRecords", "resumptionToken": "not-a-token"}, "badResumptionToken"),
    ({"verb": "ListRecords", "resumptionToken": "metadataPrefix%3Dmarc21%26cursor%3D99999"}, "badResumptionToken"),
    ({"verb": "ListRecords", "resumptionToken": "metadataPrefix%3Dmarc21%26from_%3Dnope%26cursor%3D0"}, "badResumptionToken"),
    ({"verb": "ListRecords", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "metadataPrefix": "marc21", "identifier": "oai:nowhere:1"}, "idDoesNotExist"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "yesterday"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21", "from": "2026-11-01", "until": "2026-10-01"}, "badArgument"),
    ({"verb": "Harvest"}, "badVerb"),
    ({}, "badVerb"),
])
def test_errors(tinh, params, code):
    assert error_code(oai(tinh, **params)) == code


def test_yen_mo_cannot_disseminate_marc(yen_mo, network):
    assert error_code(oai(yen_mo, verb="ListRecords", metadataPrefix="marc21")) == "cannotDisseminateFormat"
    some = network["tv-yen-mo"][0].identifier
    assert error_code(oai(yen_mo, verb="GetRecord", metadataPrefix="marc21", identifier=some)) == "cannotDisseminateFormat"


def test_repeated_argument_is_bad(tinh):
    r = requests.get(tinh.url + "?verb=Identify&verb=Identify", timeout=10)
    assert error_code(etree.fromstring(r.content)) == "badArgument"


def test_concurrent_requests(tinh):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        roots = list(pool.map(lambda _: oai(tinh, verb="ListRecords", metadataPrefix="marc21"), range(16)))
    assert all(len(r.findall(".//o:record", OAI)) == PAGE for r in roots)


def test_changes_to_the_data_file_are_seen(network, tmp_path):
    path = tmp_path / "kim-son.jsonl"
    records = list(network["tv-kim-son"])
    save_records(path, records)
    with start_provider(path, page_size=PAGE) as provider:
        before, _ = harvest(provider, verb="ListIdentifiers", metadataPrefix="marc21")
        assert len(before) == len(records)
        stamp = "2026-11-24T09:00:00Z"
        changed = dataclasses.replace(records[0], datestamp=stamp, metadata={
            p: x.replace("<subfield code=\"p\">", "<subfield code=\"p\">X") for p, x in records[0].metadata.items()})
        removed = dataclasses.replace(records[1], datestamp=stamp, deleted=True, metadata={})
        added = dataclasses.replace(records[2], identifier="oai:tv-kim-son.sonnam.vn:99999", datestamp=stamp)
        save_records(path, [changed, removed, added] + records[2:])
        headers, _ = harvest(provider, verb="ListIdentifiers", metadataPrefix="marc21", from_=stamp)
        assert {ident(h): header(h).get("status") for h in headers} == {
            changed.identifier: None, removed.identifier: "deleted", added.identifier: None}
        root = oai(provider, verb="GetRecord", identifier=changed.identifier, metadataPrefix="marc21")
        assert root.findtext(".//m:datafield[@tag='952']/m:subfield[@code='p']", namespaces=OAI).startswith("X")
        after, _ = harvest(provider, verb="ListIdentifiers", metadataPrefix="marc21")
        assert len(after) == len(records) + 1
        assert load_records(path)[2] == added
    assert provider.proc.returncode == 0  # SIGTERM is a clean exit


def test_start_failures_are_reported(tmp_path, tinh):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(ProviderStartError, match="(?s)did not start.*unknown format"):
        start_provider(path, formats="nonsense", timeout=10)
    with pytest.raises(OSError, match="(?s)did not start.*(in use|Errno)"):
        start_provider(path, port=tinh.port, timeout=10)


def test_provider_record_shape():
    assert [f.name for f in dataclasses.fields(ProviderRecord)] == [
        "identifier", "datestamp", "deleted", "sets", "metadata"]


def test_edits_during_a_harvest_skip_nothing(network, tmp_path):
    """Records are listed in local-number order, so an edit between two pages moves no record
    from a later page to an earlier one."""
    path = tmp_path / "tinh.jsonl"
    records = list(network["tv-tinh"])
    save_records(path, records)
    with start_provider(path, page_size=PAGE) as provider:
        first = oai(provider, verb="ListIdentifiers", metadataPrefix="oai_dc")
        seen = [ident(h) for h in first.iterfind(".//o:header", OAI)]
        edited = [dataclasses.replace(r, datestamp="2026-11-25T00:00:00Z") if r.identifier in seen[:5] else r
                  for r in records]
        save_records(path, edited)
        token = first.findtext(".//o:resumptionToken", namespaces=OAI)
        rest, _ = harvest(provider, verb="ListIdentifiers", resumptionToken=token)
        assert sorted(seen + [ident(h) for h in rest]) == sorted(r.identifier for r in records)
