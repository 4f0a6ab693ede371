"""Where each store lives under the data directory, opened once per process."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from config import Config
from harvester.rawstore import RawStore
from unionapi.catalogue import Catalogue
from unionapi.publish.state import FILE as PUBLICATION_FILE, PublicationState
from unionapi.search import open_engine


@dataclass
class Services:
    config: Config
    raw: RawStore
    catalogue: Catalogue
    engine: object
    config_error: str | None = None  # the last reload that failed (the previous configuration stays)
    config_dir: Path | None = None  # where the configuration was loaded from, to reload it
    sources_file: Path | None = None
    publication: PublicationState | None = None  # what /oai publishes (opened beside the catalogue when None)
    # request threads that may wait for (or hold) the pipeline lock at once: the others always serve reads
    writers: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(2))

    @property
    def locks_dir(self) -> Path:
        return Path(self.config.settings.data_dir) / "locks"

    @classmethod
    def open(cls, config: Config, read_only: bool = False) -> "Services":
        data_dir = Path(config.settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(config=config, raw=RawStore(data_dir / "raw.sqlite3"),
                   catalogue=Catalogue(data_dir / "catalogue.sqlite3"),
                   engine=open_engine(config.settings, read_only=read_only),
                   publication=PublicationState(data_dir / PUBLICATION_FILE))

    def close(self) -> None:
        self.raw.close()
        self.catalogue.close()
        if self.publication is not None:
            self.publication.close()
