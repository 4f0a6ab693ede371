"""``unioncat demo``: generate the demo network, serve it the way real libraries would (OAI-PMH, Z39.50, a
folder of exports), harvest, index, serve the API and the pages.

Every server takes a free port, so two demos on one machine never collide; the network with the
addresses taken is written to ``sources.yaml`` in the demo's data directory, which is what
``unioncat --demo COMMAND`` (status, duplicates, harvest...) works on.
"""
from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import yaml

from config import PACKAGE_DIR, Config, ConfigError, Settings, load_settings, load_sources

log = logging.getLogger("unioncat.demo")
NETWORK = "demo-sources.yaml"  # in the configuration folder: the libraries, with placeholder addresses
SOURCES = "sources.yaml"  # in the demo's data directory: the same libraries at the addresses they took


def demo_settings(config_dir: Path | None = None) -> Settings:
    """The normal settings, the data in a ``demo`` folder of the data directory, the providers on 127.0.0.1."""
    settings = load_settings(Path(config_dir or PACKAGE_DIR) / "settings.yaml")
    if not os.environ.get("UNIONCAT_DATA_DIR"):
        settings = replace(settings, data_dir=settings.data_dir / "demo")
    return replace(settings, harvest_allow_private_addresses=True)


def demo_config(config_dir: Path | None = None) -> Config:
    """The demo as its last run left it: what ``unioncat --demo COMMAND`` works on."""
    settings = demo_settings(config_dir)
    sources_file = Path(settings.data_dir) / SOURCES
    if not sources_file.exists():
        raise ConfigError(f"{sources_file} not found: `unioncat --demo` works on what `unioncat demo` (or ./demo) "
                          "harvested into this data directory; run it first")
    return Config(settings=settings, libraries=load_sources(sources_file), sources_file=sources_file)


def write_provider_data(folder: Path, records: int) -> dict[str, Path]:
    """Generate the network once (fixed seed); reuse the files on later runs."""
    from unionapi.demo.network import DEMO_SEED, generate_network, save_records
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"generated-v2-{DEMO_SEED}-{records}"  # v2: six libraries
    paths = {}
    if not marker.exists():
        log.info("generating the demo network (%d records, seed %d)", records, DEMO_SEED)
        for library_id, library_records in generate_network(DEMO_SEED, records).items():
            save_records(folder / f"{library_id}.jsonl", library_records)
        marker.touch()
    for path in folder.glob("*.jsonl"):
        paths[path.stem] = path
    return paths


class _Nothing:
    def stop(self) -> None:
        pass


def start_source(library, data_file: Path, data_dir: Path):
    """Serve one demo library the way it really would be: OAI-PMH, Zebra, or an export in a folder.
    Returns what to stop and the fields of its sources.yaml entry that say where it is."""
    from unionapi.demo.network import as_iso2709, load_records
    if library.protocol == "oai":
        from unionapi.demo.provider import start_provider
        formats = "marc21,oai_dc" if library.metadata_prefix == "marc21" else "oai_dc"
        provider = start_provider(data_file, port=0, name=library.name, formats=formats)
        log.info("%s: OAI-PMH provider for %s at %s", library.id, library.name, provider.url)
        return provider, {"endpoint": provider.url}
    records = as_iso2709(load_records(data_file))
    if library.protocol == "z3950":
        from unionapi.demo.zebra import ZebraServer
        server = ZebraServer.start(data_dir / "zebra" / library.id, records)
        log.info("%s: Zebra (Z39.50) for %s at %s:%s, database %s", library.id, library.name,
                 server.host, server.port, library.options["database"])
        return server, {"host": server.host, "port": server.port}
    folder = data_dir / "drops" / library.id
    folder.mkdir(parents=True, exist_ok=True)
    export = folder / "export-2026-11-22.mrc"
    if not export.exists():
        export.write_bytes(b"".join(records))
        os.utime(export, (export.stat().st_mtime - 3600,) * 2)  # an export finished an hour ago
    log.info("%s: %d records exported by %s into %s", library.id, len(records), library.name, folder)
    return _Nothing(), {"path": str(folder)}


