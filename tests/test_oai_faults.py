"""Provider faults a real provider will not produce on demand, scripted over a real socket.

The server here is tests/replay.py's ReplayServer: it answers each request with a forged response, because
the demo provider (pyoai) cannot be made to send a 503 with Retry-After, forget a token or loop on one.
Where the scenario allows it, the replay also answers ListIdentifiers (what `unioncat check` asks the source)
and the test ends with the rest of the chain and check, as the tests with real peers do (tests/test_faults.py).
"""

from config import load_config
from harvester import RawStore, harvest_library
from tests.conftest import assert_consistent, free_port, oai_library, reconcile, write_config
from tests.replay import ReplayServer

HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b'<responseDate>2026-11-20T10:00:00Z</responseDate>')
IDENTIFY = HEAD + (b"<Identify><repositoryName>Th\xc6\xb0 vi\xe1\xbb\x87n</repositoryName>"
                   b"<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
                   b"<earliestDatestamp>2020-01-01T00:00:00Z</earliestDatestamp></Identify></OAI-PMH>")


def page(ids, token=None):
    records = b"".join(
        b"<record><header><identifier>" + i.encode() + b"</identifier><datestamp>2026-11-01T00:00:00Z</datestamp>"
        b"</header><metadata><oai_dc:dc xmlns:oai_dc=\"http://www.openarchives.org/OAI/2.0/oai_dc/\" "
        b"xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>S\xc3\xa1ch " + i.encode() +
        b"</dc:title></oai_dc:dc></metadata></record>" for i in ids)
    tail = (b"<resumptionToken>" + token.encode() + b"</resumptionToken>") if token else b""
    return HEAD + b"<ListRecords>" + records + tail + b"</ListRecords></OAI-PMH>"


def identifiers(ids, token=None):
    """A ListIdentifiers page: what `unioncat check` reads to learn what the source holds."""
    headers = b"".join(b"<header><identifier>" + i.encode() + b"</identifier><datestamp>2026-11-01T00:00:00Z"
                       b"</datestamp></header>" for i in ids)
    tail = (b"<resumptionToken>" + token.encode() + b"</resumptionToken>") if token else b""
    return HEAD + b"<ListIdentifiers>" + headers + tail + b"</ListIdentifiers></OAI-PMH>"


def error(code):
    return HEAD + b'<error code="' + code.encode() + b'">the server says no</error></OAI-PMH>'


FIRST = "verb=ListRecords&metadataPrefix=oai_dc"
IDENTIFIERS = "verb=ListIdentifiers&metadataPrefix=oai_dc"


def run(tmp_path, routes, state=None, endpoint=None, then=None):
    """Harvest tv-a from a replay of ``routes``; ``then(config, store, server)`` runs before the server stops."""
    server = ReplayServer({"verb=Identify": (200, IDENTIFY), **routes})
    config = load_config(write_config(tmp_path, [oai_library("tv-a", endpoint or server.url)]))
    store = RawStore(config.settings.data_dir / "raw.sqlite3")
    if state:
        store.store_page("tv-a", [], state)
    waits = []
    try:
        result = harvest_library(config.library("tv-a"), store, config.settings, sleep=waits.append)
        if then:
            then(config, store, server)
    finally:
        server.stop()
    return store, result, waits, server


def test_503_with_retry_after_is_honoured(tmp_path):
    busy = (503, b"busy", {"Retry-After": "7"})
    reports = []
    routes = {FIRST: [busy, busy, (200, page(["a:1", "a:2"]))], IDENTIFIERS: (200, identifiers(["a:1", "a:2"]))}
    store, result, waits, _ = run(tmp_path, routes,
                                  then=lambda config, store, _: reports.append(reconcile(config, "tv-a", raw=store)))
    assert result.outcome == "ok" and result.counts.added == 2
    assert waits == [7, 7]
    assert_consistent(reports[0], 2)


def test_server_errors_back_off_exponentially_then_give_up_with_a_reason(tmp_path):
    """While the server answers 500 check cannot read it and says so; once it answers, the next run
    harvests everything and source, raw store, catalogue and index agree."""
    reports = []

    def check_then_recover(config, store, server):
        reports.append(reconcile(config, "tv-a", raw=store))  # still failing
        server.answer({FIRST: (200, page(["a:1"], "n2")), "verb=ListRecords&resumptionToken=n2": (200, page(["a:2"])),
                       IDENTIFIERS: (200, identifiers(["a:1", "a:2"]))})
        again = harvest_library(config.library("tv-a"), store, config.settings, sleep=lambda s: None)
        assert again.outcome == "ok" and again.counts.added == 2, again.error
        reports.append(reconcile(config, "tv-a", raw=store))

    broken = (500, b"Internal Server Error")
    store, result, waits, _ = run(tmp_path, {FIRST: broken, IDENTIFIERS: broken}, then=check_then_recover)
    assert result.outcome == "failed"
    assert "HTTP 500" in result.error and "gave up after 3 attempts" in result.error
    assert waits == [0.05, 0.1]  # backoff_s=0.05 in the test settings, doubling
    failing, recovered = reports
    assert not failing["ok"] and failing["source"] is None and failing["raw"] == 0
    assert "the source could not be read: " in failing["text"] and "HTTP 500" in failing["text"], failing["text"]
    assert_consistent(recovered, 2)


