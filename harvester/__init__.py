"""Harvesting: fetch records from each library's own server into the raw store."""
from __future__ import annotations

import time

from config import Library, Settings
from harvester.oai import OAIHarvester
from harvester.rawstore import HarvestError, HarvestResult
from harvester.rawstore import RawStore  # noqa: F401  (re-exported)

__all__ = ["HarvestError", "HarvestResult", "RawStore", "harvest_library", "source_identifiers"]


def harvest_library(library: Library, store: RawStore, settings: Settings, full: bool = False,
                    force: bool = False, sleep=time.sleep, after_page=None) -> HarvestResult:
    """Harvest one library by its protocol; failures come back in the result, never as exceptions.

    ``force`` lets a complete listing delete more records than the library's max_delete_ratio.
    """
    if library.protocol == "oai":
        return OAIHarvester(library, store, settings, sleep=sleep, after_page=after_page).harvest(full=full, force=force)
    if library.protocol == "z3950":
        from harvester.z3950 import Z3950Harvester
        return Z3950Harvester(library, store, settings, sleep=sleep).harvest(full=full, force=force)
    from harvester.files import FileDropHarvester
    return FileDropHarvester(library, store, settings).harvest(full=full, force=force)


def source_identifiers(library: Library, store: RawStore, settings: Settings) -> set[str]:
    """What the library's own server (or export folder) holds right now; raises HarvestError."""
    if library.protocol == "oai":
        return OAIHarvester(library, store, settings).identifiers()
    if library.protocol == "z3950":
        from harvester.z3950 import Z3950Harvester
        return Z3950Harvester(library, store, settings).identifiers()
    from harvester.files import FileDropHarvester
    return FileDropHarvester(library, store, settings).identifiers()
