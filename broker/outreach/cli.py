"""`broker mail preview`: a member's next digest, without queuing it."""

from __future__ import annotations

import click

from broker.clock import utcnow
from broker.runtime.terminal import Runtime, pass_runtime


@click.command("preview")
@click.argument("member")
@pass_runtime
def preview(rt: Runtime, member: str) -> None:
    """Print MEMBER's next digest (a member id or exact name) without queuing it."""
    from sqlalchemy import select

    from broker.models import Member
    from broker.outreach.compose import MailContext
    from broker.outreach.digests import preview

    # A session that is never committed: previewing changes nothing.
    with rt.sessions() as session:
        found = session.get(Member, int(member)) if member.isdigit() else None
        if found is None:
            found = session.scalars(select(Member).where(Member.name == member)).first()
        if found is None:
            raise click.ClickException(f"no member has the id or name '{member}'")
        if found.frequency not in ("daily", "weekly"):
            click.echo(
                f"{found.name} gets {found.frequency} e-mail, not digests; "
                "this is what a digest would hold now.",
                err=True,
            )
        click.echo(preview(session, found, MailContext.for_app(rt.app), utcnow()), nl=False)
        session.rollback()