def test_unreachable_server_fails_cleanly(tmp_path):
    """A new source that nobody answers for fails at once, in one plain sentence (no retries, no urllib3 noise)."""
    port = free_port()
    store, result, waits, _ = run(tmp_path, {}, endpoint=f"http://127.0.0.1:{port}/oai")
    assert result.outcome == "failed" and waits == []
    assert result.error == f"cannot reach 127.0.0.1:{port}: the connection was refused (no server is listening there)"
    assert store.runs("tv-a")[0]["error"] == result.error


def test_oai_error_in_a_4xx_body_is_read_as_an_oai_error(tmp_path):
    store, result, _, _ = run(tmp_path, {FIRST: (422, error("cannotDisseminateFormat"))})
    assert result.outcome == "failed"
    assert result.error == "OAI error cannotDisseminateFormat: the server says no"


def test_a_token_repeated_forever_stops_the_harvest(tmp_path):
    routes = {FIRST: (200, page(["a:1"], "T")), "verb=ListRecords&resumptionToken=T": (200, page(["a:2"], "T"))}
    store, result, _, _ = run(tmp_path, routes)
    assert result.outcome == "failed" and "resumption token 'T' again" in result.error
    assert store.count("tv-a") == 2  # what came before the loop is kept


def test_forgotten_token_restarts_the_listing(tmp_path):
    checkpoint = {"params": {"metadataPrefix": "oai_dc"}, "token": "expired", "response_date": "2026-11-19T00:00:00Z",
                  "pages": 4}
    routes = {"verb=ListRecords&resumptionToken=expired": (200, error("badResumptionToken")),
              FIRST: (200, page(["a:1"], "n2")), "verb=ListRecords&resumptionToken=n2": (200, page(["a:2"])),
              IDENTIFIERS: (200, identifiers(["a:1"], "i2")),
              "verb=ListIdentifiers&resumptionToken=i2": (200, identifiers(["a:2"]))}
    reports = []
    store, result, _, server = run(tmp_path, routes, state=checkpoint,
                                   then=lambda config, store, _: reports.append(reconcile(config, "tv-a", raw=store)))
    assert result.mode == "resumed" and result.outcome == "ok", result.error
    assert store.count("tv-a") == 2
    assert store.state("tv-a")["last_success_response_date"] == "2026-11-20T10:00:00Z"
    assert_consistent(reports[0], 2)  # nothing lost or doubled by the restart


def test_html_error_page_with_status_200_is_quarantined(tmp_path):
    html = b"<html><head><title>Koha maintenance</title></head><body>Back soon</body></html>"
    store, result, _, _ = run(tmp_path, {FIRST: (200, html)})
    assert result.outcome == "failed" and "HTML page" in result.error
    [kept] = store.quarantined("tv-a")
    assert "HTML page" in kept["reason"] and kept["size"] == len(html)


def test_truncated_page_is_quarantined_and_the_next_run_resumes_there(tmp_path):
    """A page cut off mid-record (a proxy that gave up, a library server out of disk): the page before
    it stays stored, the cut page is kept in quarantine with its reason, and once the server sends the
    page whole the next run resumes at that page; then source, raw store, catalogue and index agree."""
    whole = page(["a:2", "a:3"])
    cut = whole[:len(whole) // 2]
    reports = []

    def recover(config, store, server):
        server.answer({"verb=ListRecords&resumptionToken=n2": (200, whole),
                       IDENTIFIERS: (200, identifiers(["a:1", "a:2", "a:3"]))})
        again = harvest_library(config.library("tv-a"), store, config.settings, sleep=lambda s: None)
        assert again.mode == "resumed" and again.outcome == "ok", again.error
        assert again.counts.added == 2  # a:1 is not fetched again
        reports.append(reconcile(config, "tv-a", raw=store))

    routes = {FIRST: (200, page(["a:1"], "n2")), "verb=ListRecords&resumptionToken=n2": (200, cut)}
    store, result, _, _ = run(tmp_path, routes, then=recover)
    assert result.outcome == "failed" and "not well-formed XML" in result.error, result.error
    assert result.counts.added == 1
    [kept] = store.quarantined("tv-a")
    assert "not well-formed XML" in kept["reason"] and kept["size"] == len(cut)
    assert_consistent(reports[0], 3)


def test_deleted_header_becomes_a_tombstone(tmp_path):
    deleted = HEAD + (b'<ListRecords><record><header status="deleted"><identifier>a:9</identifier>'
                      b"<datestamp>2026-11-02T00:00:00Z</datestamp></header></record></ListRecords></OAI-PMH>")
    store, result, _, _ = run(tmp_path, {FIRST: (200, deleted)})
    assert result.outcome == "ok" and result.counts.deleted == 1
    assert store.get("tv-a:a:9").deleted


def test_full_listing_turns_missing_records_into_deletions_behind_the_guard(tmp_path):
    five = {FIRST: (200, page([f"a:{i}" for i in range(1, 6)]))}
    store, result, _, _ = run(tmp_path, five)
    assert result.counts.added == 5
    config = load_config(tmp_path)
    for listed, deleted, note in ((["a:1", "a:2", "a:3", "a:4"], 1, None), (["a:1"], 0, "refused")):
        server = ReplayServer({"verb=Identify": (200, IDENTIFY), FIRST: (200, page(listed))})
        library = config.library("tv-a")
        library = type(library)(**{**library.__dict__, "endpoint": server.url})
        result = harvest_library(library, store, config.settings, full=True, sleep=lambda s: None)
        server.stop()
        assert result.outcome == "ok" and result.counts.deleted == deleted
        assert (note is None and result.note is None) or (note in result.note and "--force" in result.note)
    assert store.get("tv-a:a:5").deleted and not store.get("tv-a:a:2").deleted
    assert "refused" in store.runs("tv-a")[0]["note"]
