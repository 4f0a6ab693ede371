"""Hostile clients over real HTTP (issue 19, points 7-12): huge ids, header injection, amplification,
request threads starved by the pipeline lock, sessions that outlive sign-out, missing security
headers, control characters and giant fields in records."""
from __future__ import annotations

import base64
import dataclasses
import re
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import given, settings, strategies as st

from config import load_config
from storage.locks import hold
from normalizer.extract import trim
from tests.conftest import ApiServer, write_config
from unionapi.auth import hash_token
from unionapi.demo.network import DEMO_SEED, generate_network, save_records
from unionapi.demo.provider import start_provider
from unionapi.services import Services

TOKEN = "hostile-token"
HUGE = "9223372036854775808"  # one more than SQLite's largest integer
BIDI_AND_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x85\x07"
LONG_TITLE = "\u202eSách rất dài\u2066 " + "dài " * 15_000  # 60,000 characters


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A catalogue of one library, one of whose records has a 60,000-character title full of bidi tricks."""
    folder = tmp_path_factory.mktemp("clients")
    records = generate_network(DEMO_SEED, total_records=150)["tv-tinh"]
    first = records[0]
    marc = re.sub(r'(<datafield tag="245"[^>]*><subfield code="a">)[^<]*', lambda m: m.group(1) + LONG_TITLE,
                  first.metadata["marc21"], count=1)
    records[0] = dataclasses.replace(first, metadata={**first.metadata, "marc21": marc})
    save_records(folder / "tinh.jsonl", records)
    with start_provider(folder / "tinh.jsonl", port=0, formats="marc21") as provider:
        config_dir = write_config(folder / "config", [{
            "id": "tv-tinh", "name": "Thư viện tỉnh", "kind": "provincial", "protocol": "oai",
            "endpoint": provider.url, "metadata_prefix": "marc21"}],
            api={"tokens": [{"name": "thu-thu", "sha256": hash_token(TOKEN)}]})
        from unionapi.pipeline import harvest_and_update
        services = Services.open(load_config(config_dir))
        assert not harvest_and_update(services, list(services.config.libraries.values()))
        locks_dir = services.locks_dir
        run = services.raw.start_run("tv-tinh", "incremental")  # a failure as an older version recorded it
        from harvester.rawstore import Counts
        services.raw.update_run(run, Counts(), 0, outcome="failed", error="HTTP 500 from the library's server: "
                                "'<html>SECRET stack trace</html>'", detail="&lt;html&gt;SECRET stack trace")
        services.close()
    server = ApiServer(config_dir)
    yield {"url": server.url, "locks": locks_dir, "config_dir": config_dir}
    server.stop()


def auth() -> dict:
    return {"Authorization": f"Bearer {TOKEN}"}


def sign_in(url: str, next_: str | None = None, **headers) -> tuple[requests.Session, requests.Response]:
    client = requests.Session()
    client.headers.update(headers)
    page = client.get(f"{url}/cataloguer/login", timeout=10).text
    data = {"token": TOKEN, "csrf": csrf_of(page), **({"next": next_} if next_ else {})}
    return client, client.post(f"{url}/cataloguer/login", data=data, allow_redirects=False, timeout=10)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_ids_beyond_what_sqlite_holds_are_not_found(site):
    url = site["url"]
    assert requests.get(f"{url}/api/duplicates/{HUGE}", timeout=10).status_code == 404
    for path in (f"/api/duplicates/{HUGE}/merge", f"/api/duplicates/{HUGE}/reject", f"/api/decisions/{HUGE}/undo"):
        answer = requests.post(url + path, json={}, headers=auth(), timeout=10)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", path
    client, _ = sign_in(url)
    csrf = csrf_of(client.get(f"{url}/cataloguer/duplicates", timeout=10).text)
    for path in (f"/cataloguer/duplicates/{HUGE}/merge", f"/cataloguer/decisions/{HUGE}/undo"):
        assert client.post(url + path, data={"csrf": csrf}, timeout=10).status_code == 404, path
    assert requests.get(f"{url}/entry/x/record/{HUGE}", timeout=10).status_code == 404


def test_a_line_break_in_the_return_address_injects_no_header(site):
    url = site["url"]
    _, answer = sign_in(url, next_="/cataloguer/\r\nX-Injected: 1")
    assert answer.status_code == 302 and "X-Injected" not in answer.headers
    assert answer.headers["Location"].endswith("/cataloguer/duplicates")
    client, _ = sign_in(url)
    csrf = csrf_of(client.get(f"{url}/cataloguer/duplicates", timeout=10).text)
    after = client.post(f"{url}/cataloguer/block", data={"csrf": csrf, "isbn": "x", "back": "/cataloguer/\nX-I: 1"},
                        allow_redirects=False, timeout=10)
    assert after.status_code == 302 and "X-I" not in after.headers


def test_many_words_or_repeated_filters_cost_little(site):
    url = site["url"]
    words = " ".join(f"khongco{i}" for i in range(250))[:1000]
    started = time.monotonic()
    page = requests.get(f"{url}/search", params={"q": words}, timeout=30)
    assert page.status_code == 200 and time.monotonic() - started < 0.5
    started = time.monotonic()
    repeated = requests.get(f"{url}/search", params=[("q", "sách"), *[("type", "book")] * 20_000], timeout=30)
    assert repeated.status_code == 200 and len(repeated.content) < 100_000
    assert time.monotonic() - started < 1.0
    flood = requests.get(f"{url}/api/search", params=[("type", "book,map")] * 200, timeout=30)
    assert flood.status_code == 400 and "at most 50 values" in flood.json()["message"]


def test_decisions_never_make_reads_wait_and_rebuilds_coalesce(site):
    """While the catalogue is being updated (the pipeline lock held elsewhere), decisions are refused
    quickly with Retry-After, /api/health answers at once, and repeated rebuild requests make one more."""
    url = site["url"]
    with hold(site["locks"], "pipeline"):
        with ThreadPoolExecutor(12) as pool:
            blocks = [pool.submit(requests.post, f"{url}/api/identifiers/block", json={"isbn": "9786045712252"},
                                  headers=auth(), timeout=30) for _ in range(10)]
            time.sleep(0.3)  # every server thread that will ever wait is waiting now
            started = time.monotonic()
            assert requests.get(f"{url}/api/health", timeout=10).ok
            assert time.monotonic() - started < 0.5
            answers = [b.result() for b in blocks]
        assert all(a.status_code == 503 and a.headers["Retry-After"].isdigit() for a in answers)
        assert "nothing was changed" in answers[0].json()["message"]
        statuses = [requests.post(f"{url}/api/admin/reindex", headers=auth(), timeout=10).json()["status"]
                    for _ in range(4)]
        assert statuses == ["started", "queued", "queued (already)", "queued (already)"]
        state = requests.get(f"{url}/api/admin/reindex", headers=auth(), timeout=10).json()
        assert state["running"] and state["pending"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = requests.get(f"{url}/api/admin/reindex", headers=auth(), timeout=10).json()
        if not state["running"]:
            break
        time.sleep(0.5)
    assert not state["running"] and not state["pending"] and state["error"] is None


def test_a_session_ends_at_sign_out_even_for_a_copied_cookie(site):
    url = site["url"]
    client, answer = sign_in(url)
    cookie = answer.cookies["unioncat_session"]
    payload = cookie.split(".")[1] if not cookie.startswith(".") else cookie.split(".")[1]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    decoded = zlib.decompress(decoded) if cookie.startswith(".") else decoded
    assert hash_token(TOKEN).encode() not in decoded and TOKEN.encode() not in decoded
    assert "Secure" not in answer.headers["Set-Cookie"]  # plain http here
    html = client.get(f"{url}/cataloguer/duplicates", timeout=10).text
    csrf = csrf_of(html)
    report = re.search(r"/cataloguer/duplicates/(\d+)/reject", html).group(1)
    assert client.post(f"{url}/cataloguer/logout", data={"csrf": csrf}, allow_redirects=False,
                       timeout=10).status_code == 302
    thief = requests.Session()
    thief.cookies.set("unioncat_session", cookie)
    again = thief.get(f"{url}/cataloguer/duplicates", allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "/cataloguer/login" in again.headers["Location"]
    refused = thief.post(f"{url}/cataloguer/duplicates/{report}/reject", data={"csrf": csrf}, timeout=10)
    assert refused.status_code == 401


def test_the_session_cookie_is_secure_over_https(site):
    """No https in tests: the app itself, asked over https (as waitress reports it when it trusts a
    proxy's X-Forwarded-Proto) and over http with a proxy's header that reached it."""
    from unionapi.app import create_app
    services = Services.open(load_config(site["config_dir"]), read_only=True)
    try:
        for base, headers in (("https://localhost", {}), ("http://localhost", {"X-Forwarded-Proto": "https"})):
            client = create_app(services).test_client()
            page = client.get("/cataloguer/login", base_url=base, headers=headers).get_data(as_text=True)
            answer = client.post("/cataloguer/login", base_url=base, headers=headers,
                                 data={"token": TOKEN, "csrf": csrf_of(page)})
            assert answer.status_code == 302 and "Secure" in answer.headers["Set-Cookie"], base
    finally:
        services.close()


def test_every_answer_carries_the_security_headers(site):
    url = site["url"]
    for path in ("/api/health", "/api/nothing-here", "/metrics", "/", "/nothing-here", f"/api/duplicates/{HUGE}"):
        headers = requests.get(url + path, timeout=10).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "default-src" in headers["Content-Security-Policy"], path
        assert headers["Referrer-Policy"], path
    not_allowed = requests.delete(f"{url}/api/health", timeout=10)
    assert not_allowed.status_code == 405 and "GET" in not_allowed.headers["Allow"]


def test_a_giant_title_full_of_bidi_tricks_makes_a_normal_page(site):
    url = site["url"]
    hits = requests.get(f"{url}/api/search", params={"q": "Sách rất dài"}, timeout=10).json()["hits"]
    entry = next(h for h in hits if h["title"].startswith("Sách rất dài"))
    assert not any(ch in entry["title"] for ch in BIDI_AND_CONTROLS)  # removed at normalization
    page = requests.get(f"{url}/entry/{entry['id']}", timeout=10)
    assert page.status_code == 200 and len(page.content) < 40_000 and "Sách rất dài" in page.text
    assert not any(ch in page.text for ch in BIDI_AND_CONTROLS)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aăđ ế./:" + BIDI_AND_CONTROLS + "\x00\x1b\x7f\t\n")), max_size=40))
def test_normalized_text_carries_no_control_or_bidi_characters(text):
    cleaned = trim(text)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", cleaned)
    assert trim(cleaned) == cleaned


def test_what_a_failing_server_answered_is_shown_to_administrators_only(site):
    url = site["url"]
    for path in ("/api/harvests", "/api/libraries"):
        public = requests.get(url + path, timeout=10)
        assert public.ok and "SECRET" not in public.text and "HTTP 500 from the library" in public.text, path
    run = requests.get(f"{url}/api/harvests", headers=auth(), timeout=10).json()["harvests"][0]
    assert run["detail"] == "&lt;html&gt;SECRET stack trace" and "SECRET" in run["error"]


def test_behind_a_trusted_proxy_the_cookie_is_secure_and_nobody_else_can_claim_https(site, tmp_path):
    """Over real HTTP: `unioncat serve` believes X-Forwarded-Proto only from api.trusted_proxy."""
    import shutil

    import yaml
    for proxy, secure in ((None, False), ("127.0.0.1", True)):
        config_dir = tmp_path / f"proxy-{proxy}"
        shutil.copytree(site["config_dir"], config_dir, ignore=shutil.ignore_patterns("serve.log"))
        settings = yaml.safe_load((config_dir / "settings.yaml").read_text(encoding="utf-8"))
        settings["data_dir"] = str(tmp_path / f"data-{proxy}")
        shutil.copytree(load_config(site["config_dir"]).settings.data_dir, settings["data_dir"],
                        ignore=shutil.ignore_patterns("locks", "*-wal", "*-shm"))
        if proxy:
            settings["api"]["trusted_proxy"] = proxy
        (config_dir / "settings.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
        server = ApiServer(config_dir)
        try:  # the sign-in form already sets the session cookie (its CSRF token)
            answer = requests.get(f"{server.url}/cataloguer/login", headers={"X-Forwarded-Proto": "https"},
                                  timeout=10)
        finally:
            server.stop()
        assert answer.status_code == 200
        assert ("Secure" in answer.headers["Set-Cookie"]) is secure, (proxy, answer.headers["Set-Cookie"])
