"""Settings: defaults, the TOML file, environment overrides and clear errors."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from broker.config import ROOT, SECTIONS, Settings, load_settings
from broker.errors import ConfigError
from matchers import MatchConfig

CONFIG = ROOT / "config.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_shipped_config_loads_with_the_defaults():
    settings = load_settings(CONFIG, environ={})
    assert settings.web.port == 5000
    assert settings.database.url == ""
    assert settings.database.resolved_url().endswith("instance/broker.sqlite3")
    assert settings.database.resolved_url().startswith("sqlite:///")
    assert {"pcs", "sell2wales", "contracts_finder", "find_a_tender"} <= set(settings.sources)


def test_file_values_override_defaults(tmp_path):
    path = write(tmp_path, '[web]\nport = 8080\n[database]\nurl = "sqlite:////tmp/x.db"\n')
    settings = load_settings(path, environ={})
    assert settings.web.port == 8080
    assert settings.database.url == "sqlite:////tmp/x.db"
    assert settings.web.host == "127.0.0.1"


def test_environment_overrides_one_key_and_is_coerced_by_type(tmp_path):
    path = write(tmp_path, "[web]\nport = 8080\n")
    env = {
        "BROKER_WEB__PORT": "9000",
        "BROKER_DATABASE__URL": "postgresql://u@h/db",
        "BROKER_DATABASE__ECHO": "true",
        "BROKER_HTTP__TIMEOUT_SECONDS": "12.5",
    }
    settings = load_settings(path, environ=env)
    assert settings.web.port == 9000
    assert settings.database.url == "postgresql://u@h/db"
    assert settings.database.echo is True
    assert settings.http.timeout_seconds == 12.5


def test_broker_config_names_another_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[web]\nport = 7000\n")
    settings = load_settings(environ={"BROKER_CONFIG": str(path)})
    assert settings.web.port == 7000


def test_environment_overrides_a_source_option():
    env = {"BROKER_SOURCES__PCS__ENABLED": "false", "BROKER_SOURCES__PCS__INTERVAL_MINUTES": "15"}
    settings = load_settings(CONFIG, environ=env)
    assert settings.sources["pcs"].enabled is False
    assert settings.sources["pcs"].interval_minutes == 15


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[web]\nprot = 1\n", "web.prot"),
        ("[databse]\nurl = ''\n", "databse"),
        ("[sources.pcs]\nkind = 'pcs'\nlookback_monthz = 3\n", "sources.pcs.lookback_monthz"),
        ("[sources.x]\nkind = 'nope'\n", "sources.x.kind"),
        ("[web]\nport = 'eighty'\n", "web.port"),
        ("[scheduler]\nenabled = 'yes'\n", "scheduler.enabled"),
        ("[mail]\nsecurity = 'tls'\n", "mail.security"),
        ("[mail]\ndigest_time = '7.30am'\n", "mail.digest_time"),
        ("[mail]\ndigest_weekday = 'monday'\n", "mail.digest_weekday"),
        ("[mail]\nrate_per_minute = 0\n", "mail.rate_per_minute"),
    ],
)
def test_a_typo_or_bad_value_is_an_error_naming_the_key(tmp_path, text, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings(write(tmp_path, text), environ={})


def test_an_unknown_environment_key_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("web.prot")):
        load_settings(write(tmp_path, ""), environ={"BROKER_WEB__PROT": "1"})


def test_the_mail_password_is_read_only_from_the_environment(tmp_path):
    with pytest.raises(ConfigError, match="BROKER_MAIL__PASSWORD"):
        load_settings(write(tmp_path, "[mail]\npassword = 'hunter2'\n"), environ={})
    settings = load_settings(write(tmp_path, ""), environ={"BROKER_MAIL__PASSWORD": "hunter2"})
    assert settings.mail.password == "hunter2"


def test_a_bad_environment_value_is_an_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("database.echo")):
        load_settings(write(tmp_path, ""), environ={"BROKER_DATABASE__ECHO": "maybe"})


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[web\nport = 1\n")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_settings(path, environ={})


def _comment_blocks(text: str) -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    table = ""
    in_block = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            table, in_block = stripped.strip("[]"), False
        elif stripped.startswith("#"):
            in_block = True
        elif not stripped:
            in_block = False
        elif in_block:
            tables.setdefault(table, set()).add(stripped.split("=", 1)[0].strip())
    return tables


def test_every_setting_is_in_config_toml_with_a_comment():
    text = CONFIG.read_text()
    parsed = tomllib.loads(text)
    documented = _comment_blocks(text)
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert f.name in parsed[section], f"[{section}] {f.name} missing from config.toml"
            assert f.name in documented.get(section, set()), f"[{section}] {f.name} has no comment"
    matching = {f.name for f in dataclasses.fields(MatchConfig)} | {"store_threshold"}
    for key in sorted(matching):
        assert key in parsed["matching"], f"[matching] {key} missing from config.toml"
        assert key in documented.get("matching", set()), f"[matching] {key} has no comment"
    settings = load_settings(CONFIG, environ={})
    for name, source in settings.sources.items():
        table = f"sources.{name}"
        for f in dataclasses.fields(type(source.options)):
            assert f.name in parsed["sources"][name], f"[{table}] {f.name} missing"
            assert f.name in documented.get(table, set()), f"[{table}] {f.name} has no comment"
        for key in ("kind", "enabled", "interval_minutes", "delay_seconds"):
            assert key in parsed["sources"][name], f"[{table}] {key} missing"


def test_matching_keys_reach_the_engine_config(tmp_path):
    path = write(tmp_path, "[matching]\nstore_threshold = 20\nnotify_threshold = 55\n")
    settings = load_settings(path, environ={"BROKER_MATCHING__TITLE_WEIGHT": "0.8"})
    assert settings.matching.store_threshold == 20
    assert settings.matching.engine.notify_threshold == 55
    assert settings.matching.engine.title_weight == 0.8
    with pytest.raises(ConfigError, match=re.escape("matching.notify_treshold")):
        load_settings(write(tmp_path, "[matching]\nnotify_treshold = 1\n"), environ={})


def test_settings_sections_match_the_dataclass():
    names = {f.name for f in dataclasses.fields(Settings)} - {"sources", "testing", "matching"}
    assert names == set(SECTIONS)
