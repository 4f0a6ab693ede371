"""A real OpenSearch node for the cluster-engine tests (the node itself: bench/opensearch_node.py).

``opensearch_url`` (session fixture): ``$UNIONCAT_SEARCH_URL`` when set (any OpenSearch 2.x, or an
Elasticsearch 8.x with ``UNIONCAT_SEARCH_ENGINE=elasticsearch``); otherwise installs OpenSearch 2.5.0
with ``scripts/install-opensearch`` (idempotent, cached in ``.peers/``), starts it with
``scripts/start-opensearch run`` on a free port of 127.0.0.1 with a throw-away data folder, waits until
it answers and stops it when the session ends. If it cannot be installed or started the tests FAIL
with the reason and "run scripts/install-peers" (which installs it too): a cluster engine that was
never tested must not look green.
"""
from __future__ import annotations

import os

import pytest
import requests

from bench.opensearch_node import LocalOpenSearch

# The tests' node compiles with C1 only: it answers in ~7 s instead of ~9-10 s, on half the CPU (6 s
# instead of 13 s at start), and the tests' few thousand documents never need C2. The benchmark keeps the default.
TEST_JAVA_OPTS = "-XX:TieredStopAtLevel=1"


def cluster_product() -> str:
    return os.environ.get("UNIONCAT_SEARCH_ENGINE") if os.environ.get("UNIONCAT_SEARCH_ENGINE") in (
        "opensearch", "elasticsearch") else "opensearch"


@pytest.fixture(scope="session")
def opensearch_url():
    """The URL of a cluster the tests may create and delete ``unioncat-test-*`` indexes in."""
    url = os.environ.get("UNIONCAT_SEARCH_URL")
    if url:
        try:
            requests.get(url, timeout=5)
        except requests.RequestException as exc:
            pytest.fail(f"UNIONCAT_SEARCH_URL={url} does not answer: {exc}")
        yield url.rstrip("/")
        return
    try:
        LocalOpenSearch.install()
        node = LocalOpenSearch(java_opts=TEST_JAVA_OPTS).start()
    except Exception as exc:  # noqa: BLE001 - reported as a failure, never a skip
        pytest.fail(f"could not install or start OpenSearch for the cluster-engine tests (run scripts/install-peers, "
                    f"which installs it): {exc}", pytrace=False)
    print(f"\nOpenSearch {node.url} ready in {node.startup_s:.1f} s")
    yield node.url
    node.stop()
