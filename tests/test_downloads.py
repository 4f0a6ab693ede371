"""Downloads of union entries over HTTP against `unioncat serve`: MARC 21, MARCXML, Dublin Core, JSON and
citations at their URLs and by content negotiation, citations of a page of search results, the links on
the patron pages, and the cataloguers' copy-cataloguing page.

Every download is read by a reader nobody on the project wrote: pymarc (ISO 2709 and MARCXML), lxml
against the MARC21 slim and oai_dc schemas (kept offline in tests/data/third_party/schemas), rispy
(RIS), pybtex (BibTeX) and jsonschema against the CSL data schema. The catalogue is part of the demo
network harvested for real (tests/browser.py's build_demo).
"""
from __future__ import annotations

import io
import json
import re
from urllib.parse import unquote

import jsonschema
import pymarc
import pytest
import requests
import rispy
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree
from pybtex.database import parse_string

from config import load_config
from normalizer import normalize
from normalizer.records import SourceContext
from tests.browser import TOKEN, build_demo
from tests.conftest import SCHEMAS, conforms, local_schema
from unionapi.services import Services

MARC_NS = "http://www.loc.gov/MARC21/slim"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "{http://purl.org/dc/elements/1.1/}"
PEER = SourceContext(library="koha", record_id="koha:1")  # a library's own catalogue reading a download
SUFFIXES = {"mrc": "application/marc", "xml": "application/marcxml+xml", "dc.xml": "application/xml",
            "json": "application/json", "ris": "application/x-research-info-systems",
            "bib": "application/x-bibtex", "csl.json": "application/vnd.citationstyles.csl+json"}
FILE_ENDINGS = {"mrc": ".mrc", "xml": ".xml", "dc.xml": "-dc.xml", "json": ".json", "ris": ".ris", "bib": ".bib",
                "csl.json": "-csl.json"}


MARC_SCHEMA = local_schema((MARC_NS, "MARC21slim.xsd"))
DC_SCHEMA = local_schema((OAI_DC_NS, "oai_dc.xsd"))
CSL = jsonschema.Draft7Validator(json.loads((SCHEMAS / "csl-data.json").read_text(encoding="utf-8")))


