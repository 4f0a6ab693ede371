"""One bad record must not stop the network (issue 17.1, 17.8).

A "199²" in 008 (str.isdigit() accepts "²", int() does not) used to raise ValueError in the normalizer;
the pipeline caught only RejectedRecord, so every harvest, `index` and `index --rebuild` stopped at that
record. Now: the record is read (its year from 260), any other normalizer failure rejects only its own
record with a readable reason, and authority / holdings records are rejected as "not a title".
"""
from __future__ import annotations

import logging
import os
import time
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import load_config
from harvester.rawstore import RawStore
from normalizer import normalize
from normalizer.records import CanonicalRecord, RejectedRecord, SourceContext
from tests.conftest import THIRD_PARTY, write_config
from unionapi import pipeline
from unionapi.catalogue import Catalogue
from unionapi.search import SearchRequest
from unionapi.services import Services

pytestmark = pytest.mark.filterwarnings("ignore:The subfield contained")  # pymarc, on hostile subfield codes
CTX = SourceContext(library="tv-xa", record_id="tv-xa:1", branch_map={"TT": "Trụ sở chính"})
LEADER = "00000nam a2200000 a 4500"
F008 = "200101s2019    vm            000 0 vie d"


def iso2709(leader: str, fields: list[tuple]) -> bytes:
    """UTF-8 ISO2709 (leader/09 forced "a"); ``fields``: (tag, text) or (tag, ind1, ind2, [(code, text)])."""
    bodies = []
    for f in fields:
        if len(f) == 2:
            bodies.append(f[1].encode("utf-8") + b"\x1e")
        else:
            bodies.append((f[1] + f[2]).encode("utf-8") + b"".join(b"\x1f" + c.encode("utf-8") + v.encode("utf-8")
                                                                 for c, v in f[3]) + b"\x1e")
    directory, offset = b"", 0
    for f, body in zip(fields, bodies):
        directory += f[0].encode("utf-8")[:3].ljust(3) + b"%04d%05d" % (len(body), offset)
        offset += len(body)
    directory += b"\x1e"
    base = 24 + len(directory)
    head = leader.encode("utf-8")
    head = (b"%05d" % (base + offset + 1) + head[5:9] + b"a" + head[10:12] + b"%05d" % base + head[17:])
    return head + directory + b"".join(bodies) + b"\x1d"


def marcxml(leader: str, fields: list[tuple]) -> bytes:
    out = [f"<leader>{escape(leader)}</leader>"]
    for f in fields:
        if len(f) == 2:
            out.append(f"<controlfield tag={quoteattr(f[0])}>{escape(f[1])}</controlfield>")
        else:
            subs = "".join(f"<subfield code={quoteattr(c)}>{escape(v)}</subfield>" for c, v in f[3])
            out.append(f"<datafield tag={quoteattr(f[0])} ind1={quoteattr(f[1])} ind2={quoteattr(f[2])}>{subs}</datafield>")
    return ('<record xmlns="http://www.loc.gov/MARC21/slim">' + "".join(out) + "</record>").encode("utf-8")


def book(number: str, title: str, f008: str = F008, ind2: str = "0") -> list[tuple]:
    return [("001", number), ("008", f008), ("020", " ", " ", [("a", "9786041234567")]),
            ("100", "1", " ", [("a", "Nguyễn Nhật Ánh")]),
            ("245", "1", ind2, [("a", title)]), ("260", " ", " ", [("a", "Hà Nội :"), ("b", "Trẻ,"), ("c", "1998.")]),
            ("952", " ", " ", [("a", "TT"), ("b", "TT"), ("p", f"B{number}")])]


def file_library(library_id: str, folder) -> dict:
    return {"id": library_id, "name": f"Thư viện {library_id}", "kind": "commune", "protocol": "file",
            "path": str(folder), "settle_s": 0}


# --- the records -------------------------------------------------------------------------