def start_sources(network_file: Path, data_files: dict[str, Path], data_dir: Path, stack: ExitStack) -> Path:
    """Start every library of the network (each stopped with ``stack``) and write where they are
    to DATA/sources.yaml; returns that file."""
    entries = yaml.safe_load(network_file.read_text(encoding="utf-8"))["libraries"]
    libraries = load_sources(network_file)
    for entry in entries:
        source, address = start_source(libraries[entry["id"]], data_files[entry["id"]], data_dir)
        stack.callback(source.stop)
        entry.update(address)
    sources_file = data_dir / SOURCES
    sources_file.write_text(f"# The demo network of {network_file} at the addresses its servers took this time,\n"
                            "# written by `unioncat demo`; `unioncat --demo COMMAND` reads it.\n"
                            + yaml.safe_dump({"libraries": entries}, allow_unicode=True, sort_keys=False),
                            encoding="utf-8")
    return sources_file


def run_demo(args) -> int:
    from unionapi.app import serve
    from unionapi.demo.zebra import ZebraError
    from unionapi.pipeline import harvest_and_update
    from unionapi.publish.z3950 import DATABASE as Z3950_DATABASE, start_service
    from unionapi.publish.zebra import free_port
    from unionapi.services import Services

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` must stop the demo's servers too
    config_dir = Path(args.config) if args.config else PACKAGE_DIR
    data_dir = Path(demo_settings(config_dir).data_dir)
    data_files = write_provider_data(data_dir / "providers", args.records)
    with ExitStack() as stack:
        try:
            start_sources(config_dir / NETWORK, data_files, data_dir, stack)
        except (OSError, ZebraError) as exc:
            log.error("cannot start the demo's libraries: %s", exc)
            return 1
        config = demo_config(config_dir)  # the union catalogue's own Z39.50 server on a free port too
        config = replace(config, settings=replace(config.settings, z3950_port=free_port()))
        services = Services.open(config)
        stack.callback(services.close)
        failed = harvest_and_update(services, list(config.libraries.values()))
        log.info("the union catalogue holds %d entries from %d records", services.engine.count(),
                 sum(services.catalogue.record_counts().values()))
        if failed:
            log.error("demo harvest failed for %s", ", ".join(failed))
            return 1
        if args.no_serve:
            return 0
        z3950 = start_service(services)
        if z3950 is not None:
            stack.callback(z3950.stop)
        base = f"http://127.0.0.1:{args.port}"
        zebra = (f"z3950: 127.0.0.1:{config.settings.z3950_port}/{Z3950_DATABASE}" if z3950 is not None
                 else "Z39.50: not served (see the log)")
        print(f"\nunioncat demo is running: {base}/  (search: {base}/search?q=truyen+kieu)\n"
              f"  JSON API: {base}/api/search?q=truyen+kieu   description: {base}/api/openapi.json\n"
              f"  for other catalogues: {base}/oai?verb=Identify   {base}/sru?query=dc.title%3Dtruyen   {zebra}\n"
              f"  the command line on this demo, e.g.: {cli_command(args, 'status')}\n"
              f"                                      {cli_command(args, 'duplicates')}\n"
              f"Press Ctrl-C to stop.\n", flush=True)
        serve(services, "127.0.0.1", args.port)
    return 0


def cli_command(args, command: str) -> str:
    """The exact command that works on this demo (same program, configuration and data directory)."""
    program = sys.argv[0] if Path(sys.argv[0]).name == "unioncat" else "unioncat"
    options = ["--demo"] + (["--config", args.config] if args.config else []) + (
        ["--data-dir", args.data_dir] if args.data_dir else [])
    return shlex.join([program, *options, command])
