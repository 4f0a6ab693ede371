"""The patron pages in headless Chromium: where and how to get the book (the nearest libraries after
choosing a commune, links into each library's own catalogue, "ask the librarian", the map, opening hours),
and an automated accessibility check — axe-core, pinned and installed by scripts/install-peers — with no
serious or critical violation on the home, search, entry, libraries and library pages at 1280 and 360 px.

Screenshots of the library page and of a book's page go to test-artifacts/screenshots/ (docs/ holds copies).
"""
from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timezone

import pytest

from config import load_config
from tests.browser import build_demo, screenshot
from tests.conftest import REPO
from unionapi.directory import communes, distance_km

AXE_VERSION = re.search(r"^AXE_VERSION=(\S+)$", (REPO / "scripts" / "install-peers").read_text(), re.M).group(1)
AXE = REPO / ".peers" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def site(tmp_path_factory, request):
    from tests.conftest import ApiServer
    config_dir, providers = build_demo(tmp_path_factory.mktemp("a11y"))
    request.addfinalizer(lambda: [p.stop() for p in providers])
    server = ApiServer(config_dir)
    request.addfinalizer(server.stop)
    server.config = load_config(config_dir)
    return server


def css(driver, selector):
    return driver.find_elements("css selector", selector)


def goes(driver, action) -> None:
    """Do something that loads a new page, and wait until it has."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    driver.execute_script("window.unioncatOldPage = true")
    action()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.unioncatOldPage && document.readyState === 'complete'"))


def richest_entry(site) -> str:
    """The book that shows most on its page: held by most libraries, with copies on rotation and links to
    read online when the demo's records have them (found in the catalogue itself, read-only)."""
    path = site.config.settings.data_dir / "catalogue.sqlite3"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    score: dict[str, list] = {}
    for entry_id, source, data in db.execute("SELECT entry_id, source, data FROM records"):
        record = json.loads(data)
        found = score.setdefault(entry_id, [0, 0, set()])
        found[0] |= any(h.get("owner_branch") for h in record.get("holdings", []))
        found[1] |= bool(record.get("links"))
        found[2].add(source)
    db.close()
    return max(score, key=lambda e: (score[e][0] + score[e][1], len(score[e][2]), e))


def axe_violations(driver) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE.exists():
        pytest.fail(f"axe-core {AXE_VERSION} is not installed ({AXE}): run scripts/install-peers "
                    "(an accessibility test without its checker is a failure, never a skip)", pytrace=False)
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        " .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        "   nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}))))"
        " .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
    return [v for v in found if v["impact"] in BLOCKING]


def test_patron_pages_pass_axe_at_both_widths(site, browser):
    entry = richest_entry(site)
    commune = next(iter(communes(lib.directory for lib in site.config.libraries.values())))
    pages = ["/", "/search?q=truyen+kieu", "/search?q=sach&available=1&page=2", f"/entry/{entry}",
             f"/entry/{entry}?commune={commune}", f"/entry/{entry}?lat=95&lon=0", "/libraries",
             f"/libraries?commune={commune}", "/libraries/tv-tinh", "/libraries/thpt-lvt?lat=20.1&lon=106",
             "/search?q=xyzzy+qwerty", f"/entry/{entry}/record/1", f"/entry/{entry}?lang=en",
             "/libraries/tv-tinh?lang=en", "/?lang=vi"]
    problems = {}
    for path in pages:
        browser.get(site.url + path)
        for width in (1280, 360):
            browser.set_window_size(width, 900)
            found = axe_violations(browser)
            if found:
                problems[f"{path} @ {width}px"] = found
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


