"""A mistake in sources.yaml is reported with the file, the library, the field and what was expected."""
import re

import pytest
import yaml

from config import COMMON_FIELDS, PROTOCOL_FIELDS, PROTOCOLS, ConfigError, load_config
from tests.conftest import REPO, oai_library, write_config


def load_with(tmp_path, entries):
    return load_config(write_config(tmp_path, entries))


def test_bundled_configs_load():
    config = load_config(REPO / "config")
    assert "tv-tinh" in config.libraries
    assert config.settings.data_dir == (REPO / "data").resolve()
    demo = load_config(REPO / "config", sources=REPO / "config" / "demo-sources.yaml")
    assert {lib.kind for lib in demo.libraries.values()} == {"provincial", "district", "school"}
    assert demo.library("tv-tinh").branches["TRUNGTAM"] == "Trụ sở chính"
    assert demo.library("tv-tinh").record_format == "marcxml"
    assert demo.library("thpt-lvt").parent == "tv-tinh"


def test_sources_yaml_documents_every_field():
    comments = "\n".join(line for line in (REPO / "config" / "sources.yaml").read_text(encoding="utf-8").splitlines()
                         if line.startswith("#"))
    fields = COMMON_FIELDS.union(*PROTOCOL_FIELDS.values())
    assert not [name for name in sorted(fields) if not re.search(rf"\b{name}\b", comments)]
    bundled = load_config(REPO / "config").libraries
    assert {lib.protocol for lib in bundled.values()} == set(PROTOCOLS)  # an example of each
    assert not any(lib.enabled for lib in bundled.values())


@pytest.mark.parametrize("change, expected", [
    ({"protocol": "oia"}, "library 'tv-a', field 'protocol': expected one of oai, z3950, file; got 'oia'"),
    ({"kind": "city"}, "library 'tv-a', field 'kind': expected one of provincial, district, commune, school"),
    ({"schedule": "every night"}, "library 'tv-a', field 'schedule': expected a cron expression"),
    ({"endpoint": "ftp://x"}, "library 'tv-a', field 'endpoint': expected an http:// or https:// URL"),
    ({"metadata_prefix": "mods"}, "library 'tv-a', field 'metadata_prefix': unioncat reads"),
    ({"parent": "tv-nowhere"}, "library 'tv-a', field 'parent': expected the id of another library"),
    ({"endpont": "http://x"}, "library 'tv-a': unknown field 'endpont' for protocol oai"),
    ({"branches": ["A"]}, "library 'tv-a', field 'branches': expected a mapping"),
    ({"id": "TV A"}, "library #1, field 'id': expected a short id"),
])
def test_typos_are_named_precisely(tmp_path, change, expected):
    entry = oai_library("tv-a", "http://127.0.0.1:1/oai")
    entry.update(change)
    with pytest.raises(ConfigError) as caught:
        load_with(tmp_path, [entry])
    message = str(caught.value)
    assert str(tmp_path / "sources.yaml") in message
    assert expected in message


def test_missing_required_field_and_duplicates(tmp_path):
    entry = oai_library("tv-a", "http://127.0.0.1:1/oai")
    del entry["endpoint"]
    with pytest.raises(ConfigError, match="library 'tv-a', field 'endpoint': required for protocol oai"):
        load_with(tmp_path, [entry])
    same = oai_library("tv-a", "http://127.0.0.1:1/oai")
    with pytest.raises(ConfigError, match="library 'tv-a' is listed twice"):
        load_with(tmp_path, [same, same])


def test_settings_errors_and_relative_data_dir(tmp_path):
    write_config(tmp_path, [oai_library("tv-a", "http://127.0.0.1:1/oai")])
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump({"search": {"engine": "solr"}}))
    with pytest.raises(ConfigError, match="'search.engine': expected one of embedded"):
        load_config(tmp_path)
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump({"data_dir": "catalogue-data"}))
    assert load_config(tmp_path).settings.data_dir == tmp_path / "catalogue-data"


