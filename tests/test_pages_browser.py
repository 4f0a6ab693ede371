"""A patron and a cataloguer in a real browser (headless Debian Chromium) against ``unioncat serve``.

Screenshots of the main pages at 1280 and 360 px go to test-artifacts/screenshots/ (printed).
"""
from __future__ import annotations

import re
from collections import Counter

import pytest
import requests

from tests.browser import TOKEN, build_demo, screenshot



@pytest.fixture(scope="module")
def site(tmp_path_factory, request):
    from tests.conftest import ApiServer
    config_dir, providers = build_demo(tmp_path_factory.mktemp("browser"))
    server = ApiServer(config_dir)
    request.addfinalizer(lambda: [p.stop() for p in providers])
    request.addfinalizer(server.stop)
    return server


def goes(driver, action) -> None:
    """Do something that loads a new page, and wait until it has."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    driver.execute_script("window.unioncatOldPage = true")  # a new document will not have it
    action()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.unioncatOldPage && document.readyState === 'complete'"))


def css(driver, selector):
    return driver.find_elements("css selector", selector)


def shoot(driver, name):
    for width in (1280, 360):
        screenshot(driver, name, width)
    driver.set_window_size(1280, 900)


def test_patron_finds_truyen_kieu_and_sees_branches(site, browser):
    browser.get(site.url + "/")
    shoot(browser, "home")
    box = browser.find_element("id", "q")
    box.send_keys("truyen kieu")
    goes(browser, box.submit)
    titles = [a.text for a in css(browser, ".hits h3 a")]
    assert titles and all(title.startswith("Truyện Kiều") for title in titles)
    shoot(browser, "search")

    api = site.get("/api/search", q="truyen kieu").json()
    provincial = max((h for h in api["hits"] if any(lib["id"] == "tv-tinh" for lib in h["libraries"])),
                     key=lambda h: len(h["libraries"]))  # the one held most widely: several libraries, branches
    goes(browser, browser.find_element("css selector", f'.hits a[href="/entry/{provincial["id"]}"]').click)
    assert browser.find_element("css selector", "h2#where").text == "Thư viện nào có sách này?"

    entry = site.get(f"/api/records/{provincial['id']}").json()
    expected = Counter((lib["id"], branch["branch"] or "—", item["call_number"] or "—", item["status"])
                       for lib in entry["holdings"] for branch in lib["branches"] for item in branch["items"])
    rows = css(browser, "table.holdings tbody tr")
    shown = Counter((row.get_attribute("data-library"), row.find_elements("css selector", "td")[0].text,
                     row.find_elements("css selector", "td")[2].text, row.get_attribute("data-status"))
                    for row in rows if row.get_attribute("data-no-items") is None)
    assert expected and shown == expected
    for row in rows:  # the status in words, with the due date for a loan, and when the library was harvested
        status, as_of = (cell.text for cell in row.find_elements("css selector", "td")[3:5])
        words = {"available": "Có trên giá", "on_loan": "Đang cho mượn", "not_for_loan": "Chỉ đọc tại chỗ",
                 "lost": "Bị mất", "withdrawn": "Đã thanh lý", "unknown": "Chưa rõ"}
        assert status.startswith(words[row.get_attribute("data-status")])
        assert re.search(r"\d\d/\d\d/\d{4}", as_of)
    due = [item["due_date"] for lib in entry["holdings"] for b in lib["branches"] for item in b["items"] if item["due_date"]]
    for date in due:
        year, month, day = date[:10].split("-")
        assert f"{day}/{month}/{year}" in browser.find_element("css selector", "table.holdings").text
    shoot(browser, "entry")

    # each library's own record, as catalogued
    goes(browser, browser.find_element("css selector", 'a[href$="/record/1"]').click)
    assert entry["members"][0]["record_id"] in browser.find_element("tag name", "main").text


def test_english_switch(site, browser):
    browser.get(site.url + "/search?q=truyen+kieu")
    goes(browser, browser.find_element("css selector", ".hits h3 a").click)
    goes(browser, browser.find_element("link text", "English").click)
    assert browser.find_element("tag name", "html").get_attribute("lang") == "en"
    assert browser.find_element("css selector", "h2#where").text == "Which library has this book?"
    goes(browser, browser.find_element("link text", "Libraries").click)  # remembered on the next page
    assert browser.find_element("tag name", "h1").text == "Libraries of the network"
    shoot(browser, "libraries-en")
    goes(browser, browser.find_element("link text", "Tiếng Việt").click)
    assert browser.find_element("tag name", "h1").text == "Các thư viện trong mạng lưới"
    shoot(browser, "libraries")


def test_keyboard_alone_reaches_the_results(site, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    def press(*keys):
        ActionChains(browser).send_keys(*keys).perform()
        return browser.switch_to.active_element

    browser.get(site.url + "/")
    for _ in range(15):
        focused = press(Keys.TAB)
        if focused.get_attribute("id") == "q":
            break
    assert focused.get_attribute("id") == "q"
    assert browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle") == "solid"
    goes(browser, lambda: press("truyen kieu", Keys.ENTER))
    assert "/search?q=truyen+kieu" in browser.current_url
    skip = press(Keys.TAB)
    assert skip.get_attribute("href").endswith("#main")  # the first stop is the skip link
    press(Keys.ENTER)
    for _ in range(10):
        focused = press(Keys.TAB)
        if focused.get_attribute("href") and "/entry/" in focused.get_attribute("href"):
            break
    assert focused.text.startswith("Truyện Kiều")
    goes(browser, lambda: press(Keys.ENTER))
    assert "/entry/" in browser.current_url
    assert browser.find_element("css selector", "h2#where").is_displayed()


def test_cataloguer_rejects_one_report_and_merges_another(site, browser):
    browser.get(site.url + "/cataloguer/duplicates")
    assert "/cataloguer/login" in browser.current_url
    browser.find_element("id", "token").send_keys("wrong")
    goes(browser, browser.find_element("css selector", "form.login button").click)
    assert "không đúng" in browser.find_element("css selector", "[role=alert]").text
    browser.find_element("id", "token").send_keys(TOKEN)
    goes(browser, browser.find_element("css selector", "form.login button").click)
    assert browser.current_url.endswith("/cataloguer/duplicates")
    shoot(browser, "duplicates")

    sections = css(browser, "section.report")
    assert len(sections) >= 2
    to_reject, to_merge = (int(s.get_attribute("id")[1:]) for s in sections[:2])
    reject_before = site.get(f"/api/duplicates/{to_reject}").json()
    merge_before = site.get(f"/api/duplicates/{to_merge}").json()

    section = browser.find_element("id", f"r{to_reject}")
    assert css(section, "tr.differs") or reject_before["differing"] == []
    section.find_element("tag name", "textarea").send_keys("hai bản in khác nhau")
    goes(browser, section.find_element("css selector", "button[value=reject]").click)
    assert f"r{to_reject}" not in [s.get_attribute("id") for s in css(browser, "section.report")]
    assert "Đã ghi nhận" in browser.find_element("css selector", ".flash.ok").text

    goes(browser, browser.find_element("id", f"r{to_merge}").find_element("css selector", "button[value=merge]").click)
    assert "Đã gộp" in browser.find_element("css selector", ".flash.ok").text
    assert site.get(f"/api/duplicates/{to_reject}").json()["status"] == "rejected"
    assert site.get(f"/api/duplicates/{to_merge}").json()["status"] == "merged"

    goes(browser, browser.find_element("link text", "Lịch sử quyết định").click)
    history = browser.find_element("css selector", "table.decisions").text
    assert "hai bản in khác nhau" in history and "lan" in history
    shoot(browser, "decisions")
    for name in ("quality", "harvest"):
        browser.get(site.url + f"/cataloguer/{name}")
        assert browser.find_element("tag name", "h1").text
    shoot(browser, "harvest")

    # the patron search reflects both: the merged pair is one book, the rejected pair stays two
    merged = {side["record_id"] for side in merge_before["records"]}
    hits = patron_entries(site, browser, merge_before["records"][0]["title"])
    together = [members for members in hits.values() if merged <= members]
    assert len(together) == 1
    apart = [side["record_id"] for side in reject_before["records"]]
    hits = patron_entries(site, browser, reject_before["records"][0]["title"])
    holding = [entry for entry, members in hits.items() if set(apart) & members]
    assert len(holding) == 2 and not any(set(apart) <= members for members in hits.values())


def patron_entries(site, browser, title: str) -> dict[str, set[str]]:
    """Search the title as a patron; each result's member records (from its entry page)."""
    browser.get(site.url + "/search?" + requests.compat.urlencode({"q": title}))
    links = [a.get_attribute("href") for a in css(browser, ".hits h3 a")]
    found = {}
    for link in links:
        browser.get(link)
        found[link] = {small.text for small in css(browser, "section[aria-labelledby=records] small")}
    return found
