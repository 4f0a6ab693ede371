"""Loading and validating ``sources.yaml`` (the network) and ``settings.yaml`` (this installation).

Validation happens once, at load, and a mistake names the file, the library, the field and what
was expected, so the IT person can fix it without reading code.
"""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from apscheduler.triggers.cron import CronTrigger

from config.directory import DIRECTORY_FIELDS, Directory, DirectoryError, parse_directory
from config.network import Former, Network, continued_harvest, walk

PACKAGE_DIR = Path(__file__).resolve().parent
# what a library is; "district" is historical since 1 July 2025 (kept for the libraries that replaced them)
KINDS = ("provincial", "district", "commune", "school", "ward", "reading_point", "rotation_point", "mobile",
         "prison", "private", "other")
PROTOCOLS = ("oai", "z3950", "file")
ENGINES = ("embedded", "opensearch", "elasticsearch")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

# Fields each protocol accepts besides the common ones; "*" marks required.
PROTOCOL_FIELDS: dict[str, dict[str, bool]] = {
    "oai": {"endpoint": True, "metadata_prefix": True, "set": False, "record_format": False,
            "max_delete_ratio": False, "dc_creators": False, "max_pages": False},
    # Z39.50 (or SRU through the same client): Koha answers through Zebra, database "biblios"
    "z3950": {"host": True, "port": True, "database": True, "syntax": False, "element_set": False,
              "query": False, "batch_size": False, "user": False, "password": False, "transport": False,
              "incremental": False, "id_field": False, "max_delete_ratio": False},
    # MARC export drops: a folder, or an http(s) URL of a folder listing or of one file
    "file": {"path": False, "url": False, "record_format": False, "max_delete_ratio": False, "settle_s": False,
             "id_field": False, "snapshot": False},
}
Z3950_DEFAULTS = {"syntax": "usmarc", "element_set": "F", "query": '@attr 1=_ALLRECORDS @attr 2=103 ""',
                  "batch_size": 500, "transport": "z3950", "incremental": False, "id_field": "001",
                  "max_delete_ratio": 0.2}
FILE_DEFAULTS = {"max_delete_ratio": 0.2, "settle_s": 5.0, "id_field": "001", "snapshot": "union"}
# A record's id: 001 (or another control field), or tag$code of a data field (Koha: 999$c; 035$a)
_ID_FIELD = re.compile(r"^(00[1-9])$|^([0-9]{3})\$?([a-z0-9])$")
COMMON_FIELDS = {"id", "name", "kind", "parent", "protocol", "schedule", "branches", "enabled", "timeout_s",
                 "one_record_per_entry", "reconcile_schedule", "marc_flavour"}
COMMON_FIELDS |= {"replaces", "valid_from", "harvest_as"}  # reorganisations (config.network)
COMMON_FIELDS |= DIRECTORY_FIELDS  # where and how to get the book: address, hours, coordinates, OPAC (config.directory)
# How MARC records are read: auto (each record tells: a 200 title and 100 coded data are UNIMARC), or fixed.
MARC_FLAVOURS = ("auto", "marc21", "unimarc")
_EVERY = re.compile(r"^every\s+(\d+)\s+(second|minute|hour|day)s?$")
# How an OAI metadata prefix's payload is parsed by the normalizer.
OAI_FORMATS = {"marc21": "marcxml", "marcxml": "marcxml", "marc": "marcxml", "unimarc": "marcxml", "oai_dc": "oai_dc"}


class ConfigError(ValueError):
    """A configuration mistake, worded for the person who edits the YAML file."""


