"""``unioncat demo``: generate the demo network, serve it over OAI-PMH, harvest, index, serve the API."""
from __future__ import annotations

import logging
import os
import signal
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from config import PACKAGE_DIR, Config, load_settings, load_sources

log = logging.getLogger("unioncat.demo")


def demo_config(config_dir: Path | None = None) -> Config:
    """The demo's sources with the normal settings, its data in a ``demo`` folder of the data directory."""
    config_dir = Path(config_dir) if config_dir else PACKAGE_DIR
    settings = load_settings(config_dir / "settings.yaml")
    if not os.environ.get("UNIONCAT_DATA_DIR"):
        settings = replace(settings, data_dir=settings.data_dir / "demo")
    settings = replace(settings, harvest_allow_private_addresses=True)  # the demo's providers are on 127.0.0.1
    sources_file = config_dir / "demo-sources.yaml"
    libraries = load_sources(sources_file)
    for library in libraries.values():
        if library.protocol == "file":  # drops go where this run's data lives
            folder = str(Path(settings.data_dir) / "drops" / library.id)
            libraries[library.id] = replace(library, options={**library.options, "path": folder})
    return Config(settings=settings, libraries=libraries, sources_file=sources_file)


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
    """Serve one demo library the way it really would be: OAI-PMH, Zebra, or an export in a folder."""
    from unionapi.demo.network import as_iso2709, load_records
    if library.protocol == "oai":
        from unionapi.demo.provider import start_provider
        formats = "marc21,oai_dc" if library.metadata_prefix == "marc21" else "oai_dc"
        provider = start_provider(data_file, port=urlsplit(library.endpoint).port, name=library.name,
                                  formats=formats)
        log.info("%s: OAI-PMH provider for %s at %s", library.id, library.name, provider.url)
        return provider
    records = as_iso2709(load_records(data_file))
    if library.protocol == "z3950":
        from unionapi.demo.zebra import ZebraServer
        server = ZebraServer.start(data_dir / "zebra" / library.id, records, port=library.options["port"])
        log.info("%s: Zebra (Z39.50) for %s at %s:%s, database %s", library.id, library.name,
                 server.host, server.port, library.options["database"])
        return server
    folder = Path(library.options["path"])
    folder.mkdir(parents=True, exist_ok=True)
    export = folder / "export-2026-11-22.mrc"
    if not export.exists():
        export.write_bytes(b"".join(records))
        os.utime(export, (export.stat().st_mtime - 3600,) * 2)  # an export finished an hour ago
    log.info("%s: %d records exported by %s into %s", library.id, len(records), library.name, folder)
    return _Nothing()


def run_demo(args) -> int:
    from unionapi.cli import interrupt, serve_forever
    from unionapi.pipeline import harvest_and_update
    from unionapi.services import Services

    signal.signal(signal.SIGTERM, interrupt)  # `kill` must stop the demo's servers too
    config = demo_config(Path(args.config) if args.config else None)
    data_dir = Path(config.settings.data_dir)
    data_files = write_provider_data(data_dir / "providers", args.records)
    with ExitStack() as stack:
        for library in config.libraries.values():
            try:
                stack.callback(start_source(library, data_files[library.id], data_dir).stop)
            except OSError as exc:
                log.error("cannot start the demo source %s: %s. Is another demo running? Stop it, or change "
                          "the ports in %s", library.id, exc, config.sources_file)
                return 1
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
        base = f"http://127.0.0.1:{args.port}"
        print(f"\nunioncat demo is running: {base}/  (search: {base}/search?q=truyen+kieu)\n"
              f"  JSON API: {base}/api/search?q=truyen+kieu   description: {base}/api/openapi.json\n"
              f"Press Ctrl-C to stop.\n", flush=True)
        serve_forever(services, "127.0.0.1", args.port)
    return 0
