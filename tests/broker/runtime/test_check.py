"""`broker init` and `broker check`: a commented config.toml, and a checklist whose every
line says what to fix."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from broker import migrate
from broker.cli import cli
from broker.config import ROOT
from broker.db import make_engine

LOCAL = {"localhost", "127.0.0.1"}


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Names other than loopback don't resolve here, as on a machine with no network (and
    no test asks the internet's DNS)."""
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in LOCAL:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    for name in ("BROKER_WEB__SECRET_KEY", "BROKER_CONFIG", "BROKER_DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)


def check(config) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines()


def line(lines: list[str], start: str) -> str:
    """The checklist line starting with `start`, with its fix if it has one."""
    index = next(i for i, text in enumerate(lines) if text.startswith(start))
    follows = lines[index + 1] if index + 1 < len(lines) else ""
    return lines[index] + ("\n" + follows if follows.startswith("      Fix:") else "")


def test_init_writes_the_commented_config_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["init"])
    assert first.exit_code == 0, first.output
    written = (tmp_path / "config.toml").read_text()
    assert written == (ROOT / "config.toml").read_text()  # every key, default and comment
    (tmp_path / "config.toml").write_text("# mine\n")
    again = CliRunner().invoke(cli, ["init"])
    assert again.exit_code == 1
    assert "already exists; it was left as it is" in again.output
    assert (tmp_path / "config.toml").read_text() == "# mine\n"


def test_a_ready_installation_passes_every_check(tmp_path, database_url, smtp_server, monkeypatch):
    monkeypatch.setenv("BROKER_WEB__SECRET_KEY", "from-the-environment")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n'
        '[web]\nbase_url = "https://broker.example.org"\n'
        f'[mail]\nhost = "127.0.0.1"\nport = {smtp_server.port}\ntimeout_seconds = 5.0\n'
        '[sources.council]\nkind = "rss"\nurl = "http://localhost:9/tenders.rss"\n'
    )
    code, lines = check(config)
    assert code == 0, "\n".join(lines)
    assert lines == [
        f"ok    The configuration is valid ({config}).",
        *[text for text in lines if text.startswith("ok    The database ")],
        "ok    The secret key comes from the environment (BROKER_WEB__SECRET_KEY).",
        "ok    Links in e-mails point to https://broker.example.org.",
        f"ok    The mail server 127.0.0.1:{smtp_server.port} answers EHLO.",
        "ok    Source council: localhost resolves.",
        "Ready.",
    ]
    assert len([t for t in lines if t.startswith("ok    The database ")]) == 2
    assert f"latest migration ({migrate.head_revision()})" in lines[2]


def test_each_problem_gets_a_line_saying_what_to_fix(tmp_path, monkeypatch):
    # A SQLite database one migration behind, nothing on the mail port, a source whose
    # name doesn't resolve, no secret key and no public address.
    database = tmp_path / "old.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine, "0007")
    engine.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{database}"\n'
        "[web]\nport = 8080\n"
        f'[mail]\nhost = "127.0.0.1"\nport = {closed}\n'
        '[storage]\ninstance_dir = "' + str(tmp_path / "data") + '"\n'
        '[sources.pcs]\nkind = "pcs"\nbase_url = "https://api.pcs.invalid/v1"\n'
    )
    code, lines = check(config)
    assert code == 1
    assert line(lines, "FAIL  The database is at migration 0007") == (
        f"FAIL  The database is at migration 0007; this broker needs {migrate.head_revision()}.\n"
        "      Fix: run `broker db upgrade` (`broker up` does it on start)"
    )
    assert line(lines, "warn  No secret key").endswith(
        "Fix: set BROKER_WEB__SECRET_KEY (the same on every machine serving the broker), e.g. "
        'to the output of `python3 -c "import secrets; print(secrets.token_hex(32))"`'
    )
    assert str(tmp_path / "data" / "secret_key") in line(lines, "warn  No secret key")
    assert line(lines, "warn  web.base_url is not set") == (
        "warn  web.base_url is not set: links in e-mails point to http://127.0.0.1:8080, the "
        "address `broker up` listens on, which members elsewhere can't reach.\n"
        "      Fix: set web.base_url (BROKER_WEB__BASE_URL) to the broker's public address, "
        "e.g. https://broker.example.org"
    )
    assert line(lines, "FAIL  The mail server") == (
        f"FAIL  The mail server doesn't take mail: connection refused by 127.0.0.1:{closed}.\n"
        "      Fix: check [mail] host, port, security and username, and BROKER_MAIL__PASSWORD"
    )
    assert line(lines, "FAIL  Source pcs") == (
        "FAIL  Source pcs: the name api.pcs.invalid doesn't resolve (Name or service not known)."
        "\n      Fix: check its address in [sources.pcs] or on the Sources page, and this "
        "machine's network and DNS"
    )
    assert lines[-1] == "3 to fix, 2 to look at before running it for a network."


def test_a_missing_database_and_a_bad_setting(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///' + str(tmp_path / "none.sqlite3") + '"\n')
    code, lines = check(config)
    assert code == 1
    assert line(lines, "FAIL  There is no database") == (
        f"FAIL  There is no database at {tmp_path / 'none.sqlite3'} yet.\n"
        "      Fix: run `broker db upgrade` (or `broker up`, which does it), or point "
        "database.url (BROKER_DATABASE__URL) at the database"
    )
    assert not (tmp_path / "none.sqlite3").exists()  # checking created nothing

    config.write_text("[web]\nprot = 8080\n")
    code, lines = check(config)
    assert code == 1
    assert lines[0] == "FAIL  The configuration can't be used: unknown config key 'web.prot'."
    assert lines[1] == f"      Fix: correct it in {config}"
