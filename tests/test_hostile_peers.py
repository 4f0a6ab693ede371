"""Hostile or broken library servers (issue 19): every harvest stays bounded in time and memory and says why.

The peers are small servers on 127.0.0.1 that misbehave on purpose (redirect to internal addresses, drip
one byte at a time, send 200 MB or a gzip bomb, loop on resumption tokens). Two faults a real peer cannot
produce here are simulated, and each test that does so says where: a public-looking host name (the
harvester's DNS lookup ``harvester.http.resolve`` is given a fake answer) and the route to an internal
address such as the cloud metadata service at 169.254.169.254 (connections to it are sent to a local
"internal" server, so that if the harvester ever followed, the leak would be visible).
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpcore
import pytest
import trustme

import harvester.http
from config import ConfigError, load_config
from harvester import RawStore, harvest_library
from harvester.http import HarvestClient, address_kind
from tests.conftest import REPO, free_port, oai_library, write_config

HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b'<responseDate>2026-11-20T10:00:00Z</responseDate>')
IDENTIFY = HEAD + (b"<Identify><repositoryName>Th\xc6\xb0 vi\xe1\xbb\x87n</repositoryName>"
                   b"<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify></OAI-PMH>")
SECRET = b"AKIA-SECRET-FROM-THE-METADATA-SERVICE"


def records(ids, size=0) -> bytes:
    return b"".join(
        b"<record><header><identifier>" + i.encode() + b"</identifier><datestamp>2026-11-01T00:00:00Z</datestamp>"
        b"</header><metadata><oai_dc:dc xmlns:oai_dc=\"http://www.openarchives.org/OAI/2.0/oai_dc/\" "
        b"xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>S\xc3\xa1ch " + i.encode() + b"</dc:title>"
        + (b"<dc:description>" + b"x" * size + b"</dc:description>" if size else b"")
        + b"</oai_dc:dc></metadata></record>" for i in ids)


def page(ids, token=None, size=None, record_size=0) -> bytes:
    attrs = f' completeListSize="{size}"'.encode() if size is not None else b""
    tail = b"<resumptionToken" + attrs + b">" + token.encode() + b"</resumptionToken>" if token else b""
    return HEAD + b"<ListRecords>" + records(ids, record_size) + tail + b"</ListRecords></OAI-PMH>"


class Peer:
    """A raw HTTP/1.1 server on 127.0.0.1: ``answer(path) -> iterable of bytes or float (a pause in seconds)``."""

    def __init__(self, answer):
        self.requests: list[str] = []
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while True:
                    line = self.rfile.readline(65536)
                    if not line:
                        return
                    while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                        pass
                    path = line.split()[1].decode()
                    peer.requests.append(path)
                    try:
                        for part in answer(path):
                            if isinstance(part, (int, float)):
                                time.sleep(part)
                            else:
                                self.wfile.write(part)
                                self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/oai"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def response(body: bytes, status: str = "200 OK", headers: dict | None = None) -> list:
    head = {"Content-Type": "text/xml; charset=utf-8", "Content-Length": str(len(body)), **(headers or {})}
    return [f"HTTP/1.1 {status}\r\n".encode() + b"".join(f"{k}: {v}\r\n".encode() for k, v in head.items())
            + b"\r\n" + body]


def oai(list_records):
    """An OAI-PMH peer whose ListRecords answers are scripted; Identify is fine."""
    def answer(path):
        if "verb=Identify" in path:
            return response(IDENTIFY)
        return list_records(path)
    return answer


@pytest.fixture
def peers():
    started = []

    def start(answer) -> Peer:
        started.append(Peer(answer))
        return started[-1]
    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
def metadata_service(peers, monkeypatch):
    """A local server playing 169.254.169.254 and 10.20.0.5: connections to those addresses are sent to it
    (this sandbox has no such network; a real peer's redirect would reach the real service)."""
    internal = peers(lambda path: response(SECRET, headers={"Content-Type": "text/plain"}))
    real_connect = httpcore.SyncBackend.connect_tcp

    def route(self, host, port, *args, **kwargs):
        if host in ("169.254.169.254", "10.20.0.5"):
            host, port = "127.0.0.1", internal.port
        return real_connect(self, host, port, *args, **kwargs)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", route)
    return internal


def harvest(tmp_path, endpoint, *, harvest_settings=None, extra=None, **kwargs):
    config = load_config(write_config(tmp_path / "cfg", [oai_library("tv-a", endpoint, **(extra or {}))],
                                      harvest=harvest_settings or {}))
    store = RawStore(config.settings.data_dir / "raw.sqlite3")
    waits: list[float] = []
    started = time.monotonic()
    result = harvest_library(config.library("tv-a"), store, config.settings, sleep=waits.append, **kwargs)
    return result, store, waits, time.monotonic() - started


def assert_recorded(store, result):
    """The reason is on the run as one sentence, never empty, and no server body is in it."""
    run = store.runs("tv-a")[0]
    assert run["outcome"] == result.outcome and run["error"] == result.error
    if result.outcome == "failed":
        assert result.error and "\n" not in result.error and len(result.error) < 400, result.error
    assert SECRET.decode() not in json.dumps(store.runs("tv-a", detail=True)), "the internal body was stored"


# -- 1. SSRF through redirects ------------------------------------------------------------------------------
def test_a_redirect_to_the_metadata_service_is_never_followed_and_nothing_from_it_is_shown(
        tmp_path, peers, metadata_service, api_server):
    target = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    peer = peers(lambda path: response(b"moved", "302 Found", {"Location": target}))
    # the route works: a client with the address rules switched off reaches the "metadata service"
    settings = load_config(write_config(tmp_path / "control", [])).settings
    client = HarvestClient(settings, 5)
    original = harvester.http.address_kind
    harvester.http.address_kind = lambda ip: "public"
    try:
        assert client.get(peer.url).content == SECRET
    finally:
        harvester.http.address_kind = original
        client.close()
    metadata_service.requests.clear()

    result, store, waits, took = harvest(tmp_path, peer.url)
    assert result.outcome == "failed" and took < 5 and waits == []
    assert result.error == ("refused to connect to 169.254.169.254: it is the link-local, multicast or "
                            "reserved address 169.254.169.254, which a library server never has")
    assert metadata_service.requests == []  # never contacted
    assert_recorded(store, result)
    api = api_server(tmp_path / "cfg")
    for path in ("/api/harvests", "/api/libraries", "/api/libraries/tv-a/quality", "/api/libraries/tv-a"):
        answer = api.get(path)
        assert SECRET.decode() not in answer.text and "moved" not in answer.text, path


def test_a_public_server_cannot_redirect_into_the_private_network(tmp_path, peers, metadata_service, monkeypatch):
    """Simulated: oai.thuvien-tinh.vn is a public server (the DNS answer is faked to 127.0.0.1, which the
    address check is told to count as public); intranet.thuvien-tinh.vn resolves to 10.20.0.5."""
    names = {"oai.thuvien-tinh.vn": ["127.0.0.1"], "intranet.thuvien-tinh.vn": ["10.20.0.5"],
             "mixed.thuvien-tinh.vn": ["127.0.0.1", "169.254.169.254"]}
    monkeypatch.setattr(harvester.http, "resolve", lambda host, port: names[host])
    monkeypatch.setattr(harvester.http, "address_kind",
                        lambda ip: "public" if ip == "127.0.0.1" else address_kind(ip))
    for target, why in ((f"http://intranet.thuvien-tinh.vn:{free_port()}/admin",
                         "refused to follow a redirect from a public server to intranet.thuvien-tinh.vn (10.20.0.5)"),
                        ("http://mixed.thuvien-tinh.vn/", "refused to connect to mixed.thuvien-tinh.vn: it is the "
                                                          "link-local")):
        peer = peers(lambda path, target=target: response(b"", "301 Moved", {"Location": target}))
        # allowed private addresses do not open the door to a redirect from outside
        result, store, _, took = harvest(tmp_path / target.split("/")[2].split(":")[0],
                                         f"http://oai.thuvien-tinh.vn:{peer.port}/oai")
        assert result.outcome == "failed" and took < 5 and why in result.error, result.error
        assert_recorded(store, result)
    assert metadata_service.requests == []


def test_private_addresses_need_the_setting_and_only_http_is_followed(tmp_path, peers):
    fine = peers(oai(lambda path: response(page(["a"]))))
    result, store, _, _ = harvest(tmp_path / "off", fine.url, harvest_settings={"allow_private_addresses": False})
    assert result.outcome == "failed" and result.error == (
        "refused to connect to 127.0.0.1: 127.0.0.1 is a private or loopback address (set "
        "harvest.allow_private_addresses if the library network really is private)")
    assert fine.requests == []
    for location, why in (("file:///etc/passwd", "which is not an http(s) address; not followed"),
                          ("gopher://127.0.0.1:70/", "which is not an http(s) address; not followed"),
                          ("/oai?again=1", "redirects more than 5 times; not followed further")):
        peer = peers(lambda path, location=location: response(b"", "302 Found", {"Location": location}))
        result, store, waits, took = harvest(tmp_path / str(len(location)), peer.url)
        assert result.outcome == "failed" and why in result.error and took < 5 and waits == [], result.error
        assert_recorded(store, result)
    assert len(peer.requests) == 6  # the first request and 5 redirects


# -- 2. deadlines ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_peer_dripping_one_byte_at_a_time_is_cut_off_at_the_request_deadline(tmp_path, peers, framing):
    def drip(path):
        if "verb=Identify" in path:
            yield from response(IDENTIFY)
            return
        body = page(["a"])
        if framing == "chunked":
            yield b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
            for byte in body:
                yield b"1\r\n" + bytes([byte]) + b"\r\n"
                yield 0.3
        else:
            yield f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            for byte in body:
                yield bytes([byte])
                yield 0.3
    peer = peers(drip)
    result, store, waits, took = harvest(tmp_path, peer.url, extra={"timeout_s": 10},
                                         harvest_settings={"request_deadline_s": 2})
    assert result.outcome == "failed" and 1.9 < took < 4, took
    assert result.error == (f"http://127.0.0.1:{peer.port}/oai did not send its whole response within "
                            "2 s (harvest.request_deadline_s); stopped waiting")
    assert waits == []  # a dripping peer is not asked again
    assert_recorded(store, result)


def test_a_run_stops_at_its_deadline_with_a_clear_note(tmp_path, peers):
    """Each page comes quickly enough, but the listing never ends: the run deadline stops it."""
    def slow_pages(path):
        number = int(path.rsplit("t", 1)[-1]) if "resumptionToken" in path else 0
        return [0.2, *response(page([f"r{number}"], token=f"t{number + 1}"))]
    peer = peers(oai(slow_pages))
    result, store, _, took = harvest(tmp_path, peer.url, harvest_settings={"run_deadline_s": 1.5})
    assert result.outcome == "failed" and 1.4 < took < 2.5, took
    assert result.error == ("the run took longer than 1.5 s (harvest.run_deadline_s) and was stopped; what was "
                            "stored is kept and the next run continues")
    assert store.count("tv-a") == result.pages >= 3 and store.state("tv-a")["checkpoint"]["token"]
    assert_recorded(store, result)


# -- 3. size caps and memory ------------------------------------------------------------------------------------
def big_stream(path, total=200 * 1024 * 1024, length=True):
    """A 200 MB OAI-PMH page, made up as it is sent."""
    if "verb=Identify" in path:
        yield from response(IDENTIFY)
        return
    head = HEAD + b"<ListRecords>"
    framing = f"Content-Length: {total}" if length else "Connection: close"
    yield f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n{framing}\r\n\r\n".encode() + head
    chunk = records(["x"]) * (1024 * 1024 // len(records(["x"])))
    sent = len(head)
    while sent < total:
        yield chunk
        sent += len(chunk)


_BOMB: list[bytes] = []


def gzip_bomb() -> bytes:
    """1 GiB of OAI-PMH whitespace, gzipped to about 1 MB."""
    if not _BOMB:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        spaces = b" " * (1024 * 1024)
        _BOMB.append(packer.compress(HEAD + b"<ListRecords>") + b"".join(packer.compress(spaces) for _ in range(1024))
                     + packer.flush())
    return _BOMB[0]


PEAK = """
import json, sys
from config import load_config
from harvester import RawStore, harvest_library
config = load_config(sys.argv[1])
store = RawStore(config.settings.data_dir / "raw.sqlite3")
result = harvest_library(config.library("tv-a"), store, config.settings, sleep=lambda s: None)
# VmHWM: this process image's own peak (ru_maxrss would also count the pytest process it was forked from)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"outcome": result.outcome, "error": result.error, "note": result.note, "peak_mb": peak_kb / 1024}))
"""
PEAK_MB = 120  # README: a harvest peaks at about 60 MB + 7 x max_response_mb (8 MB here), 60 + 3 x max_file_mb


def harvest_in_a_process(tmp_path, library: dict, harvest_settings: dict) -> dict:
    """The harvest in its own process, so its peak memory (ru_maxrss) is its own."""
    config_dir = write_config(tmp_path / "cfg", [library], harvest=harvest_settings)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PEAK, str(config_dir)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "took": time.monotonic() - started,
            "store": RawStore(load_config(config_dir).settings.data_dir / "raw.sqlite3")}


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "no-length"])
def test_a_200_mb_page_is_refused_at_the_cap_in_bounded_memory(tmp_path, peers, length):
    peer = peers(lambda path: big_stream(path, length=length))
    run = harvest_in_a_process(tmp_path, oai_library("tv-a", peer.url), {"max_response_mb": 8})
    assert run["outcome"] == "failed" and run["took"] < 20 and run["peak_mb"] < PEAK_MB, run
    said = "is 200 MB, more than 8 MB (harvest.max_response_mb); not read" if length else \
        "is larger than 8 MB (harvest.max_response_mb); stopped reading it"
    assert run["error"].startswith("page 1 was not harvested and is in quarantine: the response from ") and \
        said in run["error"], run["error"]
    assert [q["reason"] for q in run["store"].quarantined("tv-a")] == [
        f"page 1 ({{'verb': 'ListRecords', 'metadataPrefix': 'oai_dc'}}): {run['error'].split(': ', 1)[1]}"]
    print(f"peak {run['peak_mb']:.0f} MB, {run['took']:.1f} s")