@dataclass(frozen=True)
class Library:
    id: str
    name: str
    kind: str
    protocol: str
    schedule: str
    parent: str | None = None
    endpoint: str | None = None
    metadata_prefix: str | None = None
    set: str | None = None
    record_format: str | None = None  # normalizer format: marcxml | oai_dc | iso2709
    branches: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    timeout_s: float = 60.0
    one_record_per_entry: bool = True  # False: this library's own duplicate records may be merged
    reconcile_schedule: str = "0 4 * * 0"  # a complete listing, to learn about deletions
    marc_flavour: str = "auto"  # auto | marc21 | unimarc (MARC_FLAVOURS)
    options: dict[str, Any] = field(default_factory=dict)  # protocol fields not named above
    directory: Directory = field(default_factory=Directory)  # address, phone, hours, coordinates, OPAC link
    replaces: tuple[Former, ...] = ()  # the former libraries it took over (renamed, merged, split, moved)
    valid_from: str | None = None  # YYYY-MM-DD: since when it is this library
    harvest_as: str | None = None  # the former library whose harvest it continues, when it replaced several

    @property
    def storage_id(self) -> str:
        """Where its harvests are kept (raw-store namespace, checkpoints, history): a library that took
        over one former library whole continues that one's harvest; see config.network."""
        return continued_harvest(self)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    search_engine: str = "embedded"
    search_url: str = "http://127.0.0.1:9200"  # opensearch / elasticsearch only; user:password@ allowed
    search_index: str = "unioncat"  # the alias searched; versioned indexes behind it
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_trusted_proxy: str | None = None  # address of a reverse proxy whose X-Forwarded-* headers are believed
    max_page_size: int = 100
    harvest_max_retries: int = 5
    harvest_backoff_s: float = 2.0
    harvest_max_pages: int = 100_000  # guard against a provider that never stops
    harvest_allow_private_addresses: bool = False  # loopback/private servers (a private network; demo, tests)
    harvest_request_deadline_s: float = 300.0  # one request: connect + the whole body
    harvest_run_deadline_s: float = 4 * 3600.0  # one harvest run
    harvest_max_response_mb: float = 32.0  # one OAI-PMH page, as received and as unpacked
    harvest_max_record_mb: float = 5.0  # one record
    harvest_max_file_mb: float = 256.0  # one export drop (downloaded, or unpacked from .gz/.zip)
    harvest_ca_file: Path | None = None  # PEM certificates of authorities trusted besides the usual ones
    api_tokens: tuple[tuple[str, str], ...] = ()  # (who, sha256 of the token): write access to the API
    max_parallel_harvests: int = 2
    misfire_grace_s: int = 6 * 3600  # a harvest missed while the machine was off still runs (once) this late
    failure_backoff_s: float = 600.0  # after a failed run, wait this long (doubling) before trying again
    z3950_enabled: bool = True  # publish.z3950: `unioncat run` serves the union catalogue over Z39.50 (Zebra)
    z3950_host: str = "127.0.0.1"
    z3950_port: int = 2100
    oai_repository_name: str = "unioncat"  # publish.oai: what /oai's Identify says
    oai_repository_identifier: str = "unioncat"  # the namespace of its identifiers: oai:<this>:<entry id>
    oai_admin_email: str = "admin@unioncat.invalid"


@dataclass(frozen=True)
class Config:
    settings: Settings
    libraries: dict[str, Library]
    sources_file: Path

    @functools.cached_property
    def network(self) -> Network:
        """Former ids -> current libraries (config.network), for everything that shows or filters libraries."""
        return Network(self.libraries)

    def library(self, library_id: str) -> Library:
        """A library by its id, or by a former id it replaced (a divided one: the library continuing it)."""
        current = self.network.current(library_id) if library_id not in self.libraries else library_id
        try:
            return self.libraries[current]
        except KeyError:
            known = ", ".join(self.libraries) or "none"
            raise ConfigError(f"{self.sources_file}: no library with id '{library_id}' (known: {known})") from None


def schedule_trigger(text: str):
    """A cron expression ("0 2 * * *", local time) or "every N seconds|minutes|hours|days"."""
    every = _EVERY.match(text.strip().lower())
    if every:
        from apscheduler.triggers.interval import IntervalTrigger
        count = int(every.group(1))
        if count <= 0:
            raise ValueError("the interval must be at least 1")
        return IntervalTrigger(**{every.group(2) + "s": count})
    return CronTrigger.from_crontab(text)


def default_config_dir() -> Path:
    """``$UNIONCAT_CONFIG``, else ``./config`` when it holds a sources.yaml, else the bundled folder."""
    if os.environ.get("UNIONCAT_CONFIG"):
        return Path(os.environ["UNIONCAT_CONFIG"])
    local = Path.cwd() / "config"
    return local if (local / "sources.yaml").exists() else PACKAGE_DIR


def load_config(config_dir: Path | str | None = None, sources: Path | str | None = None) -> Config:
    config_dir = Path(config_dir) if config_dir else default_config_dir()
    sources_file = Path(sources) if sources else config_dir / "sources.yaml"
    settings = load_settings(config_dir / "settings.yaml")
    return Config(settings=settings, libraries=load_sources(sources_file), sources_file=sources_file)


