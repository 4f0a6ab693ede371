"""Harvesting that runs itself: one APScheduler job per library, kept in the data directory.

Jobs live in a SQLite job store, so a machine that was off for the night finds its missed runs on
start and, with coalescing and a misfire grace time, runs each of them once. Every job harvests one
library under its cross-process lock and then carries the changes through normalize -> dedup ->
index; a library that keeps failing waits longer and longer before its next attempt, and never
holds up the others (at most ``max_parallel_harvests`` run at once).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from config import ConfigError, load_config, schedule_trigger
from storage.locks import Busy
from unionapi.pipeline import harvest_one, update_catalogue

log = logging.getLogger("unioncat.scheduler")
_services = None  # the process's open stores; job functions must be importable by name for the job store


def scheduler_db(data_dir) -> Path:
    return Path(data_dir) / "scheduler.sqlite3"


def start(services) -> BackgroundScheduler:
    """Build, start, and bring the jobs in line with sources.yaml.

    The stored jobs are read only once the job store has started; syncing before that would
    replace every job and lose the runs missed while the machine was off.
    """
    scheduler = build(services)
    scheduler.start(paused=True)
    sync_jobs(scheduler, services.config)
    scheduler.resume()
    return scheduler


def build(services) -> BackgroundScheduler:
    global _services
    _services = services
    settings = services.config.settings
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{scheduler_db(settings.data_dir)}")},
        executors={"default": ThreadPoolExecutor(settings.max_parallel_harvests)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_s})
    return scheduler


def sync_jobs(scheduler: BackgroundScheduler, config) -> None:
    """Make the stored jobs match sources.yaml; unchanged jobs keep their next run (and missed runs)."""
    wanted = {}
    for library in config.libraries.values():
        if library.enabled:
            wanted[f"harvest:{library.id}"] = (library.schedule, library.id, False)
            wanted[f"reconcile:{library.id}"] = (library.reconcile_schedule, library.id, True)
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("schedule: %s removed (no longer in the configuration)", job.id)
            job.remove()
    for job_id, (schedule, library_id, full) in wanted.items():
        existing = scheduler.get_job(job_id)
        if existing is not None and existing.name == schedule:
            continue
        scheduler.add_job(run_library_job, schedule_trigger(schedule), args=[library_id, full], id=job_id,
                          name=schedule, replace_existing=True)
        log.info("schedule: %s at '%s'", job_id, schedule)


def failure_backoff_left(raw, library_id: str, base_s: float) -> tuple[int, float]:
    """(failed runs in a row, seconds still to wait before the next attempt)."""
    failures, last_end = 0, None
    for run in raw.runs(library_id, limit=20):
        if run["outcome"] == "running":
            continue
        if run["outcome"] == "ok":
            break
        failures += 1
        last_end = last_end or run["ended_at"]
    if not failures or not last_end:
        return failures, 0.0
    ended = datetime.strptime(last_end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    wait = min(base_s * 2 ** (failures - 1), 86400.0)
    return failures, max(0.0, ended + wait - time.time())


def run_library_job(library_id: str, full: bool = False, services=None, on_locked=None) -> None:
    """One scheduled harvest: never raises (a failure is in the harvest history, not the scheduler's log).

    Called with ``services`` (the admin "harvest now"), it runs whatever the failure backoff says.
    """
    explicit = services is not None
    services = services or _services
    library = services.config.libraries.get(library_id)
    if library is None or not library.enabled:
        log.info("%s: not in the configuration any more; skipped", library_id)
        return
    failures, wait = failure_backoff_left(services.raw, library.storage_id, services.config.settings.failure_backoff_s)
    if wait > 0 and not explicit:
        log.info("%s: skipped: failed %d time(s) in a row; next attempt in %.0f s", library_id, failures, wait)
        return
    try:
        harvest_one(services, library, full=full, on_locked=on_locked)
    except Busy as exc:
        log.info("%s: skipped: %s", library_id, exc)
        return
    except Exception:  # noqa: BLE001 - one library's bug must not stop the scheduler
        log.exception("%s: the harvest crashed; the next scheduled run will try again", library_id)
        return
    try:
        update_catalogue(services)
    except Exception:  # noqa: BLE001
        log.exception("updating the catalogue after %s failed; the next run will catch up", library_id)


def start_harvest(services, library_id: str, full: bool = False, who: str = "someone") -> bool:
    """Harvest a library now, in the background; False when it is being harvested already.

    Answers only once the library's lock is held (or refused), so "started" is true when said.
    """
    log.info("%s: harvest requested by %s", library_id, who)
    decided, started = threading.Event(), []

    def work():
        try:
            run_library_job(library_id, full, services=services, on_locked=lambda: (started.append(True), decided.set()))
        finally:
            decided.set()

    threading.Thread(target=work, daemon=True, name=f"harvest-{library_id}").start()
    decided.wait(30)
    return bool(started)


def reload(services, scheduler: BackgroundScheduler | None, config_dir=None, sources=None) -> str | None:
    """Load the configuration again; a bad file keeps the old one running. Returns the error, if any."""
    try:
        config = load_config(config_dir, sources=sources)
    except ConfigError as exc:
        services.config_error = str(exc)
        log.error("configuration not reloaded, the previous one stays in force: %s", exc)
        return str(exc)
    services.config = config
    services.config_error = None
    if scheduler is not None:
        sync_jobs(scheduler, config)
    log.info("configuration reloaded from %s (%d libraries)", config.sources_file, len(config.libraries))
    return None


def next_runs(data_dir) -> dict[str, str]:
    """Next scheduled harvest per library, read from the job store (works from the API's process too).

    The store is opened read-only and never started: only the scheduler's process may change it.
    """
    path = scheduler_db(data_dir)
    if not path.exists():
        return {}
    store = SQLAlchemyJobStore(url=f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        jobs = store.get_all_jobs()
    except SQLAlchemyError:
        return {}
    finally:
        store.shutdown()
    return {job.id.split(":", 1)[1]: job.next_run_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for job in jobs if job.id.startswith("harvest:") and job.next_run_time}