def test_a_page_just_under_the_cap_is_harvested_within_the_stated_memory(tmp_path, peers):
    body = page([f"r{i}" for i in range(15000)], record_size=200)  # 7.8 MB
    assert 7 * 1024 * 1024 < len(body) < 8 * 1024 * 1024
    peer = peers(oai(lambda path: response(body)))
    run = harvest_in_a_process(tmp_path, oai_library("tv-a", peer.url), {"max_response_mb": 8})
    assert run["outcome"] == "ok" and run["store"].count("tv-a") == 15000, run
    assert run["peak_mb"] < PEAK_MB, run
    print(f"peak {run['peak_mb']:.0f} MB, {run['took']:.1f} s")


def test_a_gzip_bomb_is_unpacked_only_up_to_the_cap(tmp_path, peers):
    bomb = gzip_bomb()
    peer = peers(oai(lambda path: response(bomb, headers={"Content-Encoding": "gzip"})))
    run = harvest_in_a_process(tmp_path, oai_library("tv-a", peer.url), {"max_response_mb": 8})
    assert run["outcome"] == "failed" and run["took"] < 20 and run["peak_mb"] < PEAK_MB, run
    assert "unpacks to more than 8 MB (harvest.max_response_mb); stopped unpacking it" in run["error"]
    print(f"peak {run['peak_mb']:.0f} MB, {run['took']:.1f} s")
    assert len(run["store"].quarantined("tv-a")) == 1


