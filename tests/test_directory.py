"""Where and how to get the book: the library directory in sources.yaml, "open now" in the library's time
zone, distances and the nearest libraries first, the server-drawn SVG map, and the patron pages that show
them (OPAC links, "ask the librarian", nearest first after choosing a commune) over Flask's test client.

The browser side (Chromium, axe-core) is in test_pages_accessibility.py.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from config import ConfigError, http_url_problem, load_config
from config.directory import DAYS, Directory, DirectoryError, parse_directory, source_id
from tests.conftest import REPO, oai_library, write_config
from unionapi.directory import MapPoint, communes, distance_km, nearest_first, parse_place, svg_map

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
SVG = "{http://www.w3.org/2000/svg}"


def directory(**fields) -> Directory:
    return parse_directory(fields, http_url_problem)


def at(text: str, zone=HCM) -> datetime:
    """A local wall-clock time in ``zone``, as the aware UTC moment a server would have."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(timezone.utc)


# -- opening hours and "open now" ------------------------------------------------------------------------
def test_open_now_follows_the_weekly_hours_in_the_library_time_zone():
    library = directory(hours={"mon-fri": "7:30-11:30, 13:30-17:00", "sat": "8h-11h", "cn": "nghỉ"})
    assert [library.is_open(at(f"2026-03-02T{t}")) for t in ("07:29", "07:30", "11:29", "11:30", "12:00",
                                                             "13:30", "16:59", "17:00")] == \
        [False, True, True, False, False, True, True, False]
    assert library.is_open(at("2026-03-07T10:59")) and not library.is_open(at("2026-03-07T11:00"))  # Saturday
    assert not library.is_open(at("2026-03-08T09:00"))  # Sunday: nghỉ
    # the server's clock is UTC: 00:30 UTC on Monday is 07:30 in Hồ Chí Minh City, open; in UTC it is not
    moment = datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc)
    assert library.is_open(moment) is True
    assert directory(hours={"mon-fri": "7:30-11:30"}, timezone="UTC").is_open(moment) is False
    assert directory().is_open(moment) is None  # no hours given: nothing is said


def test_a_time_zone_with_summer_time():
    paris = directory(hours={"sun": "9:00-12:00"}, timezone="Europe/Paris")
    # 07:30 UTC is 08:30 in Paris before the clocks go forward on 29 March 2026, and 09:30 after
    assert paris.is_open(datetime(2026, 3, 22, 7, 30, tzinfo=timezone.utc)) is False
    assert paris.is_open(datetime(2026, 3, 29, 7, 30, tzinfo=timezone.utc)) is True


def test_midnight_belongs_to_the_day_the_opening_began():
    late = directory(hours={"sat": "18:00-1:00", "mon": "20:00-24:00"})
    assert late.hours[5] == ((18 * 60, 25 * 60),)
    assert late.is_open(at("2026-03-07T23:59")) and late.is_open(at("2026-03-08T00:00"))
    assert late.is_open(at("2026-03-08T00:59")) and not late.is_open(at("2026-03-08T01:00"))
    assert late.is_open(at("2026-03-02T23:59")) and not late.is_open(at("2026-03-03T00:00"))  # 24:00 ends Monday
    # Saturday closed (a holiday): its night is closed too; Sunday closed: Saturday's night still runs
    assert not directory(hours={"sat": "18:00-1:00"}, closed=["2026-03-07"]).is_open(at("2026-03-08T00:30"))
    assert directory(hours={"sat": "18:00-1:00"}, closed=["2026-03-08"]).is_open(at("2026-03-08T00:30"))


def test_closed_days_every_year_and_ranges():
    library = directory(hours={"mon-sun": "8:00-17:00"}, closed=["09-02", "2026-02-14/2026-02-22", date(2026, 5, 19)])
    assert not library.is_open(at("2026-09-02T10:00")) and not library.is_open(at("2027-09-02T10:00"))
    assert library.is_open(at("2026-09-03T10:00"))
    assert [library.closed_on(date(2026, 2, d)) for d in (13, 14, 17, 22, 23)] == [False, True, True, True, False]
    assert library.closed_on(date(2026, 5, 19)) and library.closed == ("09-02", "2026-02-14/2026-02-22", "2026-05-19")