def valid(schema: etree.XMLSchema, body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    assert schema.validate(root), f"{schema.error_log.last_error}\n{body[:2000]!r}"
    return root


def read_mrc(body: bytes) -> list[pymarc.Record]:
    records = list(pymarc.MARCReader(io.BytesIO(body), to_unicode=True, force_utf8=False))
    assert records and all(r is not None for r in records), "pymarc could not read the ISO 2709"
    return records


def read_marcxml(body: bytes) -> list[pymarc.Record]:
    valid(MARC_SCHEMA, body)
    return pymarc.parse_xml_to_array(io.BytesIO(body))


def fields(record: pymarc.Record) -> list[str]:
    return [str(f) for f in record.fields]


# -- a union catalogue served by `unioncat serve` --------------------------------------------------
@pytest.fixture(scope="module")
def union(tmp_path_factory):
    """Four demo libraries (300 records) harvested into a union catalogue, served over HTTP."""
    from tests.conftest import ApiServer
    config_dir, providers = build_demo(tmp_path_factory.mktemp("downloads"), total_records=300)
    for provider in providers:
        provider.stop()
    services = Services.open(load_config(config_dir), read_only=True)
    server = ApiServer(config_dir)
    yield {"url": server.url, "services": services}
    server.stop()
    services.close()


def shared_entry(services) -> tuple[str, list]:
    """An entry three or more libraries catalogued, with copies (holdings) in several of them."""
    for entry_id in services.catalogue.all_entry_ids():
        members = services.catalogue.members(entry_id)
        if len({m.library for m in members}) >= 3 and sum(bool(m.holdings) for m in members) >= 2:
            return entry_id, members
    raise AssertionError("the demo network has no entry held by three libraries")


def get(union, path: str, **kwargs) -> requests.Response:
    return requests.get(union["url"] + path, timeout=30, **kwargs)


def test_every_format_of_an_entry_is_read_by_its_own_reader(union):
    entry_id, members = shared_entry(union["services"])
    api = get(union, f"/api/entries/{entry_id}").json()
    answers = {}
    for suffix, media in SUFFIXES.items():
        response = get(union, f"/api/entries/{entry_id}.{suffix}")
        assert response.status_code == 200, (suffix, response.text[:300])
        assert response.headers["Content-Type"].split(";")[0] == media
        disposition = response.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="unioncat-{entry_id}{FILE_ENDINGS[suffix]}"'
        assert disposition.isascii()
        answers[suffix] = response.content
    export = json.loads(answers["json"])
    conforms(export, "EntryExport")
    assert export["id"] == entry_id and export["title"] == api["title"]
    assert sorted(export["members"]) == sorted(m["record_id"] for m in api["members"])

    (marc,) = read_mrc(answers["mrc"])
    assert marc.leader[9] == "a" and marc["001"].data == entry_id and marc["003"].data == "unioncat"
    assert normalize(answers["mrc"], "iso2709", PEER).title == export["title"]
    holdings = marc.get_fields("852")
    assert len(holdings) == len(export["holdings"]) >= 2  # one per library/branch/call number/status
    assert {f["a"] for f in holdings} == {h["library"] for h in export["holdings"]} == \
        {m.library for m in members if m.holdings}
    names = {lib["id"]: lib["name"] for lib in api["libraries"]}
    assert all(f["z"] == names[f["a"]] for f in holdings)  # the library's name, as the entry page shows it
    (from_xml,) = read_marcxml(answers["xml"])
    assert fields(from_xml) == fields(marc)
    assert from_xml.leader[5:12] + from_xml.leader[17:] == marc.leader[5:12] + marc.leader[17:]  # not the lengths

    dc = valid(DC_SCHEMA, answers["dc.xml"])
    assert dc.findtext(f"{DC}title") == export["title"]
    assert entry_id in [e.text for e in dc.iter(f"{DC}identifier")]

    (ris,) = rispy.loads(answers["ris"].decode("utf-8"))
    assert ris["type_of_reference"] == "BOOK" and ris["title"] == export["title"] and ris["id"] == entry_id
    bib = parse_string(answers["bib"].decode("utf-8"), "bibtex")
    (key,) = bib.entries
    assert bib.entries[key].fields["title"].strip("{}") == export["title"]
    csl = json.loads(answers["csl.json"])
    CSL.validate(csl)
    assert [item["id"] for item in csl] == [entry_id] and csl[0]["title"] == export["title"]


def test_content_negotiation_on_the_entry_url(union):
    entry_id, _ = shared_entry(union["services"])
    for path in (f"/api/entries/{entry_id}", f"/api/records/{entry_id}"):
        for media, suffix in (("application/marc", "mrc"), ("application/marcxml+xml", "xml"),
                              ("application/x-research-info-systems", "ris"), ("application/x-bibtex", "bib"),
                              ("application/vnd.citationstyles.csl+json", "csl.json"),
                              ("application/marc;q=0.9, application/json;q=0.5", "mrc")):
            negotiated = get(union, path, headers={"Accept": media})
            direct = get(union, f"/api/entries/{entry_id}.{suffix}")
            assert negotiated.status_code == 200 and negotiated.content == direct.content, media
            assert negotiated.headers["Content-Type"] == direct.headers["Content-Type"]
            assert negotiated.headers["Content-Location"] == f"/api/entries/{entry_id}.{suffix}"
            assert "Accept" in negotiated.headers["Vary"]
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
        for accept in (None, "*/*", "application/json", browser, "application/xml", "image/png", "",
                       "application/json, application/marc;q=0.2", "application/*"):
            response = get(union, path, headers={"Accept": accept} if accept is not None else {})
            assert response.status_code == 200 and response.headers["Content-Type"] == "application/json", accept
            assert response.json()["id"] == entry_id and "Accept" in response.headers["Vary"]
            conforms(response.json(), "Entry")
    missing = get(union, "/api/entries/0000000000000000", headers={"Accept": "application/marc"})
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_a_page_of_search_results_as_citations(union):
    params = {"q": "truyen", "size": "7", "page": "1", "type": "book"}
    found = get(union, "/api/search", params=params).json()["hits"]
    hits = [hit["id"] for hit in found]
    assert len(hits) == 7
    ris = get(union, "/api/search.ris", params=params)
    assert ris.headers["Content-Type"] == "application/x-research-info-systems; charset=utf-8"
    assert [r["id"] for r in rispy.loads(ris.content.decode("utf-8"))] == hits
    assert int(ris.headers["X-Total-Count"]) >= 7
    bib = parse_string(get(union, "/api/search.bib", params=params).content.decode("utf-8"), "bibtex")
    assert [e.fields["title"].strip("{}") for e in bib.entries.values()] == [hit["title"] for hit in found]
    csl = get(union, "/api/search.csl.json", params={**params, "page": "2"}).json()
    CSL.validate(csl)
    page_two = [hit["id"] for hit in get(union, "/api/search", params={**params, "page": "2"}).json()["hits"]]
    assert [item["id"] for item in csl] == page_two and not set(page_two) & set(hits)
    # the search's own checks and messages
    for bad in ({"year_from": "abc"}, {"size": "0"}, {"type": "novel"}, {"format": "ris"}):
        answer, reference = get(union, "/api/search.ris", params=bad), get(union, "/api/search", params=bad)
        assert answer.status_code == reference.status_code == 400 and answer.json() == reference.json()
    assert get(union, "/api/search.bib", params={"library": "tv-nowhere"}).status_code == 404
    empty = get(union, "/api/search.csl.json", params={"q": "zzzqqqxxx"})
    assert empty.status_code == 200 and empty.json() == [] and empty.headers["X-Total-Count"] == "0"


def links(html: str, pattern: str) -> list[str]:
    return [unquote(link).replace("&amp;", "&") for link in re.findall(f'href="({pattern}[^"]*)"', html)]


def test_the_entry_and_search_pages_link_the_downloads(union):
    entry_id, _ = shared_entry(union["services"])
    html = get(union, f"/entry/{entry_id}").text
    assert "Tải về và trích dẫn" in html and "Trích dẫn" in html
    found = links(html, f"/api/entries/{entry_id}")
    assert found == [f"/api/entries/{entry_id}.{suffix}" for suffix in SUFFIXES]
    for link in found:
        assert get(union, link).status_code == 200, link
    assert f'href="/cataloguer/copy/{entry_id}"' in html
    assert "Download and cite" in get(union, f"/entry/{entry_id}", params={"lang": "en"}).text

    page = get(union, "/search", params={"q": "truyen", "type": "book", "page": "2"}).text
    shown = re.findall(r'<h3><a href="/entry/([0-9a-f]+)">', page)
    citations = links(page, "/api/search")
    assert [c.split("?")[0] for c in citations] == ["/api/search.ris", "/api/search.bib", "/api/search.csl.json"]
    assert "page=2" in citations[0] and "type=book" in citations[0]
    assert [r["id"] for r in rispy.loads(get(union, citations[0]).content.decode("utf-8"))] == shown
    assert [item["id"] for item in get(union, citations[2]).json()] == shown


def signed_in(union) -> requests.Session:
    session = requests.Session()
    login = session.get(union["url"] + "/cataloguer/copy", timeout=10)  # -> the sign-in page
    assert login.url.startswith(union["url"] + "/cataloguer/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    done = session.post(union["url"] + "/cataloguer/login", data={"token": TOKEN, "csrf": csrf,
                                                                  "next": "/cataloguer/copy"}, timeout=10)
    assert done.status_code == 200 and done.url == union["url"] + "/cataloguer/copy"
    return session


