"""Poison: every real MARC file we have, plus mutated copies of real records, through the real pipeline.

One library drops the whole third-party MARC corpus and hypothesis-mutated records (leader, 008,
indicators, subfield codes, text with arbitrary Unicode, raw bytes) into its export folder; a second
library drops clean records beside it. Whatever the first one sends: nothing crashes, every record it
sent is in the catalogue or rejected/quarantined with a reason, `unioncat check` adds up, and the
second library is fully indexed.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pymarc
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from lxml import etree

from config import load_config
from tests.conftest import THIRD_PARTY, reconcile, write_config
from unionapi.demo.network import generate_network
from unionapi.pipeline import harvest_and_update
from unionapi.search import SearchRequest
from unionapi.services import Services

MARC_ORIGINS = ("pymarc", "openlibrary", "recordmanager", "traject", "marc4j", "aleph")
EXPORT_SUFFIXES = (".mrc", ".iso", ".marc", ".dat", ".xml")
CLEAN = [r for r in generate_network(total_records=120)["tv-tinh"] if not r.deleted]


def corpus_files() -> list[Path]:
    return sorted(p for origin in MARC_ORIGINS for p in (THIRD_PARTY / origin).rglob("*")
                  if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES)


def base_records() -> list[pymarc.Record]:
    """Real records to mutate: whatever pymarc itself can read from the corpus's ISO2709 files."""
    found = []
    for path in corpus_files():
        if path.suffix.lower() == ".xml":
            continue
        reader = pymarc.MARCReader(path.read_bytes(), to_unicode=True, force_utf8=True, permissive=True,
                                   utf8_handling="replace")
        try:
            found += [r for r in reader if r is not None and r.fields]
        except Exception:  # pymarc gave up on the file; we only need some records to mutate
            continue
    assert len(found) > 200, "the corpus should give hundreds of records to mutate"
    return found[::max(1, len(found) // 300)]


BASE = base_records()
# Characters that look like digits to str.isdigit() or \\d but not to int(), marks, legacy bytes as text
TRICKY = st.sampled_from(list("0123456789²³¹٣۵߃१৩௫๓໓༣၃႓៣᠓᥈᧐᪐᭑᮰᱀꘠꣐꤀꧐꩐꯰０𝟙𝟬ⅫⅣ①⑩½¼ếđĐ\u0301\u0303\u0323&;#<>?uU|-"))
ANY_TEXT = st.text(st.one_of(TRICKY, st.characters(codec="utf-8", exclude_categories=("Cs",))), max_size=40)
XML_TEXT = st.text(st.one_of(TRICKY, st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))), max_size=40)


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    """("xml" | "iso", bytes) of one real record with a few hostile changes."""
    record = pymarc.Record()
    source = BASE[draw(st.integers(0, len(BASE) - 1))]
    record.leader = source.leader
    for field in source.fields:
        if field.is_control_field():
            record.add_field(pymarc.Field(tag=field.tag, data=field.data))
        else:
            record.add_field(pymarc.Field(tag=field.tag, indicators=list(field.indicators),
                                          subfields=list(field.subfields)))
    as_xml = draw(st.booleans())
    text = XML_TEXT if as_xml else ANY_TEXT
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["leader", "008", "date", "indicator", "code", "text", "tag"]))
        data_fields = [f for f in record.fields if not f.is_control_field()]
        if kind == "leader":
            at = draw(st.integers(0, 23))
            leader = str(record.leader).ljust(24)
            record.leader = leader[:at] + draw(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))) \
                + leader[at + 1:]
        elif kind == "008":
            old = record.get("008")
            value = old.data if old else ""
            at = draw(st.integers(0, 40))
            new = value[:at] + draw(text) + value[at + 4:]
            if old:
                old.data = new
            else:
                record.add_field(pymarc.Field(tag="008", data=new))
        elif kind == "date":  # 008/06-14: type of date, Date 1, Date 2
            old = record.get("008")
            value = (old.data if old else "").ljust(40)
            new = value[:6] + draw(st.text(TRICKY, min_size=9, max_size=9)) + value[15:]
            if old:
                old.data = new
            else:
                record.add_field(pymarc.Field(tag="008", data=new))
        elif kind == "indicator" and data_fields:
            field = draw(st.sampled_from(data_fields))
            which = draw(st.integers(0, 1))
            indicators = list(field.indicators)
            indicators[which] = draw(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")))
            field.indicators = pymarc.Indicators(*indicators)
        elif kind == "code" and data_fields:
            field = draw(st.sampled_from(data_fields))
            if field.subfields:
                at = draw(st.integers(0, len(field.subfields) - 1))
                code = draw(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")))
                field.subfields[at] = pymarc.Subfield(code, field.subfields[at].value)
        elif kind == "text" and data_fields:
            field = draw(st.sampled_from(data_fields))
            if field.subfields:
                at = draw(st.integers(0, len(field.subfields) - 1))
                field.subfields[at] = pymarc.Subfield(field.subfields[at].code, draw(text))
        elif kind == "tag" and data_fields:
            draw(st.sampled_from(data_fields)).tag = draw(st.sampled_from(
                ["245", "100", "110", "020", "008", "852", "952", "876", "200", "700", "995", "001", "abc", "0 1"]))
    if as_xml:
        return "xml", pymarc.record_to_xml(record, namespace=True)
    try:
        data = record.as_marc()
    except Exception:  # pymarc cannot even write it: send the bytes a broken exporter would
        data = str(record).encode("utf-8", "replace") + b"\x1d"
    if draw(st.booleans()):  # and sometimes damage the bytes themselves
        at = draw(st.integers(0, max(0, len(data) - 1)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at + draw(st.integers(0, 8)):]
    return "iso", data


def count_records(path: Path) -> int:
    """How many records a file holds, counted without the project's readers."""
    data = path.read_bytes()
    if path.suffix.lower() == ".xml" or data.lstrip()[:1] == b"<":
        root = etree.fromstring(data, etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                                                      huge_tree=True)) if data.strip() else None
        if root is None:
            return 0
        return sum(1 for el in root.iter("{*}record", "record")
                   if any(etree.QName(c).localname in ("leader", "controlfield", "datafield") for c in el
                          if isinstance(c.tag, str)))
    count, at = 0, 0
    while at < len(data):
        while at < len(data) and data[at] in b" \r\n\t\x00\x1a":
            at += 1
        if at >= len(data):
            break
        head = data[at:at + 5]
        length = int(head) if head.isdigit() else 0
        if length > 24 and data[at + length - 1:at + length] == b"\x1d":  # the leader's length is right
            at += length
        else:
            end = data.find(b"\x1d", at)
            at = len(data) if end < 0 else end + 1
        count += head.isdigit()  # what does not even begin with a record length is junk, not a record
    return count


def library(library_id: str, folder: Path) -> dict:
    return {"id": library_id, "name": f"Thư viện {library_id}", "kind": "commune", "protocol": "file",
            "path": str(folder), "settle_s": 0, "max_delete_ratio": 1.0}


# Not shrunk: each example is a whole pipeline run (about 5 s); pytest prints the failing mutants.
@settings(max_examples=3, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(mutated(), min_size=30, max_size=30))
def test_no_record_sent_is_lost_and_no_record_stops_the_network(tmp_path_factory, mutants):
    root = tmp_path_factory.mktemp("poison")
    poison, clean = root / "poison-drop", root / "clean-drop"
    for path in corpus_files():
        target = poison / "corpus" / path.relative_to(THIRD_PARTY)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for n, (kind, data) in enumerate(mutants):
        (poison / "mutants").mkdir(parents=True, exist_ok=True)
        (poison / "mutants" / f"mutant-{n:03d}.{'xml' if kind == 'xml' else 'mrc'}").write_bytes(data)
    clean.mkdir()
    (clean / "export.xml").write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?><collection xmlns="http://www.loc.gov/MARC21/slim">'
        + b"".join(r.metadata["marc21"].encode("utf-8") for r in CLEAN) + b"</collection>")
    past = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (past, past))
    config = load_config(write_config(root / "config", [library("poison", poison), library("clean", clean)]))

    services = Services.open(config)
    try:
        failed = harvest_and_update(services, list(config.libraries.values()))
        runs = {run["source"]: run for run in services.raw.runs(limit=10)}
        quarantined = len(services.raw.quarantined("poison"))
        rejected = services.catalogue.rejected("poison")
        entries = services.engine.search(SearchRequest(library=["clean"], size=1)).total
    finally:
        services.close()
    assert failed == [], runs
    assert "not processed" not in (runs["poison"].get("note") or ""), runs["poison"]["note"]

    sent = sum(count_records(p) for p in poison.rglob("*") if p.is_file())
    poison_check = reconcile(config, "poison", update=False)
    clean_check = reconcile(config, "clean", update=False)
    # every record the library sent was read: stored (new, or a newer copy of a record another file holds:
    # the same 001 in two exports of one library is one record) or quarantined with a reason
    run = runs["poison"]
    read = run["added"] + run["updated"] + run["unchanged"] + run["quarantined"]
    assert read >= sent, (run, sent)
    assert quarantined == run["quarantined"] and poison_check["raw"] <= run["added"] + run["updated"], run
    assert not poison_check["not_in_catalogue"] and not poison_check["deleted_but_catalogued"], poison_check["text"]
    assert poison_check["catalogue"] + poison_check["rejected"] == poison_check["raw"], poison_check["text"]
    assert poison_check["entries"] == poison_check["indexed_entries"], poison_check["text"]
    assert all(r["reason"].strip() for r in rejected)
    # the other library is whole
    assert clean_check["ok"] and clean_check["catalogue"] == len(CLEAN) and clean_check["rejected"] == 0, \
        clean_check["text"]
    assert entries == clean_check["entries"] > 0