def test_unicode_digits_in_008_and_indicators_no_longer_stop_any_library(tmp_path):
    """"199²" in 008/07-10 (ISO2709) and a 245 non-filing indicator "²" (MARCXML): both records are
    catalogued (year from 260), the clean library beside them too, and `index --rebuild` runs through."""
    poisoned, clean = tmp_path / "xa-a", tmp_path / "xa-b"
    poisoned.mkdir(), clean.mkdir()
    (poisoned / "export.mrc").write_bytes(iso2709(LEADER, book("1", "Mắt biếc", f008="200101s199²    vm     ")))
    (poisoned / "export.xml").write_bytes(marcxml(LEADER, book("2", "Cho tôi xin một vé đi tuổi thơ", ind2="²")))
    (clean / "export.xml").write_bytes(marcxml(LEADER, book("3", "Tôi thấy hoa vàng trên cỏ xanh")))
    past = time.time() - 60
    for path in tmp_path.rglob("*"):
        os.utime(path, (past, past))
    config = load_config(write_config(tmp_path / "config", [file_library("xa-a", poisoned),
                                                            file_library("xa-b", clean)]))
    services = Services.open(config)
    try:
        assert pipeline.harvest_and_update(services, list(config.libraries.values())) == []
        pipeline.update_catalogue(services, rebuild=True)  # `unioncat index --rebuild`
        records = {r.title: r for _, r in services.catalogue.newest("xa-a")}
        assert services.catalogue.rejected() == []
        assert set(records) == {"Mắt biếc", "Cho tôi xin một vé đi tuổi thơ"}
        assert records["Mắt biếc"].year == 1998 and records["Cho tôi xin một vé đi tuổi thơ"].year == 2019
        assert records["Cho tôi xin một vé đi tuổi thơ"].title_sort == "Cho tôi xin một vé đi tuổi thơ"
        assert services.engine.search(SearchRequest(q="mat biec")).total == 1
        assert services.engine.search(SearchRequest(library=["xa-b"])).total == 1
    finally:
        services.close()


# --- any other normalizer failure: that record is rejected, the run goes on ------------------------

def _raw_store(tmp_path, bodies: list[tuple[str, str, bytes]]) -> RawStore:
    raw = RawStore(tmp_path / "raw.sqlite3")
    raw.store_page("xa-a", [{"identifier": identifier, "datestamp": "2026-11-23T00:00:00Z", "deleted": False,
                             "sets": [], "format": fmt, "body": body} for identifier, fmt, body in bodies], None)
    return raw


@pytest.mark.parametrize("workers", [1, 2])
def test_a_normalizer_failure_rejects_its_record_only_and_is_logged_once(tmp_path, monkeypatch, caplog, workers):
    """A format the normalizer raises ValueError on (not RejectedRecord), in this process and in worker
    processes: each such record is rejected with a reason a person can read, the traceback is logged once
    for all of them, and every other record is catalogued."""
    good = [(f"ok-{n}", "marcxml", marcxml(LEADER, book(str(n), f"Truyện số {n}"))) for n in range(40)]
    bad = [(f"bad-{n}", "marc-in-json", b'{"leader": "..."}') for n in range(3)]
    config = load_config(write_config(tmp_path / "config", [file_library("xa-a", tmp_path)]))
    raw = _raw_store(tmp_path, good[:10] + bad[:1] + good[10:30] + bad[1:] + good[30:])
    if workers > 1:
        monkeypatch.setattr(pipeline, "PARALLEL_FROM", 0)
    monkeypatch.setattr(pipeline, "BATCH", 10)  # the failures fall in different batches
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    with caplog.at_level(logging.ERROR, logger="unioncat.pipeline"):
        report = pipeline.normalize_changes(config, raw, catalogue, workers=workers)
    assert (report.normalized, report.rejected) == (40, 3)
    rejected = catalogue.rejected("xa-a")
    assert sorted(r["record_id"] for r in rejected) == ["xa-a:bad-0", "xa-a:bad-1", "xa-a:bad-2"]
    for r in rejected:
        assert r["reason"].startswith("the normalizer failed on this record (ValueError: unknown format 'marc-in-json'")
        assert r["reason"].endswith("please report it")
    tracebacks = [r for r in caplog.records if "Traceback" in r.getMessage()]
    assert len(tracebacks) == 1 and "xa-a:bad-0" in tracebacks[0].getMessage()


