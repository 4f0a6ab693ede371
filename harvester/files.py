"""MARC export drops: libraries without a server (Libol, VietBiblio/OpenBiblio) export files instead.

A source is a folder or an http(s) URL (one export file, or an autoindex listing of several).
Each file is identified by the sha256 of its bytes: a file already processed costs nothing, a new
or changed one is read completely *before* anything of it is stored, so a half-written export
(still growing, truncated ISO2709, damaged gzip/zip, unfinished XML) is skipped with a reason and
taken up by a later run once it is complete. Records go to the raw store as bytes, unchanged:
legacy encodings (TCVN3, VNI, MARC-8) are the normalizer's business. A replaced export mostly
repeats what is stored: a record with the same bytes as stored is counted unchanged without being
read again, so a school's daily export costs little more than its changed records.

Ids: the id field (001 by default; 999$c, 035$a...), else 001, else an id derived from the
record's content (marcbytes.RecordIds), also for different records that share one id in an export.

Deletions: exports have no tombstones; the ``snapshot`` option says what the files mean.
- ``union`` (default): the catalogue is every current file together. A record that no current
  file holds any more (its file came back without it, or the file was removed) is deleted.
- ``latest``: the newest file (by modification time in a folder, by name in a web listing) is the
  whole catalogue, as with exports named by date; older files are ignored, and every record the
  newest one lacks is deleted.
Both go through the same mass-deletion guard as RawStore.reconcile.
"""
from __future__ import annotations

import hashlib
import io
import logging
import re
import time
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html

from config import Library, Settings
from harvester import HarvestError
from harvester.http import FetchError, Fetched, HarvestClient
from harvester.marcbytes import (MarcBytesError, RecordIds, is_truncated, iso2709_fields, iso2709_identifier,
                                 iso2709_problem, marcxml_cut_off, marcxml_problem, marcxml_records,
                                 split_iso2709)
from harvester.rawstore import Counts, HarvestResult, RawStore, content_hash, unexpected

log = logging.getLogger("unioncat.harvest")

MARC_EXTENSIONS = (".mrc", ".iso", ".marc", ".dat", ".xml")
BATCH = 1000  # records per store_page: memory stays bounded whatever the size of the export
TRUNCATED_WAIT = 720  # an export whose last record is cut off is waited for this many settle_s (an hour by
# default: a copy may be stalled), then read as it is, the cut-off record in quarantine; settle_s 0: never
_HTML = re.compile(rb"<(?:!doctype\s+)?html", re.IGNORECASE)
_LEADER = re.compile(rb"\d{5}[\x20-\x7e]{7}\d{5}[\x20-\x7e]{7}")
_XML_005 = re.compile(rb'<(?:\w+:)?controlfield[^>]*\btag="005"[^>]*>\s*([0-9.]+)\s*<')


class FileProblem(Exception):
    """This file cannot be processed now (incomplete or damaged); the message says why, for a person.

    ``keep``: bytes to keep in quarantine with the reason (over a size cap), None when it is only waited for."""

    def __init__(self, message: str, keep: bytes | None = None):
        super().__init__(message)
        self.keep = keep


def is_export(name: str) -> bool:
    """Names the harvester picks up: MARC exports, gzipped or not, and zip archives."""
    name = name.lower()
    if name.endswith(".zip"):
        return True
    return name.removesuffix(".gz").endswith(MARC_EXTENSIONS)


@dataclass
class Drop:
    name: str  # path relative to the folder, or file name in the listing: the key of the file ledger
    where: str  # full path or URL
    response: Fetched | None = None  # a single-file URL is downloaded while listing


@dataclass
class Processed:
    name: str
    content_hash: str
    size: int
    identifiers: set[str] = field(default_factory=set)


@dataclass
class Read:
    """One record of an export as the harvester sees it."""
    member: str
    fmt: str  # iso2709 | marcxml
    number: int  # 1-based position in the member
    body: bytes
    identifier: str | None  # None only for a record in quarantine that had no id of its own
    derived: dict | None  # {"shared": ..., "origin": ...} when the id was derived
    problem: str | None  # why it goes to quarantine


