"""Settings: typed defaults, then config.toml, then BROKER_* environment overrides.

`BROKER_CONFIG` names the file (default: config.toml in the current directory, else the
one shipped with the broker). `BROKER_<SECTION>__<KEY>` overrides one key, e.g.
`BROKER_DATABASE__URL`; a source option is `BROKER_SOURCES__<NAME>__<KEY>`.
Unknown keys, in the file or in the environment, are errors that name the key.

Data lives in the instance folder (`[storage] instance_dir`, `BROKER_INSTANCE_DIR`, else
./instance where `broker` runs), never inside the installed package.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import feeds
import matchers
from broker.errors import ConfigError

if TYPE_CHECKING:
    from feeds.http import HttpPolicy

PACKAGE = Path(__file__).resolve().parent
# The repository in a source checkout; site-packages in an installed broker.
ROOT = PACKAGE.parent
ENV_PREFIX = "BROKER_"
# The one variable that is not BROKER_<SECTION>__<KEY>: short, as deployments set it.
INSTANCE_ENV = "BROKER_INSTANCE_DIR"


def resource(name: str) -> Path:
    """templates/ or config.toml: inside the package when installed from a wheel (setup.py
    copies them there), at the top of the repository in a source checkout."""
    packaged = PACKAGE / name
    return packaged if packaged.exists() else ROOT / name


def is_source_checkout() -> bool:
    """Whether the broker runs from its repository (ROOT is then the repository)."""
    return (ROOT / "pyproject.toml").is_file() and (ROOT / "broker").is_dir()


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 5000
    # More than one: gunicorn with this many worker processes (Python runs one thread at
    # a time per process); one: waitress in the `broker up` process itself.
    workers: int = 2
    threads: int = 1
    secret_key: str = ""
    base_url: str = ""
    page_size: int = 50
    # "Extract details" on Add a notice may read links to loopback and private addresses.
    extract_private_links: bool = False
    # Behind a reverse proxy: trust its X-Forwarded-For, -Proto, -Host, -Port and -Prefix.
    behind_proxy: bool = False


@dataclass(frozen=True)
class DatabaseSettings:
    # Empty: the SQLite file broker.sqlite3 in the instance folder.
    url: str = ""
    echo: bool = False


@dataclass(frozen=True)
class StorageSettings:
    # The instance folder (database, secret key); empty: ./instance where broker runs.
    instance_dir: str = ""


@dataclass(frozen=True)
class HttpSettings:
    user_agent: str = "SEN-Opportunity-Broker/0.1 (+https://github.com/sen-broker)"
    timeout_seconds: float = 30.0
    total_timeout_seconds: float = 300.0
    max_bytes: int = 50_000_000
    retries: int = 3
    backoff_seconds: float = 2.0
    max_wait_seconds: float = 600.0

    def policy(self, **changes: Any) -> HttpPolicy:
        """These limits (timeouts, size cap, retries, User-Agent) as the HTTP client's
        policy, with `changes` (a source's delay, no retries for a pasted link...)."""
        # Imported here: the bulk-import parser process reads settings without httpx.
        from feeds.http import HttpPolicy

        policy = HttpPolicy(
            timeout=self.timeout_seconds,
            total_timeout=self.total_timeout_seconds,
            max_bytes=self.max_bytes,
            user_agent=self.user_agent,
            retries=self.retries,
            backoff=self.backoff_seconds,
            max_wait=self.max_wait_seconds,
        )
        return policy.updated(changes)


@dataclass(frozen=True)
class HarvestSettings:
    batch_size: int = 500
    dedupe_title_threshold: float = 90.0
    dedupe_buyer_threshold: float = 85.0
    keep_raw: bool = True


@dataclass(frozen=True)
class SchedulerSettings:
    enabled: bool = True
    timezone: str = "Europe/London"


@dataclass(frozen=True)
class MailSettings:
    """[mail]: the SMTP server the outbox is sent through, and what members receive."""

    # Off: messages still go to the outbox (and show in the UI) but nothing is sent.
    enabled: bool = True
    # "smtp" sends; "log" (a trial, the demo) keeps each message in the outbox as
    # delivered and sends nothing.
    backend: str = "smtp"
    host: str = "localhost"
    port: int = 25
    # none, starttls or ssl.
    security: str = "none"
    username: str = ""
    # Only ever from BROKER_MAIL__PASSWORD: a password in a file is refused.
    password: str = ""
    from_address: str = "opportunities@sen-broker.example"
    from_name: str = "SEN Opportunity Broker"
    reply_to: str = ""
    # Where "a member is interested" notices for coordinators go (empty: every
    # active coordinator and admin).
    notify_address: str = ""
    # The network the member belongs to, named in every e-mail's footer.
    network_name: str = "your Social Enterprise Network"
    timeout_seconds: float = 30.0
    rate_per_minute: int = 60
    max_attempts: int = 8
    backoff_seconds: float = 60.0
    send_interval_seconds: int = 30
    link_max_age_days: int = 60
    # Local time (Europe/London) digests go out; weekly digests on this weekday.
    digest_time: str = "07:30"
    digest_weekday: str = "mon"


@dataclass(frozen=True)
class BidsSettings:
    """[bids]: consortium bids."""

    # Reminders go to task owners this many days before each task is due, and to a bid's
    # members this many days before the tender deadline; each one once.
    remind_days: tuple[int, ...] = (7, 2)


@dataclass(frozen=True)
class NetworkSettings:
    """[network]: the network's public directory."""

    # Websites that may show the /network/ pages in a frame (the network's own site), as
    # origins: "https://www.example.org". Every other page may never be framed.
    embed_origins: tuple[str, ...] = ()
    # "What do you need?" searches allowed per visitor's address per minute.
    search_per_minute: int = 60
    # Buyers' messages and opportunities per address, and per e-mail, per hour.
    submissions_per_hour: int = 5
    # A buyer confirms within this many hours, or what they sent is deleted.
    confirm_hours: int = 48


# An origin as a CSP source: scheme, host (perhaps "*." for its subdomains), port.
ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")


MAIL_SECURITY = ("none", "starttls", "ssl")
MAIL_BACKENDS = ("smtp", "log")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class MatchingSettings:
    """[matching]: the broker's own keys; every other key is a MatchConfig field."""

    # Matches scoring at least this are stored and shown to coordinators; alerts use the
    # engine's notify_threshold.
    store_threshold: int = 30
    engine: matchers.MatchConfig = field(default_factory=matchers.MatchConfig)


MATCHING_KEYS = ("store_threshold",)


# Keys every [sources.NAME] table may carry; everything else belongs to the kind's Options.
@dataclass(frozen=True)
class SourceSettings:
    name: str
    kind: str
    enabled: bool = True
    interval_minutes: int = 60
    delay_seconds: float | None = None
    options: Any = None


COMMON_SOURCE_KEYS = ("kind", "enabled", "interval_minutes", "delay_seconds")


@dataclass(frozen=True)
class Settings:
    web: WebSettings = field(default_factory=WebSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    harvest: HarvestSettings = field(default_factory=HarvestSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    bids: BidsSettings = field(default_factory=BidsSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    sources: Mapping[str, SourceSettings] = field(default_factory=dict)
    testing: bool = False

    @property
    def instance_path(self) -> Path:
        """The instance folder, absolute (load_settings fixes it when settings are read)."""
        return Path(self.storage.instance_dir or "instance").expanduser().absolute()

    @property
    def database_url(self) -> str:
        """The URL to connect to; `database.url`, else the SQLite file in the instance folder."""
        return self.database.url or f"sqlite:///{self.instance_path / 'broker.sqlite3'}"

    def enabled_sources(self) -> list[SourceSettings]:
        """config.toml's enabled sources; `broker.harvest.catalogue.enabled_sources` adds the
        ones admins stored on the Sources page (this module never reads the database)."""
        return [s for s in self.sources.values() if s.enabled]


SECTIONS: dict[str, type] = {
    "web": WebSettings,
    "database": DatabaseSettings,
    "http": HttpSettings,
    "harvest": HarvestSettings,
    "scheduler": SchedulerSettings,
    "mail": MailSettings,
    "bids": BidsSettings,
    "network": NetworkSettings,
    "storage": StorageSettings,
}


def default_config_path(environ: Mapping[str, str]) -> Path | None:
    """The file named by BROKER_CONFIG, else ./config.toml, else the one shipped with the
    broker (every key at its default, and the public sources)."""
    if environ.get("BROKER_CONFIG"):
        return Path(environ["BROKER_CONFIG"])
    for candidate in (Path.cwd() / "config.toml", resource("config.toml")):
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Layer defaults, the TOML file, BROKER_* env vars and `overrides`, then validate."""
    environ = os.environ if environ is None else environ
    path = Path(path) if path else default_config_path(environ)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    mail = raw.get("mail")
    if isinstance(mail, Mapping) and mail.get("password"):
        raise ConfigError(
            f"'mail.password' is set in {path}: set it only in the environment, "
            "as BROKER_MAIL__PASSWORD"
        )
    _apply_env(raw, environ)
    if environ.get(INSTANCE_ENV):
        # Over the file's value, as every variable is; BROKER_STORAGE__INSTANCE_DIR wins.
        storage = raw.setdefault("storage", {})
        if isinstance(storage, dict) and not isinstance(storage.get("instance_dir"), _EnvValue):
            storage["instance_dir"] = _EnvValue(environ[INSTANCE_ENV], INSTANCE_ENV)
    if overrides:
        _deep_update(raw, overrides)
    settings = _build(raw, where=str(path) if path else "defaults")
    # Fixed now, so that a process that changes directory later still finds its data.
    instance = settings.instance_path
    _check_instance(instance)
    return dataclasses.replace(
        settings, storage=dataclasses.replace(settings.storage, instance_dir=str(instance))
    )


def _check_instance(instance: Path) -> None:
    """Refuse an instance folder inside the installed packages, which upgrades replace."""
    if not is_source_checkout() and instance.is_relative_to(ROOT):
        raise ConfigError(
            f"the instance folder {instance} is inside the installed packages ({ROOT}), "
            "where an upgrade would delete it: run broker from another directory, or set "
            f"[storage] instance_dir or {INSTANCE_ENV}"
        )


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if any(not p for p in parts):
            raise ConfigError(f"environment variable {name} is not BROKER_<SECTION>__<KEY>")
        target = raw
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"environment variable {name} names a key, not a table")
        # Strings from the environment are coerced later by the declared field type.
        target[parts[-1]] = _EnvValue(value, name)


class _EnvValue(str):
    """A string from the environment; coerced by the declared type, never guessed."""

    def __new__(cls, value: str, origin: str) -> _EnvValue:
        obj = super().__new__(cls, value)
        obj.origin = origin  # type: ignore[attr-defined]
        return obj


def _deep_update(target: dict[str, Any], updates: Mapping[str, Any]) -> None:
    for key, value in updates.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _build(raw: Mapping[str, Any], where: str) -> Settings:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS:
            values[key] = build_dataclass(SECTIONS[key], value, key)
        elif key == "sources":
            values["sources"] = _build_sources(value)
        elif key == "matching":
            values["matching"] = _build_matching(value)
        elif key == "testing":
            values["testing"] = coerce(value, bool, "testing")
        else:
            raise ConfigError(f"unknown config section or key '{key}' in {where}")
    if "mail" in values:
        _check_mail(values["mail"])
    if "bids" in values and any(d < 0 or d > 365 for d in values["bids"].remind_days):
        raise ConfigError("'bids.remind_days' are days before a due date: whole numbers, 0 to 365")
    if "network" in values:
        _check_network(values["network"])
    return Settings(**values)


def _check_network(network: NetworkSettings) -> None:
    for origin in network.embed_origins:
        # It goes into a header: nothing but an origin may get there.
        if not ORIGIN.match(origin):
            raise ConfigError(
                f"'network.embed_origins' holds '{origin}'; give origins such as "
                "https://www.example.org (scheme and host, no path)"
            )
    if network.search_per_minute < 1:
        raise ConfigError("'network.search_per_minute' must be at least 1")
    if network.submissions_per_hour < 1:
        raise ConfigError("'network.submissions_per_hour' must be at least 1")
    if not 1 <= network.confirm_hours <= 24 * 30:
        raise ConfigError("'network.confirm_hours' must be between 1 and 720")


def _check_mail(mail: MailSettings) -> None:
    if mail.backend not in MAIL_BACKENDS:
        raise ConfigError(f"'mail.backend' is '{mail.backend}'; use smtp or log")
    if mail.security not in MAIL_SECURITY:
        raise ConfigError(f"'mail.security' is '{mail.security}'; use one of none, starttls, ssl")
    if mail.digest_weekday not in WEEKDAYS:
        raise ConfigError(
            f"'mail.digest_weekday' is '{mail.digest_weekday}'; use one of {', '.join(WEEKDAYS)}"
        )
    hour, _, minute = mail.digest_time.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigError(f"'mail.digest_time' is '{mail.digest_time}'; use HH:MM, e.g. 07:30")
    for key in ("rate_per_minute", "max_attempts", "send_interval_seconds", "link_max_age_days"):
        if getattr(mail, key) < 1:
            raise ConfigError(f"'mail.{key}' must be at least 1")


def _build_sources(raw: Any) -> dict[str, SourceSettings]:
    if not isinstance(raw, Mapping):
        raise ConfigError("'sources' must be a table of [sources.NAME] tables")
    sources = {}
    for name, table in raw.items():
        where = f"sources.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"'{where}' must be a table")
        kind = str(table.get("kind", name))
        try:
            harvester = feeds.get(kind)
        except KeyError:
            known = ", ".join(sorted(feeds.REGISTRY))
            raise ConfigError(f"'{where}.kind' is '{kind}'; known kinds: {known}") from None
        common = {k: table[k] for k in COMMON_SOURCE_KEYS if k in table and k != "kind"}
        rest = {k: v for k, v in table.items() if k not in COMMON_SOURCE_KEYS}
        options = build_dataclass(harvester.Options, rest, where)
        settings = build_dataclass(
            SourceSettings, {**common, "name": name, "kind": kind}, where, allow_missing=True
        )
        sources[name] = dataclasses.replace(settings, options=options)
    return sources


def _build_matching(raw: Any) -> MatchingSettings:
    if not isinstance(raw, Mapping):
        raise ConfigError("'matching' must be a table")
    own = {k: v for k, v in raw.items() if k in MATCHING_KEYS}
    engine = build_dataclass(
        matchers.MatchConfig, {k: v for k, v in raw.items() if k not in MATCHING_KEYS}, "matching"
    )
    settings = build_dataclass(MatchingSettings, own, "matching")
    return dataclasses.replace(settings, engine=engine)


def build_dataclass(cls: type, raw: Any, where: str, allow_missing: bool = False) -> Any:
    """Build a frozen settings dataclass from a mapping, naming any unknown or bad key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"'{where}' must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields or key in ("options", "engine"):
            raise ConfigError(f"unknown config key '{where}.{key}'")
        kwargs[key] = coerce(value, hints[key], f"{where}.{key}")
    return cls(**kwargs)


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Coerce a TOML or environment value to the declared type, or raise ConfigError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None or (isinstance(value, _EnvValue) and value == ""):
            return None
        return coerce(value, non_none[0], where)
    from_env = isinstance(value, _EnvValue)
    try:
        if hint is bool:
            if from_env:
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError("expected true or false")
            if isinstance(value, bool):
                return value
            raise ValueError("expected true or false")
        if hint is int:
            if isinstance(value, bool) or (not from_env and not isinstance(value, int)):
                raise ValueError("expected a whole number")
            return int(value)
        if hint is float:
            if isinstance(value, bool) or (not from_env and not isinstance(value, int | float)):
                raise ValueError("expected a number")
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                raise ValueError("expected a string")
            return str(value)
        if origin in (tuple, list):
            item_hint = args[0] if args else str
            items = [v.strip() for v in value.split(",") if v.strip()] if from_env else value
            if not isinstance(items, list | tuple):
                raise ValueError("expected a list")
            converted = [
                coerce(_EnvValue(i, where) if from_env else i, item_hint, where) for i in items
            ]
            return tuple(converted) if origin is tuple else converted
        if origin in (dict, Mapping) or hint is dict:
            if not isinstance(value, Mapping):
                raise ValueError("expected a table")
            return dict(value)
    except ValueError as exc:
        raise ConfigError(f"config key '{where}' has a bad value {value!r}: {exc}") from None
    return value
