"""Real catalogues, end to end (issue 17, points 9, 10, 14, 15): OAI-PMH providers over real sockets ->
`unioncat harvest` -> the API and the pages over HTTP.

A provincial library sends full MARC records; a district library Dublin Core from another system
(entities escaped twice, a corporate body as dc:creator); a school Dublin Core without the oai_dc
prefix, its titles and names in capitals. Each book is one entry showing the provincial library's
title, each author once, and no record is lost.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from xml.sax.saxutils import escape

import pytest

from tests.conftest import REPO, oai_library, write_config
from unionapi.demo.network import ProviderRecord, save_records
from unionapi.demo.provider import start_provider

STAMP = "2024-01-01T00:00:00Z"


def marc(number: int, year: int, fields: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """A MARCXML record as a Koha OAI provider sends it (``fields``: tag, indicators, subfields)."""
    f008 = f"240101s{year}    vm " + " " * 17 + "vie d"
    out = ['<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>',
           f'<controlfield tag="001">{number}</controlfield><controlfield tag="008">{f008}</controlfield>']
    for tag, ind, subfields in fields:
        out.append(f'<datafield tag="{tag}" ind1="{ind[0]}" ind2="{ind[1]}">')
        out += [f'<subfield code="{code}">{escape(value)}</subfield>' for code, value in subfields]
        out.append("</datafield>")
    out.append(f'<datafield tag="952" ind1=" " ind2=" "><subfield code="a">TT</subfield>'
               f'<subfield code="b">TT</subfield><subfield code="p">BC{number}</subfield></datafield></record>')
    return "".join(out)


def oai_dc(elements: list[tuple[str, str]]) -> str:
    """The standard oai_dc payload; values are XML text as the provider wrote it (escaped already)."""
    body = "".join(f"<dc:{name}>{value}</dc:{name}>" for name, value in elements)
    return ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/">{body}</oai_dc:dc>')


def plain_dc(elements: list[tuple[str, str]]) -> str:
    """Dublin Core without the usual prefix: an unprefixed <dc> in the DC elements namespace."""
    body = "".join(f"<{name}>{value}</{name}>" for name, value in elements)
    return f'<dc xmlns="http://purl.org/dc/elements/1.1/">{body}</dc>'


PROVINCE = [
    marc(1, 2015, [("020", "  ", [("a", "9786049690013")]),
                   ("100", "0 ", [("a", "Nguyễn, Du")]),
                   ("245", "10", [("a", "Truyện Kiều /"), ("c", "Nguyễn Du")]),
                   ("260", "  ", [("a", "Hà Nội :"), ("b", "Văn học,"), ("c", "2015")]),
                   ("300", "  ", [("a", "250 tr. ;"), ("c", "21 cm")])]),
    marc(2, 2020, [("110", "2 ", [("a", "Bộ Giáo dục và Đào tạo")]),
                   ("245", "10", [("a", "Tiếng Việt 1 ."), ("n", "Tập một")]),
                   ("260", "  ", [("a", "Hà Nội :"), ("b", "Giáo dục Việt Nam,"), ("c", "2020")])]),
    marc(3, 2010, [("110", "2 ", [("a", "Tỉnh ủy Lào Cai")]),
                   ("245", "10", [("a", "Lịch sử Đảng bộ tỉnh Lào Cai")]),
                   ("260", "  ", [("a", "Lào Cai,"), ("c", "2010")])]),
]
DISTRICT = [
    oai_dc([("title", "Truyện Kiều"), ("creator", "Nguyễn Du"), ("publisher", "Văn học"), ("date", "2015"),
            ("language", "Ti&amp;#7871;ng Vi&amp;#7879;t"), ("type", "Text")]),
    oai_dc([("title", "Lịch sử Đảng bộ tỉnh Lào Cai"), ("creator", "Tỉnh uỷ Lào Cai"), ("date", "2010"),
            ("language", "vie")]),
    oai_dc([("title", "Nhà giả kim"), ("creator", "Coelho, Paulo"), ("contributor", "Lê Chu Cầu"),
            ("publisher", "Hội Nhà văn &amp;amp; Nhã Nam"), ("date", "2019"), ("language", "vie")]),
]
SCHOOL = [
    plain_dc([("title", "TRUYỆN KIỀU"), ("creator", "NGUYỄN DU"), ("date", "2015"), ("language", "vie")]),
    plain_dc([("title", "TIẾNG VIỆT 1. TẬP MỘT"), ("creator", "BỘ GIÁO DỤC VÀ ĐÀO TẠO"), ("date", "2020"),
              ("language", "vie")]),
]


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    providers, libraries = [], []
    for library_id, kind, prefix, payloads in (("tv-tinh", "provincial", "marc21", PROVINCE),
                                               ("tv-huyen", "district", "oai_dc", DISTRICT),
                                               ("thpt-a", "school", "oai_dc", SCHOOL)):
        path = folder / f"{library_id}.jsonl"
        save_records(path, [ProviderRecord(f"oai:{library_id}:{n}", STAMP, False, [], {prefix: xml})
                            for n, xml in enumerate(payloads, start=1)])
        provider = start_provider(path, port=0, page_size=2, formats=prefix)
        providers.append(provider)
        libraries.append(oai_library(library_id, provider.url, prefix, kind=kind,
                                     **({} if kind == "provincial" else {"parent": "tv-tinh"})))
    config_dir = write_config(folder / "config", libraries)
    run = subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "harvest"], cwd=REPO,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    yield config_dir
    for provider in providers:
        provider.stop()


def only_hit(server, q: str) -> dict:
    hits = server.get("/api/search", q=q).json()["hits"]
    assert len(hits) == 1, [(h["title"], [lib["id"] for lib in h["libraries"]]) for h in hits]
    return hits[0]


def test_no_record_lost_and_every_copy_in_one_entry(network, api_server):
    server = api_server(network)
    counts = {lib["id"]: lib["record_count"] for lib in server.get("/api/libraries").json()["libraries"]}
    assert counts == {"tv-tinh": 3, "tv-huyen": 3, "thpt-a": 2}  # the unprefixed Dublin Core is read too
    kieu = only_hit(server, "truyen kieu")
    assert {lib["id"] for lib in kieu["libraries"]} == {"tv-tinh", "tv-huyen", "thpt-a"}
    # the body named in Dublin Core is the body in MARC 110, whatever the tone placement
    history = only_hit(server, "lich su dang bo lao cai")
    assert {lib["id"] for lib in history["libraries"]} == {"tv-tinh", "tv-huyen"}
    assert history["authors"] == ["Tỉnh ủy Lào Cai"]
    volume = only_hit(server, "tieng viet 1")
    assert {lib["id"] for lib in volume["libraries"]} == {"tv-tinh", "thpt-a"}


def test_an_entry_shows_the_well_catalogued_record_once(network, api_server):
    server = api_server(network)
    kieu = only_hit(server, "nguyen du")
    # the province's title, not the school's capitals; Nguyễn Du once, not also as "Nguyễn, Du" or "NGUYỄN DU"
    assert kieu["title"] == "Truyện Kiều" and kieu["authors"] == ["Nguyễn Du"]
    entry = server.get(f"/api/entries/{kieu['id']}").json()
    assert entry["title"] == "Truyện Kiều" and entry["authors"] == ["Nguyễn Du"]
    assert entry["publisher"] == "Văn học" and entry["year"] == 2015
    page = server.get(f"/entry/{kieu['id']}").text
    assert "<h1>Truyện Kiều</h1>" in page
    assert re.search(r'<p class="lead">([^<]*)</p>', page).group(1) == "Nguyễn Du"
    # a volume reads as a title, not with the ISBD punctuation left in
    volume = only_hit(server, "tieng viet tap mot")
    assert volume["title"] == "Tiếng Việt 1. Tập một"
    assert volume["authors"] == ["Bộ Giáo dục và Đào tạo"]
    page = server.get(f"/entry/{volume['id']}").text
    assert "<h1>Tiếng Việt 1. Tập một</h1>" in page and " . " not in page


def test_entities_escaped_twice_are_read_once(network, api_server):
    server = api_server(network)
    book = only_hit(server, "nha gia kim")
    assert book["publisher"] == "Hội Nhà văn & Nhã Nam"
    assert book["languages"] == ["vie"]
    page = server.get(f"/entry/{book['id']}").text
    assert "&amp;amp;" not in page and "Hội Nhà văn &amp; Nhã Nam" in page  # one level of HTML escaping, no more
    kieu = server.get(f"/api/entries/{only_hit(server, 'truyen kieu')['id']}").json()
    district = next(m for m in kieu["members"] if m["library"] == "tv-huyen")
    assert district["languages"] == ["vie"]  # "Ti&#7871;ng Vi&#7879;t" read as Tiếng Việt