# Any week of opening times: "open now" is exactly "this minute lies in an opening", counted on a
# timeline of minutes built here from the generated numbers (not from the parser's tuples).
minute = st.integers(0, 24 * 60 - 1)


@st.composite
def day_times(draw):
    points = sorted(draw(st.sets(minute, max_size=6)))
    pairs = [(a, b) for a, b in zip(points[::2], points[1::2])]
    if pairs and draw(st.booleans()):  # the last opening runs past midnight
        start = pairs[-1][0]
        pairs[-1] = (start, draw(st.integers(0, start - 1)) if start else 24 * 60)
    return pairs


def clock(m: int) -> str:
    return f"{m // 60}:{m % 60:02d}"


@settings(max_examples=150, deadline=None)
@given(st.lists(day_times(), min_size=7, max_size=7), st.integers(7 * 1440, 14 * 1440 - 1))
def test_open_now_agrees_with_a_timeline_of_open_minutes(week, probe):
    hours = {DAYS[day]: ", ".join(f"{clock(a)}-{clock(b)}" for a, b in pairs) or "closed"
             for day, pairs in enumerate(week)}
    library = directory(hours=hours)
    open_minutes = set()
    for day in range(14):  # two weeks from Monday 2 March 2026, so that every probe has a yesterday
        for start, end in week[day % 7]:
            end = end if end > start else end + 1440
            open_minutes.update(range(day * 1440 + start, day * 1440 + end))
    moment = (datetime(2026, 3, 2, tzinfo=HCM) + timedelta(minutes=probe)).astimezone(timezone.utc)
    assert library.is_open(moment) is (probe in open_minutes)


@pytest.mark.parametrize("fields, field, expected", [
    ({"hours": {"mon-fri": "7:30-11:30", "fri": "8-9"}}, "hours", "fri is given twice"),
    ({"hours": {"weekdays": "8-9"}}, "hours", "expected days such as mon, mon-fri"),
    ({"hours": {"fri-mon": "8-9"}}, "hours", "run backwards"),
    ({"hours": {"mon": "8:00-"}}, "hours", 'mon: expected opening times such as "7:30-11:30, 13:30-17:00"'),
    ({"hours": {"mon": "8:00-12:00, 11:00-13:00"}}, "hours", "overlap"),
    ({"hours": {"mon": "25:00-26:00"}}, "hours", "mon: expected opening times"),
    ({"hours": "7:30-17:00"}, "hours", "expected a mapping of days to opening times"),
    ({"closed": ["2026-02-30"]}, "closed", "expected a list of closed days"),
    ({"closed": ["2026-02-22/2026-02-14"]}, "closed", "expected a list of closed days"),
    ({"timezone": "Asia/Hanoi"}, "timezone", "expected a time zone name such as Asia/Ho_Chi_Minh"),
    ({"lat": 120, "lon": 105}, "lat", "expected decimal degrees from -90 to 90"),
    ({"lat": 20.25}, "lon", "expected both lat and lon"),
    ({"lat": "20,25", "lon": 105}, "lat", "expected decimal degrees"),
    ({"phone": 2293871234}, "phone", "expected some text"),
    ({"phone": "gọi thư viện"}, "phone", "expected one phone number"),
    ({"email": "thuvien.example.vn"}, "email", "expected one e-mail address"),
    ({"website": "thuvien.example.vn"}, "website", "expected an http:// or https:// URL"),
    ({"opac": "https://opac.example.vn/cgi-bin/koha/opac-detail.pl"}, "opac", "with {id} where the record's number"),
    ({"opac": "https://opac.example.vn/?biblionumber={id}&x={bib}"}, "opac", "expected only {id}"),
    ({"opac": "ftp://opac.example.vn/{id}"}, "opac", "expected an http:// or https:// URL"),
])
def test_directory_mistakes_name_the_field(fields, field, expected):
    with pytest.raises(DirectoryError) as caught:
        directory(**fields)
    assert caught.value.field == field and expected in str(caught.value)