class _DuplicateKey(Exception):
    def __init__(self, key, first_line: int, second_line: int):
        super().__init__(key, first_line, second_line)
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error: PyYAML alone keeps
    the last silently, so a second `api:` block would quietly undo the first."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` may be overridden, that is its purpose
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the safe loader itself refuses it below
            if first is not None:
                raise _DuplicateKey(key, first, line)
            seen[key] = line
        return super().construct_mapping(node, deep)


# What usually causes PyYAML's terser complaints, said for the person editing the file
_YAML_HINTS = {
    "expected <block end>": "is this line indented like the lines above it?",
    "mapping values are not allowed here": "a value containing ': ' needs quotes, or this line is indented too far",
    "found character '\\t'": "YAML indents with spaces, not tabs",
}


def _yaml_problem(path: Path, text: str, exc: yaml.YAMLError) -> str:
    """One sentence naming the line and column of the problem itself (problem_mark), not the line
    where the enclosing block began (context_mark), which is what PyYAML's message puts first."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses; PyYAML gives its offset
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        return (f"{path}, line {line}, column {column}: not valid YAML: control character #x{exc.character:04x} "
                "(YAML allows printable characters only)")
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or not problem:
        return f"{path}: not valid YAML: {' '.join(str(exc).split())}"
    hint = next((f" ({advice})" for start, advice in _YAML_HINTS.items() if problem.startswith(start)), "")
    return f"{path}, line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {problem}{hint}"


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except _DuplicateKey as dup:
        raise ConfigError(f"{path}: key '{dup.key}' is given twice in one mapping, at lines {dup.first_line} and "
                          f"{dup.second_line} (YAML would keep only the second; merge them into one)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(path, text, exc)) from None


def load_settings(path: Path) -> Settings:
    raw = _read_yaml(path) if path.exists() else {}
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    allowed = {"data_dir", "search", "api", "harvest", "scheduler", "publish"}
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{path}: unknown setting '{key}' (expected one of {', '.join(sorted(allowed))})")
    data_dir = os.environ.get("UNIONCAT_DATA_DIR") or raw.get("data_dir") or "../data"
    data_dir = Path(data_dir)
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    search, api, harvest, scheduler = (raw.get(k) or {} for k in ("search", "api", "harvest", "scheduler"))
    engine = os.environ.get("UNIONCAT_SEARCH_ENGINE") or search.get("engine", "embedded")
    if engine not in ENGINES:
        raise ConfigError(f"{path}: setting 'search.engine': expected one of {', '.join(ENGINES)}; got '{engine}'")
    publish = _section(path, "publish", raw.get("publish"), PUBLISH_KEYS)
    z3950, oai = _z3950(path, publish.get("z3950")), _oai(path, publish.get("oai"))
    try:
        return Settings(
            data_dir=data_dir,
            search_engine=engine,
            search_url=str(os.environ.get("UNIONCAT_SEARCH_URL") or search.get("url", "http://127.0.0.1:9200")),
            search_index=str(os.environ.get("UNIONCAT_SEARCH_INDEX") or search.get("index", "unioncat")),
            api_host=str(api.get("host", "127.0.0.1")),
            api_port=int(os.environ.get("UNIONCAT_PORT") or api.get("port", 8080)),
            max_page_size=int(api.get("max_page_size", 100)),
            api_trusted_proxy=str(api["trusted_proxy"]) if api.get("trusted_proxy") else None,
            harvest_max_retries=int(harvest.get("max_retries", 5)),
            harvest_backoff_s=float(harvest.get("backoff_s", 2.0)),
            harvest_max_pages=int(harvest.get("max_pages", 100_000)),
            harvest_allow_private_addresses=_flag(path, "harvest.allow_private_addresses",
                                                  harvest.get("allow_private_addresses", False)),
            harvest_request_deadline_s=_positive(path, "harvest.request_deadline_s",
                                                 harvest.get("request_deadline_s", 300)),
            harvest_run_deadline_s=_positive(path, "harvest.run_deadline_s", harvest.get("run_deadline_s", 4 * 3600)),
            harvest_max_response_mb=_positive(path, "harvest.max_response_mb", harvest.get("max_response_mb", 32)),
            harvest_max_record_mb=_positive(path, "harvest.max_record_mb", harvest.get("max_record_mb", 5)),
            harvest_max_file_mb=_positive(path, "harvest.max_file_mb", harvest.get("max_file_mb", 256)),
            harvest_ca_file=_ca_file(path, harvest.get("ca_file")),
            api_tokens=_tokens(path, api.get("tokens") or []),
            max_parallel_harvests=max(1, int(scheduler.get("max_parallel_harvests", 2))),
            misfire_grace_s=int(scheduler.get("misfire_grace_s", 6 * 3600)),
            failure_backoff_s=float(scheduler.get("failure_backoff_s", 600)),
            **z3950, **oai,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: a numeric setting is not a number: {exc}") from None


PUBLISH_KEYS = {"z3950", "oai"}  # the sections of `publish:` (giving the catalogue back)
OAI_KEYS = {"repository_name", "repository_identifier", "admin_email"}
_REPOSITORY_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)*")  # OAI identifier scheme
Z3950_KEYS = {"enabled", "host", "port"}


def _section(path: Path, name: str, value, keys: set[str]) -> dict:
    """A mapping of settings with only these keys (empty when not given)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: setting '{name}': expected a mapping of {', '.join(sorted(keys))}; got {value!r}")
    for key in value:
        if key not in keys:
            raise ConfigError(f"{path}: unknown setting '{name}.{key}' (expected one of {', '.join(sorted(keys))})")
    return value