def test_a_bug_in_one_field_rejects_that_record_not_the_batch(tmp_path, monkeypatch, caplog):
    """The 1.x bug class itself: an exception deep inside extraction (here: the year parser, as with "199²")."""
    from normalizer import extract
    real = extract.best_year

    def broken(f008, texts):
        if f008 and "²" in f008:
            return int(f008[7:11]), "exact"  # what from_008 did
        return real(f008, texts)

    monkeypatch.setattr(extract, "best_year", broken)
    records = [("1", "iso2709", iso2709(LEADER, book("1", "Mắt biếc", f008="200101s199²    vm     "))),
               ("2", "marcxml", marcxml(LEADER, book("2", "Kính vạn hoa")))]
    config = load_config(write_config(tmp_path / "config", [file_library("xa-a", tmp_path)]))
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    with caplog.at_level(logging.ERROR, logger="unioncat.pipeline"):
        report = pipeline.normalize_changes(config, _raw_store(tmp_path, records), catalogue, workers=1)
    assert (report.normalized, report.rejected) == (1, 1)
    [rejection] = catalogue.rejected()
    assert "(ValueError: invalid literal for int() with base 10: '199²'); please report it" in rejection["reason"]
    assert any("Traceback" in r.getMessage() and "best_year" in r.getMessage() for r in caplog.records)


# --- the normalizer itself: a record or a reason, never anything else ------------------------------

BASE = [("001", "VN-001"), ("008", F008), ("020", " ", " ", [("a", "978-604-1-00000-0 (bìa mềm) : 45000đ")]),
        ("041", "0", " ", [("a", "vieeng")]), ("100", "1", " ", [("a", "Tô Hoài,"), ("d", "1920-2014")]),
        ("245", "1", "0", [("a", "Dế Mèn phiêu lưu ký /"), ("c", "Tô Hoài")]),
        ("260", " ", " ", [("a", "Hà Nội :"), ("b", "Kim Đồng,"), ("c", "[2019?]")]), ("300", " ", " ", [("a", "143 tr.")]),
        ("650", " ", "7", [("a", "Văn học thiếu nhi"), ("z", "Việt Nam")]),
        ("852", " ", " ", [("8", "1"), ("b", "TT"), ("j", "895.922 TO-H")]), ("876", " ", " ", [("8", "1.1"), ("p", "B1")]),
        ("952", " ", " ", [("a", "TT"), ("p", "B2"), ("q", "2026-12-01")])]
ANY = st.characters(codec="utf-8", exclude_categories=("Cs",))
XML_SAFE = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))


@st.composite
def hostile(draw, chars):
    """BASE with arbitrary characters in the leader, 008, indicators, subfield codes and values."""
    leader = list(LEADER)
    for _ in range(draw(st.integers(0, 4))):
        leader[draw(st.integers(0, 23))] = draw(chars)
    fields = [list(f) if len(f) == 2 else [f[0], f[1], f[2], list(f[3])] for f in BASE]
    for _ in range(draw(st.integers(1, 8))):
        f = draw(st.sampled_from(fields))
        kind = draw(st.sampled_from(["008", "ind1", "ind2", "code", "value", "digits"]))
        if len(f) == 2:
            at = draw(st.integers(0, 40))
            f[1] = f[1][:at] + draw(st.text(chars, max_size=6)) + f[1][at + 2:]
        elif kind in ("ind1", "ind2"):
            f[1 if kind == "ind1" else 2] = draw(chars | st.sampled_from("²³¹٣"))
        else:
            at = draw(st.integers(0, len(f[3]) - 1))
            code, value = f[3][at]
            if kind == "code":
                code = draw(chars)
            elif kind == "digits":  # digits of other scripts, superscripts, fractions where numbers are read
                value = draw(st.text(st.sampled_from("0123456789²³¹¼½٣٤٥۷߁०१३৪๒໓༢၃៤᠖₂⁵①⑳Ⅻ〇十"), min_size=1, max_size=9))
            else:
                value = draw(st.text(chars, max_size=30))
            f[3][at] = (code, value)
    if draw(st.booleans()):  # dates and codes in 008 made of anything that looks like a digit
        fields[1][1] = draw(st.text(st.sampled_from("0123456789²³¹u|-?x ٣٤"), min_size=11, max_size=40))
    return "".join(leader), [tuple(f) for f in fields]


def _record_or_reason(body: bytes, fmt: str) -> None:
    try:
        rec = normalize(body, fmt, CTX)
    except RejectedRecord as exc:
        assert exc.reason.strip()
    else:
        assert isinstance(rec, CanonicalRecord)
        assert rec.year is None or 1000 <= rec.year <= 2100


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile(XML_SAFE))
def test_hostile_marcxml_gives_a_record_or_a_reason(record):
    _record_or_reason(marcxml(*record), "marcxml")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile(ANY))