def test_cli_reports_config_error_without_traceback(tmp_path, capsys):
    from unionapi.cli import main
    entry = oai_library("tv-a", "http://127.0.0.1:1/oai", kind="village")
    write_config(tmp_path, [entry])
    assert main(["--config", str(tmp_path), "harvest"]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "field 'kind'" in err and "Traceback" not in err


def test_a_key_given_twice_is_an_error_with_both_lines(tmp_path):
    write_config(tmp_path, [oai_library("tv-a", "http://127.0.0.1:1/oai")])
    settings = tmp_path / "settings.yaml"
    settings.write_text("data_dir: data\napi:\n  port: 8080\nsearch:\n  engine: embedded\napi:\n  host: 0.0.0.0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == (f"{settings}: key 'api' is given twice in one mapping, at lines 2 and 6 "
                                 "(YAML would keep only the second; merge them into one)")
    settings.write_text("data_dir: data\n")
    sources = tmp_path / "sources.yaml"
    sources.write_text("libraries:\n  - id: tv-a\n    name: A\n    kind: district\n    protocol: oai\n"
                       "    endpoint: http://127.0.0.1:1/oai\n    metadata_prefix: oai_dc\n"
                       "    endpoint: http://127.0.0.1:2/oai\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sources.yaml: key 'endpoint' is given twice in one mapping, at lines 6 and 8"):
        load_config(tmp_path)


def test_a_merge_key_may_be_overridden(tmp_path):
    write_config(tmp_path, [])
    (tmp_path / "sources.yaml").write_text(
        "defaults: &oai {kind: district, protocol: oai, metadata_prefix: oai_dc, schedule: '0 2 * * *'}\n"
        "libraries:\n"
        "  - <<: *oai\n    id: tv-a\n    name: A\n    endpoint: http://127.0.0.1:1/oai\n    kind: commune\n",
        encoding="utf-8")
    assert load_config(tmp_path).library("tv-a").kind == "commune"


def test_a_yaml_mistake_is_reported_at_its_own_line(tmp_path):
    """A mis-indented line is named, not the line where the enclosing block began."""
    write_config(tmp_path, [])
    lines = ["libraries:"]
    for n in range(9):
        lines += [f"  - id: tv-{n}", f"    name: Thư viện {n}", "    kind: district", "    protocol: oai",
                  f"    endpoint: http://127.0.0.1:{n + 1}/oai", "    metadata_prefix: oai_dc"]
    lines[47] = "   " + lines[47].lstrip()  # line 48 indented by three spaces instead of four
    sources = tmp_path / "sources.yaml"
    sources.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{sources}, line 48, column 4: not valid YAML: expected <block end>")
    assert re.findall(r"line \d+", message) == ["line 48"] and "indented" in message and "\n" not in message
    (tmp_path / "settings.yaml").write_text("api:\n\tport: 8080\n")
    with pytest.raises(ConfigError, match=r"settings.yaml, line 2, column 1: not valid YAML: .*spaces, not tabs"):
        load_config(tmp_path)


def test_settle_s_must_be_seconds(tmp_path):
    entry = {"id": "thcs-a", "name": "A", "kind": "school", "protocol": "file", "path": "drops", "settle_s": "soon"}
    with pytest.raises(ConfigError, match="library 'thcs-a', field 'settle_s': expected a number of seconds, 0 or more"):
        load_with(tmp_path, [entry])
    entry["settle_s"] = 0
    assert load_with(tmp_path, [entry]).library("thcs-a").options["settle_s"] == 0


def test_oai_settings_are_read_and_checked(tmp_path):
    from config import ConfigError, load_settings
    path = tmp_path / "settings.yaml"
    path.write_text("publish:\n  oai:\n    repository_name: Mục lục liên hợp tỉnh Lào Cai\n"
                    "    repository_identifier: thuvien.laocai.gov.vn\n    admin_email: thuvien@laocai.gov.vn\n",
                    encoding="utf-8")
    settings = load_settings(path)
    assert (settings.oai_repository_name, settings.oai_repository_identifier, settings.oai_admin_email) == (
        "Mục lục liên hợp tỉnh Lào Cai", "thuvien.laocai.gov.vn", "thuvien@laocai.gov.vn")
    for bad, field in (("repository_identifier: thư viện", "repository_identifier"), ("admin_email: nobody", "admin_email"),
                       ("repository_name: ''", "repository_name"), ("adminEmail: a@b.vn", "adminEmail")):
        path.write_text(f"publish:\n  oai:\n    {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=f"publish.oai.{field}"):
            load_settings(path)
