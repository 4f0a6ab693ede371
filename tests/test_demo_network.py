"""The demo network generator: deterministic, big enough, and as messy as real catalogues."""
import collections
import re
import time
import unicodedata

import pytest
from lxml import etree

from normalizer.ids import valid_isbn13
from unionapi.demo.network import (
    DEMO_LIBRARIES, DEMO_SEED, LIBRARY_BY_ID, generate_network, load_records, save_records, work_keys)

M = {"m": "http://www.loc.gov/MARC21/slim"}
DC = {"dc": "http://purl.org/dc/elements/1.1/"}


@pytest.fixture(scope="module")
def network():
    start = time.perf_counter()
    net = generate_network()
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"generation took {elapsed:.1f} s"
    return net


def nfc(s):
    return unicodedata.normalize("NFC", s)


def marc(rec):
    return etree.fromstring(rec.metadata["marc21"].encode())


def sub(field, code):
    return [s.text for s in field.findall(f"m:subfield[@code='{code}']", M)]


def titles(records):
    """NFC titles per record, from 245 $a or dc:title, without ISBD punctuation."""
    out = []
    for rec in records:
        if rec.deleted:
            continue
        if "oai_dc" in rec.metadata:
            title = etree.fromstring(rec.metadata["oai_dc"].encode()).findtext("dc:title", namespaces=DC)
        else:
            title = " ".join(sub(marc(rec).find("m:datafield[@tag='245']", M), "a"))
        out.append(nfc(re.split(r" [:/]", title)[0]).strip())
    return out


def test_same_seed_gives_byte_identical_files(tmp_path):
    a, b = generate_network(DEMO_SEED, 800), generate_network(DEMO_SEED, 800)
    for lib in a:
        save_records(tmp_path / f"a-{lib}.jsonl", a[lib])
        save_records(tmp_path / f"b-{lib}.jsonl", b[lib])
        assert (tmp_path / f"a-{lib}.jsonl").read_bytes() == (tmp_path / f"b-{lib}.jsonl").read_bytes()
    other = generate_network(DEMO_SEED + 1, 800)
    assert [r.metadata for r in other["tv-tinh"]] != [r.metadata for r in a["tv-tinh"]]


def test_save_and_load_round_trip(tmp_path, network):
    path = tmp_path / "yen-mo.jsonl"
    save_records(path, network["tv-yen-mo"])
    assert load_records(path) == network["tv-yen-mo"]


def test_size_and_shares(network):
    counts = {lib: len(recs) for lib, recs in network.items()}
    assert sum(counts.values()) >= 5000
    assert list(counts) == [lib["id"] for lib in DEMO_LIBRARIES]
    assert counts["tv-tinh"] > counts["tv-kim-son"] > counts["tv-yen-mo"] > counts["thpt-lvt"]
    assert counts["tv-hoa-lu"] > counts["thcs-ths"] > 0
    assert 0.4 < counts["tv-tinh"] / sum(counts.values()) < 0.55


def test_identifiers_datestamps_and_deletions(network):
    for lib, recs in network.items():
        ids = [r.identifier for r in recs]
        assert len(ids) == len(set(ids))
        repo = LIBRARY_BY_ID[lib]["repository"]
        assert all(i.startswith(f"oai:{repo}:") for i in ids)
        for r in recs:
            assert re.fullmatch(r"2026-1[01]-\d\dT\d\d:\d\d:\d\dZ", r.datestamp)
            assert (r.metadata == {}) == r.deleted
    assert sum(r.deleted for r in network["tv-tinh"]) >= 5
    assert sum(r.deleted for r in network["tv-yen-mo"]) >= 3
    assert not any(r.deleted for r in network["thpt-lvt"])


def test_formats_per_library(network):
    for lib in DEMO_LIBRARIES:
        for rec in network[lib["id"]]:
            if not rec.deleted:
                assert sorted(rec.metadata) == sorted(lib["formats"]), rec.identifier


