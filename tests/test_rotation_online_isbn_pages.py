"""Rotation, read-online links and ISBNs typed any way, as patrons and API clients meet them: two libraries
drop Koha-style MARCXML exports into folders, `unioncat harvest` takes them through the whole chain, and
`unioncat serve` answers over HTTP (API, SRU and pages); then the pages in headless Chromium."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from html import unescape
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from tests.browser import screenshot
from tests.conftest import REPO, ApiServer, conforms, write_config

ISBN = "9786042123457"  # ISBN-10 6042123459
HYPHENATED = "978-604-2-12345-7"
ISSN = "0378-5955"
BRANCHES = {"TT": "Kho Trung tâm", "XA": "Điểm luân chuyển xã Khánh An", "LD": "Thư viện lưu động"}
ROTATION_VI = "thuộc Kho Trung tâm — đang luân chuyển tại Điểm luân chuyển xã Khánh An"
PDF = "https://sach.thuvien.vn/truyen-kieu.pdf"


def record(number: str, title: str, *fields: tuple, leader: str = "00000nam a2200000 a 4500") -> str:
    body = "".join(f'<datafield tag="{tag}" ind1="{i1}" ind2="{i2}">'
                   + "".join(f'<subfield code="{c}">{escape(v)}</subfield>' for c, v in subfields) + "</datafield>"
                   for tag, i1, i2, *subfields in fields)
    return (f'<record><leader>{leader}</leader><controlfield tag="001">{number}</controlfield>'
            f'<controlfield tag="008">200101s2019    vm            000 0 vie d</controlfield>'
            f'<datafield tag="245" ind1="0" ind2="0"><subfield code="a">{escape(title)}</subfield></datafield>'
            f"{body}</record>")


def collection(*records: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><collection xmlns="http://www.loc.gov/MARC21/slim">'
            + "".join(records) + "</collection>").encode()


TINH = collection(
    record("1", "Truyện Kiều", ("020", " ", " ", ("a", HYPHENATED)), ("100", "0", " ", ("a", "Nguyễn Du")),
           ("856", "4", "0", ("u", PDF), ("y", "Bản điện tử (PDF)")),
           ("856", "4", "0", ("u", "javascript:alert(document.cookie)"), ("y", "Bấm vào đây")),
           ("952", " ", " ", ("a", "TT"), ("b", "XA"), ("p", "VV0001"), ("o", "895.922 NG-D")),
           ("952", " ", " ", ("a", "TT"), ("b", "TT"), ("p", "VV0002"), ("o", "895.922 NG-D"))),
    record("2", "Toán 10", ("020", " ", " ", ("a", "604-00-0004-X")),
           ("952", " ", " ", ("a", "TT"), ("p", "VV0003"))),
    record("3", "Tạp chí Văn hoá Ninh Bình", ("022", " ", " ", ("a", ISSN)),
           ("952", " ", " ", ("a", "LD"), ("b", "TT"), ("p", "VV0004")), leader="00000nas a2200000 a 4500"),
    record("4", "Địa chí Ninh Bình", ("856", "4", "0", ("u", "http://repo.thuvien.vn/handle/1/9"),
                                      ("y", "Toàn văn"))),  # a digital document only: no copy
)
KIM_SON = collection(
    record("10", "Truyện Kiều", ("020", " ", " ", ("a", "6042123459 (bìa mềm)")), ("100", "0", " ", ("a", "Nguyễn Du")),
           ("952", " ", " ", ("a", "KS"), ("p", "KS0001"))),
)


def put(folder, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    then = time.time() - 120  # an export finished two minutes ago (file drops wait for files to settle)
    os.utime(path, (then, then))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rotation-online")
    put(folder / "tinh", "export.xml", TINH)
    put(folder / "kim-son", "export.xml", KIM_SON)
    libraries = [{"id": "tv-tinh", "name": "Thư viện tỉnh Ninh Bình", "kind": "provincial", "protocol": "file",
                  "path": str(folder / "tinh"), "schedule": "0 2 * * *", "branches": BRANCHES},
                 {"id": "tv-kim-son", "name": "Thư viện huyện Kim Sơn", "kind": "district", "parent": "tv-tinh",
                  "protocol": "file", "path": str(folder / "kim-son"), "schedule": "0 2 * * *"}]
    config_dir = write_config(folder / "config", libraries)
    subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "harvest"], cwd=REPO,
                   capture_output=True, text=True, check=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    server = ApiServer(config_dir)
    yield server
    server.stop()


def search(site, **params) -> dict:
    response = site.get("/api/search", **params)
    assert response.status_code == 200, response.text
    body = response.json()
    conforms(body, "SearchResult")
    return body


def titles(body: dict) -> set[str]:
    return {hit["title"] for hit in body["hits"]}


def entry_id(site, title: str) -> str:
    return next(hit["id"] for hit in search(site, q=title)["hits"] if hit["title"] == title)


def page(site, path: str, **params) -> str:
    response = site.get(path, **params)
    assert response.status_code == 200, response.text[:500]
    return response.text


# -- the API -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", [HYPHENATED, "978 604 2 12345 7", f"ISBN {HYPHENATED}", f"isbn:{ISBN}", ISBN,
                                   "6042123459", f"{ISBN} (bìa mềm)", "ISBN-10: 604-2-12345-9"])
def test_api_finds_an_isbn_however_it_is_typed(site, typed):
    body = search(site, q=typed)
    assert titles(body) == {"Truyện Kiều"}, typed
    hit = body["hits"][0]
    assert hit["member_count"] == 2 and {lib["id"] for lib in hit["libraries"]} == {"tv-tinh", "tv-kim-son"}


def test_api_isbn10_with_x_issn_and_words_with_digits(site):
    assert titles(search(site, q="978-604-00-0004-0")) == titles(search(site, q="604000004x")) == {"Toán 10"}
    assert titles(search(site, q=ISSN)) == titles(search(site, q="03785955")) == {"Tạp chí Văn hoá Ninh Bình"}
    assert titles(search(site, q="toan 10")) == {"Toán 10"}  # digits in words are words
    assert titles(search(site, q="9786042123458")) == set()  # a wrong check digit is not an ISBN, nor a word found


def test_api_online_filter_and_facet(site):
    everything = search(site)
    assert everything["facets"]["online"] == [{"value": "true", "count": 2}]
    online = search(site, online="true")
    assert titles(online) == {"Truyện Kiều", "Địa chí Ninh Bình"} and online["query"]["online"] is True
    assert all(hit["online"] and hit["links"] for hit in online["hits"])
    kieu = next(hit for hit in online["hits"] if hit["title"] == "Truyện Kiều")
    assert kieu["links"] == [{"url": PDF, "text": "Bản điện tử (PDF)", "library": "tv-tinh"}]
    assert not any(hit["online"] for hit in search(site, q="toan")["hits"])
    assert titles(search(site, online="1", library="tv-kim-son")) == {"Truyện Kiều"}  # held there, read online
    bad = site.get("/api/search", online="maybe")
    assert bad.status_code == 400 and "'online' must be true or false" in bad.json()["message"]


def test_api_rotation_filter(site):
    assert titles(search(site, rotation="true")) == {"Truyện Kiều", "Tạp chí Văn hoá Ninh Bình"}
    assert titles(search(site, rotation="true", library="tv-tinh")) == {"Truyện Kiều", "Tạp chí Văn hoá Ninh Bình"}
    assert titles(search(site, rotation="true", library="tv-kim-son")) == set()


def test_api_entry_shows_owner_and_current_location_and_links(site):
    entry = site.get(f"/api/entries/{entry_id(site, 'Truyện Kiều')}").json()
    conforms(entry, "Entry")
    assert entry["online"] is True and [link["url"] for link in entry["links"]] == [PDF]
    tinh = next(library for library in entry["holdings"] if library["id"] == "tv-tinh")
    by_branch = {branch["branch"]: branch["items"] for branch in tinh["branches"]}
    away = by_branch["Điểm luân chuyển xã Khánh An"][0]
    assert (away["barcode"], away["owner_branch"], away["owner_branch_code"]) == ("VV0001", "Kho Trung tâm", "TT")
    home = by_branch["Kho Trung tâm"][0]
    assert (home["barcode"], home["owner_branch"], home["owner_branch_code"]) == ("VV0002", None, None)
    member = next(m for m in entry["members"] if m["library"] == "tv-tinh")
    assert member["links"] == [{"url": PDF, "text": "Bản điện tử (PDF)"}]


def test_quality_report_lists_the_dropped_link(site):
    report = site.get("/api/libraries/tv-tinh/quality").json()
    dropped = [w for w in report["warnings"] if "$u dropped: javascript: address" in w["code"]]
    assert dropped and dropped[0]["records"] == 1, report["warnings"]
    assert "javascript: address" in dropped[0]["examples"][0]["detail"]


def test_sru_bath_isbn_reads_the_forms_the_search_box_reads(site):
    for typed in ('"978 604 2 12345 7"', '"ISBN 6042123459"', HYPHENATED):
        response = site.get("/sru", version="1.2", operation="searchRetrieve", query=f"bath.isbn = {typed}")
        root = etree.fromstring(response.content)
        assert root.findtext("{*}numberOfRecords") == "1", (typed, response.text[:300])


def test_downloads_carry_the_links(site):
    xml = site.get(f"/api/entries/{entry_id(site, 'Địa chí Ninh Bình')}.xml").content
    fields = etree.fromstring(xml).findall('{*}datafield[@tag="856"]')
    assert [[(s.get("code"), s.text) for s in f] for f in fields] == [
        [("u", "http://repo.thuvien.vn/handle/1/9"), ("y", "Toàn văn")]]


# -- the pages -----------------------------------------------------------------------------------------
def test_entry_page_shows_rotation_and_read_online_links_safely(site):
    html = page(site, f"/entry/{entry_id(site, 'Truyện Kiều')}")
    assert ROTATION_VI in unescape(html)
    links = re.findall(r'<a href="([^"]*)" rel="([^"]*)">([^<]*)</a>', html)
    online = [(unescape(href), rel, unescape(text)) for href, rel, text in links if href.startswith("http")]
    assert (PDF, "noopener noreferrer external", "Bản điện tử (PDF)") in online
    assert "javascript:" not in html and "Bấm vào đây" not in html
    english = page(site, f"/entry/{entry_id(site, 'Truyện Kiều')}", lang="en")
    assert "belongs to Kho Trung tâm — on rotation at Điểm luân chuyển xã Khánh An" in unescape(english)
    assert "Read online" in english


def test_an_online_only_document_is_not_said_to_lack_copy_data(site):
    html = unescape(page(site, f"/entry/{entry_id(site, 'Địa chí Ninh Bình')}"))
    assert "Đọc trực tuyến" in html and "Tài liệu số" in html
    assert "Thư viện không gửi thông tin bản sách" not in html
    assert '<a href="http://repo.thuvien.vn/handle/1/9" rel="noopener noreferrer external">Toàn văn</a>' in html
    # a book the library sends no copies of, and no link, still says so
    toan = unescape(page(site, f"/entry/{entry_id(site, 'Toán 10')}"))
    assert "Tài liệu số" not in toan


def test_library_page_lists_what_is_on_rotation_with_a_link_to_all_of_it(site):
    html = unescape(page(site, "/libraries/tv-tinh"))
    assert "Sách luân chuyển" in html and "2 đầu sách có bản đang luân chuyển" in html
    section = html[html.index('id="rotation"'):]
    assert "Truyện Kiều" in section and "Tạp chí Văn hoá Ninh Bình" in section
    assert "Điểm luân chuyển xã Khánh An" in section and "Thư viện lưu động" in section
    link = re.search(r'href="(/search\?[^"]*rotation=1[^"]*)"', section).group(1)
    listed = unescape(page(site, link.replace("&amp;", "&")))
    assert "Truyện Kiều" in listed and "Tạp chí Văn hoá Ninh Bình" in listed and "Toán 10" not in listed
    assert "Sách luân chuyển" not in unescape(page(site, "/libraries/tv-kim-son"))


def test_search_page_online_filter_and_isbn_forms(site):
    html = unescape(page(site, "/search", q="ninh binh", online="1"))
    assert "Địa chí Ninh Bình" in html and "Tạp chí Văn hoá Ninh Bình" not in html
    assert 'id="online" name="online" type="checkbox" value="1" checked' in html
    assert "/api/search.ris?q=ninh+binh&online=true" in html  # the page's citations cite the same filtered search
    for typed in ("ISBN 978 604 2 12345 7", "604-2-12345-9", f"{ISBN} (bìa mềm)"):
        found = unescape(page(site, "/search", q=typed))
        assert "Truyện Kiều" in found and "1 kết quả" in found, typed


# -- in a browser -----------------------------------------------------------------------------------
def loads(driver, action) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    driver.execute_script("window.unioncatOldPage = true")
    action()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.unioncatOldPage && document.readyState === 'complete'"))


def test_browser_isbn_typed_with_spaces_then_rotation_and_read_online(site, browser):
    browser.get(site.url + "/")
    box = browser.find_element("id", "q")
    box.send_keys("ISBN 978 604 2 12345 7")
    loads(browser, box.submit)
    hits = browser.find_elements("css selector", "ol.hits h3 a")
    assert [a.text for a in hits] == ["Truyện Kiều"]
    online = browser.find_elements("css selector", "ol.hits p.online a")
    assert [(a.text, a.get_attribute("href")) for a in online] == [("Bản điện tử (PDF)", PDF)]
    loads(browser, hits[0].click)
    rotation = browser.find_elements("css selector", "table.holdings small.rotation")
    assert [r.text for r in rotation] == [ROTATION_VI] and rotation[0].is_displayed()
    row = rotation[0].find_element("xpath", "ancestor::tr")
    assert row.get_attribute("data-branch") == "Điểm luân chuyển xã Khánh An"
    links = browser.find_elements("css selector", "section.online a")
    assert [(a.text, a.get_attribute("href")) for a in links] == [("Bản điện tử (PDF)", PDF)]
    assert set(links[0].get_attribute("rel").split()) >= {"noopener", "noreferrer"}
    for width in (1280, 360):
        screenshot(browser, "entry-rotation-online", width)
    browser.set_window_size(1280, 900)


def test_browser_online_checkbox_filters_the_results(site, browser):
    browser.get(site.url + "/search?" + urlencode({"q": "ninh binh"}))
    assert {a.text for a in browser.find_elements("css selector", "ol.hits h3 a")} == {
        "Địa chí Ninh Bình", "Tạp chí Văn hoá Ninh Bình"}
    browser.find_element("css selector", "label[for=online]").click()
    loads(browser, browser.find_element("id", "q").submit)
    assert [a.text for a in browser.find_elements("css selector", "ol.hits h3 a")] == ["Địa chí Ninh Bình"]
    chips = [a.text for a in browser.find_elements("css selector", "p.active a.chip")]
    assert any("Đọc trực tuyến" in chip for chip in chips)
