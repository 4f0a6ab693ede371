"""The pages through Flask's test client: sizes, status codes, language, sign-in and CSRF refusals.

Quick checks over a small demo network harvested for real; the browser tests (test_pages_browser.py)
cover what a person does with them.
"""
from __future__ import annotations

import re

import pytest

from config import load_config
from tests.browser import TOKEN, build_demo
from unionapi.app import create_app
from unionapi.services import Services

MAX_PAGE = 100 * 1024


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    config_dir, providers = build_demo(tmp_path_factory.mktemp("pages"))
    services = Services.open(load_config(config_dir), read_only=True)
    app = create_app(services)
    yield app
    services.close()
    for provider in providers:
        provider.stop()


def signed_in(app):
    client = app.test_client()
    page = client.get("/cataloguer/login").get_data(as_text=True)
    response = client.post("/cataloguer/login", data={"token": TOKEN, "csrf": csrf_of(page)})
    assert response.status_code == 302
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def entry_link(client, q="truyen kieu") -> str:
    return re.search(r'href="(/entry/[0-9a-f]+)"', client.get("/search", query_string={"q": q}).get_data(as_text=True)).group(1)


def test_patron_pages_answer_and_stay_small(site):
    client = site.test_client()
    entry = entry_link(client)
    pages = ["/", "/search?q=truyen+kieu", "/search?q=nguyen+du&available=1", "/search?q=truyen+kieu+xyzzy",
             "/search?q=&type=book", "/search?q=sach&page=3", entry, entry + "/record/1", "/libraries",
             "/libraries/tv-tinh", "/libraries/thpt-lvt", "/?lang=en"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"
        assert len(response.data) < MAX_PAGE, (path, len(response.data))
        html = response.get_data(as_text=True)
        assert '<main id="main"' in html and 'href="#main"' in html  # landmark and skip link
    css = client.get("/assets/site.css")
    assert css.status_code == 200 and "max-age" in css.headers["Cache-Control"]
    assert client.get("/entry/0000000000000000").status_code == 404
    assert "<h1>" in client.get("/entry/0000000000000000").get_data(as_text=True)
    assert client.get(entry + "/record/99").status_code == 404
    assert client.get("/libraries/nowhere").status_code == 404
    bad = client.get("/search?q=x&year_from=abc")
    assert bad.status_code == 400 and "year_from" in bad.get_data(as_text=True)


def test_search_page_matches_the_api(site):
    client = site.test_client()
    api = client.get("/api/search?q=truyen+kieu").get_json()
    html = client.get("/search?q=truyen+kieu").get_data(as_text=True)
    shown = re.findall(r'<h3><a href="/entry/([0-9a-f]+)">([^<]+)</a>', html)
    assert [i for i, _ in shown] == [hit["id"] for hit in api["hits"]]
    assert all(title.startswith("Truyện Kiều") for _, title in shown)
    for facet in api["facets"]["library"]:
        assert facet["label"] in html


def test_nothing_found_offers_a_way_out(site):
    client = site.test_client()
    html = client.get("/search?q=truyen+kieu+xyzzy").get_data(as_text=True)
    assert "Không tìm thấy" in html
    assert 'href="/search?q=truyen+kieu"' in html  # the last word dropped, and it finds something
    filtered = client.get("/search?q=truyen+kieu&type=map").get_data(as_text=True)
    assert "không kèm bộ lọc" in filtered and 'href="/search?q=truyen+kieu"' in filtered


def test_english_switch_is_remembered(site):
    client = site.test_client()
    assert 'lang="vi"' in client.get("/").get_data(as_text=True)
    english = client.get("/search?q=truyen+kieu&lang=en")
    assert 'lang="en"' in english.get_data(as_text=True) and "results" in english.get_data(as_text=True)
    assert "lang=en" in english.headers["Set-Cookie"]
    assert "Which library has this book?" in client.get(entry_link(client)).get_data(as_text=True)
    assert "Thư viện nào có sách này?" in client.get(entry_link(client) + "?lang=vi").get_data(as_text=True)


def test_cataloguer_pages_need_a_valid_token(site):
    client = site.test_client()
    response = client.get("/cataloguer/duplicates")
    assert response.status_code == 302 and "/cataloguer/login" in response.headers["Location"]
    page = client.get("/cataloguer/login").get_data(as_text=True)
    refused = client.post("/cataloguer/login", data={"token": "guess", "csrf": csrf_of(page)})
    assert refused.status_code == 401 and "không đúng" in refused.get_data(as_text=True)
    assert client.get("/cataloguer/duplicates").status_code == 302
    # an open redirect is not possible through ?next=
    evil = client.post("/cataloguer/login", data={"token": TOKEN, "csrf": csrf_of(page), "next": "//evil.example/"})
    assert evil.headers["Location"].endswith("/cataloguer/duplicates")
    cookie = evil.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie


def test_cataloguer_pages_answer_and_stay_small(site):
    client = signed_in(site)
    for path in ("/cataloguer/duplicates", "/cataloguer/duplicates?library=tv-tinh", "/cataloguer/decisions",
                 "/cataloguer/quality", "/cataloguer/quality?library=tv-yen-mo", "/cataloguer/harvest"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert len(response.data) < MAX_PAGE, (path, len(response.data))
        assert response.headers["Cache-Control"] == "no-store"
    assert "Báo cáo #" in client.get("/cataloguer/duplicates").get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(site):
    client = signed_in(site)
    html = client.get("/cataloguer/duplicates").get_data(as_text=True)
    report = re.search(r'id="r(\d+)"', html).group(1)
    for data in ({}, {"csrf": "forged"}):
        refused = client.post(f"/cataloguer/duplicates/{report}/merge", data=data)
        assert refused.status_code == 400, data
    assert client.get(f"/api/duplicates/{report}").get_json()["status"] == "open"
    # a stranger with the right CSRF field but no session is refused too
    stranger = site.test_client()
    assert stranger.post(f"/cataloguer/duplicates/{report}/reject", data={"csrf": csrf_of(html)}).status_code == 400
    assert client.get(f"/api/duplicates/{report}").get_json()["status"] == "open"


def test_harvest_now_starts_a_harvest(site):
    import time
    client = signed_in(site)
    html = client.get("/cataloguer/harvest").get_data(as_text=True)
    assert "/cataloguer/harvest/thpt-lvt" in html and "Thu thập ngay" in html
    runs = len(client.get("/api/harvests?library=thpt-lvt").get_json()["harvests"])
    started = client.post("/cataloguer/harvest/thpt-lvt", data={"csrf": csrf_of(html), "back": "/cataloguer/harvest"})
    assert started.status_code == 302 and started.headers["Location"].endswith("/cataloguer/harvest")
    assert "Đã yêu cầu thu thập" in client.get("/cataloguer/harvest").get_data(as_text=True)
    deadline = time.monotonic() + 20
    while True:  # until the run it started has ended (the thread uses this module's stores)
        harvests = client.get("/api/harvests?library=thpt-lvt").get_json()["harvests"]
        if len(harvests) > runs and harvests[0]["outcome"] != "running":
            break
        assert time.monotonic() < deadline, "no harvest run was recorded"
        time.sleep(0.2)
    assert harvests[0]["outcome"] == "ok"