def test_an_oversized_record_is_quarantined_and_the_rest_is_harvested(tmp_path, peers):
    peer = peers(oai(lambda path: response(page(["small"]) [:-len("</ListRecords></OAI-PMH>")]
                                           + records(["huge"], size=3 * 1024 * 1024) + b"</ListRecords></OAI-PMH>")))
    result, store, _, took = harvest(tmp_path, peer.url, harvest_settings={"max_record_mb": 1})
    assert result.outcome == "ok" and took < 10
    assert store.count("tv-a") == 1 and result.counts.quarantined == 1
    [kept] = store.quarantined("tv-a")
    assert kept["identifier"] == "huge" and "more than 1 MB (harvest.max_record_mb)" in kept["reason"]


@pytest.mark.parametrize("where", ["folder", "url"])
def test_a_gzip_bomb_export_is_quarantined_and_the_other_exports_are_read(tmp_path, peers, where):
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "a-good.mrc").write_bytes((REPO / "tests/data/third_party/traject/test_data.utf8.mrc").read_bytes())
    (drops / "b-bomb.mrc.gz").write_bytes(gzip.compress(b"0" * (64 * 1024 * 1024), 9))
    if where == "folder":
        source = {"path": str(drops)}
    else:
        listing = b"<html><body><a href='a-good.mrc'>a</a> <a href='b-bomb.mrc.gz'>b</a></body></html>"
        old = {"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
        peer = peers(lambda path: response(listing, headers={"Content-Type": "text/html"}) if path.endswith("/")
                     else response((drops / path.rsplit("/", 1)[-1]).read_bytes(), headers=old))
        source = {"url": f"http://127.0.0.1:{peer.port}/exports/"}
    library = {"id": "tv-a", "name": "Thư viện", "kind": "district", "protocol": "file", "settle_s": 0, **source}
    for path in drops.iterdir():
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    run = harvest_in_a_process(tmp_path, library, {"max_file_mb": 16})
    assert run["outcome"] == "ok" and run["took"] < 20 and run["peak_mb"] < PEAK_MB, run
    assert "b-bomb.mrc.gz not processed: the gzip file unpacks to more than 16 MB (harvest.max_file_mb)" in run["note"]
    assert run["store"].count("tv-a") > 0
    print(f"peak {run['peak_mb']:.0f} MB, {run['took']:.1f} s")
    assert any("b-bomb.mrc.gz" in q["reason"] for q in run["store"].quarantined("tv-a"))


# -- 4. every failure has a reason ---------------------------------------------------------------------------------
def test_an_endpoint_that_is_not_a_url_is_refused_at_config_load(tmp_path):
    for endpoint in ("http://thu vien.vn/oai", "http://127.0.0.1:99999/oai", "file:///etc/passwd", "http:///oai"):
        with pytest.raises(ConfigError, match="field 'endpoint': expected an http:// or https:// URL"):
            load_config(write_config(tmp_path, [oai_library("tv-a", endpoint)]))


def test_the_limits_are_checked_at_config_load(tmp_path):
    for harvest_settings, expected in (({"allow_private_addresses": "yes"}, "expected true or false"),
                                       ({"request_deadline_s": 0}, "expected a positive number"),
                                       ({"max_response_mb": "big"}, "expected a positive number")):
        with pytest.raises(ConfigError, match=expected):
            load_config(write_config(tmp_path, [], harvest=harvest_settings))
    drop = {"id": "tv-a", "name": "Thư viện", "kind": "district", "protocol": "file", "url": "http://host name/x/"}
    with pytest.raises(ConfigError, match="field 'url': expected an http:// or https:// URL without spaces"):
        load_config(write_config(tmp_path, [drop]))
    with pytest.raises(ConfigError, match="field 'max_pages'"):
        load_config(write_config(tmp_path, [oai_library("tv-a", "http://thuvien.vn/oai", max_pages=0)]))


def test_an_unexpected_error_is_recorded_in_one_sentence(tmp_path, peers, monkeypatch):
    import sqlite3
    peer = peers(oai(lambda path: response(page(["a"]))))

    def too_big(*args, **kwargs):
        raise sqlite3.DataError("string or blob too big")
    monkeypatch.setattr(RawStore, "store_page", too_big)
    result, store, _, _ = harvest(tmp_path, peer.url)
    assert result.outcome == "failed"
    assert result.error == "the harvest stopped on an unexpected error (DataError: string or blob too big)"
    assert_recorded(store, result)


# -- 5. fast, plain failures ---------------------------------------------------------------------------------------
def test_an_unknown_host_fails_at_once_in_one_plain_sentence(tmp_path):
    """.invalid never resolves (RFC 6761): no peer is needed."""
    result, store, waits, took = harvest(tmp_path, "http://thuvien-gia-vien.invalid/oai")
    assert result.outcome == "failed" and took < 5 and waits == []
    assert result.error == "cannot resolve host thuvien-gia-vien.invalid"
    assert_recorded(store, result)


def test_a_known_source_that_is_down_is_retried_and_counted_consistently(tmp_path, peers, caplog):
    peer = peers(oai(lambda path: response(page(["a"]))))
    config = load_config(write_config(tmp_path / "cfg", [oai_library("tv-a", peer.url)]))
    store = RawStore(config.settings.data_dir / "raw.sqlite3")
    assert harvest_library(config.library("tv-a"), store, config.settings).outcome == "ok"
    peer.stop()
    waits = []
    result = harvest_library(config.library("tv-a"), store, config.settings, sleep=waits.append)
    assert result.outcome == "failed" and len(waits) == 2  # max_retries 2: three attempts
    refused = f"cannot reach 127.0.0.1:{peer.port}: the connection was refused (no server is listening there)"
    assert result.error == f"{refused} (gave up after 3 attempts)"
    said = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert [line.split("; retrying")[0] for line in said] == [refused] * 2
    assert [line.rsplit("(", 1)[1] for line in said] == ["attempt 1 of 3)", "attempt 2 of 3)"]


def test_an_http_404_is_named_not_read_as_xml(tmp_path, peers):
    peer = peers(lambda path: response(b"<html><title>Not Found</title><body>nginx</body></html>", "404 Not Found",
                                       {"Content-Type": "text/html"}))
    result, store, waits, took = harvest(tmp_path, peer.url)
    assert result.outcome == "failed" and took < 5 and waits == []
    assert result.error == f"HTTP 404 from {peer.url}: the endpoint is wrong (nothing is published at " \
                           "this address)"
    assert "nginx" not in result.error and "nginx" in store.runs("tv-a", detail=True)[0]["detail"]
    assert_recorded(store, result)


# -- 6. resumption tokens that never end ---------------------------------------------------------------------------
def test_new_tokens_on_the_same_records_are_seen_as_a_loop(tmp_path, peers):
    counter = iter(range(10**6))
    peer = peers(oai(lambda path: response(page(["a", "b"], token=f"t{next(counter)}"))))
    result, store, _, took = harvest(tmp_path, peer.url)
    assert result.outcome == "failed" and took < 5 and result.pages == 4, result
    assert "the last 3 pages listed only records this listing had already sent" in result.error
    assert store.count("tv-a") == 2 and store.state("tv-a")["checkpoint"] is None
    assert_recorded(store, result)


def test_a_listing_longer_than_its_complete_list_size_is_stopped(tmp_path, peers):
    counter = iter(range(10**6))

    def endless(path):
        n = next(counter)
        return response(page([f"r{n}-{i}" for i in range(10)], token=f"t{n}", size=50))
    peer = peers(oai(endless))
    result, store, _, took = harvest(tmp_path, peer.url)
    assert result.outcome == "failed" and took < 10 and result.pages == 20  # 2 x 50/10 + 10
    assert "more than the server said the listing holds 50 records (completeListSize) allows" in result.error
    assert_recorded(store, result)


def test_a_per_source_page_limit_stops_an_endless_listing(tmp_path, peers):
    counter = iter(range(10**6))
    peer = peers(oai(lambda path: response(page([f"r{next(counter)}"], token=f"t{next(counter)}"))))
    result, store, _, took = harvest(tmp_path, peer.url, extra={"max_pages": 25})
    assert result.outcome == "failed" and result.pages == 25 and took < 10
    assert "more than the limit of max_pages allows" in result.error
    assert_recorded(store, result)


# -- SRU and Z39.50 under the same rules -------------------------------------------------------------------------
SRU_HEAD = b'<?xml version="1.0"?><zs:searchRetrieveResponse xmlns:zs="http://www.loc.gov/zing/srw/">'


def z3950_harvest(tmp_path, port, host="127.0.0.1", transport="sru", harvest_settings=None):
    entry = {"id": "tv-a", "name": "Thư viện tv-a", "kind": "district", "protocol": "z3950", "host": host,
             "port": port, "database": "biblios", "transport": transport, "query": "cql.allRecords=1",
             "timeout_s": 3, "schedule": "0 2 * * *"}
    config = load_config(write_config(tmp_path / "cfg", [entry], harvest=harvest_settings or {}))
    store = RawStore(config.settings.data_dir / "raw.sqlite3")
    waits: list[float] = []
    started = time.monotonic()
    result = harvest_library(config.library("tv-a"), store, config.settings, sleep=waits.append)
    return result, store, waits, time.monotonic() - started


def test_an_sru_server_is_held_to_the_http_rules(tmp_path, peers, metadata_service):
    """SRU goes through the harvest's HTTP client: no redirect to the metadata service, the request
    deadline, the response cap and a server's diagnostic each end the run with one sentence."""
    target = "http://169.254.169.254/latest/meta-data/"
    redirecting = peers(lambda path: response(b"moved", "302 Found", {"Location": target}))
    result, store, waits, took = z3950_harvest(tmp_path / "redirect", redirecting.port)
    assert result.outcome == "failed" and took < 5 and "169.254.169.254" in result.error, result.error
    assert metadata_service.requests == [] and SECRET.decode() not in json.dumps(store.runs("tv-a", detail=True))
    assert_recorded(store, result)

    def drip(path):
        body = SRU_HEAD + b"<zs:numberOfRecords>1</zs:numberOfRecords></zs:searchRetrieveResponse>"
        yield f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        for byte in body:
            yield bytes([byte])
            yield 0.3
    dripping = peers(drip)
    result, store, _, took = z3950_harvest(tmp_path / "drip", dripping.port, harvest_settings={"request_deadline_s": 2})
    assert result.outcome == "failed" and 1.9 < took < 4 and "did not send its whole response within 2 s" in result.error
    assert_recorded(store, result)

    huge = peers(lambda path: response(SRU_HEAD + b"<x>" + b"y" * (3 * 1024 * 1024) + b"</x>"))
    result, store, _, _ = z3950_harvest(tmp_path / "huge", huge.port, harvest_settings={"max_response_mb": 1})
    assert result.outcome == "failed" and "more than 1 MB (harvest.max_response_mb)" in result.error, result.error
    assert_recorded(store, result)

    diagnostic = (SRU_HEAD + b"<zs:diagnostics><d:diagnostic xmlns:d=\"http://www.loc.gov/zing/srw/diagnostic/\">"
                  b"<d:uri>info:srw/diagnostic/1/10</d:uri><d:message>Query syntax error</d:message>"
                  b"<d:details>" + b"&lt;script&gt;" * 100 + b"</d:details></d:diagnostic></zs:diagnostics>"
                  b"</zs:searchRetrieveResponse>")
    refusing = peers(lambda path: response(diagnostic))
    result, store, _, _ = z3950_harvest(tmp_path / "diagnostic", refusing.port)
    assert result.outcome == "failed" and result.error.startswith(
        f"SRU diagnostic from http://127.0.0.1:{refusing.port}/biblios: 10: Query syntax error (")
    assert len(result.error) < 300
    assert_recorded(store, result)


def test_a_z3950_server_on_a_forbidden_or_private_address_is_not_contacted(tmp_path, peers, monkeypatch):
    """Simulated: zebra.thuvien-tinh.vn resolves to the metadata service's address (a DNS answer a
    real peer could give, faked here). Libyaz is never asked to connect; the reason is one sentence."""
    listening = peers(lambda path: response(b""))  # would show any connection made
    monkeypatch.setattr(harvester.http, "resolve", lambda host, port: ["169.254.169.254"])
    result, store, waits, took = z3950_harvest(tmp_path / "dns", 210, host="zebra.thuvien-tinh.vn",
                                               transport="z3950")
    assert result.outcome == "failed" and took < 2 and waits == []
    assert result.error == ("refused to connect to zebra.thuvien-tinh.vn: it is the link-local, multicast or "
                            "reserved address 169.254.169.254, which a library server never has")
    assert_recorded(store, result)
    result, store, _, _ = z3950_harvest(tmp_path / "private", listening.port, transport="z3950",
                                        harvest_settings={"allow_private_addresses": False})
    assert result.outcome == "failed" and "127.0.0.1 is a private or loopback address" in result.error
    assert listening.requests == []


# -- https: certificates are checked against the address connected to ------------------------------------------
@pytest.fixture
def https_peers(peers):
    """start(answer, names) -> an https Peer whose certificate, for ``names``, comes from a test authority
    (trustme); ``start.ca_file`` is that authority's certificate, as a network would give it."""
    authority = trustme.CA()
    folder = Path(tempfile.mkdtemp())
    ca_file = folder / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))

    def start(answer, names=("127.0.0.1",), authority=authority) -> Peer:
        peer = peers(answer)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(*names).configure_cert(context)
        peer.server.socket = context.wrap_socket(peer.server.socket, server_side=True)
        peer.url = peer.url.replace("http://", "https://")
        return peer
    start.ca_file = ca_file
    yield start
    shutil.rmtree(folder, ignore_errors=True)