def test_hostile_iso2709_gives_a_record_or_a_reason(record):
    _record_or_reason(iso2709(*record), "iso2709")


def test_huge_numbers_where_numbers_are_read():
    """int() refuses strings of more than 4,300 digits: pages, editions and volume numbers are not int()ed blindly."""
    fields = [f if f[0] not in ("300", "250", "245") else (f[0], f[1], f[2], [("a", "9" * 5000 + " tr.")]) for f in BASE]
    fields.append(("250", " ", " ", [("a", "Tái bản lần thứ " + "7" * 5000)]))
    for fmt, body in (("marcxml", marcxml(LEADER, fields)), ("iso2709", iso2709(LEADER, fields))):
        rec = normalize(body, fmt, CTX)
        assert rec.pages is None and rec.title.startswith("9999")


# --- records that are not titles (17.8) ----------------------------------------------------------

AUTHORITY = [("001", "n79021164"), ("008", "800108n| acannaabn          |a aaa      "),
             ("100", "1", " ", [("a", "Nguyễn, Du,"), ("d", "1765-1820")]), ("400", "1", " ", [("a", "Tố Như")])]


@pytest.mark.parametrize("code,what", [("z", "an authority record"), ("w", "a classification record"),
                                       ("q", "a community information record"), ("u", "a holdings record"),
                                       ("v", "a holdings record"), ("y", "a holdings record")])
def test_records_that_are_not_titles_are_rejected_with_what_they_are(code, what):
    leader = LEADER[:6] + code + LEADER[7:]
    for fmt, body in (("marcxml", marcxml(leader, AUTHORITY)), ("iso2709", iso2709(leader, AUTHORITY))):
        with pytest.raises(RejectedRecord) as caught:
            normalize(body, fmt, CTX)
        assert what in caught.value.reason and "not a title" in caught.value.reason


def test_real_holdings_records_are_rejected_and_say_which_record_holds_the_copies():
    """marc4j's sample1.mrc: four MARC 21 holdings records (leader/06 x, an 852 and a 004 link) between bibs."""
    data = (THIRD_PARTY / "marc4j" / "sample1.mrc").read_bytes()
    outcomes = []
    for chunk in data.split(b"\x1d")[:-1]:
        try:
            outcomes.append(normalize(chunk + b"\x1d", "iso2709", CTX).title)
        except RejectedRecord as exc:
            outcomes.append(exc.reason)
    holdings = [o for o in outcomes if "not a title" in o]
    assert len(outcomes) == 8 and len(holdings) == 4
    assert holdings[0] == ("a holdings record (single-part item) (leader/06 'x'), not a title: the union catalogue "
                           "takes bibliographic records only; its copies belong to bibliographic record '370589' (004)")


def test_a_bibliographic_record_with_a_holdings_leader_is_kept():
    """Open Library's lesabndioeinas00sche: leader/06 "x" but a full bibliographic record with a title."""
    rec = normalize((THIRD_PARTY / "openlibrary" / "xml_input" / "lesabndioeinas00sche_marc.xml").read_bytes(),
                    "marcxml", CTX)
    assert rec.title.startswith("Lesabéndio")
    assert "leader/06 'x' says a holdings record (single-part item), but the record has a title (245): read as a " \
           "bibliographic record" in rec.notes


def test_an_authority_record_in_an_export_is_listed_as_rejected(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "export.mrc").write_bytes(iso2709(LEADER, book("1", "Truyện Kiều"))
                                      + iso2709(LEADER[:6] + "z" + LEADER[7:], AUTHORITY))
    past = time.time() - 60
    os.utime(drop / "export.mrc", (past, past))
    config = load_config(write_config(tmp_path / "config", [file_library("xa-a", drop)]))
    services = Services.open(config)
    try:
        assert pipeline.harvest_and_update(services, list(config.libraries.values())) == []
        [rejected] = services.catalogue.rejected("xa-a")
        assert rejected["reason"].startswith("an authority record (a name or subject heading) (leader/06 'z'), not a title")
        assert [r.title for _, r in services.catalogue.newest("xa-a")] == ["Truyện Kiều"]
    finally:
        services.close()