def test_the_nearest_libraries_after_choosing_a_commune(site, browser):
    from selenium.webdriver.support.ui import Select
    entry = richest_entry(site)
    browser.set_window_size(1280, 900)
    browser.get(site.url + f"/entry/{entry}")
    held = list(dict.fromkeys(row.get_attribute("data-library") for row in css(browser, "table.holdings tbody tr")))
    assert len(held) >= 2
    places = communes(lib.directory for lib in site.config.libraries.values())
    for commune, (lat, lon) in places.items():
        Select(browser.find_element("id", "commune")).select_by_visible_text(commune)
        goes(browser, browser.find_element("css selector", "form.near button").click)
        assert "commune=" in browser.current_url and "lat=" in browser.current_url  # a GET form: all in the URL
        order = list(dict.fromkeys(row.get_attribute("data-library")
                                   for row in css(browser, "table.holdings tbody tr")))
        nearest = min(held, key=lambda i: distance_km(lat, lon, site.config.libraries[i].directory.lat,
                                                      site.config.libraries[i].directory.lon))
        assert sorted(order) == sorted(held) and order[0] == nearest, commune
        first = css(browser, "table.holdings tbody tr")[0]
        assert "cách bạn" in first.find_element("css selector", "th").text
        assert Select(browser.find_element("id", "commune")).first_selected_option.text == commune
        assert browser.find_element("css selector", "svg.map g.point.you").is_displayed()
    assert not browser.get_cookies() or all(c["name"] == "lang" for c in browser.get_cookies())  # nothing about places
    # typed coordinates work too, with a decimal comma
    browser.find_element("css selector", "form.near select option[value='']").click()
    for name, value in (("lat", "20,09"), ("lon", "106,09")):
        box = browser.find_element("id", name)
        box.clear()
        box.send_keys(value)
    goes(browser, browser.find_element("css selector", "form.near button").click)
    order = [row.get_attribute("data-library") for row in css(browser, "table.holdings tbody tr")]
    here = min(held, key=lambda i: distance_km(20.09, 106.09, site.config.libraries[i].directory.lat,
                                               site.config.libraries[i].directory.lon))
    assert order[0] == here


def test_opac_links_ask_the_librarian_and_the_map(site, browser):
    entry = richest_entry(site)
    browser.set_window_size(1280, 900)
    browser.get(site.url + f"/entry/{entry}?commune=Xã Phát Diệm")
    record = site.get(f"/api/records/{entry}").json()
    rows = css(browser, "table.holdings tbody tr")
    for row in rows:
        library = site.config.libraries[row.get_attribute("data-library")]
        opac = [a.get_attribute("href") for a in row.find_elements("css selector", "a.opac")]
        members = [m["record_id"] for m in record["members"] if m["library"] == library.id]
        if library.directory.opac:  # the library's own record of it, in the library's own catalogue
            assert len(opac) == 1 and opac[0] in {library.directory.opac_url(m) for m in members}
        else:
            assert opac == []
        hrefs = [a.get_attribute("href") for a in row.find_elements("css selector", "td.get a")]
        assert any(h.startswith("mailto:" + library.directory.email) for h in hrefs) == bool(library.directory.email)
        assert f"tel:{library.directory.tel()}" in hrefs
        state = row.find_element("css selector", ".open-state").text
        assert state.endswith("Đang mở cửa" if library.directory.is_open(datetime.now(timezone.utc)) else "Đã đóng cửa")
    shown = {row.get_attribute("data-library") for row in rows}
    svg = browser.find_element("css selector", "figure.map-figure svg.map")
    assert svg.is_displayed() and svg.size["width"] > 300
    points = svg.find_elements("css selector", "g.point")
    names = {p.get_attribute("aria-label").split(". ", 1)[1].split(":")[0] for p in points if "you" not in p.get_attribute("class")}
    assert names == {site.config.libraries[i].name for i in shown}
    legend = [li.text for li in css(browser, "ol.map-list li")]
    assert len(legend) == len(shown) and all("cách bạn" in text for text in legend)
    for width in (1280, 360):
        screenshot(browser, "entry-directory", width)
    browser.set_window_size(360, 900)  # on a phone the names on the map give way to the list under it
    assert not svg.find_element("css selector", "text.name").is_displayed()
    assert svg.find_element("css selector", "text.mark").is_displayed()


def test_the_library_page_says_how_to_visit(site, browser):
    library = site.config.libraries["tv-tinh"]
    browser.set_window_size(1280, 900)
    browser.get(site.url + "/libraries/tv-tinh?commune=Xã Phát Diệm")
    visit = browser.find_element("css selector", "section.visit")
    text = visit.text
    for expected in (library.directory.address, library.directory.phone, library.directory.email, "Giờ mở cửa",
                     "Thứ Hai", "7:30–11:30, 13:30–17:00", "hằng năm", "cách bạn"):
        assert expected in text, expected
    now = datetime.now(timezone.utc)
    assert ("Đang mở cửa" if library.directory.is_open(now) else "Đã đóng cửa") in text
    today = visit.find_element("css selector", "table.hours tr.today th").text
    assert today.startswith(("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
                            [library.directory.local_now(now).weekday()])
    for width in (1280, 360):
        screenshot(browser, "library", width)
    browser.get(site.url + "/libraries?commune=Xã Phát Diệm")
    first = css(browser, "ol.nearest > li a")[0]
    assert first.text == site.config.libraries["tv-kim-son"].name
    assert len(css(browser, "svg.map g.point.lib")) == len(site.config.libraries)
    for width in (1280, 360):
        screenshot(browser, "libraries-near", width)
