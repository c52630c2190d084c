"""Sources admins add on the Sources page (RSS/Atom feeds, HTML listing pages), stored in
the database and checked the way a harvest would use them."""

from __future__ import annotations

import dataclasses
import logging
import re
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

import feeds
from broker.config import SourceSettings, coerce
from broker.errors import ConfigError, FieldError, InvalidFields
from broker.models import ConfiguredSource, SourceState
from feeds.html_listing import Selectors, check_selectors

logger = logging.getLogger(__name__)


# The kinds an admin can add on the page; the API sources need config.toml.
ADDABLE_KINDS = {"rss": "RSS or Atom feed", "html_listing": "Web page listing (HTML)"}


NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")


# "add" is a path on the Sources pages (/sources/add/<kind>).
RESERVED_NAMES = frozenset({"add"})


MIN_INTERVAL = 5  # minutes: a council's web server is not an API


MAX_INTERVAL = 7 * 24 * 60


MAX_DELAY = 300.0


class InvalidSource(InvalidFields):
    """Raised by `check_entry`, `add_source` and `update_source` with every bad field."""

    whole = "source"


@dataclass(frozen=True)
class SourceEntry:
    """What an admin typed for one source, as plain values."""

    name: str
    kind: str
    interval_minutes: int
    enabled: bool = True
    delay_seconds: float | None = None
    # Fields of the kind's Options dataclass; ones left out keep their defaults.
    options: Mapping[str, Any] = field(default_factory=dict)


def check_entry(entry: SourceEntry, config_names: Collection[str]) -> SourceSettings:
    """The settings an entry stands for; raises InvalidSource naming each bad field."""
    errors: list[FieldError] = []
    name = entry.name.strip()
    if not NAME.fullmatch(name):
        errors.append(
            FieldError(
                "name",
                "Use up to 60 lower-case letters, digits, '-' or '_', starting with a "
                "letter or digit, e.g. fife-council",
            )
        )
    elif name in RESERVED_NAMES:
        errors.append(FieldError("name", f"'{name}' is used by the Sources pages; choose another"))
    elif name in config_names:
        errors.append(
            FieldError("name", f"config.toml already has a source called '{name}'; choose another")
        )
    if entry.kind not in ADDABLE_KINDS:
        kinds = ", ".join(ADDABLE_KINDS.values())
        errors.append(FieldError("kind", f"Only these can be added here: {kinds}"))
        raise InvalidSource(errors)
    if not MIN_INTERVAL <= entry.interval_minutes <= MAX_INTERVAL:
        errors.append(
            FieldError(
                "interval_minutes",
                f"Enter a number of minutes from {MIN_INTERVAL} to {MAX_INTERVAL} (a week)",
            )
        )
    if entry.delay_seconds is not None and not 0 <= entry.delay_seconds <= MAX_DELAY:
        errors.append(
            FieldError("delay_seconds", f"Enter a number of seconds from 0 to {MAX_DELAY:g}")
        )
    options = _options(entry.kind, entry.options, errors)
    if options is not None:
        # The harvester's own check: what a harvest would fail on (the URL, the time zone...).
        problem = feeds.get(entry.kind)(name=name, options=options).check()
        where = _field_named_in(problem, options) if problem else ""
        if problem and not any(e.field == where for e in errors if where):
            # "url must be an http(s) URL" reads "Must be an http(s) URL" beside the field.
            message = problem.removeprefix(f"{where} ") if where else problem
            errors.append(FieldError(where, _sentence(message)))
    if errors:
        raise InvalidSource(errors)
    return SourceSettings(
        name=name,
        kind=entry.kind,
        enabled=entry.enabled,
        interval_minutes=entry.interval_minutes,
        delay_seconds=entry.delay_seconds,
        options=options,
    )


def _options(kind: str, raw: Mapping[str, Any], errors: list[FieldError]) -> Any:
    """The kind's Options built field by field, so each bad value gets its own message."""
    cls = feeds.get(kind).Options
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            errors.append(FieldError(key, f"not a setting of a {ADDABLE_KINDS[kind]}"))
            continue
        try:
            values[key] = coerce(value, hints[key], key)
        except ConfigError as exc:
            errors.append(FieldError(key, str(exc)))
            continue
        if key.endswith("_selector") and isinstance(value, str) and value.strip():
            # Each selector on its own, so the message lands on the field that is wrong.
            problem = check_selectors(Selectors(item=value))
            if problem:
                errors.append(FieldError(key, _sentence(problem)))
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        errors.append(FieldError("", str(exc)))
        return None


