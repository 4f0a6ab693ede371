"""``unioncat export``: the union catalogue in bulk, for a national union catalogue.

Every entry (or those a library holds, or those whose publication datestamp is at or after a date) as
one MARCXML collection, ISO 2709 records (UTF-8) or JSON lines, each entry made by
``unionapi.publish.formats`` exactly as OAI-PMH publishes it (the network's holdings as 852s, 005 = the
entry's datestamp). Memory stays flat: entries are read in batches of ``BATCH`` and written as they
come (the MARCXML collection through lxml's incremental writer), whatever the catalogue's size.

Which entries, and in what order, comes from the publication state (``unionapi.publish.state``, the
OAI-PMH provider's memory: per entry its datestamp, whether it is deleted, its holding libraries),
read page by page in (generation, id) order. An entry changed while an export runs may come twice,
the later copy being the current one; none is missed. A data directory indexed before the
publication state existed has an empty state: then the entries are listed from the catalogue (every
id held in memory, about 100 bytes an entry), without datestamps, and ``--since`` is refused until
``unioncat index`` has run once.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Callable, Iterator

import pymarc
from lxml import etree

from unionapi.publish import formats
from unionapi.publish.state import utc

FORMATS = ("marcxml", "iso2709", "jsonl")
BATCH = 500  # entries read (and their member records loaded) at once
PROGRESS_EVERY = 10_000
SHOWN_SKIPPED = 20  # entry ids named on stderr when some could not be written


class ExportError(Exception):
    """An export that cannot start; the message says what to do instead."""


@dataclass
class ExportStats:
    entries: int = 0  # entries written
    deleted: int = 0  # deletions written (with ``deleted=True``)
    skipped: list[str] = field(default_factory=list)  # ids that cannot be written in this format (first few)
    skipped_count: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Item:
    entry_id: str
    stamp: int | None  # the publication datestamp (UTC seconds), None without a publication state
    members: list | None  # None: a deleted entry


def parse_since(text: str) -> int:
    """``YYYY-MM-DD`` (midnight UTC) or ``YYYY-MM-DDThh:mm:ssZ`` (OAI-PMH's granularities) -> UTC seconds."""
    for pattern, shape in ((r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"), (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z",
                                                                 "%Y-%m-%dT%H:%M:%SZ")):
        if re.fullmatch(pattern, text.strip()):
            try:
                moment = datetime.strptime(text.strip(), shape).replace(tzinfo=timezone.utc)
            except ValueError:
                break
            return int(moment.timestamp())
    raise ValueError(f"'{text}' is not a date: use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC), e.g. 2026-12-01")


def export(services, fmt: str, out: BinaryIO, *, library: str | None = None, since: int | None = None,
           deleted: bool = False, progress: Callable[[str], None] | None = None,
           every: int = PROGRESS_EVERY) -> ExportStats:
    """Write the selected entries to ``out`` (a binary stream) in ``fmt``; ``deleted``: also the entries
    deleted in the selection, as MARC records with leader/05 "d" (JSON: ``{"id", "deleted": true}``)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format '{fmt}'; one of {', '.join(FORMATS)}")
    known = services.config.libraries
    if library is not None and library not in known:
        raise ExportError(f"unknown library '{library}'; the libraries of this network: {', '.join(sorted(known))}")
    if since is not None and _unpublished(services):  # said before a byte is written
        raise ExportError("this data directory has no publication dates yet (it was indexed by an older "
                          "version): run `unioncat index` once, then export with --since again")
    stats, started = ExportStats(), time.monotonic()
    items = _counted(_items(services, library, since, deleted), stats, started, progress, every)
    names = {library_id: lib.name for library_id, lib in known.items()}
    if fmt == "marcxml":
        _write_marcxml(items, out, names)
    elif fmt == "iso2709":
        _write_iso2709(items, out, names, stats)
    else:
        _write_jsonl(items, out)
    out.flush()
    stats.seconds = time.monotonic() - started
    return stats


# -- what to export --------------------------------------------------------------------------------
def _items(services, library: str | None, since: int | None, deleted: bool) -> Iterator[_Item]:
    for batch in _batches(services, library, since):
        live = [entry_id for entry_id, _, gone in batch if not gone]
        members = services.catalogue.members_of(live) if live else {}
        members = {i: services.config.network.records(m) for i, m in members.items()}  # the libraries of today
        for entry_id, stamp, gone in batch:
            if gone or not members.get(entry_id):  # (no members: merged away since the state was read)
                if deleted:
                    yield _Item(entry_id, stamp, None)
                continue
            yield _Item(entry_id, stamp, members[entry_id])


def _batches(services, library: str | None, since: int | None) -> Iterator[list[tuple[str, int | None, bool]]]:
    """(entry id, datestamp, deleted) in batches: from the publication state, else the catalogue."""
    state = services.publication
    if _unpublished(services):
        yield from _catalogue_batches(services.catalogue, library)
        return
    gens = state.gens_between(since, None)
    if gens is None:  # nothing published at or after `since`
        return
    after = None
    while True:
        rows = state.page(gens, [library] if library else None, after, BATCH)
        if not rows:
            return
        yield [(row.id, row.datestamp, row.deleted) for row in rows]
        after = (rows[-1].gen, rows[-1].id)


def _unpublished(services) -> bool:
    """No publication state to read (a data directory indexed before it existed)."""
    return services.publication is None or services.publication.is_empty()


def _catalogue_batches(catalogue, library: str | None) -> Iterator[list[tuple[str, None, bool]]]:
    """The fallback without a publication state: every entry id is listed first (not constant memory)."""
    if library is None:
        ids = list(catalogue.all_entry_ids())
    else:
        ids = sorted(set(catalogue.entries_of(catalogue.record_ids(library)).values()))
    for start in range(0, len(ids), BATCH):
        yield [(entry_id, None, False) for entry_id in ids[start:start + BATCH]]


def _counted(items: Iterator[_Item], stats: ExportStats, started: float, progress, every: int) -> Iterator[_Item]:
    for n, item in enumerate(items, 1):
        if item.members is None:
            stats.deleted += 1
        else:
            stats.entries += 1
        if progress is not None and every and n % every == 0:
            progress(f"exported {n:,} entries ({n / max(time.monotonic() - started, 1e-6):,.0f}/s)")
        yield item


# -- how ---------------------------------------------------------------------------------------------
def _marc(item: _Item, names: dict[str, str]) -> pymarc.Record:
    stamp = datetime.fromtimestamp(item.stamp, timezone.utc) if item.stamp is not None else None
    if item.members is None:
        return _deleted_marc(item.entry_id, stamp)
    return formats.entry_marc(item.entry_id, item.members, holdings=True, libraries=names, stamp=stamp)


def _deleted_marc(entry_id: str, stamp: datetime | None) -> pymarc.Record:
    """A deletion as MARC says it: leader/05 "d", the entry id in 001 (what a loader matches on)."""
    record = pymarc.Record(leader="00000dam a22000007i 4500")
    record.add_field(pymarc.Field(tag="001", data=formats.clean_text(entry_id)))
    record.add_field(pymarc.Field(tag="003", data=formats.AGENCY))
    if stamp is not None:
        record.add_field(pymarc.Field(tag="005", data=stamp.strftime("%Y%m%d%H%M%S") + ".0"))
    return record


def _write_marcxml(items: Iterator[_Item], out: BinaryIO, names: dict[str, str]) -> None:
    """One <marc:collection>, written record by record (lxml's incremental writer)."""
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        attributes = {f"{{{formats.XSI_NS}}}schemaLocation": f"{formats.MARC_NS} {formats.MARC_SCHEMA}"}
        with xf.element(f"{{{formats.MARC_NS}}}collection", attributes,
                        nsmap={"marc": formats.MARC_NS, "xsi": formats.XSI_NS}):
            for n, item in enumerate(items, 1):
                xf.write(formats.marc_element(_marc(item, names)))
                if n % BATCH == 0:
                    xf.flush()


def _write_iso2709(items: Iterator[_Item], out: BinaryIO, names: dict[str, str], stats: ExportStats) -> None:
    for item in items:
        try:
            out.write(formats.iso2709(_marc(item, names)))
        except ValueError:  # one field over ISO 2709's 9,999 bytes: said at the end, the rest goes on
            stats.entries -= 1  # (counted as written when it was read)
            stats.skipped_count += 1
            if len(stats.skipped) < SHOWN_SKIPPED:
                stats.skipped.append(item.entry_id)


def _write_jsonl(items: Iterator[_Item], out: BinaryIO) -> None:
    for item in items:
        if item.members is None:
            line = {"id": item.entry_id, "deleted": True}
        else:
            line = formats.entry_json(item.entry_id, item.members)
        if item.stamp is not None:
            line["datestamp"] = utc(item.stamp)
        out.write(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")