def _z3950(path: Path, value) -> dict:
    """publish.z3950: {enabled, host, port}, the Z39.50 server beside the API."""
    z3950 = _section(path, "publish.z3950", value, Z3950_KEYS)
    port = z3950.get("port", 2100)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{path}: setting 'publish.z3950.port': expected a port number from 1 to 65535; got {port!r}")
    host = os.environ.get("UNIONCAT_Z3950_HOST") or z3950.get("host", "127.0.0.1")  # a container: 0.0.0.0
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
        raise ConfigError(f"{path}: setting 'publish.z3950.host': expected an address to listen on, such as "
                          f"127.0.0.1 or 0.0.0.0; got {host!r}")
    return {"z3950_enabled": _flag(path, "publish.z3950.enabled", z3950.get("enabled", True)),
            "z3950_host": host, "z3950_port": port}


def _oai(path: Path, value) -> dict:
    """publish.oai: {repository_name, repository_identifier, admin_email}, what /oai says of itself."""
    oai = _section(path, "publish.oai", value, OAI_KEYS)
    out = {}
    for key in sorted(OAI_KEYS):
        if key not in oai:
            continue
        text = oai[key]
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{path}: setting 'publish.oai.{key}': expected some text; got {text!r}")
        out[f"oai_{key}"] = text.strip()
    if "oai_repository_identifier" in out and not _REPOSITORY_IDENTIFIER.fullmatch(out["oai_repository_identifier"]):
        raise ConfigError(f"{path}: setting 'publish.oai.repository_identifier': expected a domain-like name such as "
                          f"thuvien.laocai.gov.vn (letters, digits, '-', '.'); got {out['oai_repository_identifier']!r}")
    if "oai_admin_email" in out and "@" not in out["oai_admin_email"]:
        raise ConfigError(f"{path}: setting 'publish.oai.admin_email': expected an e-mail address; "
                          f"got {out['oai_admin_email']!r}")
    return out


def _ca_file(path: Path, value) -> Path | None:
    """harvest.ca_file: read now, so that a wrong path or a file that is no PEM is a config error."""
    if not value:
        return None
    found = Path(str(value))
    if not found.is_absolute():
        found = (path.parent / found).resolve()
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(found))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{path}: setting 'harvest.ca_file': {found} is not a readable file of PEM certificates "
                          f"({exc.__class__.__name__}: {exc})") from None
    return found


