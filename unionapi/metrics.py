"""``GET /metrics`` in Prometheus text format: what an IT person graphs and alerts on."""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class CatalogueCollector:
    """Read at scrape time from the stores, so several processes report the same truth."""

    def __init__(self, services):
        self.services = services

    def collect(self):
        services = self.services
        records = GaugeMetricFamily("unioncat_records", "Records in the catalogue, per library", labels=["library"])
        counts = services.config.network.roll_up(services.catalogue.record_counts())  # former ids: their successor
        for library, (count, _) in counts.items():
            records.add_metric([library], count)
        yield records
        quarantined = GaugeMetricFamily("unioncat_quarantined", "Items kept in quarantine, per library",
                                        labels=["library", "stage"])
        for library, count in services.raw.quarantine_counts().items():
            quarantined.add_metric([library, "harvest"], count)
        for library, count in services.catalogue.rejected_counts().items():
            quarantined.add_metric([library, "normalize"], count)
        yield quarantined
        runs = CounterMetricFamily("unioncat_harvests", "Harvest runs by outcome", labels=["library", "outcome"])
        seconds = CounterMetricFamily("unioncat_harvest_seconds", "Time spent harvesting", labels=["library"])
        for library, outcome, count, total in services.raw.run_totals():
            runs.add_metric([library, outcome], count)
            seconds.add_metric([library], total)
        yield runs
        yield seconds
        last = GaugeMetricFamily("unioncat_last_success_timestamp", "When the last good harvest ended (Unix time)",
                                 labels=["library"])
        for library, found in services.config.libraries.items():
            ended = services.raw.last_success(found.storage_id)
            if ended:
                last.add_metric([library], time.mktime(time.strptime(ended, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)
        yield last
        yield GaugeMetricFamily("unioncat_index_entries", "Union entries in the search index",
                                value=services.engine.count())


class Metrics:
    def __init__(self, services):
        self.registry = CollectorRegistry()
        self.registry.register(CatalogueCollector(services))
        self.latency = Histogram("unioncat_api_request_seconds", "API request latency", ["endpoint"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

    def observe(self, endpoint: str, seconds: float) -> None:
        self.latency.labels(endpoint).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
