"""`broker mail send` and `broker mail status`: the outbox from the command line."""

from __future__ import annotations

import sys

import click

from broker.clock import utcnow
from broker.runtime.terminal import Runtime, pass_runtime


@click.group()
def mail() -> None:
    """Member e-mails: the outbox and digests."""


@mail.command("send")
@click.option(
    "--all",
    "include_waiting",
    is_flag=True,
    help="Also send messages waiting for a retry, without waiting for their next try.",
)
@pass_runtime
def mail_send(rt: Runtime, include_waiting: bool) -> None:
    """Send the outbox now: every message that is due, oldest first."""
    from broker.formatting import london
    from broker.mail.sender import send_outbox

    report = send_outbox(rt.sessions, rt.settings, utcnow, include_waiting=include_waiting)
    for problem in report.failed:
        click.echo(f"Failed: #{problem.outbox_id} to {problem.to_address}: {problem.reason}")
    for problem in report.deferred:
        when = london(problem.next_attempt_at) if problem.next_attempt_at else "later"
        click.echo(
            f"Will retry: #{problem.outbox_id} to {problem.to_address}: {problem.reason} "
            f"(next try {when})"
        )
    click.echo(f"Done: {report.line()}.")
    if report.connection_failed and not report.sent:
        sys.exit(1)


@mail.command("status")
@pass_runtime
def mail_status(rt: Runtime) -> None:
    """How many messages wait, were sent and failed; the oldest waiting and recent failures."""
    from broker.formatting import london
    from broker.mail.status import counts, page_of_messages

    with rt.sessions() as session:
        state = counts(session)
        # The Outbox page's "Failed" tab, newest first: its first ten.
        failures = page_of_messages(session, "failed", 1, 10).items
    click.echo(f"Outbox: {state.queued} waiting, {state.sent} sent, {state.failed} failed.")
    if not rt.settings.mail.enabled:
        click.echo("Sending is off ([mail] enabled = false): messages wait in the outbox.")
    elif rt.settings.mail.backend == "log":
        click.echo('Nothing is sent ([mail] backend = "log"): messages are kept as delivered.')
    oldest = state.oldest_waiting
    if oldest is not None:
        line = (
            f'Oldest waiting: #{oldest.id} to {oldest.to_address}, "{oldest.subject}", '
            f"queued {london(oldest.created_at)}; "
            f"{oldest.attempts} {'try' if oldest.attempts == 1 else 'tries'} so far, "
            f"next try {london(oldest.next_attempt_at)}"
        )
        if oldest.last_error:
            line += f"; last error: {oldest.last_error}"
        click.echo(line)
    if failures:
        click.echo("Recent failures (retry them on the Outbox page):")
        for message in failures:
            click.echo(f"  #{message.id} to {message.to_address}: {message.last_error}")
