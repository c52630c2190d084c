"""`broker harvest`, `broker import` and `broker sources`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from broker.clock import utcnow
from broker.harvest.running import RunSummary, harvest_source, import_file
from broker.matching.store import store_hook
from broker.runtime.terminal import (
    Runtime,
    bulk_allocation,
    pass_runtime,
    progress_bar,
    tell_members_after,
)
from feeds.files import FORMATS as FILE_FORMATS

logger = logging.getLogger(__name__)

# Rejected records printed per run; the Sources page lists them all.
SHOWN_REJECTIONS = 20


def _page_reporter(progress: Progress, label: str) -> Callable[[Any, RunSummary], None]:
    task = progress.add_task(label)

    def report(_page: Any, summary: RunSummary) -> None:
        progress.update(
            task,
            description=f"{label}: page {summary.pages}, {summary.new} new, "
            f"{summary.updated} updated, {summary.rejected} rejected",
        )

    return report


@click.command()
@click.argument("sources", nargs=-1)
@pass_runtime
def harvest(rt: Runtime, sources: tuple[str, ...]) -> None:
    """Harvest SOURCES now (default: every enabled source, in config.toml or added on the
    Sources page)."""
    from broker.errors import UnknownSource
    from broker.harvest.catalogue import all_sources

    settings = rt.settings
    with rt.sessions() as session:
        known = all_sources(session, settings)
    names = list(sources) or [s.name for s in known.values() if s.enabled]
    if not names:
        click.echo("No sources are enabled in config.toml or on the Sources page.")
        return
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UnknownSource(
            f"no source called {', '.join(repr(n) for n in unknown)} in config.toml or on the "
            f"Sources page (configured: {', '.join(known) or 'none'})"
        )
    summaries = []
    try:
        with rt.in_use(), progress_bar() as progress:
            for name in names:
                try:
                    summary = harvest_source(
                        rt.sessions,
                        settings,
                        name,
                        utcnow,
                        trigger="cli",
                        on_page=_page_reporter(progress, name),
                        after_store=store_hook(rt.app),
                    )
                except Exception as exc:  # one source's trouble must not stop the others
                    logger.exception("harvest of %s failed", name)
                    summary = RunSummary.not_run(name, "failed", f"{exc}")
                summaries.append(summary)
    except KeyboardInterrupt:
        _stopped(rt, summaries, "harvest")
    tell_members_after(rt)
    _finish(rt, summaries, "harvested")


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(list(FILE_FORMATS)),
    default="auto",
    show_default=True,
    help="File format: ocds (OCDS JSON), ted (TED notice XML, eForms or R2.0.9, alone or "
    "zipped, or a saved TED search response); auto tells them apart from the content.",
)
@pass_runtime
def import_(rt: Runtime, paths: tuple[str, ...], file_format: str) -> None:
    """Import downloaded notice files with the harvesters' own parsers."""
    summaries = []
    try:
        with rt.in_use(), bulk_allocation(), progress_bar() as progress:
            for raw_path in paths:
                path = Path(raw_path)
                summaries.append(
                    import_file(
                        rt.sessions,
                        rt.settings,
                        path,
                        utcnow,
                        file_format=file_format,
                        on_page=_page_reporter(progress, path.name),
                        after_store=store_hook(rt.app),
                        background=True,
                    )
                )
    except KeyboardInterrupt:
        _stopped(rt, summaries, "import")
    tell_members_after(rt)
    _finish(rt, summaries, "imported")


def _stopped(rt: Runtime, summaries: list[RunSummary], what: str) -> None:
    """Ctrl+C: what was done is kept (each page was committed with its state)."""
    for summary in summaries:
        click.echo(summary.line())
        _print_rejections(rt, summary)
    click.echo(
        f"Stopped (Ctrl+C): every page stored before it is kept; the next {what} "
        "picks up from there."
    )
    sys.exit(130)


def _print_rejections(rt: Runtime, summary: RunSummary) -> None:
    """Each record the run rejected, with its position, id and reason (the first few)."""
    if not summary.rejected or not summary.run_id:
        return
    from broker.harvest.health import rejected_in_run

    with rt.sessions() as session:
        shown, total = rejected_in_run(session, summary.run_id, SHOWN_REJECTIONS)
    click.echo("  Rejected records:")
    for record in shown:
        found = f" ({record.record_id})" if record.record_id else ""
        click.echo(f"  - {record.position}{found}: {record.reason}")
    if total > len(shown):
        click.echo(
            f"  ...and {total - len(shown)} more: see the Sources page, or `broker sources`."
        )


def _finish(rt: Runtime, summaries: list[RunSummary], verb: str) -> None:
    for summary in summaries:
        click.echo(summary.line())
        _print_rejections(rt, summary)
    total = sum(s.stored for s in summaries)
    new = sum(s.new for s in summaries)
    rejected = sum(s.rejected for s in summaries)
    failed = [s for s in summaries if s.status == "failed"]
    click.echo(
        f"Done: {verb} {total} records ({new} new notices, {rejected} rejected) "
        f"from {len(summaries)} {'source' if len(summaries) == 1 else 'sources'}"
        + (f"; {len(failed)} failed" if failed else "")
        + "."
    )
    if total == 0 and any(s.error or s.status in ("failed", "skipped") for s in summaries):
        sys.exit(1)


@click.command()
@pass_runtime
def sources(rt: Runtime) -> None:
    """Each source (config.toml's and those added on the Sources page) with its health."""
    from broker.harvest.health import overview

    with rt.sessions() as session:
        sources = overview(session, rt.settings)
    table = Table(title="Sources")
    for column in (
        "source",
        "kind",
        "from",
        "enabled",
        "every",
        "last run",
        "status",
        "new/upd/rej",
        "failures",
        "backing off until",
        "last error",
    ):
        table.add_column(column)
    now = utcnow()
    for health in sources:
        source, run = health.settings, health.last_run
        wait = health.state.next_attempt_at if health.backing_off(now) else None
        table.add_row(
            health.name,
            source.kind,
            "config.toml" if health.stored is None else "Sources page",
            "yes" if source.enabled else "no",
            f"{source.interval_minutes} min",
            run.started_at.strftime("%Y-%m-%d %H:%M") if run else "never",
            run.status if run else "-",
            f"{run.new}/{run.updated}/{run.rejected}" if run else "-",
            str(health.failures),
            wait.strftime("%Y-%m-%d %H:%M") if wait else "-",
            (run.error or "") if run else "",
        )
    Console(width=200).print(table)