def test_config_errors_name_the_file_the_library_and_the_field(tmp_path):
    entry = oai_library("tv-a", "http://127.0.0.1:1/oai", hours={"mon": "8:00-"})
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, [entry]))
    assert str(caught.value).startswith(f"{tmp_path / 'sources.yaml'}: library 'tv-a', field 'hours': mon: expected")
    entry = oai_library("tv-a", "http://127.0.0.1:1/oai", lat=20.25)
    with pytest.raises(ConfigError, match="library 'tv-a', field 'lon': expected both lat and lon"):
        load_config(write_config(tmp_path, [entry]))
    entry = oai_library("tv-a", "http://127.0.0.1:1/oai", adress="12 Lê Lợi")  # a typo is an unknown field
    with pytest.raises(ConfigError, match="library 'tv-a': unknown field 'adress'"):
        load_config(write_config(tmp_path, [entry]))


def test_the_demo_network_has_a_directory_for_every_library():
    demo = load_config(REPO / "config", sources=REPO / "config" / "demo-sources.yaml").libraries
    assert len(demo) == 6
    for library in demo.values():
        d = library.directory
        assert d.address and d.commune and d.phone and d.located and d.hours, library.id
        assert d.timezone == "Asia/Ho_Chi_Minh"
        assert 19.5 < d.lat < 21 and 105.5 < d.lon < 106.5  # one province
    assert demo["tv-tinh"].directory.tel() == "02293871234"
    assert sum(bool(lib.directory.opac) for lib in demo.values()) >= 3
    bundled = load_config(REPO / "config").libraries["tv-tinh"].directory
    assert bundled.opac and bundled.hours  # sources.yaml's example shows the fields too


# -- the record's id at its library, and the OPAC link -----------------------------------------------------
@pytest.mark.parametrize("record_id, expected", [
    ("tv-tinh:oai:tv-tinh.sonnam.vn:237", "237"),  # Koha over OAI-PMH: the biblionumber
    ("tv-a:KOHA-OAI-TEST:1042", "1042"),
    ("tv-hoa-lu:5120", "5120"),  # Z39.50 / export drop: the 001 or 999$c
    ("tv-yen-mo:oai:tv-yen-mo.sonnam.vn:YM000123", "YM000123"),
    ("dspace:oai:repo.example.vn:123456789/42", "123456789/42"),
    ("thcs-ths:derived:0123456789abcdef", None),  # no id of its own at the library
    ("thcs-ths:derived:42:0123456789abcdef", None),
])
def test_source_id(record_id, expected):
    assert source_id(record_id) == expected


def test_opac_links():
    koha = directory(opac="https://opac.example.vn/cgi-bin/koha/opac-detail.pl?biblionumber={id}")
    assert koha.opac_url("tv-tinh:oai:tv-tinh.sonnam.vn:237") == \
        "https://opac.example.vn/cgi-bin/koha/opac-detail.pl?biblionumber=237"
    assert koha.opac_url("thcs-ths:derived:0123456789abcdef") is None
    assert koha.opac_url("tv-a:oai:x:a b&c") == "https://opac.example.vn/cgi-bin/koha/opac-detail.pl?biblionumber=a%20b%26c"
    assert directory(opac="https://repo.example.vn/handle/{id}").opac_url("d:oai:x:123456789/42") == \
        "https://repo.example.vn/handle/123456789/42"
    assert directory().opac_url("tv-tinh:oai:x:1") is None