class FileDropHarvester:
    """Harvests one library's export drops into the raw store."""

    def __init__(self, library: Library, store: RawStore, settings: Settings, sleep=time.sleep,
                 after_page=None):
        self.library, self.store, self.settings = library, store, settings
        self.after_page = after_page  # called with the number of files stored, after each
        self.options = library.options
        self.settle_s = float(self.options.get("settle_s", 5.0))
        self.id_field = self.options.get("id_field", "001")
        self.snapshot = self.options.get("snapshot", "union")
        self.max_file = int(settings.harvest_max_file_mb * 1024 * 1024)
        self.max_record = int(settings.harvest_max_record_mb * 1024 * 1024)
        self.http = HarvestClient(settings, library.timeout_s, max_mb=settings.harvest_max_file_mb, sleep=sleep,
                                  fail_fast=store.last_success(library.storage_id) is None)

    def harvest(self, full: bool = False, force: bool = False) -> HarvestResult:
        """Process new or changed exports (every current one when ``full``); ``force`` lifts the deletion guard."""
        library, store = self.library, self.store
        result = HarvestResult(library.id, "failed", "full" if full else "incremental")
        result.run_id = store.start_run(library.storage_id, result.mode)
        notes: list[str] = []
        try:
            drops = self._list()
            log.info("%s: %d export file(s) at %s", library.id, len(drops), self._where())
            if not drops:
                notes.append(f"no export files (.mrc, .iso, .marc, .dat, .xml, .gz, .zip) at {self._where()}")
            wanted = self._catalogue_files(drops)
            if len(wanted) < len(drops):
                log.info("%s: snapshot latest: %s is the catalogue (the newest of %d exports)", library.id,
                         wanted[0].name, len(drops))
            processed: list[Processed] = []
            for drop in wanted:
                try:
                    data, mtime = self._load(drop)
                    digest = hashlib.sha256(data).hexdigest()
                    if not full and store.file_processed(library.storage_id, drop.name, digest):
                        continue
                    log.info("%s: reading %s (%d bytes)", library.id, drop.name, len(data))
                    processed.append(self._process(drop.name, data, digest, mtime, result))
                except FileProblem as exc:
                    log.warning("%s: %s not processed: %s", library.id, drop.name, exc)
                    notes.append(f"{drop.name} not processed: {exc}")
                    if exc.keep is not None:  # over a size cap: kept (its first bytes) in quarantine, with the reason
                        store.quarantine(library.storage_id, None, f"{drop.name}: {exc}", exc.keep or None)
                    continue
                result.pages += 1
                if self.after_page:
                    self.after_page(result.pages)
            if self.snapshot == "latest":
                notes += self._apply_latest(processed, force, result)
            else:
                notes += self._apply_union(drops, processed, full, force, result)
            if drops and not processed and not notes:
                notes.append(f"no new or changed export ({len(wanted)} file(s) already processed)")
            result.outcome = "ok"
        except HarvestError as exc:
            result.error = str(exc)
            result.detail = getattr(exc, "detail", None)
            log.error("%s: harvest failed: %s", library.id, exc)
        except Exception as exc:  # noqa: BLE001 (whatever happens, the run says why it failed)
            result.error = unexpected(exc)
            log.exception("%s: harvest failed: %s", library.id, result.error)
        finally:
            self.http.close()
            result.note = "; ".join(notes) or None
            store.update_run(result.run_id, result.counts, result.pages, result.outcome, result.error, result.note,
                             result.warning, result.detail)
        c = result.counts
        if result.outcome == "ok":
            log.info("%s: harvest done: %d file(s), %d added, %d updated, %d deleted, %d unchanged, %d quarantined%s",
                     library.id, result.pages, c.added, c.updated, c.deleted, c.unchanged, c.quarantined,
                     f" ({result.note})" if result.note else "")
        return result

    def identifiers(self) -> set[str]:
        """Every identifier the harvest would give the records of the current exports (for `unioncat check`)."""
        found: set[str] = set()
        try:
            return self._identifiers(found)
        finally:
            self.http.close()

    def _identifiers(self, found: set[str]) -> set[str]:
        for drop in self._catalogue_files(self._list()):
            try:
                data, mtime = self._load(drop)
                for read in self._read(drop.name, data, mtime):
                    if read.identifier is not None:
                        found.add(read.identifier)
            except FileProblem as exc:
                raise HarvestError(f"{drop.name} cannot be read now: {exc}") from None
        return found

    def _catalogue_files(self, drops: list[Drop]) -> list[Drop]:
        """The files that make the library's catalogue: all of them (union), or the newest (latest)."""
        if self.snapshot != "latest" or len(drops) < 2:
            return drops
        if self.options.get("path"):
            return drops[-1:]  # listed by modification time
        return [max(drops, key=lambda drop: _natural(drop.name))]  # a web listing: by name, dates sort right

    # -- finding and reading the files -------------------------------------------------------------
    def _where(self) -> str:
        return self.options.get("path") or self.options["url"]

    def _list(self) -> list[Drop]:
        if self.options.get("path"):
            return self._list_folder(Path(self.options["path"]))
        url = self.options["url"]
        response = self.http.request(url)
        if not _HTML.search(response.content[:4096]):
            name = unquote(urlsplit(response.url).path.rstrip("/").rsplit("/", 1)[-1]) or url
            return [Drop(name, url, response)]  # the URL is the export itself
        return [Drop(name, link) for name, link in _listing_links(response)]

    def _list_folder(self, folder: Path) -> list[Drop]:
        """Export files under the folder, oldest first, so a newer export of a record wins."""
        if not folder.is_dir():
            raise HarvestError(f"the export folder {folder} does not exist or is not a folder (is the share mounted?)")
        found = []
        for path in folder.rglob("*"):
            relative = path.relative_to(folder)
            if any(part.startswith(".") for part in relative.parts) or not is_export(path.name):
                continue  # hidden: temporary files of copy tools
            try:
                if path.is_file():
                    found.append((path.stat().st_mtime, relative.as_posix(), path))
            except OSError:
                continue  # removed while listing
        return [Drop(name, str(path)) for _, name, path in sorted(found)]

    def _load(self, drop: Drop) -> tuple[bytes, float | None]:
        """The file's bytes and modification time; FileProblem when it may still be being written."""
        if drop.response is None and self.options.get("path"):
            return self._read_settled(Path(drop.where))
        try:
            response = drop.response or self.http.request(drop.where)
        except FetchError as exc:
            raise FileProblem(f"could not be downloaded: {exc}",
                              keep=(exc.body or b"") if exc.kind == "too_large" else None) from None
        modified = _http_time(response.headers.get("Last-Modified"))
        if modified is not None:
            self._check_settled((_http_time(response.headers.get("Date")) or time.time()) - modified)
        return response.content, modified

    def _read_settled(self, path: Path) -> tuple[bytes, float]:
        try:
            before = path.stat()
            self._check_settled(time.time() - before.st_mtime)
            if before.st_size > self.max_file:
                raise FileProblem(f"it is {before.st_size / 1024 / 1024:.0f} MB, more than {_mb(self.max_file)} "
                                  "(harvest.max_file_mb)", keep=b"")
            data = path.read_bytes()
            after = path.stat()
        except OSError as exc:
            raise FileProblem(f"cannot be read: {exc}") from None
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != after.st_size:
            raise FileProblem("still being written (it changed while it was being read)")
        return data, before.st_mtime

    def _check_settled(self, age: float) -> None:
        """An export copied or written right now may be incomplete: wait until it has been still for settle_s."""
        if age < self.settle_s:
            raise FileProblem(f"still being written (last changed {age:.0f} s ago); it is read once it has "
                              f"not changed for {self.settle_s:g} s")

    # -- one file -----------------------------------------------------------------------------------
    def _read(self, name: str, data: bytes, mtime: float | None) -> Iterator[Read]:
        """Every record of a file with the id it is stored under, after checking the whole file first.

        The first pass finds what would stop the file (unreadable XML, a cut-off last record in a file
        that may still be being written) before anything is stored, and the ids that several
        different records share; the second gives each record its id (RecordIds).
        """
        members, counted = [], Counter()
        for member, raw in _unpack(name, data, self.max_file):
            fmt = self.library.record_format or _sniff_format(raw)
            bad, last = set(), None
            wait = TRUNCATED_WAIT * self.settle_s
            if fmt == "marcxml" and marcxml_cut_off(raw) and _younger(mtime, wait):
                where = f"{member}: " if member != name else ""
                raise FileProblem(f"{where}the MARCXML export is cut off (its root element never closes); it is "
                                  f"read as it is once it has not changed for {wait / 60:g} minutes")
            try:
                for number, (body, identifier) in enumerate(_records(fmt, raw, self.id_field), start=1):
                    last = body
                    if self._problem(fmt, body, identifier):
                        bad.add(number)
                    elif identifier is not None:
                        counted[identifier] += 1
            except MarcBytesError as exc:
                where = f"{member}: " if member != name else ""
                raise FileProblem(f"{where}{exc}") from None
            if fmt == "iso2709" and last is not None and is_truncated(last) and _younger(mtime, wait):
                raise FileProblem(f"{iso2709_problem(last)}; it is read as it is once it has not changed for "
                                  f"{wait / 60:g} minutes")
            members.append((member, fmt, raw, bad))
        ids = RecordIds({identifier for identifier, count in counted.items() if count > 1})
        for member, fmt, raw, bad in members:
            for number, (body, identifier) in enumerate(_records(fmt, raw, self.id_field), start=1):
                if number in bad:
                    yield Read(member, fmt, number, body[:64 * 1024], identifier, None,
                               self._problem(fmt, body, identifier))
                    continue
                identifier, derived = ids(body, fmt, identifier)
                if derived is not None:
                    derived["origin"] = f"{member}, record {number}"
                yield Read(member, fmt, number, body, identifier, derived, None)

    def _problem(self, fmt: str, body: bytes, identifier: str | None) -> str | None:
        if len(body) > self.max_record:
            return (f"the record is {len(body) / 1024 / 1024:.1f} MB, more than {_mb(self.max_record)} "
                    "(harvest.max_record_mb); its first 64 KB are kept here")
        return _problem(fmt, body, identifier)

    def _process(self, name: str, data: bytes, digest: str, mtime: float | None, result: HarvestResult) -> Processed:
        """Store every record of one file in batches; a record with the same bytes as stored costs nothing."""
        done = Processed(name, digest, len(data))
        fallback = _iso_time(mtime)
        counts, member, shared = Counts(), None, set()
        for batch in _batches(self._read(name, data, mtime), BATCH):
            known = self.store.content_hashes(self.library.storage_id,
                                              [r.identifier for r in batch if r.problem is None])
            items, bad = [], []
            for read in batch:
                if read.member != member:
                    self._log_member(member, counts, result)
                    counts, member = Counts(), read.member
                if read.identifier is not None:
                    done.identifiers.add(read.identifier)  # still at the library even when unreadable: never a deletion
                if read.derived and read.derived["shared"]:
                    shared.add(read.derived["shared"])
                if read.problem:
                    bad.append({"identifier": read.identifier, "body": read.body,
                                "reason": f"{read.member}, record {read.number}: {read.problem}"})
                elif known.get(read.identifier) == content_hash(read.body, False):
                    counts.unchanged += 1  # the same bytes as stored: checked then, its 005 is the stored datestamp
                else:
                    items.append({"identifier": read.identifier, "format": read.fmt, "deleted": False, "sets": [],
                                  "datestamp": _datestamp_005(read.body, read.fmt) or fallback, "body": read.body,
                                  "derived": read.derived})
            counts.add(self.store.store_page(self.library.storage_id, items, None, bad))
            if batch[-1].number % (10 * BATCH) == 0:
                log.info("%s: %s: %d records so far", self.library.id, batch[-1].member, batch[-1].number)
        self._log_member(member, counts, result)
        if shared:
            log.warning("%s: %s: %d id(s) carried by several different records (%s): each record is kept under an "
                        "id derived from its content; `unioncat quality %s` lists them", self.library.id, name,
                        len(shared), ", ".join(sorted(shared)[:5]), self.library.id)
        return done

    def _log_member(self, member: str | None, counts: Counts, result: HarvestResult) -> None:
        if member is None:
            return
        log.info("%s: %s: %d added, %d updated, %d unchanged, %d quarantined", self.library.id, member,
                 counts.added, counts.updated, counts.unchanged, counts.quarantined)
        result.counts.add(counts)

    # -- deletions ----------------------------------------------------------------------------------
    def _apply_latest(self, processed: list[Processed], force: bool, result: HarvestResult) -> list[str]:
        """snapshot: latest. The newest export, read completely, is the catalogue: what it lacks is deleted.

        When the guard refuses, the file is not remembered: the next run reads it again and says so
        again, until the library fixes the export or someone forces.
        """
        if not processed:
            return []  # the newest export was applied before, or cannot be read now
        done = processed[0]
        return self._reconcile(done.identifiers, [done], set(), force, result,
                               f"{done.name} is the newest export and lacks them")

    def _apply_union(self, drops: list[Drop], processed: list[Processed], full: bool, force: bool,
                     result: HarvestResult) -> list[str]:
        """snapshot: union. The catalogue is every current file together: a record no current file holds
        any more (its file replaced without it, or removed) is deleted, once for the whole run.

        Done after every file is stored, so a record that moved from one export to another is never
        deleted and re-added. A file that cannot be read now counts with what it held when last read.
        """
        store, source = self.store, self.library.storage_id
        current = {drop.name for drop in drops}
        ledger = {row["name"]: row for row in store.processed_files(source)}
        removed = set(ledger) - current
        if not (processed or removed or full):
            return []
        done = {p.name: p for p in processed}
        present: set[str] = set()
        for name in current:
            if name in done:
                present |= done[name].identifiers
            elif name in ledger:
                held = store.file_identifiers(source, name)
                if len(held) < ledger[name]["records"]:  # remembered by a version without per-file ids
                    for p in processed:
                        store.remember_file(source, p.name, p.content_hash, p.size, p.identifiers)
                    return [f"deletions not looked for: what {name} held is not known; "
                            f"run `unioncat harvest {source} --full` once"]
                present |= held
        replaced = sorted(p.name for p in processed if p.name in ledger)
        why = "; ".join([f"{', '.join(replaced)} replaced by a newer export"] * bool(replaced)
                        + [f"{', '.join(sorted(removed))} removed"] * bool(removed)) or "no current export holds them"
        return self._reconcile(present, processed, removed, force, result, why)

    def _reconcile(self, present: set[str], processed: list[Processed], removed: set[str], force: bool,
                   result: HarvestResult, why: str) -> list[str]:
        store, source = self.store, self.library.storage_id
        deleted, refusal = store.reconcile(source, present, self.options.get("max_delete_ratio", 0.2), force)
        result.counts.deleted += deleted
        if refusal:
            result.warning = f"deletions refused ({why}): {refusal}"
            log.warning("%s: %s", source, result.warning)
            return [result.warning]
        if deleted:
            log.info("%s: %d record(s) deleted (%s)", source, deleted, why)
        for done in processed:
            store.remember_file(source, done.name, done.content_hash, done.size, done.identifiers)
        for name in removed:
            store.forget_file(source, name)
        if self.snapshot == "latest":
            for row in store.processed_files(source):
                if row["name"] not in {done.name for done in processed}:
                    store.forget_file(source, row["name"])  # older exports count for nothing
        return []


