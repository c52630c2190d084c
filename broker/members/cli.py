"""`broker members import` and `broker members export`: the members' CSV."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from broker.clock import utcnow
from broker.db import unit_of_work
from broker.runtime.terminal import Runtime, pass_runtime


@click.group()
def members() -> None:
    """Member social enterprises and their capability profiles."""


@members.command("import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@pass_runtime
def members_import(rt: Runtime, path: str) -> None:
    """Create or update members from a CSV file (matched by name), then re-match them."""
    from broker.matching.cache import get_cache
    from broker.members.csv_format import BadCsv, import_members

    try:
        with (
            unit_of_work(rt.app) as session,
            open(path, encoding="utf-8-sig", newline="") as handle,
        ):
            result, matched = import_members(
                session, handle, get_cache(rt.app), utcnow(), where=Path(path).name
            )
    except BadCsv as exc:
        raise click.ClickException(str(exc)) from None
    for error in result.errors:
        click.echo(error, err=True)
    click.echo(
        f"Done: {len(result.created)} created, {len(result.updated)} updated, "
        f"{result.unchanged} unchanged, {len(result.errors)} problems; {matched.line()}."
    )
    if result.errors and not (result.created or result.updated or result.unchanged):
        sys.exit(1)


@members.command("export")
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@pass_runtime
def members_export(rt: Runtime, out: str | None) -> None:
    """Every member in the CSV import format."""
    from broker.members.csv_format import export_members

    with rt.sessions() as session:
        if out:
            with open(out, "w", encoding="utf-8", newline="") as handle:
                count = export_members(session, handle)
            click.echo(f"Exported {count} members to {out}.", err=True)
        else:
            export_members(session, sys.stdout)
