"""docker-compose.yml's structure (no Docker engine runs here, so the file is checked, not run)."""
from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def test_services_volumes_and_health_checks(compose):
    services = compose["services"]
    assert set(services) == {"elasticsearch", "api", "scheduler"}
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check["test"] and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") == "unless-stopped", name
    declared = set(compose["volumes"])
    used = {mount.split(":")[0] for service in services.values() for mount in service.get("volumes", [])}
    assert declared <= used, "every declared volume is mounted"
    assert {"es-data", "unioncat-data"} <= declared
    for name in ("api", "scheduler"):
        assert services[name]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
        assert any(m.startswith("unioncat-data:") for m in services[name]["volumes"]), "they share the catalogue"
    assert services["api"]["command"][:2] == ["unioncat", "serve"]
    assert services["scheduler"]["command"] == ["unioncat", "scheduler"]
    assert "ports" not in services["elasticsearch"], "the cluster is not published"


def test_elasticsearch_is_a_secured_single_node(compose):
    es = compose["services"]["elasticsearch"]
    assert re.match(r"docker\.elastic\.co/elasticsearch/elasticsearch:8\.\d+\.\d+$", es["image"])
    env = _environment(es)
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true" and "ELASTIC_PASSWORD" in env
    assert "${ELASTIC_PASSWORD:?" in env["ELASTIC_PASSWORD"], "no default password"
    text = COMPOSE.read_text(encoding="utf-8")
    for setting in ("xpack.security.enabled", "xpack.security.http.ssl.enabled", "xpack.security.transport.ssl.enabled"):
        line = next(i for i, line in enumerate(text.splitlines()) if line.strip().startswith(setting))
        above = text.splitlines()[max(0, line - 8):line + 1]
        assert any(part.strip().startswith("#") or " # " in part for part in above), f"{setting} is explained"


def test_unioncat_is_configured_only_by_variables_the_config_loader_reads(compose):
    loader = (REPO / "config" / "__init__.py").read_text(encoding="utf-8")
    read = set(re.findall(r'os\.environ(?:\.get\(|\[)"(UNIONCAT_[A-Z0-9_]+)"', loader))
    assert {"UNIONCAT_CONFIG", "UNIONCAT_DATA_DIR", "UNIONCAT_SEARCH_ENGINE", "UNIONCAT_SEARCH_URL",
            "UNIONCAT_SEARCH_INDEX", "UNIONCAT_PORT"} <= read
    for name in ("api", "scheduler"):
        env = _environment(compose["services"][name])
        unioncat_vars = {k for k in env if k.startswith("UNIONCAT_")}
        assert unioncat_vars <= read, f"{name}: {unioncat_vars - read} are read by nothing"
        assert env["UNIONCAT_SEARCH_ENGINE"] == "elasticsearch"
        assert env["UNIONCAT_SEARCH_URL"].startswith("http://elastic:${ELASTIC_PASSWORD")
        assert env["UNIONCAT_SEARCH_URL"].endswith("@elasticsearch:9200")
        assert env["UNIONCAT_CONFIG"] == "/config" and env["UNIONCAT_DATA_DIR"] == "/data"
        assert any(m.endswith(":/config:ro") for m in compose["services"][name]["volumes"])


def test_the_image_is_built_from_the_packages_that_exist(compose):
    build = compose["services"]["api"]["build"]
    assert compose["services"]["scheduler"]["build"] == build
    copied = re.findall(r"^COPY (\S+) ", build["dockerfile_inline"], flags=re.M)
    for path in copied:
        assert (REPO / path).exists(), path
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    top_level = {p.split(".")[0] for p in re.search(r"packages = \[(.*?)\]", pyproject).group(1).replace('"', "")
                 .replace(" ", "").split(",")}
    assert top_level <= set(copied), "every package the wheel needs is copied into the image"