def _flag(path: Path, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: setting '{name}': expected true or false; got {value!r}")
    return value


def _positive(path: Path, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{path}: setting '{name}': expected a positive number; got {value!r}")
    return float(value)


def http_url_problem(value) -> str | None:
    """Why a value is not a usable http(s) URL (None when it is): checked fully at load, not at 2 a.m."""
    from urllib.parse import urlsplit
    if not isinstance(value, str) or value != value.strip() or any(c.isspace() or ord(c) < 32 for c in value):
        return "an http:// or https:// URL without spaces"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"an http:// or https:// URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "an http:// or https:// URL"
    host = parts.hostname or ""
    if not host:
        return "an http:// or https:// URL with a host name"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return "an http:// or https:// URL whose host is a name or an IP address"
    elif not all(re.fullmatch(r"[\w-]{1,63}", label) for label in host.removesuffix(".").split(".")):
        return "an http:// or https:// URL whose host is a name or an IP address"
    import httpx
    try:
        httpx.URL(value)
    except httpx.InvalidURL as exc:
        return f"an http:// or https:// URL ({exc})"
    if port == 0:
        return "an http:// or https:// URL with a port from 1 to 65535"
    if parts.fragment:
        return "an http:// or https:// URL without a #fragment"
    return None


def _tokens(path: Path, entries) -> tuple[tuple[str, str], ...]:
    """API tokens are kept as SHA-256 hashes: the settings file never holds a usable secret."""
    tokens = []
    for position, entry in enumerate(entries if isinstance(entries, list) else [None], start=1):
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256", "")))):
            raise ConfigError(f"{path}: setting 'api.tokens' entry #{position}: expected {{name: who, sha256: <64 hex "
                              f"digits>}} (make one with `unioncat token NAME`); got {entry!r}")
        tokens.append((entry["name"], entry["sha256"]))
    return tuple(tokens)


def load_sources(path: Path) -> dict[str, Library]:
    raw = _read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("libraries"), list):
        raise ConfigError(f"{path}: expected a top-level 'libraries:' list")
    libraries: dict[str, Library] = {}
    for position, entry in enumerate(raw["libraries"], start=1):
        library = _library(path, position, entry)
        if library.id in libraries:
            raise ConfigError(f"{path}: library '{library.id}' is listed twice")
        libraries[library.id] = library
    _check_reorganisations(path, libraries)
    network = Network(libraries)
    for library in list(libraries.values()):
        if library.parent is not None and library.parent not in libraries and network.is_former(library.parent):
            now = network.resolve(library.parent)
            if len(now) > 1:
                raise ConfigError(f"{path}: library '{library.id}', field 'parent': '{library.parent}' was divided "
                                  f"between {', '.join(now)}; name the one it belongs to now")
            libraries[library.id] = dataclasses.replace(library, parent=now[0])  # a former id names its successor
        elif library.parent is not None and library.parent not in libraries:
            raise ConfigError(
                f"{path}: library '{library.id}', field 'parent': expected the id of another library "
                f"in this file; got '{library.parent}'")
    return libraries


def _library(path: Path, position: int, entry: Any) -> Library:
    where = f"{path}: library #{position}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping of fields, got {type(entry).__name__}")
    library_id = entry.get("id")
    if not isinstance(library_id, str) or not _ID.match(library_id):
        raise ConfigError(f"{where}, field 'id': expected a short id of lower-case letters, digits and '-' "
                          f"(e.g. tv-kim-son); got {library_id!r}")
    where = f"{path}: library '{library_id}'"

    def fail(name: str, expected: str) -> ConfigError:
        return ConfigError(f"{where}, field '{name}': expected {expected}; got {entry.get(name)!r}")

    protocol = entry.get("protocol")
    if protocol not in PROTOCOLS:
        raise fail("protocol", "one of " + ", ".join(PROTOCOLS))
    specific = PROTOCOL_FIELDS[protocol]
    for name in entry:
        if name == "id_field" and protocol == "oai":
            raise ConfigError(f"{where}: no field 'id_field' for protocol oai: a record's id is the identifier in "
                              "its OAI header, which the provider's deletions also name")
        if name not in COMMON_FIELDS and name not in specific:
            allowed = ", ".join(sorted(COMMON_FIELDS | specific.keys()))
            raise ConfigError(f"{where}: unknown field '{name}' for protocol {protocol} (allowed: {allowed})")
    for name, required in specific.items():
        if required and entry.get(name) in (None, ""):
            raise ConfigError(f"{where}, field '{name}': required for protocol {protocol}")
    if not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise fail("name", "the library's name, e.g. Thư viện huyện Kim Sơn")
    if entry.get("kind") not in KINDS:
        raise fail("kind", "one of " + ", ".join(KINDS))
    schedule = str(entry.get("schedule", "0 2 * * *"))
    reconcile = str(entry.get("reconcile_schedule", "0 4 * * 0"))
    for name, value in (("schedule", schedule), ("reconcile_schedule", reconcile)):
        try:
            schedule_trigger(value)
        except ValueError as exc:
            raise ConfigError(f"{where}, field '{name}': expected a cron expression like '0 2 * * *' (minute hour "
                              f"day month weekday) or 'every 30 minutes'; got {value!r} ({exc})") from None
    branches = entry.get("branches") or {}
    if not isinstance(branches, dict) or not all(isinstance(v, str) for v in branches.values()):
        raise fail("branches", "a mapping of branch code to branch name, e.g. {TRUNGTAM: Trụ sở chính}")
    if protocol == "oai" and http_url_problem(entry["endpoint"]):
        raise fail("endpoint", http_url_problem(entry["endpoint"]) + " of the OAI-PMH base URL")
    record_format = entry.get("record_format")
    if protocol == "oai" and record_format is None:
        record_format = OAI_FORMATS.get(entry["metadata_prefix"])
        if record_format is None:
            raise ConfigError(
                f"{where}, field 'metadata_prefix': unioncat reads {', '.join(OAI_FORMATS)}; got "
                f"{entry['metadata_prefix']!r} (or set 'record_format' to marcxml or oai_dc)")
    if record_format not in (None, "marcxml", "oai_dc", "iso2709"):
        raise fail("record_format", "one of marcxml, oai_dc, iso2709")
    says_unimarc = entry.get("metadata_prefix") == "unimarc" or entry.get("syntax") == "unimarc"
    marc_flavour = entry.get("marc_flavour", "unimarc" if says_unimarc else "auto")
    if marc_flavour not in MARC_FLAVOURS:
        raise fail("marc_flavour", "auto (each record tells), marc21 or unimarc")
    if "marc_flavour" in entry and record_format == "oai_dc":
        raise fail("marc_flavour", "no marc_flavour: this library sends Dublin Core (oai_dc), not MARC")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("enabled", "true or false")
    one_per_entry = entry.get("one_record_per_entry", True)
    if not isinstance(one_per_entry, bool):
        raise fail("one_record_per_entry", "true or false")
    try:
        timeout_s = float(entry.get("timeout_s", 60))
    except (TypeError, ValueError):
        raise fail("timeout_s", "a number of seconds") from None
    options = _protocol_options(entry, protocol, fail)
    try:
        directory = parse_directory(entry, http_url_problem)
    except DirectoryError as exc:
        raise ConfigError(f"{where}, field '{exc.field}': {exc}") from None
    if options.get("path") and not Path(options["path"]).is_absolute():
        options["path"] = str((path.parent / options["path"]).resolve())  # relative to sources.yaml
    known = {"endpoint", "metadata_prefix", "set", "record_format"}
    return Library(
        id=library_id,
        name=entry["name"].strip(),
        kind=entry["kind"],
        protocol=protocol,
        schedule=str(schedule),
        parent=entry.get("parent"),
        endpoint=entry.get("endpoint"),
        metadata_prefix=entry.get("metadata_prefix"),
        set=entry.get("set"),
        record_format=record_format,
        branches={str(k): v for k, v in branches.items()},
        enabled=enabled,
        timeout_s=timeout_s,
        one_record_per_entry=one_per_entry,
        reconcile_schedule=reconcile,
        marc_flavour=marc_flavour,
        options={k: v for k, v in options.items() if k not in known},
        directory=directory,
        **_reorganisation(where, library_id, entry),
    )


