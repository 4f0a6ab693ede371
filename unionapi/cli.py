"""``unioncat``: harvest the network, build the union catalogue, serve it."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from config import ConfigError, load_config
from unionapi.search import SearchUnavailable

log = logging.getLogger("unioncat")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="unioncat", description="Union catalogue of a library network: harvest, normalize, index, serve.")
    parser.add_argument("--config", metavar="DIR", help="folder with sources.yaml and settings.yaml "
                        "(default: $UNIONCAT_CONFIG, else ./config)")
    network = parser.add_mutually_exclusive_group()
    network.add_argument("--sources", metavar="FILE", help="the network file (default: sources.yaml in the "
                         "config folder; e.g. config/demo-sources.yaml)")
    network.add_argument("--demo", action="store_true", help="work on what `unioncat demo` harvested: its "
                         "network (with the ports its servers took) and its data, e.g. `unioncat --demo status`")
    parser.add_argument("--data-dir", metavar="DIR", help="where the stores and the index live "
                        "(default: data_dir in settings.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    harvest = commands.add_parser("harvest", help="harvest libraries, then update the catalogue and the index",
                                  description="Harvest the named libraries (default: every enabled one), then "
                                              "normalize what changed and update the search index.")
    harvest.add_argument("libraries", nargs="*", metavar="LIBRARY", help="library ids from sources.yaml")
    harvest.add_argument("--full", action="store_true", help="list everything again instead of what changed "
                         "since the last harvest (also drops an interrupted harvest's checkpoint)")
    harvest.add_argument("--no-index", action="store_true", help="only fill the raw store")
    harvest.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="when the library is already "
                         "being harvested (by another process), wait this long for it instead of refusing")
    harvest.add_argument("--force", action="store_true", help="apply deletions found by a complete listing "
                         "(OAI-PMH or Z39.50 with --full, export files) even when they exceed the library's "
                         "max_delete_ratio")

    index = commands.add_parser("index", help="normalize pending records and update the search index",
                                description="Bring the catalogue and the index up to date with the raw store.")
    index.add_argument("--rebuild", action="store_true", help="re-normalize every raw record and rebuild the "
                       "whole index (search keeps answering from the old index until the new one is committed)")

    run = commands.add_parser("run", help="the service: the API and the harvest scheduler in one process",
                              description="Serve the API and harvest every library on its schedule from "
                                          "sources.yaml. SIGHUP (or POST /api/admin/reload) reloads the "
                                          "configuration; a bad file keeps the old one running.")
    run.add_argument("--host", help="address to listen on (default: api.host in settings.yaml)")
    run.add_argument("--port", type=int, help="port (default: api.port in settings.yaml)")
    commands.add_parser("scheduler", help="the harvest scheduler alone (when the API runs elsewhere)",
                        description="Harvest every library on its schedule until stopped; SIGHUP reloads.")
    commands.add_parser("status", help="the network as a table: last success, last error, next run, records")
    check = commands.add_parser("check", help="do source, raw store, catalogue and index agree, per library?",
                                description="Ask each library's server (or export folder) what it holds now and "
                                            "compare with the raw store, the catalogue and the index. Exit code 1 "
                                            "when anything differs; the output says what and what to run.")
    check.add_argument("libraries", nargs="*", metavar="LIBRARY", help="library ids (default: every enabled one)")

    quality = commands.add_parser("quality", help="what was repaired, doubted or rejected, per library",
                                  description="Print each library's quality report: encoding repairs, warnings, "
                                              "records the normalizer rejected and items the harvester quarantined, "
                                              "with examples, so a cataloguer can fix them at the source.")
    quality.add_argument("libraries", nargs="*", metavar="LIBRARY", help="library ids (default: all)")
    quality.add_argument("--examples", type=int, default=3, help="examples per kind of problem (default 3)")

    dedup = commands.add_parser(
        "dedup", help="rebuild all union entries from the catalogue (cataloguers' decisions kept)",
        description="Cluster every record again into union entries, re-apply every cataloguer decision, and "
                    "update the index. With --train, first estimate the matcher's weights from this network's "
                    "records and its cataloguers' decisions, show what changed and how the matcher now agrees "
                    "with past decisions, and save them (data_dir/match_model.json) for every later run.")
    dedup.add_argument("--train", action="store_true", help="re-estimate the matcher's weights first")
    dedup.add_argument("--train-records", type=int, default=200_000,
                       help="with --train: at most this many records, sampled evenly (default 200000)")
    duplicates = commands.add_parser("duplicates", help="list open duplicate reports, likeliest first",
                                     description="Doubtful pairs the matcher did not merge, for a cataloguer to "
                                                 "merge or reject (through the API or the cataloguer pages).")
    duplicates.add_argument("--library", help="only reports involving this library")
    duplicates.add_argument("--limit", type=int, default=30, help="how many (default 30)")

    export = commands.add_parser(
        "export", help="every union entry as MARCXML, ISO 2709 or JSON lines (for a national union catalogue)",
        description="Stream the union catalogue's entries, each as OAI-PMH publishes it (the description of its "
                    "best record, the network's holdings as 852s, 005 = when it last changed), in constant "
                    "memory. Progress goes to stderr. Exit code 0: all written; 1: written, but some entries "
                    "could not be in this format (named on stderr); 2: no export made (the message says why).")
    export.add_argument("--format", required=True, choices=("marcxml", "iso2709", "jsonl"),
                        help="marcxml: one <marc:collection>; iso2709: MARC 21 records in UTF-8 (.mrc); "
                             "jsonl: one JSON object per line")
    export.add_argument("--library", help="only the entries this library holds (all holdings still listed)")
    export.add_argument("--since", metavar="DATE", help="only the entries whose publication datestamp (as "
                        "OAI-PMH gives it) is at or after DATE: YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, UTC")
    export.add_argument("--deleted", action="store_true", help="also the entries deleted (merged away, last "
                        "record gone): MARC records with leader/05 'd', JSON lines {\"id\": ..., \"deleted\": true}")
    export.add_argument("--output", "-o", metavar="FILE", default="-", help="where to write (default: - for "
                        "standard output); a file is written under FILE.part and renamed when complete")
    export.add_argument("--progress-every", type=int, default=10_000, metavar="N",
                        help="a progress line on stderr every N entries (default 10000; 0: none)")

    token = commands.add_parser("token", help="make an API token for a cataloguer or an admin",
                                description="Print a new API token and the one line to add under 'tokens:' in the "
                                            "'api:' section of settings.yaml. Only the token's hash is stored; give "
                                            "the token itself to the person (it is shown once).")
    token.add_argument("name", help="who will use it, e.g. lan-cataloguer")

    serve = commands.add_parser("serve", help="serve the API with a production WSGI server (waitress)")
    serve.add_argument("--host", help="address to listen on (default: api.host in settings.yaml)")
    serve.add_argument("--port", type=int, help="port (default: api.port in settings.yaml)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")

    demo = commands.add_parser("demo", help="run the bundled demo network: providers, harvest, index, API",
                               description="Serve the six libraries of the demo network on 127.0.0.1 the way real "
                                           "ones are served (four OAI-PMH providers, a Z39.50 server, a folder of "
                                           "MARC exports), each on a free port; harvest them, build the union "
                                           "catalogue and serve it until Ctrl-C. Meanwhile and afterwards, "
                                           "`unioncat --demo COMMAND` works on the demo (status, duplicates...).")
    demo.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    demo.add_argument("--records", type=int, default=5200, help="size of the generated network (default 5200)")
    demo.add_argument("--no-serve", action="store_true", help="stop after building the catalogue")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    for noisy in ("urllib3", "waitress.queue", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.data_dir:
        os.environ["UNIONCAT_DATA_DIR"] = str(Path(args.data_dir).resolve())
    try:
        if args.command == "demo":
            from unionapi.demo.run import run_demo
            return run_demo(args)
        if args.command == "token":
            return cmd_token(args)
        if args.demo:
            if args.command in ("run", "scheduler", "serve"):
                parser.error(f"--demo with {args.command}: the demo serves itself, run `unioncat demo`")
            from unionapi.demo.run import demo_config
            config = demo_config(args.config)
        else:
            config = load_config(args.config, sources=args.sources)
        return {"harvest": cmd_harvest, "index": cmd_index, "quality": cmd_quality,
                "dedup": cmd_dedup, "duplicates": cmd_duplicates, "serve": cmd_serve, "run": cmd_run,
                "scheduler": cmd_run, "status": cmd_status, "check": cmd_check,
                "export": cmd_export}[args.command](config, args)
    except ConfigError as exc:
        print(f"unioncat: configuration error: {exc}", file=sys.stderr)
        return 2
    except SearchUnavailable as exc:
        print(f"unioncat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("unioncat: interrupted; run the same command again to continue where it stopped", file=sys.stderr)
        return 130


def cmd_harvest(config, args) -> int:
    from unionapi.pipeline import harvest_and_update
    from unionapi.services import Services
    ids = args.libraries or [lib.id for lib in config.libraries.values() if lib.enabled]
    if not ids:
        print(f"unioncat: no enabled library in {config.sources_file}; add yours there (see README.md, "
              "'Pointing it at real libraries'), or try `unioncat demo`", file=sys.stderr)
        return 2
    libraries = [config.library(library_id) for library_id in ids]
    services = Services.open(config)
    try:
        failed = harvest_and_update(services, libraries, full=args.full, force=args.force, wait_s=args.wait,
                                    update_index=not args.no_index)
    finally:
        services.close()
    return 1 if failed else 0


def cmd_index(config, args) -> int:
    from unionapi.pipeline import update_catalogue
    from unionapi.services import Services
    services = Services.open(config)
    try:
        update_catalogue(services, rebuild=args.rebuild)
        log.info("index up to date; %d entries searchable", services.engine.count())
    finally:
        services.close()
    return 0


def cmd_quality(config, args) -> int:
    from unionapi.quality import format_report, quality_report
    from unionapi.services import Services
    libraries = [config.library(i) for i in args.libraries] or list(config.libraries.values())
    services = Services.open(config, read_only=True)
    try:
        for library in libraries:
            print(format_report(quality_report(services, library.id, args.examples)) + "\n")
    finally:
        services.close()
    return 0


def cmd_dedup(config, args) -> int:
    from storage.locks import hold
    from unionapi.pipeline import deduplicate_changes, index_changes
    from unionapi.services import Services
    services = Services.open(config)
    try:
        with hold(services.locks_dir, "pipeline", wait_s=3600):
            if args.train:
                train_matcher(config, services.catalogue, args.train_records)
            deduplicate_changes(config, services.catalogue, rebuild=True)
            index_changes(services.catalogue, services.engine, network=config.network)
        log.info("%d union entries from %d records", services.catalogue.entry_count(),
                 sum(services.catalogue.record_counts().values()))
    finally:
        services.close()
    return 0


def train_matcher(config, catalogue, limit: int) -> None:
    """Estimate weights from the catalogue (prior: the weights in force), save them, say what moved."""
    import zlib
    from normalizer.training import agreement, estimate
    from unionapi.pipeline import clusters_for, match_model_path, network_model
    old = network_model(config)
    clusters = clusters_for(config, catalogue)
    labels = clusters.labels()
    ids = catalogue.record_ids()
    if len(ids) > limit:  # an even sample, the same every time; labelled records always in
        keep = {x for label in labels for x in (label.a, label.b)}
        ids = [i for i in ids if i in keep or zlib.crc32(i.encode()) % len(ids) < limit]
    log.info("training the matcher on %d records and %d cataloguer decisions", len(ids), len(labels))
    records = list(catalogue.load_for_matching(ids).values())
    blocked = clusters.constraints().blocked
    before = agreement(old, records, labels, blocked)
    model = estimate(records, labels, prior=old, blocked=blocked,
                     name=f"trained on this network ({len(records)} records, {len(labels)} decisions)")
    after = agreement(model, records, labels, blocked)
    path = match_model_path(config)
    path.write_text(model.to_json(), "utf-8")
    changes = model.changes_from(old)
    print(f"matcher weights saved to {path}: {len(changes)} changed")
    for line in changes:
        print(f"  {line}")
    print("agreement with cataloguers' decisions (before -> after):")
    for key in before:
        print(f"  {key.replace('_', ' ')}: {before[key]} -> {after[key]}")


def cmd_duplicates(config, args) -> int:
    from unionapi.pipeline import clusters_for
    from unionapi.services import Services
    sources = None
    if args.library:  # a library, or a former one: the records stored under its id and its formers'
        sources = config.network.filter_ids(args.library)
        if not sources:
            config.library(args.library)  # says which ids there are
    services = Services.open(config, read_only=True)
    try:
        clusters = clusters_for(config, services.catalogue)
        reports = clusters.reports(library=sources, limit=args.limit)
        for report in reports:
            records = services.catalogue.load([report["a"], report["b"]])
            print(f"#{report['id']}  score {report['score']:.2f}  differs in: {', '.join(report['differing']) or '-'}")
            for record_id in (report["a"], report["b"]):
                record = records.get(record_id)
                if record:
                    authors = "; ".join(a.name for a in record.authors[:2])
                    print(f"    {record_id}: {record.title} / {authors} ({record.year or '?'}) {' '.join(record.isbns)}")
            print(f"    why doubtful: {'; '.join(report['reasons'])}")
        if not reports:
            print("no open duplicate reports" + (f" for {args.library}" if args.library else ""))
    finally:
        services.close()
    return 0


def cmd_export(config, args) -> int:
    """`unioncat export` (unionapi.publish.export): to FILE only once it is complete, or to stdout."""
    from unionapi.publish.export import ExportError, export, parse_since
    from unionapi.services import Services
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"unioncat export: --since: {exc}", file=sys.stderr)
        return 2
    if args.library and len(config.network.resolve(args.library)) != 1:
        print(f"unioncat export: unknown library '{args.library}'; the libraries of this network: "
              f"{', '.join(sorted(config.libraries))}", file=sys.stderr)
        return 2
    if args.library:
        args.library = config.network.resolve(args.library)[0]  # a former id: the library that replaced it
    to_stdout = args.output == "-"
    if to_stdout and sys.stdout.isatty():
        print("unioncat export: not writing an export to the terminal: give --output FILE, or pipe it "
              "(unioncat export ... | gzip > union.gz)", file=sys.stderr)
        return 2
    target = Path(args.output)
    part = target.with_name(target.name + ".part")
    if not to_stdout and not target.parent.is_dir():
        print(f"unioncat export: cannot write {target}: the folder {target.parent} does not exist", file=sys.stderr)
        return 2
    services = Services.open(config, read_only=True)

    def run(out):
        return export(services, args.format, out, library=args.library, since=since, deleted=args.deleted,
                      progress=log.info, every=max(args.progress_every, 0))
    done = False
    try:
        if to_stdout:
            stats = run(sys.stdout.buffer)
        else:
            with open(part, "wb") as out:
                stats = run(out)
            os.replace(part, target)
        done = True
    except ExportError as exc:
        print(f"unioncat export: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        print("unioncat export: the program reading standard output stopped reading; the export is incomplete",
              file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"unioncat export: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        said = "the output is incomplete" if to_stdout else f"{target} was not written"
        print(f"unioncat export: interrupted; {said}", file=sys.stderr)
        return 130
    finally:
        services.close()
        if not done and not to_stdout:
            part.unlink(missing_ok=True)  # a failed or interrupted export leaves no half file
    where = "standard output" if to_stdout else str(target)
    log.info("exported %s entries%s to %s in %.1f s", f"{stats.entries:,}",
             f" and {stats.deleted:,} deletions" if args.deleted else "", where, stats.seconds)
    if not stats.entries and not stats.deleted:
        log.info("nothing to export%s", f" published since {args.since}" if since is not None else
                 " (is the catalogue empty? run `unioncat harvest` first)")
    if stats.skipped_count:
        print(f"unioncat export: {stats.skipped_count} entries left out: a field longer than ISO 2709 allows "
              f"(9,999 bytes); export them with --format marcxml. The first: {', '.join(stats.skipped)}",
              file=sys.stderr)
        return 1
    return 0


def cmd_token(args) -> int:
    from unionapi.auth import new_token
    token, digest = new_token()
    print(f"token for {args.name} (shown once; give it to them): {token}\n\n"
          "add this line under 'tokens:' in the 'api:' section of settings.yaml ('tokens: []' becomes 'tokens:'):\n"
          f"    - {{name: {json.dumps(args.name, ensure_ascii=False)}, sha256: \"{digest}\"}}\n\n"
          "No restart needed: reload the configuration (`kill -HUP` the `unioncat run` process, or POST "
          "/api/admin/reload with a token already in force); only a `unioncat serve` with no token yet must be "
          "restarted.")
    return 0


def cmd_run(config, args) -> int:
    """`unioncat run` (API + scheduler) and `unioncat scheduler` (scheduler only)."""
    import signal
    import time

    from unionapi.app import serve
    from unionapi.publish.z3950 import start_service
    from unionapi.scheduler import reload, start
    from unionapi.services import Services
    services = Services.open(config)
    services.config_dir, services.sources_file = args.config, args.sources
    # zebrasrv beside the API (publish.z3950); None when off or when Zebra cannot start (logged, the API serves)
    z3950 = start_service(services) if args.command == "run" else None
    scheduler = start(services)
    signal.signal(signal.SIGHUP, lambda *_: reload(services, scheduler, args.config, args.sources))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it the way Ctrl-C does
    log.info("scheduler started: %d jobs for %d libraries (up to %d harvests at once)", len(scheduler.get_jobs()),
             sum(lib.enabled for lib in config.libraries.values()), config.settings.max_parallel_harvests)
    try:
        if args.command == "scheduler":
            while True:
                time.sleep(3600)
        else:
            serve(services, args.host or config.settings.api_host, args.port or config.settings.api_port,
                  scheduler=scheduler)
    finally:
        scheduler.shutdown(wait=False)
        if z3950 is not None:
            z3950.stop()
        services.close()
    return 0


def cmd_check(config, args) -> int:
    from unionapi.check import check_library, format_check
    from unionapi.services import Services
    libraries = [config.library(i) for i in args.libraries] or [
        lib for lib in config.libraries.values() if lib.enabled]
    services = Services.open(config, read_only=True)
    try:
        reports = [check_library(services, library) for library in libraries]
    finally:
        services.close()
    for report in reports:
        print(format_check(report))
    return 0 if all(report["ok"] for report in reports) else 1


def cmd_status(config, args) -> int:
    from unionapi.actions import network_status
    from unionapi.services import Services
    services = Services.open(config, read_only=True)
    try:
        statuses = network_status(services)
    finally:
        services.close()
    rows = [("LIBRARY", "LAST SUCCESS", "LAST ERROR", "NEXT RUN", "RECORDS", "WARNING")]
    warnings = []
    for status in statuses:
        library, failure, success = status.library, status.last_failure, status.last_success
        error = ""
        if failure and (not success or failure["at"] > success):
            error = f"{failure['at']} {(failure['error'] or '')[:60]}"
        if status.warning:  # refused deletions: the runs are "ok", the data is not
            warnings.append(f"{library.id}: WARNING since {status.warning['at']}: {status.warning['message']}")
        rows.append((library.id, success or "never", error or "-",
                     status.next_run or ("-" if library.enabled else "disabled"),
                     str(status.record_count), "deletions refused (below)" if status.warning else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if warnings:
        print("\n" + "\n".join(warnings))
    return 0


def cmd_serve(config, args) -> int:
    from unionapi.app import serve
    from unionapi.publish.z3950 import start_service
    from unionapi.services import Services
    services = Services.open(config)  # not read-only: cataloguers' decisions and admin actions write
    services.config_dir, services.sources_file = args.config, args.sources
    z3950 = start_service(services)  # zebrasrv beside the API, as with `unioncat run` (publish.z3950)
    try:
        serve(services, args.host or config.settings.api_host, args.port or config.settings.api_port, args.threads)
    finally:
        if z3950 is not None:
            z3950.stop()
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