# -- distances, communes, the patron's place ---------------------------------------------------------------
def test_haversine_distances():
    hanoi, saigon = (21.0285, 105.8542), (10.8231, 106.6297)
    assert distance_km(*hanoi, *saigon) == pytest.approx(1138, rel=0.01)
    assert distance_km(*hanoi, *hanoi) == 0
    assert distance_km(*hanoi, *saigon) == pytest.approx(distance_km(*saigon, *hanoi))
    assert distance_km(0, 0, 0, 1) == pytest.approx(111.2, rel=0.001)  # a degree along the equator


def test_nearest_first_keeps_the_unlocated_last_and_ties_in_order():
    spots = {"far": (21.0, 105.8), "near": (20.26, 105.97), "none": None, "tie-a": (20.3, 106.0),
             "tie-b": (20.3, 106.0), "none-2": None}
    place = parse_place(None, "20.25", "105.975", {})[0]
    ordered = nearest_first(place, list(spots), spots.get)
    assert [name for name, _ in ordered] == ["near", "tie-a", "tie-b", "far", "none", "none-2"]
    assert ordered[0][1] == pytest.approx(distance_km(20.25, 105.975, 20.26, 105.97))
    assert [km for _, km in ordered[-2:]] == [None, None]


def test_communes_sit_where_their_libraries_are():
    found = communes([directory(commune="Phường Đông Thành", lat=20.0, lon=106.0),
                      directory(commune="Phường Đông Thành", lat=20.2, lon=106.2),
                      directory(commune="Xã Ân Hòa", lat=20.1, lon=106.1),
                      directory(commune="Phường Đinh Tiên Hoàng"),  # no coordinates: cannot be measured from
                      directory(lat=1, lon=1)])
    assert list(found) == ["Phường Đông Thành", "Xã Ân Hòa"]  # folded order: "dong" < "xa"
    assert found["Phường Đông Thành"] == pytest.approx((20.1, 106.1))


def test_the_patron_place():
    known = {"Xã Phát Diệm": (20.0862, 106.0901)}
    assert parse_place("Xã Phát Diệm", "1", "2", known)[0].commune == "Xã Phát Diệm"  # the list wins
    assert parse_place("Xã Nowhere", None, None, known) == (None, "commune")
    place, problem = parse_place(None, "20,25", "105,97", known)  # a decimal comma, as Vietnamese write it
    assert problem is None and (place.lat, place.lon) == (20.25, 105.97) and place.query == {"lat": "20.25", "lon": "105.97"}
    assert parse_place(None, "91", "105", known) == (None, "coordinates")
    assert parse_place(None, "20.25", None, known) == (None, "coordinates")
    assert parse_place(None, "nan", "inf", known) == (None, "coordinates")
    assert parse_place(None, None, None, known) == (None, None)


# -- the map -----------------------------------------------------------------------------------------------
def test_the_map_is_well_formed_svg_with_every_library():
    points = [MapPoint(20.2541, 105.9752, "1", "Thư viện tỉnh <Sơn Nam> & co", "on", "1. Thư viện tỉnh: có sách"),
              MapPoint(20.0862, 106.0901, "2", "Thư viện huyện Kim Sơn", "off", "2. Kim Sơn: không có"),
              MapPoint(20.2459, 105.9668, "3", "Thư viện Trường THPT Lương Văn Tụy", "off", "3. LVT"),
              MapPoint(20.1, 106.0, "", "Bạn", "you", "Vị trí của bạn")]
    svg = etree.fromstring(svg_map(points, "Bản đồ các thư viện có sách này", "Vẽ từ toạ độ").encode())
    assert svg.tag == f"{SVG}svg" and svg.get("role") == "group" and svg.get("aria-labelledby") == "map-title map-desc"
    assert svg.find(f"{SVG}title").text == "Bản đồ các thư viện có sách này"
    width, height = (float(v) for v in svg.get("viewBox").split()[2:])
    groups = svg.findall(f"{SVG}g[@role='img']")
    assert [g.get("aria-label") for g in groups] == [p.description for p in points]
    assert [g.find(f"{SVG}title").text for g in groups] == [p.description for p in points]
    assert [g.get("class") for g in groups] == ["point on", "point off", "point off", "point you"]
    names = [g.find(f"{SVG}text[@class='name']").text for g in groups]
    assert names == [p.name for p in points]  # escaped in the source, the same text once parsed
    spots = []
    for g in groups[:3]:
        circle = g.find(f"{SVG}circle")
        x, y = float(circle.get("cx")), float(circle.get("cy"))
        assert 0 < x < width and 0 < y < height
        spots.append((x, y))
    # north is up and east is right: the provincial library (north-west of Kim Sơn) is up and to the left
    assert spots[0][0] < spots[1][0] and spots[0][1] < spots[1][1]
    # the same scale both ways (equirectangular, a degree of longitude shortened by cos(latitude))
    dx, dy = spots[1][0] - spots[0][0], spots[1][1] - spots[0][1]
    assert dx / dy == pytest.approx((106.0901 - 105.9752) * 0.9385 / (20.2541 - 20.0862), rel=0.02)
    labels = [g.find(f"{SVG}text[@class='name']") for g in groups]
    boxes = [(float(t.get("y")), t.get("text-anchor")) for t in labels]
    assert len(set(boxes)) == len(boxes)


