"""Harvesting: fetch records from each library's own server into the raw store."""
from __future__ import annotations

import time

from config import Library, Settings
from harvester.oai import HarvestError, HarvestResult, OAIHarvester
from harvester.rawstore import RawStore

__all__ = ["HarvestError", "HarvestResult", "RawStore", "harvest_library"]


def harvest_library(library: Library, store: RawStore, settings: Settings, full: bool = False,
                    sleep=time.sleep, after_page=None) -> HarvestResult:
    """Harvest one library by its protocol; failures come back in the result, never as exceptions."""
    if library.protocol == "oai":
        return OAIHarvester(library, store, settings, sleep=sleep, after_page=after_page).harvest(full=full)
    message = (f"protocol '{library.protocol}' is configured but this version of unioncat can only harvest "
               "OAI-PMH sources; Z39.50 and file drops are planned (issue 3)")
    run_id = store.start_run(library.id, "full")
    result = HarvestResult(library.id, "failed", "full", error=message, run_id=run_id)
    store.update_run(run_id, result.counts, 0, "failed", message)
    return result