def _field_named_in(problem: str, options: Any) -> str:
    """The option a harvester's complaint is about: by name ("url must be ...", "the item
    selector is empty") or by value ("bad CSS selector 'td['"); "" if none."""
    names = [f.name for f in dataclasses.fields(options)]
    for name in names:
        if problem.startswith(name) or name.replace("_", " ") in problem:
            return name
    for name in names:
        value = getattr(options, name)
        if isinstance(value, str) and value and repr(value) in problem:
            return name
    return ""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _stored_options(settings: SourceSettings) -> dict[str, Any]:
    """The options that differ from the kind's defaults, JSON-ready."""
    defaults = type(settings.options)()
    return {
        f.name: list(value) if isinstance(value, tuple) else value
        for f in dataclasses.fields(settings.options)
        if (value := getattr(settings.options, f.name)) != getattr(defaults, f.name)
    }


def add_source(
    session: Session,
    entry: SourceEntry,
    config_names: Collection[str],
    user_id: int | None,
    now: datetime,
) -> ConfiguredSource:
    """Check and store a new source; flushes. Raises InvalidSource."""
    checked = check_entry(entry, config_names)
    if session.scalar(select(ConfiguredSource.id).where(ConfiguredSource.name == checked.name)):
        raise InvalidSource(
            [FieldError("name", f"A source called '{checked.name}' already exists")]
        )
    row = ConfiguredSource(
        name=checked.name,
        kind=checked.kind,
        enabled=checked.enabled,
        interval_minutes=checked.interval_minutes,
        delay_seconds=checked.delay_seconds,
        options=_stored_options(checked),
        created_at=now,
        updated_at=now,
        updated_by_id=user_id,
    )
    session.add(row)
    session.flush()
    return row


def update_source(
    session: Session,
    row: ConfiguredSource,
    entry: SourceEntry,
    config_names: Collection[str],
    user_id: int | None,
    now: datetime,
) -> ConfiguredSource:
    """Check and save changes to a stored source (its name and kind stay); flushes."""
    merged = dataclasses.replace(
        entry, name=row.name, kind=row.kind, options={**row.options, **entry.options}
    )
    checked = check_entry(merged, set(config_names) - {row.name})
    row.enabled = checked.enabled
    row.interval_minutes = checked.interval_minutes
    row.delay_seconds = checked.delay_seconds
    row.options = _stored_options(checked)
    row.updated_at = now
    row.updated_by_id = user_id
    session.flush()
    return row


def set_enabled(
    session: Session, row: ConfiguredSource, enabled: bool, user_id: int | None, now: datetime
) -> None:
    """Turn a stored source's scheduled harvest on or off; the scheduler notices within a
    minute."""
    row.enabled = enabled
    row.updated_at = now
    row.updated_by_id = user_id
    session.flush()


def delete_source(session: Session, row: ConfiguredSource) -> None:
    """Remove a stored source and where its harvest had got to; its run history stays."""
    session.execute(delete(SourceState).where(SourceState.name == row.name))
    session.delete(row)
    session.flush()


def stored_row(session: Session, name: str) -> ConfiguredSource | None:
    """The stored source called `name`, if any."""
    return session.scalar(select(ConfiguredSource).where(ConfiguredSource.name == name))


def source_settings(row: ConfiguredSource) -> SourceSettings:
    """A stored source as the SourceSettings the harvest and scheduler take.

    Never raises: a stored option this version cannot read (say, after an upgrade) is
    left at its default and logged, and the harvester's own check reports the result.
    """
    settings = SourceSettings(
        name=row.name,
        kind=row.kind,
        enabled=row.enabled,
        interval_minutes=row.interval_minutes,
        delay_seconds=row.delay_seconds,
    )
    try:
        cls = feeds.get(row.kind).Options
    except KeyError:
        logger.warning("stored source %s has an unknown kind %r", row.name, row.kind)
        return settings
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for key, value in (row.options or {}).items():
        try:
            if key not in known:
                raise ConfigError(f"unknown option '{key}'")
            values[key] = coerce(value, hints[key], key)
        except ConfigError as exc:
            logger.warning("stored source %s: option left at its default: %s", row.name, exc)
    return dataclasses.replace(settings, options=cls(**values))