text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(8.0, 23.5), st.floats(102.0, 110.0), text, st.sampled_from(["on", "off", "lib"])),
                min_size=1, max_size=25), text)
def test_any_map_is_well_formed_and_shows_every_library(spots, title):
    points = [MapPoint(lat, lon, str(n), name, state, f"{n}. {name}")
              for n, (lat, lon, name, state) in enumerate(spots, start=1)]
    svg = etree.fromstring(svg_map(points, title).encode())  # escaped whatever the names hold
    assert svg.find(f"{SVG}title").text == title
    groups = svg.findall(f"{SVG}g[@role='img']")
    assert [g.get("aria-label") for g in groups] == [p.description for p in points]
    width, height = (float(v) for v in svg.get("viewBox").split()[2:])
    for group in groups:
        circle = group.find(f"{SVG}circle")
        assert 0 <= float(circle.get("cx")) <= width and 0 <= float(circle.get("cy")) <= height


def test_marks_in_one_place_are_moved_apart_not_hidden():
    points = [MapPoint(20.25, 105.97, "1", "Thư viện xã", "on", "1"), MapPoint(20.25, 105.97, "2", "Tủ sách", "off", "2"),
              MapPoint(20.2501, 105.9701, "3", "Điểm luân chuyển", "lib", "3"), MapPoint(20.25, 105.97, "", "Bạn", "you", "you")]
    svg = etree.fromstring(svg_map(points, "Bản đồ").encode())
    width, height = (float(v) for v in svg.get("viewBox").split()[2:])
    centres = []
    for group in svg.findall(f"{SVG}g[@role='img']"):
        circle = group.find(f"{SVG}circle")
        if circle is not None:
            centres.append((float(circle.get("cx")), float(circle.get("cy"))))
        else:  # the patron's diamond: its first point is the top corner, 11 above the centre
            x, y = group.find(f"{SVG}path").get("d")[1:].split(" L")[0].split()
            centres.append((float(x), float(y) + 11))
    assert len(centres) == 4 and all(0 < x < width and 0 < y < height for x, y in centres)
    assert min(math.dist(a, b) for i, a in enumerate(centres) for b in centres[i + 1:]) >= 35


def test_a_map_of_one_library_or_of_none():
    one = etree.fromstring(svg_map([MapPoint(20.25, 105.97, "1", "Thư viện", "lib", "1. Thư viện")], "Bản đồ").encode())
    circle = one.find(f".//{SVG}circle")
    width, height = (float(v) for v in one.get("viewBox").split()[2:])
    assert float(circle.get("cx")) == pytest.approx(width / 2) and float(circle.get("cy")) == pytest.approx(height / 2)
    assert svg_map([], "Bản đồ") == ""