def test_copy_cataloguing_downloads_the_chosen_record_without_holdings(union):
    assert requests.get(union["url"] + "/cataloguer/copy?q=x", allow_redirects=False,
                        timeout=10).status_code == 302  # signed-in cataloguers only
    session = signed_in(union)
    entry_id, members = shared_entry(union["services"])
    title_words = members[0].title.split(" : ")[0]
    results = session.get(union["url"] + "/cataloguer/copy", params={"q": title_words}, timeout=10)
    assert results.status_code == 200 and "Biên mục sao chép" in results.text
    assert f"/cataloguer/copy/{entry_id}?" in results.text
    page = session.get(union["url"] + f"/cataloguer/copy/{entry_id}", timeout=10)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    columns = re.findall(r'<th scope="col" data-record="([^"]+)"', page.text)
    assert sorted(columns) == sorted(m.record_id for m in members)  # side by side, one column each
    assert "Mức đầy đủ" in page.text and "Có ISBN" in page.text and "Có chủ đề" in page.text
    (suggested,) = re.findall(r'data-record="([^"]+)" data-suggested', page.text)
    filled = dict(zip(columns, (int(n) for n in re.findall(r'data-filled="(\d+)"', page.text))))
    assert filled[suggested] == max(filled.values()) == sum(  # fields filled, counted as a cataloguer would
        1 for name in ("title", "authors", "responsibility", "edition", "place", "publisher", "year", "extent",
                       "isbns", "languages", "subjects", "series", "call_number")
        if getattr(next(m for m in members if m.record_id == suggested), name) not in (None, "", []))

    downloads = links(page.text, f"/api/entries/{entry_id}.")
    assert len(downloads) == 2 * len(members)
    by_record = {m.record_id: m for m in members}
    for link in downloads:
        record_id = re.search(r"record=([^&]+)", link).group(1)
        chosen = by_record[record_id]
        response = session.get(union["url"] + link, timeout=10)
        assert response.status_code == 200, link
        ending = ".mrc" if ".mrc?" in link else ".xml"
        assert response.headers["Content-Disposition"].endswith(f'-{chosen.library}{ending}"')
        iso = ending == ".mrc"
        (record,) = read_mrc(response.content) if iso else read_marcxml(response.content)
        assert record["001"].data == entry_id
        assert not record.get_fields("852") and not record.get_fields("876")  # nobody's holdings
        back = normalize(response.content, "iso2709" if iso else "marcxml", PEER)  # as Koha would take it in
        assert (back.title, back.isbns, back.subjects, back.call_number, back.holdings) == \
            (chosen.title, chosen.isbns, chosen.subjects, chosen.call_number, [])
    (normal,) = read_mrc(get(union, f"/api/entries/{entry_id}.mrc").content)
    assert normal.get_fields("852")  # the public download carries the network's holdings
    english = session.get(union["url"] + f"/cataloguer/copy/{entry_id}", params={"lang": "en"}, timeout=10).text
    assert "Completeness" in english and "Has an ISBN" in english and "without holdings" in english
    assert session.get(union["url"] + "/cataloguer/copy/0000000000000000", timeout=10).status_code == 404
    bad_page = session.get(union["url"] + "/cataloguer/copy", params={"q": "x", "page": "abc"}, timeout=10)
    assert bad_page.status_code == 400 and "page" in bad_page.text