def test_marc_is_well_formed_marcxml(network):
    for lib in ("tv-tinh", "tv-kim-son"):
        branches = LIBRARY_BY_ID[lib]["branch_map"]
        for rec in network[lib]:
            if rec.deleted:
                continue
            root = marc(rec)
            assert root.tag == "{http://www.loc.gov/MARC21/slim}record"
            leader = root.findtext("m:leader", namespaces=M)
            assert len(leader) == 24 and leader[5:10] in ("nam a", "cam a")
            assert len(root.findtext("m:controlfield[@tag='008']", namespaces=M)) == 40
            assert root.findtext("m:controlfield[@tag='001']", namespaces=M) == rec.identifier.rsplit(":", 1)[1]
            stamp = root.findtext("m:controlfield[@tag='005']", namespaces=M)
            assert stamp == re.sub(r"\D", "", rec.datestamp) + ".0"
            assert len(root.findall("m:datafield[@tag='245']", M)) == 1
            items = root.findall("m:datafield[@tag='952']", M)
            assert 1 <= len(items) <= 4
            for item in items:
                assert sub(item, "a")[0] in branches and sub(item, "b")[0] in branches
                assert sub(item, "o") and sub(item, "p") and sub(item, "y")


def test_item_statuses_are_realistic(network):
    status = collections.Counter()
    for rec in network["tv-tinh"]:
        if rec.deleted:
            continue
        for item in marc(rec).findall("m:datafield[@tag='952']", M):
            if sub(item, "q"):
                assert re.fullmatch(r"2026-1[12]-\d\d", sub(item, "q")[0])
                status["loan"] += 1
            for code in "0147":
                if sub(item, code)[0] != "0":
                    status[code] += 1
            status["all"] += 1
    assert 0.12 < status["loan"] / status["all"] < 0.3
    assert all(status[c] > 0 for c in "0147")
    assert 0.6 < 1 - sum(status[k] for k in ("loan", "0", "1", "4", "7")) / status["all"] < 0.8


def test_name_headings_and_filing_indicators(network):
    headings = {}
    nonfiling = {}
    for rec in network["tv-tinh"]:
        if rec.deleted:
            continue
        root = marc(rec)
        for f in root.findall("m:datafield[@tag='100']", M):
            headings[sub(f, "a")[0]] = f.get("ind1")
        f245 = root.find("m:datafield[@tag='245']", M)
        nonfiling[sub(f245, "a")[0]] = f245.get("ind2")
    assert headings["Nguyễn Du"] == "0" and headings["Tô Hoài"] == "0"
    assert headings["Hugo, Victor"] == "1"
    english = {t: ind for t, ind in nonfiling.items() if t.startswith(("The ", "A ", "An "))}
    assert english and all(ind == str(t.index(" ") + 1) for t, ind in english.items())
    assert all(ind == "0" for t, ind in nonfiling.items() if t not in english)


def test_classics_are_held_everywhere_and_many_works_overlap(network):
    for lib, recs in network.items():
        held = set(titles(recs))
        assert {"Truyện Kiều", "Dế Mèn phiêu lưu ký", "Số đỏ", "Chí Phèo"} <= held, lib
    truth = work_keys()
    holders = collections.defaultdict(set)
    for lib, ids in truth.items():
        for work in ids.values():
            holders[work].add(lib)
    by_count = collections.Counter(len(libs) for libs in holders.values())
    assert by_count[6] >= 40 and by_count[3] >= 100 and by_count[2] >= 500


def test_near_identical_titles_are_different_books(network):
    held = set(titles(network["tv-tinh"]))
    assert {"Chuyện con dế", "Chuyện con dê"} <= held


def test_libraries_catalogue_differently(network):
    def all_text(lib):
        return "\n".join(x for r in network[lib] for x in r.metadata.values())

    yen_mo = network["tv-yen-mo"]
    nfd = [r for r in yen_mo if not r.deleted and nfc(r.metadata["oai_dc"]) != r.metadata["oai_dc"]]
    assert len(nfd) > len(yen_mo) // 3
    assert all(nfc(x) == x for r in network["tv-tinh"] for x in r.metadata.values())
    kim_son = all_text("tv-kim-son")
    assert "<subfield code=\"b\">Kim Đồng,</subfield>" in kim_son  # no "Nxb."
    assert re.search(r"<subfield code=\"a\">Nguyễn, [^<]+</subfield>", kim_son)  # comma habit
    assert "NXB Kim Đồng" in all_text("thpt-lvt")
    assert "hoà" in nfc(all_text("thpt-lvt")) or "Hoà" in nfc(all_text("thpt-lvt"))
    assert "Tái bản lần thứ" in all_text("tv-tinh")