# -- the pages, over Flask's test client ----------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from tests.browser import build_demo
    from unionapi.app import create_app
    from unionapi.services import Services
    config_dir, providers = build_demo(tmp_path_factory.mktemp("directory"))
    services = Services.open(load_config(config_dir), read_only=True)
    yield create_app(services), services.config
    services.close()
    for provider in providers:
        provider.stop()


def widely_held(client, q="truyen kieu") -> dict:
    hits = client.get("/api/search", query_string={"q": q}).get_json()["hits"]
    return max(hits, key=lambda h: len(h["libraries"]))


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-library="([^"]+)"', html)


def test_each_copy_links_to_the_library_catalogue_and_to_the_librarian(site):
    app, config = site
    client = app.test_client()
    hit = widely_held(client)
    record = client.get(f"/api/records/{hit['id']}").get_json()
    html = client.get(f"/entry/{hit['id']}").get_data(as_text=True)
    rows = re.findall(r'<tr data-library="([^"]+)".*?</tr>', html, re.S)
    assert len(rows) >= 2
    for row in re.findall(r'(<tr data-library="[^"]+".*?</tr>)', html, re.S):
        library = re.search(r'data-library="([^"]+)"', row).group(1)
        d = config.libraries[library].directory
        mine = [m["record_id"] for m in record["members"] if m["library"] == library]
        opac = re.search(r'<a class="opac" href="([^"]+)"', row)
        if d.opac:  # the library's own record, by its number at the library
            assert opac and opac.group(1).replace("&amp;", "&") in {d.opac_url(r) for r in mine}
            assert any(re.search(rf"=({source_id(r)})(&|$)", opac.group(1)) for r in mine)
        else:
            assert opac is None
        mailto = re.search(r'href="(mailto:[^"]+)"', row)
        assert bool(mailto) == bool(d.email)
        if mailto:
            parts = urlsplit(mailto.group(1).replace("&amp;", "&"))
            assert unquote(parts.path) == d.email
            query = parse_qs(parts.query)
            call_number = re.search(r'<td class="cn"[^>]*>([^<]*)</td>', row).group(1).strip()
            assert query["subject"][0].startswith(record["title"])
            if call_number != "—":
                assert query["subject"][0].endswith(call_number.replace("&amp;", "&"))
            assert f"/entry/{hit['id']}" in query["body"][0]
        assert f'href="tel:{d.tel()}"' in row
        assert ("Đang mở cửa" in row) == d.is_open(datetime.now(timezone.utc))


def test_choosing_a_commune_puts_the_nearest_libraries_first(site):
    app, config = site
    client = app.test_client()
    hit = widely_held(client)
    plain = client.get(f"/entry/{hit['id']}").get_data(as_text=True)
    assert '<select id="commune" name="commune"' in plain and "Xã Phát Diệm" in plain
    held = set(rows_of(plain))
    assert len(held) >= 2
    for commune, (lat, lon) in communes(lib.directory for lib in config.libraries.values()).items():
        html = client.get(f"/entry/{hit['id']}", query_string={"commune": commune}).get_data(as_text=True)
        order = list(dict.fromkeys(rows_of(html)))
        distances = [distance_km(lat, lon, config.libraries[i].directory.lat, config.libraries[i].directory.lon)
                     for i in order]
        assert set(order) == held and distances == sorted(distances), commune
        assert f"<option selected>{commune}</option>" in html  # the choice is shown, kept only in the URL
        assert "cách bạn" in html and "Set-Cookie" not in str(client.get(f"/entry/{hit['id']}?commune=x").headers)
    # the library links keep the place, and so does the language switch
    html = client.get(f"/entry/{hit['id']}", query_string={"commune": "Xã Phát Diệm"}).get_data(as_text=True)
    assert "/libraries/tv-tinh?commune=X%C3%A3+Ph%C3%A1t+Di%E1%BB%87m" in html
    bad = client.get(f"/entry/{hit['id']}", query_string={"lat": "95", "lon": "105"})
    assert bad.status_code == 200 and 'role="alert"' in bad.get_data(as_text=True)
    assert rows_of(bad.get_data(as_text=True)) == rows_of(plain)  # nothing reordered on a bad place