def test_https_servers_are_checked_against_the_network_s_authorities(tmp_path, https_peers):
    serving = oai(lambda path: response(page(["a", "b"])))
    peer = https_peers(serving)
    result, store, waits, took = harvest(tmp_path / "untrusted", peer.url)
    assert result.outcome == "failed" and waits == [] and took < 5, result.error  # not retried: it will not heal
    assert result.error.startswith("the https certificate of 127.0.0.1 is not trusted (")
    assert result.error.endswith("add its certificate to harvest.ca_file")
    assert_recorded(store, result)

    ca = {"ca_file": str(https_peers.ca_file)}
    result, store, _, _ = harvest(tmp_path / "trusted", peer.url, harvest_settings=ca)
    assert result.outcome == "ok" and store.count("tv-a") == 2, result.error

    elsewhere = https_peers(serving, names=("oai.thuvien-khac.vn",))  # a certificate for another server
    result, store, _, _ = harvest(tmp_path / "mismatch", elsewhere.url, harvest_settings=ca)
    assert result.outcome == "failed" and result.error.startswith(
        "the https certificate of 127.0.0.1 is issued for another server (")
    assert_recorded(store, result)
    stranger = https_peers(serving, authority=trustme.CA())  # signed by an authority trusted nowhere
    result, store, _, _ = harvest(tmp_path / "stranger", stranger.url, harvest_settings=ca)
    assert result.outcome == "failed" and result.error.endswith(
        "It is not signed by an authority in harvest.ca_file either"), result.error
    assert_recorded(store, result)


def test_a_ca_file_that_is_not_pem_is_refused_at_config_load(tmp_path):
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="harvest.ca_file.*is not a readable file of PEM certificates"):
        load_config(write_config(tmp_path / "cfg", [], harvest={"ca_file": str(tmp_path / "ca.pem")}))
