"""Every real OAI-PMH response in tests/data/third_party is harvested correctly or rejected with a reason."""
import re
from pathlib import Path

import pytest

from config import load_config
from harvester import HarvestError, RawStore, harvest_library
from harvester.oai_page import OAIError, parse_page
from tests.conftest import THIRD_PARTY, oai_library, write_config
from tests.replay import ReplayServer

OAI = THIRD_PARTY
OAI_ORIGINS = ("pyoai", "scythe_zenodo_cassettes", "sickle", "vufindharvest")
RESPONSES = sorted(p for origin in OAI_ORIGINS for p in (OAI / origin).rglob("*") if p.suffix in (".xml", ".html"))
CASSETTES = OAI / "scythe_zenodo_cassettes"


@pytest.mark.parametrize("path", RESPONSES, ids=lambda p: str(p.relative_to(OAI)))
def test_every_recorded_response_is_read_or_rejected_with_a_reason(path: Path):
    data = path.read_bytes()
    try:
        page = parse_page(data, "oai_dc")
    except OAIError as exc:
        assert re.search(rb'<error code="' + exc.code.encode() + rb'"', data)
        return
    except HarvestError as exc:
        assert len(str(exc)) > 20, "the reason must be readable"
        return
    # no silent loss: every <record> is either stored or quarantined, and deletions are counted
    assert len(page.records) + len(page.bad) == len(re.findall(rb"<(?:\w+:)?record\b[^>]*>\s*<(?:\w+:)?header", data))
    deleted = [r for r in page.records if r["deleted"]] + [b for b in page.bad if b'status="deleted"' in b["body"]]
    assert len(deleted) == len(re.findall(rb'status="deleted"', data))
    for bad in page.bad:
        assert bad["reason"] and bad["body"]
    for record in page.records:
        assert record["identifier"]
        assert record["deleted"] or record["body"].strip().startswith(b"<")


def test_malformed_pages_say_why():
    with pytest.raises(HarvestError, match="not well-formed XML"):
        parse_page((OAI / "pyoai/fake3/00001.xml").read_bytes(), "oai_dc")
    with pytest.raises(HarvestError, match="HTML page"):
        parse_page((CASSETTES / "xml/identify_00.html").read_bytes(), "oai_dc")


def test_comments_and_processing_instructions_inside_the_page_are_skipped():
    """Found by the atheris fuzzer: a stylesheet instruction or a comment between the elements made the
    page reader crash instead of reading the records."""
    page = (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-01-01T00:00:00Z</responseDate>'
            b'<?xml-stylesheet href="oai.xsl"?><!-- Koha --><ListRecords><record><header><identifier>x:1</identifier>'
            b'<datestamp>2026-01-01</datestamp></header><metadata><dc>S\xc3\xa1ch</dc></metadata></record>'
            b'</ListRecords></OAI-PMH>')
    parsed = parse_page(page, "oai_dc")
    assert [r["identifier"] for r in parsed.records] == ["x:1"]


def test_illegal_xml_characters_are_stripped_not_fatal():
    page = (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-01-01T00:00:00Z</responseDate>'
            b'<ListRecords><record><header><identifier>x:1</identifier><datestamp>2026-01-01</datestamp></header>'
            b'<metadata><dc>Truy\xe1\xbb\x87n\x0b Ki\xe1\xbb\x81u&#x1;</dc></metadata></record></ListRecords></OAI-PMH>')
    parsed = parse_page(page, "oai_dc")
    assert b">Truy\xe1\xbb\x87n Ki\xe1\xbb\x81u</dc>" in parsed.records[0]["body"]


@pytest.fixture
def zenodo():
    # Zenodo's own Identify says second granularity; sickle's recorded Identify (day granularity)
    # stands in so that the recorded 'from=2026-04-01' requests are the ones a harvester must send
    identify = (OAI / "sickle/Identify.xml").read_bytes()
    server = ReplayServer.from_cassette(CASSETTES / "list_records.yaml", {"verb=Identify": (200, identify)})
    yield server
    server.stop()


def harvest_zenodo(tmp_path, server, **state):
    config = load_config(write_config(tmp_path, [oai_library("zenodo", server.url)]))
    store = RawStore(config.settings.data_dir / "raw.sqlite3")
    if state:
        store.finish_listing("zenodo", state["last"])
    return store, harvest_library(config.library("zenodo"), store, config.settings)


def test_recorded_listing_is_followed_through_its_tokens(tmp_path, zenodo):
    store, result = harvest_zenodo(tmp_path, zenodo)
    # the recorded chain: 3 records + token, 3 records + token, 3 records and the end
    assert result.outcome == "ok", result.error
    assert result.pages == 3
    assert [r.get("resumptionToken", "")[:20] for r in zenodo.requests[1:]] == [
        "", ".eJwlzEuOgjAAANC7dG0", ".eJwlzEuOgjAAANC7dG0"]
    assert store.count("zenodo") + store.count("zenodo", deleted=True) == 9 == result.counts.added + result.counts.deleted
    assert store.state("zenodo")["checkpoint"] is None


def test_a_request_the_provider_cannot_answer_fails_cleanly_and_keeps_the_checkpoint(tmp_path, zenodo):
    token = ".eJwlzEuOgjAAANC7dG0mLeAMkMwCRmlEqYLSQjemUBRtFRSMROPd5"
    del zenodo.routes[frozenset({("verb", "ListRecords"), ("resumptionToken", token)})]
    store, result = harvest_zenodo(tmp_path, zenodo)
    assert result.outcome == "failed"
    assert "HTTP 404" in result.error and "the next run retries it" in result.error
    assert store.count("zenodo") + store.count("zenodo", deleted=True) == 6
    assert store.state("zenodo")["checkpoint"]["token"] == token
    assert store.quarantined("zenodo")[0]["reason"].startswith("page 3")
    assert store.runs("zenodo")[0]["outcome"] == "failed"


def test_incremental_harvest_uses_server_date_at_server_granularity(tmp_path, zenodo):
    # Zenodo's granularity is YYYY-MM-DD: the stored responseDate is cut to the day for 'from'
    store, result = harvest_zenodo(tmp_path, zenodo, last="2026-04-01T17:03:11Z")
    assert {"verb": "ListRecords", "from": "2026-04-01", "metadataPrefix": "oai_dc"} in zenodo.requests
    assert result.mode == "incremental"


def test_no_records_match_over_http_422_means_nothing_new(tmp_path, zenodo):
    store, result = harvest_zenodo(tmp_path, zenodo, last="2030-01-01T00:00:00Z")
    assert result.outcome == "ok", result.error
    assert result.counts.added == 0
    # the next incremental harvest starts at this response's date, from the server's clock
    assert store.state("zenodo")["last_success_response_date"] == "2026-08-13T18:19:00Z"


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=2000),
                 st.text(max_size=500).map(lambda t: (
                     '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header>'
                     f"<identifier>{t}</identifier></header><metadata>{t}</metadata></record>"
                     "</ListRecords></OAI-PMH>").encode("utf-8", "surrogatepass"))))
def test_any_page_is_read_or_rejected_never_crashes(data):
    try:
        page = parse_page(data, "oai_dc")
    except HarvestError as exc:
        assert str(exc)
    else:
        assert all(r["identifier"] for r in page.records)