def test_the_entry_page_draws_the_holding_libraries(site):
    app, config = site
    client = app.test_client()
    hit = widely_held(client)
    html = client.get(f"/entry/{hit['id']}", query_string={"lat": "20.1", "lon": "106.0"}).get_data(as_text=True)
    svg = etree.fromstring(re.search(r"<svg class=\"map\".*?</svg>", html, re.S).group(0).encode())
    points = svg.findall(f"{SVG}g[@role='img']")
    held = list(dict.fromkeys(rows_of(html)))
    names = [config.libraries[i].name for i in held]
    assert [p.find(f"{SVG}text[@class='name']").text for p in points[:-1]] == names
    assert points[-1].get("class") == "point you"
    for point, library in zip(points, held):
        on = library in {lib["id"] for lib in hit["available_libraries"]}
        assert point.get("class") == ("point on" if on else "point off"), library


def test_the_libraries_pages_show_the_directory(site):
    app, config = site
    client = app.test_client()
    html = client.get("/libraries").get_data(as_text=True)
    assert html.count('<g class="point lib" role="img"') == len(config.libraries)
    assert "Số 2 đường Lê Hồng Phong" in html
    near = client.get("/libraries", query_string={"commune": "Xã Phát Diệm"}).get_data(as_text=True)
    listed = re.findall(r'<a href="/libraries/([a-z0-9-]+)\?commune=', near)
    assert listed[0] == "tv-kim-son" and set(listed) == set(config.libraries)
    d = config.libraries["tv-tinh"].directory
    page = client.get("/libraries/tv-tinh").get_data(as_text=True)
    for text in (d.address, d.phone, f'href="tel:{d.tel()}"', f'href="mailto:{d.email}"', d.website,
                 "7:30–11:30, 13:30–17:00", "02/09 hằng năm", "14/02/2026 – 22/02/2026", 'href="geo:20.2541,105.9752"'):
        assert text in page, text
    now = datetime.now(timezone.utc)
    assert ("Đang mở cửa" if d.is_open(now) else "Đã đóng cửa") in page
    assert '<tr class="today"><th scope="row">' + ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy",
                                                  "Chủ nhật")[d.local_now(now).weekday()] in page
    english = client.get("/libraries/tv-tinh?lang=en").get_data(as_text=True)
    assert "Opening hours" in english and "09-02 every year" in english
    assert "cách bạn" in client.get("/libraries/tv-tinh?commune=Xã+Phát+Diệm&lang=vi").get_data(as_text=True)


def test_the_api_gives_each_library_its_directory(site):
    app, config = site
    libraries = {lib["id"]: lib for lib in app.test_client().get("/api/libraries").get_json()["libraries"]}
    d = config.libraries["tv-tinh"].directory
    shown = libraries["tv-tinh"]["directory"]
    assert (shown["address"], shown["phone"], shown["email"], shown["lat"], shown["lon"]) == (
        d.address, d.phone, d.email, d.lat, d.lon)
    assert shown["hours"]["mon"] == ["7:30-11:30", "13:30-17:00"] and shown["timezone"] == "Asia/Ho_Chi_Minh"
    assert shown["open_now"] == d.is_open(datetime.now(timezone.utc))


def test_minority_language_names():
    from unionapi import i18n
    for code, vietnamese in (("hmn", "Tiếng Mông"), ("tai", "Tày"), ("mkh", "Môn – Khmer"), ("khm", "Khmer"),
                             ("cmc", "Chăm"), ("zha", "Tráng")):
        assert vietnamese in i18n.label(i18n.LANGUAGE_NAMES, "vi", code)
        assert i18n.label(i18n.LANGUAGE_NAMES, "en", code) != code