# -- bytes --------------------------------------------------------------------------------------------
def _unpack(name: str, data: bytes, cap: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each export inside, by magic number: servers and copy tools mangle extensions.

    What is unpacked stays under ``cap`` bytes in all (harvest.max_file_mb): a packed bomb stops there."""
    if data[:2] == b"\x1f\x8b":
        return [(name, _gunzip(data, cap))]
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        members, room = [], cap
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if not _wanted_member(info):
                        continue
                    if info.file_size > room:
                        raise FileProblem(f"{info.filename} unpacks to more than {_mb(cap)} (harvest.max_file_mb)",
                                          keep=b"")
                    with archive.open(info) as member:
                        content = member.read(room + 1)  # the size in the archive may lie
                    if len(content) > room:
                        raise FileProblem(f"{info.filename} unpacks to more than {_mb(cap)} (harvest.max_file_mb)",
                                          keep=b"")
                    for found in _unpack(f"{name}/{info.filename}", content, room):
                        members.append(found)
                        room -= len(found[1])
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            raise FileProblem(f"the zip archive cannot be read ({exc}); it may still be being written") from None
        if not members:
            raise FileProblem("the zip archive holds no MARC export (.mrc, .iso, .marc, .dat, .xml)")
        return members
    return [(name, data)]


def _gunzip(data: bytes, cap: int) -> bytes:
    """gzip unpacked in steps, stopping as soon as it passes ``cap`` (a 1 MB file can hold 1 GB of zeros)."""
    out, pending = bytearray(), data
    try:
        while pending:
            unpacker = zlib.decompressobj(31)
            out += unpacker.decompress(pending, cap - len(out) + 1)
            while unpacker.unconsumed_tail and len(out) <= cap:
                out += unpacker.decompress(unpacker.unconsumed_tail, cap - len(out) + 1)
            if len(out) > cap:
                raise FileProblem(f"the gzip file unpacks to more than {_mb(cap)} (harvest.max_file_mb); it was not "
                                  "unpacked further", keep=b"")
            if not unpacker.eof:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            pending = unpacker.unused_data.lstrip(b"\0")  # concatenated gzip members
    except (OSError, EOFError, zlib.error) as exc:
        raise FileProblem(f"the gzip file is damaged or incomplete ({exc}); it may still be being written") from None
    return bytes(out)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"


def _wanted_member(info: zipfile.ZipInfo) -> bool:
    """Exports in an archive, without the __MACOSX/._name resource forks a Mac adds next to each file."""
    parts = info.filename.split("/")
    return (not info.is_dir() and is_export(parts[-1])
            and not any(part.startswith(".") or part == "__MACOSX" for part in parts))


def _sniff_format(data: bytes) -> str:
    """By content, not extension (.dat is either, and some tools name MARCXML .mrc)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head.isdigit():
        return "iso2709"
    if head == b"<":
        return "marcxml"
    if not head:
        raise FileProblem("the file is empty")
    if b"\x1d" in data and _LEADER.search(data, 0, 100_000):
        return "iso2709"  # after a text header some exports write
    raise FileProblem(f"neither ISO2709 (starts with 5 digits) nor MARCXML (starts with <): it begins {data[:16]!r}")


def _records(fmt: str, data: bytes, id_field: str = "001") -> Iterator[tuple[bytes, str | None]]:
    if fmt == "marcxml":
        yield from marcxml_records(data, id_field)
    else:
        for record in split_iso2709(data):
            yield record, iso2709_identifier(record, id_field)


def _problem(fmt: str, body: bytes, identifier: str | None) -> str | None:
    """Why one record of an export cannot be stored (it is quarantined with this reason); None when it can."""
    if fmt == "iso2709":
        return iso2709_problem(body)
    return marcxml_problem(body) if identifier is None else None  # a record with an id was parsed to find it


def _younger(mtime: float | None, seconds: float) -> bool:
    """Changed recently enough that a cut-off end may still be being written."""
    return mtime is not None and time.time() - mtime < seconds


def _natural(name: str) -> list:
    """Sort key in which "thang 9" comes before "thang 10"."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name.lower())]


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _datestamp_005(body: bytes, fmt: str) -> str | None:
    """The 005 (latest transaction, local time) as ISO 8601; None when absent or not a date."""
    if fmt == "marcxml":
        found = _XML_005.search(body)
        value = found.group(1) if found else b""
    else:
        value = next((data for tag, data in iso2709_fields(body) if tag == b"005"), b"")
    try:
        return datetime.strptime(value.strip(b"\x1e ")[:14].decode("ascii"), "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%S")
    except (UnicodeDecodeError, ValueError):
        return None


def _iso_time(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_time(value: str | None) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def _listing_links(response: Fetched) -> list[tuple[str, str]]:
    """Export files linked from an Apache/nginx autoindex page (not its sort links or parent folder)."""
    base = response.url if response.url.endswith("/") else response.url.rsplit("/", 1)[0] + "/"
    links = {}
    for href in lxml.html.fromstring(response.content).xpath("//a/@href"):
        url = urljoin(response.url, href).split("#")[0]
        if "?" in url or not url.startswith(base):
            continue
        name = unquote(url[len(base):])
        if name and "/" not in name and is_export(name):
            links.setdefault(name, url)
    return sorted(links.items())
