"""The source catalogue: config.toml's sources and those added on the Sources page, and
how each is built into a harvester and an HTTP client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import feeds
from broker.config import Settings, SourceSettings
from broker.harvest.stored import source_settings, stored_row
from broker.models import ConfiguredSource
from feeds.http import Fetcher


def build_harvester(source: SourceSettings) -> Any:
    """The configured harvester object for one [sources.NAME] entry."""
    return feeds.get(source.kind)(name=source.name, options=source.options)


def build_fetcher(
    settings: Settings,
    source: SourceSettings,
    harvester: Any,
    sleep: Callable[[float], Any] = time.sleep,
) -> Fetcher:
    """An HTTP client with the global limits, the source's defaults and its own delay;
    `sleep` makes its pauses (polite delays, retry backoff)."""
    defaults = dict(getattr(harvester, "http_defaults", {}) or {})
    delay = source.delay_seconds if source.delay_seconds is not None else defaults.get("delay", 0)
    return Fetcher(
        settings.http.policy(delay=float(delay), throttle=dict(defaults.get("throttle", {}))),
        sleep=sleep,
    )


def stored_sources(session: Session) -> dict[str, SourceSettings]:
    """Every stored source, enabled or not, by name."""
    rows = session.scalars(select(ConfiguredSource).order_by(ConfiguredSource.name))
    return {row.name: source_settings(row) for row in rows}


def all_sources(session: Session, settings: Settings) -> dict[str, SourceSettings]:
    """config.toml's sources in file order, then the stored ones; on a clash the file wins."""
    combined = dict(settings.sources)
    for name, source in stored_sources(session).items():
        combined.setdefault(name, source)
    return combined


def enabled_sources(session: Session, settings: Settings) -> list[SourceSettings]:
    """The sources the scheduler and a bare `broker harvest` run: config.toml's and stored."""
    return [s for s in all_sources(session, settings).values() if s.enabled]


def find_source(session: Session, settings: Settings, name: str) -> SourceSettings | None:
    """A source by name, from config.toml first, else from the stored ones."""
    if name in settings.sources:
        return settings.sources[name]
    row = stored_row(session, name)
    return source_settings(row) if row is not None else None
