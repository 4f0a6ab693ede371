"""A mistake in sources.yaml is reported with the file, the library, the field and what was expected."""
import pytest
import yaml

from config import ConfigError, load_config
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
