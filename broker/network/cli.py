"""`broker network forget`: delete what buyers sent and never confirmed in time."""

from __future__ import annotations

import click

from broker.runtime.terminal import Runtime, pass_runtime


@click.group()
def network() -> None:
    """The network's public pages."""


@network.command("forget")
@pass_runtime
def network_forget(rt: Runtime) -> None:
    """Delete buyers' messages and opportunities not confirmed within [network]
    confirm_hours (the scheduler does it hourly)."""
    from broker.runtime.jobs import forget_buyers_job

    forgotten = forget_buyers_job(rt.app)
    if forgotten is None:
        raise click.ClickException("the unconfirmed submissions could not be deleted; see the log")
    hours = rt.app.config["SETTINGS"].network.confirm_hours
    click.echo(
        f"Done: {forgotten} unconfirmed {'submission' if forgotten == 1 else 'submissions'}"
        f" older than {hours} hours deleted."
    )