def _protocol_options(entry: dict, protocol: str, fail) -> dict:
    """Defaults and checks for the Z39.50 and export-drop fields."""
    if protocol == "oai":
        ratio = entry.get("max_delete_ratio", 0.2)
        if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0 <= ratio <= 1:
            raise fail("max_delete_ratio", "a fraction between 0 and 1, e.g. 0.2")
        # what dc:creator / dc:contributor hold: told apart by the name (auto), or all people, or all bodies
        creators = entry.get("dc_creators", "auto")
        if creators not in ("auto", "person", "corporate"):
            raise fail("dc_creators", "auto (tell people and bodies apart by the name), person or corporate")
        max_pages = entry.get("max_pages")
        if max_pages is not None and (isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1):
            raise fail("max_pages", "a number of pages, at least 1 (a listing longer than this is stopped)")
        return {"max_delete_ratio": ratio, "dc_creators": creators, "max_pages": max_pages}
    options = {**(Z3950_DEFAULTS if protocol == "z3950" else FILE_DEFAULTS),
               **{k: v for k, v in entry.items() if k in PROTOCOL_FIELDS[protocol]}}
    ratio = options["max_delete_ratio"]
    if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0 <= ratio <= 1:
        raise fail("max_delete_ratio", "a fraction between 0 and 1, e.g. 0.2")
    if isinstance(options["id_field"], int) and not isinstance(options["id_field"], bool):
        options["id_field"] = f"{options['id_field']:03d}"  # YAML reads an unquoted 001 as the number 1
    found = _ID_FIELD.match(str(options["id_field"]))
    if not found or (found.group(2) or "").startswith("00"):
        raise fail("id_field", "001, or a data field's tag$code such as 999$c (Koha's biblionumber) or 035$a")
    options["id_field"] = found.group(1) or f"{found.group(2)}${found.group(3)}"  # 999c is 999$c
    if protocol == "z3950":
        if not isinstance(options["port"], int) or not 0 < options["port"] < 65536:
            raise fail("port", "a TCP port number")
        if options["syntax"] not in ("usmarc", "marc21", "unimarc", "xml", "marcxml"):
            raise fail("syntax", "usmarc (ISO2709), unimarc (ISO2709 in UNIMARC) or xml (MARCXML)")
        if options["transport"] not in ("z3950", "sru"):
            raise fail("transport", "z3950 or sru")
        if not isinstance(options["batch_size"], int) or not 1 <= options["batch_size"] <= 10_000:
            raise fail("batch_size", "a number of records per present request, 1 to 10000")
        if not isinstance(options["incremental"], bool):
            raise fail("incremental", "true or false")
    else:
        if bool(options.get("path")) == bool(options.get("url")):
            raise fail("path", "either 'path' (a folder) or 'url' (http:// or https://), not both")
        if options.get("url") and http_url_problem(options["url"]):
            raise fail("url", http_url_problem(options["url"]))
        if options.get("record_format") not in (None, "iso2709", "marcxml"):
            raise fail("record_format", "iso2709 or marcxml (default: from each file's name and content)")
        settle = options["settle_s"]
        if isinstance(settle, bool) or not isinstance(settle, (int, float)) or settle < 0:
            raise fail("settle_s", "a number of seconds, 0 or more")
        if options["snapshot"] not in ("union", "latest"):
            raise fail("snapshot", "union (the catalogue is every current export file together) or latest (the "
                                   "newest file is the whole catalogue: what it lacks is deleted)")
    return options


