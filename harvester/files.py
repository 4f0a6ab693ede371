"""MARC export drops: libraries without a server (Libol, VietBiblio/OpenBiblio) export files instead.

A source is a folder or an http(s) URL (one export file, or an autoindex listing of several).
Each file is identified by the sha256 of its bytes: a file already processed costs nothing, a new
or changed one is read completely *before* anything of it is stored, so a half-written export
(still growing, truncated ISO2709, damaged gzip/zip, unfinished XML) is skipped with a reason and
taken up by a later run once it is complete. Records go to the raw store as bytes, unchanged:
legacy encodings (TCVN3, VNI, MARC-8) are the normalizer's business. A replaced export mostly
repeats what is stored: a record with the same bytes as stored is counted unchanged without being
read again, so a school's daily export costs little more than its changed records.

Deletions: exports have no tombstones. A file that comes back under the same name with new
content is a newer complete export of what that file held, so records its previous version held
and the new one (and every other current file of the source) lacks become deletions, under the
same mass-deletion guard as RawStore.reconcile. A file that disappears deletes nothing: libraries
clean up old exports, and that says nothing about the books.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import logging
import re
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
import requests

from config import Library, Settings
from harvester.marcbytes import (MarcBytesError, iso2709_fields, iso2709_identifier, marcxml_records,
                                 split_iso2709)
from harvester.rawstore import Counts, HarvestError, HarvestResult, RawStore, content_hash

log = logging.getLogger("unioncat.harvest")

MARC_EXTENSIONS = (".mrc", ".iso", ".marc", ".dat", ".xml")
BATCH = 1000  # records per store_page: memory stays bounded whatever the size of the export
_HTML = re.compile(rb"<(?:!doctype\s+)?html", re.IGNORECASE)
_XML_005 = re.compile(rb'<(?:\w+:)?controlfield[^>]*\btag="005"[^>]*>\s*([0-9.]+)\s*<')


class FileProblem(Exception):
    """This file cannot be processed now (incomplete or damaged); the message says why, for a person."""


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
    response: requests.Response | None = None  # a single-file URL is downloaded while listing


@dataclass
class Processed:
    name: str
    content_hash: str
    size: int
    identifiers: set[str] = field(default_factory=set)


class FileDropHarvester:
    """Harvests one library's export drops into the raw store."""

    def __init__(self, library: Library, store: RawStore, settings: Settings, sleep=time.sleep):
        self.library, self.store, self.settings, self.sleep = library, store, settings, sleep
        self.options = library.options
        self.settle_s = float(self.options.get("settle_s", 5.0))
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "unioncat harvester"

    def harvest(self, full: bool = False, force: bool = False) -> HarvestResult:
        """Process new or changed exports (every current one when ``full``); ``force`` lifts the deletion guard."""
        library, store = self.library, self.store
        result = HarvestResult(library.id, "failed", "full" if full else "incremental")
        result.run_id = store.start_run(library.id, result.mode)
        notes: list[str] = []
        try:
            drops = self._list()
            log.info("%s: %d export file(s) at %s", library.id, len(drops), self._where())
            if not drops:
                notes.append(f"no export files (.mrc, .iso, .marc, .dat, .xml, .gz, .zip) at {self._where()}")
            processed: list[Processed] = []
            for drop in drops:
                try:
                    data, mtime = self._load(drop)
                    digest = hashlib.sha256(data).hexdigest()
                    if not full and store.file_processed(library.id, drop.name, digest):
                        continue
                    log.info("%s: reading %s (%d bytes)", library.id, drop.name, len(data))
                    processed.append(self._process(drop.name, data, digest, mtime, result))
                except FileProblem as exc:
                    log.warning("%s: %s not processed: %s", library.id, drop.name, exc)
                    notes.append(f"{drop.name} not processed: {exc}")
                    continue
                result.pages += 1
            notes += self._delete_and_remember(processed, {d.name for d in drops}, force, result)
            if drops and not processed and not notes:
                notes.append(f"no new or changed export ({len(drops)} file(s) already processed)")
            result.outcome = "ok"
        except HarvestError as exc:
            result.error = str(exc)
            log.error("%s: harvest failed: %s", library.id, exc)
        finally:
            result.note = "; ".join(notes) or None
            store.update_run(result.run_id, result.counts, result.pages, result.outcome, result.error, result.note)
        c = result.counts
        if result.outcome == "ok":
            log.info("%s: harvest done: %d file(s), %d added, %d updated, %d deleted, %d unchanged, %d quarantined%s",
                     library.id, result.pages, c.added, c.updated, c.deleted, c.unchanged, c.quarantined,
                     f" ({result.note})" if result.note else "")
        return result

    def identifiers(self) -> set[str]:
        """Every identifier in the export files present now (for `unioncat check`); stores nothing."""
        found: set[str] = set()
        for drop in self._list():
            try:
                data, _ = self._load(drop)
                for name, member in _unpack(drop.name, data):
                    fmt = self.library.record_format or _sniff_format(member)
                    found.update(identifier for _, identifier in _records(fmt, member) if identifier)
            except (FileProblem, MarcBytesError) as exc:
                raise HarvestError(f"{drop.name} cannot be read now: {exc}") from None
        return found

    # -- finding and reading the files -------------------------------------------------------------
    def _where(self) -> str:
        return self.options.get("path") or self.options["url"]

    def _list(self) -> list[Drop]:
        if self.options.get("path"):
            return self._list_folder(Path(self.options["path"]))
        url = self.options["url"]
        response = self._get(url)
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
            response = drop.response or self._get(drop.where)
        except HarvestError as exc:
            raise FileProblem(f"could not be downloaded: {exc}") from None
        modified = _http_time(response.headers.get("Last-Modified"))
        if modified is not None:
            self._check_settled((_http_time(response.headers.get("Date")) or time.time()) - modified)
        return response.content, modified

    def _read_settled(self, path: Path) -> tuple[bytes, float]:
        try:
            before = path.stat()
            self._check_settled(time.time() - before.st_mtime)
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

    def _get(self, url: str) -> requests.Response:
        """GET with retries and exponential backoff for network failures and 5xx/429; 4xx fails at once."""
        tries = self.settings.harvest_max_retries + 1
        for attempt in range(tries):
            try:
                response = self.session.get(url, timeout=self.library.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"cannot reach {url}: {exc.__class__.__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                problem = f"HTTP {response.status_code} from {url}"
                if response.status_code < 500 and response.status_code != 429:
                    raise HarvestError(problem)
            if attempt + 1 < tries:
                wait = self.settings.harvest_backoff_s * 2 ** attempt
                log.warning("%s: %s; retrying in %.1f s (attempt %d of %d)", self.library.id, problem, wait,
                            attempt + 1, tries - 1)
                self.sleep(wait)
        raise HarvestError(f"{problem}; gave up after {tries} attempts")

    # -- one file -----------------------------------------------------------------------------------
    def _process(self, name: str, data: bytes, digest: str, mtime: float | None, result: HarvestResult) -> Processed:
        """Check every member completely, then store its records in batches."""
        members = []
        for member, raw in _unpack(name, data):
            fmt = self.library.record_format or _sniff_format(raw)
            try:
                for _ in (split_iso2709(raw) if fmt == "iso2709" else _records(fmt, raw)):
                    pass  # a first pass only to be sure the whole file is readable before storing any of it
            except MarcBytesError as exc:
                where = f"{member}: " if member != name else ""
                raise FileProblem(f"{where}{exc}") from None
            members.append((member, fmt, raw))
        done = Processed(name, digest, len(data))
        fallback = _iso_time(mtime)
        for member, fmt, raw in members:
            counts, n = Counts(), 0
            for batch in _batches(enumerate(_records(fmt, raw), start=1), BATCH):
                known = self.store.content_hashes(self.library.id, [i for _, (_, i) in batch if i is not None])
                items, bad = [], []
                for n, (body, identifier) in batch:
                    if identifier is not None:
                        done.identifiers.add(identifier)  # still at the library even when unreadable: never a deletion
                    if identifier is not None and known.get(identifier) == content_hash(body, False):
                        counts.unchanged += 1  # the same bytes as stored: checked then, its 005 is the stored datestamp
                        continue
                    problem = _iso_problem(body) if fmt == "iso2709" else None
                    if identifier is None and problem is None:
                        problem = "no 001 (record identifier): the record cannot be told apart from others"
                    if problem:
                        bad.append({"identifier": identifier, "reason": f"{member}, record {n}: {problem}", "body": body})
                    else:
                        items.append({"identifier": identifier, "format": fmt, "deleted": False, "sets": [],
                                      "datestamp": _datestamp_005(body, fmt) or fallback, "body": body})
                counts.add(self.store.store_page(self.library.id, items, None, bad))
                if n % (10 * BATCH) == 0:
                    log.info("%s: %s: %d records so far", self.library.id, member, n)
            log.info("%s: %s: %d %s records: %d added, %d updated, %d unchanged, %d quarantined", self.library.id,
                     member, n, fmt, counts.added, counts.updated, counts.unchanged, counts.quarantined)
            result.counts.add(counts)
        return done

    # -- deletions ----------------------------------------------------------------------------------
    def _delete_and_remember(self, processed: list[Processed], current: set[str], force: bool,
                             result: HarvestResult) -> list[str]:
        """Records a replaced export no longer holds become deletions, then the files are remembered.

        Done once for the whole run, after every file is stored, so a record that moved from one
        export to another is never deleted and re-added. A record any other current file still
        holds stays. When the guard refuses, the replaced files are not remembered: the next run
        reads them again and says so again, until the library fixes the export or someone forces.
        """
        store, source = self.store, self.library.id
        gone_from: dict[str, set[str]] = {}
        for done in processed:
            gone = store.file_identifiers(source, done.name) - done.identifiers
            if gone:
                gone_from[done.name] = gone
        notes, refused = [], set()
        if gone_from:
            kept = set().union(*(done.identifiers for done in processed))
            for name in current - {done.name for done in processed}:
                kept |= store.file_identifiers(source, name)
            live = store.live_identifiers(source)
            missing = (set().union(*gone_from.values()) - kept) & live
            if missing:
                deleted, refusal = store.reconcile(source, live - missing, self.options.get("max_delete_ratio", 0.2),
                                                   force)
                result.counts.deleted += deleted
                if refusal:
                    refused = set(gone_from)
                    notes.append(f"{', '.join(sorted(refused))} replaced an earlier export: {refusal}")
                    log.warning("%s: deletions refused: %s", source, refusal)
                else:
                    log.info("%s: %d record(s) no longer in the replaced export(s) %s deleted", source, deleted,
                             ", ".join(sorted(gone_from)))
        for done in processed:
            if done.name not in refused:
                store.remember_file(source, done.name, done.content_hash, done.size, done.identifiers)
        return notes


# -- bytes --------------------------------------------------------------------------------------------
def _unpack(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of each export inside, by magic number: servers and copy tools mangle extensions."""
    if data[:2] == b"\x1f\x8b":
        try:
            return [(name, gzip.decompress(data))]
        except (OSError, EOFError, zlib.error) as exc:
            raise FileProblem(f"the gzip file is damaged or incomplete ({exc}); it may still be being written") from None
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [found for info in archive.infolist() if _wanted_member(info)
                           for found in _unpack(f"{name}/{info.filename}", archive.read(info))]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
            raise FileProblem(f"the zip archive cannot be read ({exc}); it may still be being written") from None
        if not members:
            raise FileProblem("the zip archive holds no MARC export (.mrc, .iso, .marc, .dat, .xml)")
        return members
    return [(name, data)]


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
    raise FileProblem(f"neither ISO2709 (starts with 5 digits) nor MARCXML (starts with <): it begins {data[:16]!r}")


def _records(fmt: str, data: bytes) -> Iterator[tuple[bytes, str | None]]:
    if fmt == "marcxml":
        yield from marcxml_records(data)
    else:
        for record in split_iso2709(data):
            yield record, iso2709_identifier(record)


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _iso_problem(record: bytes) -> str | None:
    try:
        for _ in iso2709_fields(record):
            pass
    except ValueError as exc:
        return f"structure unreadable: {exc}"
    return None


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


def _listing_links(response: requests.Response) -> list[tuple[str, str]]:
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
