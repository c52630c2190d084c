"""`broker export notices`: every notice in the documented JSONL or CSV format."""

from __future__ import annotations

import sys

import click

from broker.runtime.terminal import Runtime, pass_runtime


@click.group()
def export() -> None:
    """Export stored data."""


@export.command("notices")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@pass_runtime
def export_notices(rt: Runtime, file_format: str, out: str | None) -> None:
    """Every notice, in the documented JSONL (or CSV) format."""
    from broker.notices.export import notice_records, write_csv, write_jsonl

    writer = write_jsonl if file_format == "jsonl" else write_csv
    with rt.sessions() as session:
        if out:
            with open(out, "w", encoding="utf-8", newline="") as fh:
                count = writer(notice_records(session), fh)
            click.echo(f"Exported {count} notices to {out}.", err=True)
        else:
            writer(notice_records(session), sys.stdout)