# -- reorganisations: replaces, valid_from, harvest_as (the alias map itself is config.network) -------------
FORMER_FIELDS = {"id", "name", "kind", "parent", "until", "branches", "replaces", "harvest_as"}
_FORMER_HELP = ("a list of the libraries it took over: ids (tv-kim-son) or mappings {id, name, kind, parent, until, "
                "branches}")


def _reorganisation(where: str, library_id: str, entry: dict) -> dict:
    """replaces / valid_from / harvest_as of one library, each checked on its own (the network as a whole
    is checked by _check_reorganisations once every library is read)."""
    replaces = _formers(f"{where}, field 'replaces'", entry.get("replaces"))
    harvest_as = entry.get("harvest_as")
    if harvest_as is not None and harvest_as not in {former.id for former, _ in walk(replaces, library_id)}:
        raise ConfigError(f"{where}, field 'harvest_as': expected the id of a library listed in its 'replaces' "
                          f"(whose harvest it continues); got {harvest_as!r}")
    return {"replaces": replaces, "harvest_as": harvest_as,
            "valid_from": _date(where, "field 'valid_from'", entry.get("valid_from"))}


def _date(where: str, name: str, value) -> str | None:
    """A day as YYYY-MM-DD (YAML reads an unquoted 2025-07-01 as a date already)."""
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ConfigError(f"{where}, {name}: expected a date YYYY-MM-DD, e.g. 2025-07-01; got {value!r}")