def test_isbns_are_valid(network):
    seen13 = seen10 = 0
    for recs in network.values():
        for rec in recs:
            if rec.deleted:
                continue
            if "marc21" in rec.metadata:
                values = [s for f in marc(rec).findall("m:datafield[@tag='020']", M) for s in sub(f, "a")]
            else:
                dc = etree.fromstring(rec.metadata["oai_dc"].encode())
                values = [v.text.removeprefix("ISBN ") for v in dc.findall("dc:identifier", DC)]
            for value in values:
                digits = value.replace("-", "")
                if len(digits) == 13:
                    assert valid_isbn13(digits), (rec.identifier, value)
                    seen13 += 1
                else:
                    assert len(digits) == 10
                    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
                    assert total % 11 == 0, (rec.identifier, value)
                    seen10 += 1
    assert seen13 > 1500 and seen10 > 20
    vietnamese = [v for recs in network.values() for r in recs for v in r.metadata.values() if "978-604-" in v]
    assert vietnamese


def test_simulate_changes_moves_datestamps_and_deletes(network):
    from unionapi.demo.network import simulate_changes

    before = network["tv-tinh"]
    snapshot = [r.metadata for r in before]
    after = simulate_changes(before, when="2026-11-24T01:00:00Z", changed=0.02, deleted=3)
    assert simulate_changes(before, when="2026-11-24T01:00:00Z", changed=0.02, deleted=3) == after
    assert [r.metadata for r in before] == snapshot  # input untouched
    assert [r.identifier for r in after] == [r.identifier for r in before]
    moved = [(b, a) for b, a in zip(before, after) if a != b]
    assert all(a.datestamp >= "2026-11-24T01:00:00Z" for _, a in moved)
    assert sum(a.deleted and not b.deleted for b, a in moved) == 3
    live = [(b, a) for b, a in moved if not a.deleted]
    assert len(live) == round(sum(not r.deleted for r in before) * 0.02)
    for b, a in live:
        old, new = marc(b), marc(a)
        loans = lambda root: len(root.findall("m:datafield[@tag='952']/m:subfield[@code='q']", M))  # noqa: E731
        assert abs(loans(new) - loans(old)) == 1
        assert new.findtext("m:controlfield[@tag='005']", namespaces=M) == re.sub(r"\D", "", a.datestamp) + ".0"


def test_leader_length_matches_iso2709(network):
    """Even for NFD records, the leader's length is what pymarc writes as ISO 2709."""
    import io

    import pymarc

    for rec in network["tv-kim-son"]:
        record = pymarc.parse_xml_to_array(io.BytesIO(rec.metadata["marc21"].encode()))[0]
        declared = str(record.leader)
        raw = record.as_marc()
        assert (raw[:5].decode(), raw[12:17].decode()) == (declared[:5], declared[12:17]), rec.identifier


def test_the_network_at_scale_is_every_library_with_its_next_day(tmp_path):
    """bench/network.py's network, small: OAI records and exports for 231 libraries, and the changes."""
    import json

    import pymarc

    from unionapi.demo.scaled_network import generate, layout

    manifest = generate(tmp_path / "gen", 2000, DEMO_SEED, workers=1)
    libs = layout(2000, DEMO_SEED)
    assert len(libs) == 231 and manifest["records"] == sum(lib.quota for lib in libs) == 2000
    assert (manifest["changed"], manifest["deleted"]) == (20, 2)
    assert sum(s["changed"] for s in manifest["libraries"].values()) == 20
    held = 0
    for lib in libs:
        if lib.protocol == "oai":
            lines = (tmp_path / "gen" / "oai" / f"{lib.id}.jsonl").read_text("utf-8").splitlines()
            records = [json.loads(line)["metadata"]["marc21"] for line in lines]
            assert all(marc.startswith("<record") for marc in records)
        else:
            with open(tmp_path / "gen" / "drops" / f"{lib.id}.mrc", "rb") as f:
                records = list(pymarc.MARCReader(f, to_unicode=True))
            assert all(record is not None and record["852"] for record in records)
        held += len(records)
    assert held == 2000
    again = generate(tmp_path / "again", 2000, DEMO_SEED, workers=2)
    assert again["libraries"] == manifest["libraries"]
    for path in (tmp_path / "gen").rglob("*"):
        if path.is_file() and path.name != "manifest.json":
            assert path.read_bytes() == (tmp_path / "again" / path.relative_to(tmp_path / "gen")).read_bytes()