def test_wrong_parameters_are_refused_with_the_reason(union):
    entry_id, members = shared_entry(union["services"])
    cases = [(f"/api/entries/{entry_id}.mrc?holdings=maybe", 400, "'holdings' must be true or false"),
             (f"/api/entries/{entry_id}.mrc?holding=false", 400, "unknown parameter(s) holding"),
             (f"/api/entries/{entry_id}.xml?record=a&record=b", 400, "given more than once"),
             (f"/api/entries/{entry_id}.ris?record={members[0].record_id}", 400, "it takes none"),
             (f"/api/entries/{entry_id}.mrc?record=tv-tinh:nothing", 404, "is not a member record"),
             ("/api/entries/0000000000000000.xml", 404, "no union entry"),
             ("/api/entries/0000000000000000.csl.json", 404, "no union entry")]
    for path, status, message in cases:
        response = get(union, path)
        assert response.status_code == status and message in response.json()["message"], (path, response.text)
    flat = get(union, f"/api/entries/{entry_id}.json", params={"record": members[-1].record_id,
                                                               "holdings": "false"}).json()
    assert flat["record_id"] == members[-1].record_id and flat["holdings"] == []


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(entry=st.one_of(st.text(min_size=1, max_size=30), st.sampled_from(["0", "..", "%00", "a.b", "ffff" * 4])),
       suffix=st.one_of(st.sampled_from([*SUFFIXES, "MRC", "xml.json", "dc", "csl", "", "marc"]), st.text(max_size=8)),
       params=st.dictionaries(st.sampled_from(["record", "holdings", "q", "page", "size", "x", ""]),
                              st.one_of(st.sampled_from(["true", "false", "1", "-1", "tv-tinh:1", ""]),
                                        st.text(max_size=20)), max_size=3),
       accept=st.sampled_from([None, "application/marc", "application/x-bibtex;q=0.1", "*/*;q=x", "a/b/c",
                               "application/marc;q=0.5, */*;q=0.5"]))
def test_garbage_ids_formats_and_parameters_never_give_a_500(union, entry, suffix, params, accept):
    path = "/api/entries/" + requests.utils.quote(entry, safe="") + ("." + suffix if suffix else "")
    headers = {"Accept": accept} if accept is not None else {}
    for target in (path, "/api/search." + requests.utils.quote(suffix, safe="")):
        response = requests.get(union["url"] + target, params=params, headers=headers, timeout=10)
        assert response.status_code in (200, 400, 404, 405, 406), (target, params, response.status_code)
        if response.status_code >= 400:
            assert response.headers["Content-Type"] == "application/json" and response.json()["message"]


def test_a_record_too_big_for_iso2709_is_refused_with_the_way_out(union):
    """ISO 2709 counts a field in four digits: a 12,000-byte note cannot be written; the answer says to take
    MARCXML, which carries it (the view's own function, on a record no demo library has)."""
    from normalizer.records import CanonicalRecord
    from unionapi.app import create_app
    from unionapi.params import BadRequest
    from unionapi.publish.downloads import FORMATS, entry_body
    huge = CanonicalRecord(record_id="tv-tinh:huge", library="tv-tinh", format="marcxml", title="Sách " * 3000)
    with create_app(union["services"]).test_request_context():
        with pytest.raises(BadRequest) as refused:
            entry_body("e-huge", [huge], FORMATS["mrc"], None, True)
        (record,) = read_marcxml(entry_body("e-huge", [huge], FORMATS["xml"], None, True))
    assert refused.value.status == 406 and "/api/entries/e-huge.xml instead" in refused.value.message
    assert len(record["245"]["a"]) > 9999
