"""`broker bids remind`: send the reminders due on open bids now."""

from __future__ import annotations

import click

from broker.runtime.terminal import Runtime, pass_runtime


@click.group()
def bids() -> None:
    """Consortium bids."""


@bids.command("remind")
@pass_runtime
def bids_remind(rt: Runtime) -> None:
    """Queue the reminders due on open bids (each is sent once, whenever this runs)."""
    from broker.runtime.jobs import bid_reminders_job

    reminded = bid_reminders_job(rt.app)
    if reminded is None:
        raise click.ClickException("another broker process is sending the reminders right now")
    click.echo(f"Done: {reminded.line()} queued.")