def _formers(where: str, value) -> tuple[Former, ...]:
    """``where``: the file, library and field, for the errors (a nested ``replaces`` says its former library)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected {_FORMER_HELP}; got {value!r}")
    out = []
    for item in value:
        item = {"id": item} if isinstance(item, str) else item
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not _ID.match(item["id"]):
            raise ConfigError(f"{where}: expected {_FORMER_HELP}; got {item!r}")
        former = f"{where}, former library '{item['id']}'"
        unknown = sorted(set(item) - FORMER_FIELDS)
        if unknown:
            raise ConfigError(f"{former}: unknown field '{unknown[0]}' (allowed: {', '.join(sorted(FORMER_FIELDS))})")
        text = item.get("name")
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ConfigError(f"{former}, 'name': expected its name as patrons knew it; got {text!r}")
        if item.get("kind") is not None and item["kind"] not in KINDS:
            raise ConfigError(f"{former}, 'kind': expected one of {', '.join(KINDS)}; got {item['kind']!r}")
        parent = item.get("parent")
        if parent is not None and (not isinstance(parent, str) or not _ID.match(parent)):
            raise ConfigError(f"{former}, 'parent': expected the id of the library it belonged to; got {parent!r}")
        branches = item.get("branches") or []
        if not isinstance(branches, list) or not all(isinstance(code, (str, int)) and str(code) for code in branches):
            raise ConfigError(f"{former}, 'branches': expected the branch codes this library takes, e.g. "
                              f"[KS-XA]; got {item.get('branches')!r}")
        nested = _formers(f"{former}, 'replaces'", item.get("replaces"))
        harvest_as = item.get("harvest_as")
        if harvest_as is not None and harvest_as not in {f.id for f, _ in walk(nested, item["id"])}:
            raise ConfigError(f"{former}, 'harvest_as': expected the id of a library it replaced; got {harvest_as!r}")
        out.append(Former(id=item["id"], name=text.strip() if text else None, kind=item.get("kind"), parent=parent,
                          until=_date(former, "'until'", item.get("until")), branches=tuple(str(c) for c in branches),
                          replaces=nested, harvest_as=harvest_as))
    return tuple(out)


def _check_reorganisations(path: Path, libraries: dict[str, Library]) -> None:
    """Who replaced whom must make one history: no cycle, no current library replaced, one successor per
    former library (several only when each takes its own branches: a split), one library per harvest."""
    replaced_by: dict[str, list[tuple[str, Former, str]]] = {}  # former id -> (replacer, former, listed by)
    for library in libraries.values():
        for former, replacer in walk(library.replaces, library.id):
            replaced_by.setdefault(former.id, []).append((replacer, former, library.id))
    cycle = _cycle({former: [replacer for replacer, _, _ in found] for former, found in replaced_by.items()})
    if cycle:
        owner = next(listed for replacer, _, listed in replaced_by[cycle[0]] if replacer == cycle[1])
        raise ConfigError(f"{path}: library '{owner}', field 'replaces': a cycle: {' -> '.join(cycle)} (each is "
                          "said to be replaced by the next; a library cannot replace one that replaced it)")
    for former_id, found in replaced_by.items():
        replacer, former, owner = found[0]
        if former_id in libraries:
            raise ConfigError(f"{path}: library '{owner}', field 'replaces': '{former_id}' is still a library of "
                              "this file; a library that was replaced is no longer there: remove its own entry "
                              "(its records, holdings and harvest state stay) or take it out of 'replaces'")
        if len(found) > 1 and not all(f.branches for _, f, _ in found):
            replacer2, _, owner2 = found[1]
            raise ConfigError(f"{path}: library '{owner2}', field 'replaces': '{former_id}' is replaced by both "
                              f"'{replacer}' and '{replacer2}'; a former library has one successor (to divide it, "
                              f"give each the branches it takes: {{id: {former_id}, branches: [CODE, ...]}})")
        taken: dict[str, str] = {}
        for replacer, former, owner in found:
            for code in former.branches:
                if code in taken:
                    raise ConfigError(f"{path}: library '{owner}', field 'replaces': branch '{code}' of "
                                      f"'{former_id}' already goes to '{taken[code]}'; each branch goes to one library")
                taken[code] = replacer
        for replacer, former, owner in found:
            if former.parent and former.parent not in libraries and former.parent not in replaced_by:
                raise ConfigError(f"{path}: library '{owner}', field 'replaces', former library '{former_id}', "
                                  f"'parent': expected the id of a library of this file or of a former one; got "
                                  f"'{former.parent}'")
    harvested: dict[str, str] = {}
    for library in libraries.values():
        if library.storage_id in harvested:
            raise ConfigError(f"{path}: library '{library.id}', field 'harvest_as': '{library.storage_id}' is "
                              f"continued by '{harvested[library.storage_id]}' already; one library continues a "
                              "former library's harvest")
        harvested[library.storage_id] = library.id


def _cycle(successors: dict[str, list[str]]) -> list[str] | None:
    """A cycle in "is replaced by" (its first id again at the end), or None."""
    state: dict[str, int] = {}  # 1: on the path being followed, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for following in sorted(successors.get(node, ())):
            if state.get(following) == 1:
                return path[path.index(following):] + [following]
            if following not in state and (found := visit(following, path)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(successors):
        if start not in state and (found := visit(start, [])):
            return found
    return None
