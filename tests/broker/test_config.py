"""Settings: defaults, the TOML file, environment overrides and clear errors."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select

import feeds
from broker.config import ROOT, SECTIONS, Settings, load_settings
from broker.errors import ConfigError
from feeds.sources.ted import TedOptions
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
    assert settings.database_url.endswith("instance/broker.sqlite3")
    assert settings.database_url.startswith("sqlite:///")
    assert {"pcs", "sell2wales", "contracts_finder", "find_a_tender", "ted"} <= set(
        settings.sources
    )
    # Only real publishers are harvested out of the box; the feed and listing page
    # examples are commented out.
    assert {s.kind for s in settings.sources.values()} == {
        "pcs",
        "sell2wales",
        "contracts_finder",
        "find_a_tender",
        "ted",
    }


def test_ted_is_configured_for_uk_and_irish_contract_notices():
    ted = load_settings(CONFIG, environ={}).sources["ted"]
    assert (ted.kind, ted.enabled) == ("ted", True)
    assert ted.options.query == TedOptions().query
    assert "buyer-country IN (GBR IRL)" in ted.options.query
    assert "cn-standard" in ted.options.query
    assert 1 <= ted.options.limit <= 250
    assert ted.options.fields == TedOptions().fields
    assert feeds.get("ted")(ted.options).check() is None


def commented_examples(text: str) -> dict[str, str]:
    """The commented-out [sources.NAME] examples, with their "# " taken off."""
    examples: dict[str, str] = {}
    current: list[str] | None = None
    for line in [*text.splitlines(), ""]:
        if line.startswith("# [sources."):
            current = [line[2:]]
            examples[line[2:].strip("[]").removeprefix("sources.")] = ""
        elif current is not None and line.startswith("#"):
            current.append(line[2:] if line.startswith("# ") else line[1:])
        elif current is not None:
            examples[current[0].strip("[]").removeprefix("sources.")] = "\n".join(current) + "\n"
            current = None
    return examples


def test_the_commented_feed_and_listing_examples_load_and_document_every_option(tmp_path):
    examples = commented_examples(CONFIG.read_text())
    assert set(examples) == {"example_council_feed", "example_council_listing"}
    text = "".join(examples.values())
    settings = load_settings(write(tmp_path, text), environ={})
    feed, listing = (
        settings.sources["example_council_feed"],
        settings.sources["example_council_listing"],
    )
    assert (feed.kind, feed.enabled, listing.kind, listing.enabled) == (
        "rss",
        False,
        "html_listing",
        False,
    )
    assert listing.options.respect_robots is True and listing.options.detail_selector
    assert listing.delay_seconds == 5.0
    parsed = tomllib.loads(text)
    documented = _comment_blocks(text)
    for name, source in settings.sources.items():
        table = f"sources.{name}"
        assert feeds.get(source.kind)(source.options).check() is None
        for f in dataclasses.fields(type(source.options)):
            assert f.name in parsed["sources"][name], f"[{table}] {f.name} missing"
            assert f.name in documented.get(table, set()), f"[{table}] {f.name} has no comment"
        for key in ("kind", "enabled", "interval_minutes", "delay_seconds"):
            assert key in parsed["sources"][name], f"[{table}] {key} missing"
            assert key in documented.get(table, set()), f"[{table}] {key} has no comment"


def test_the_shipped_sources_fail_gracefully_with_no_network(database_url, monkeypatch):
    """A fresh machine with no network: every harvest is recorded as failed, none raises."""
    from broker import create_app
    from broker.models import HarvestRun, SourceState
    from broker.runtime.jobs import harvest_job

    # All traffic goes to a proxy on a closed port: nothing leaves the machine.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    settings = load_settings(
        CONFIG,
        environ={},
        overrides={
            "testing": True,
            "database": {"url": database_url},
            "http": {"retries": 0, "timeout_seconds": 2.0},
            # No polite pauses between the failing requests: the test needn't wait.
            "sources": {
                name: {"delay_seconds": 0.0}
                for name in tomllib.loads(CONFIG.read_text())["sources"]
            },
        },
    )
    app = create_app(settings)
    sessions = app.extensions["broker.sessions"]
    names = [s.name for s in settings.enabled_sources()]
    assert "ted" in names
    for name in names:
        harvest_job(app, name)
    with sessions() as s:
        runs = {run.source: run for run in s.scalars(select(HarvestRun))}
        assert set(runs) == set(names)
        for name, run in runs.items():
            assert run.status == "failed", (name, run.error)
            assert run.error and "Traceback" not in run.error
            assert s.get(SourceState, name).consecutive_failures == 1
    app.extensions["broker.engine"].dispose()


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


def test_data_lives_in_the_instance_folder_where_broker_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(CONFIG, environ={})
    assert settings.instance_path == tmp_path / "instance"
    assert settings.database_url == f"sqlite:///{tmp_path / 'instance' / 'broker.sqlite3'}"
    # Fixed when read: a process that changes directory later keeps its data.
    monkeypatch.chdir(tmp_path.parent)
    assert settings.instance_path == tmp_path / "instance"


def test_the_instance_folder_can_be_set_in_the_file_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from_file = load_settings(write(tmp_path, '[storage]\ninstance_dir = "data"\n'), environ={})
    assert from_file.instance_path == tmp_path / "data"
    elsewhere = tmp_path / "elsewhere"
    from_env = load_settings(CONFIG, environ={"BROKER_INSTANCE_DIR": str(elsewhere)})
    assert from_env.instance_path == elsewhere
    assert from_env.database_url.endswith("elsewhere/broker.sqlite3")
    # The section's own variable wins over the short one.
    both = load_settings(
        CONFIG,
        environ={"BROKER_INSTANCE_DIR": "one", "BROKER_STORAGE__INSTANCE_DIR": str(elsewhere)},
    )
    assert both.instance_path == elsewhere


def test_an_instance_folder_inside_the_installed_packages_is_refused(tmp_path, monkeypatch):
    import broker.config

    # As installed: ROOT is site-packages, which has no pyproject.toml.
    site = tmp_path / "site-packages"
    (site / "broker").mkdir(parents=True)
    monkeypatch.setattr(broker.config, "ROOT", site)
    with pytest.raises(ConfigError, match="inside the installed packages"):
        load_settings(CONFIG, environ={"BROKER_INSTANCE_DIR": str(site / "instance")})
    assert load_settings(CONFIG, environ={"BROKER_INSTANCE_DIR": str(tmp_path / "data")})


def test_the_secret_key_is_kept_in_the_instance_folder(tmp_path, monkeypatch):
    from broker import create_app

    instance = tmp_path / "data"
    settings = load_settings(
        write(tmp_path, f'[database]\nurl = "sqlite:///{tmp_path / "b.sqlite3"}"\n'),
        environ={"BROKER_INSTANCE_DIR": str(instance)},
    )
    app = create_app(settings)
    assert app.instance_path == str(instance)
    assert (instance / "secret_key").read_text().strip() == app.secret_key
    app.extensions["broker.engine"].dispose()


def test_embed_origins_must_be_origins(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[network]\nembed_origins = ["https://www.network.example.org"]\n')
    assert load_settings(path, environ={}).network.embed_origins == (
        "https://www.network.example.org",
    )
    # It goes into a header: a path, a space or a ";" could add to the policy.
    for bad in ("https://a.org/page", "https://a.org; script-src *", "*", "javascript:x"):
        path.write_text(f"[network]\nembed_origins = [{bad!r}]\n".replace("'", '"'))
        with pytest.raises(ConfigError, match=re.escape("network.embed_origins")):
            load_settings(path, environ={})
