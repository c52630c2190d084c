"""`broker match`: match what is out of date, or everything."""

from __future__ import annotations

import click

from broker.clock import utcnow
from broker.db import unit_of_work
from broker.runtime.terminal import Runtime, bulk_allocation, pass_runtime, tell_members_after


@click.command()
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-match every notice against every member, not just what is out of date.",
)
@pass_runtime
def match(rt: Runtime, everything: bool) -> None:
    """Match notices against member profiles (new notices and edited members)."""
    from broker.matching.cache import get_cache
    from broker.matching.store import match_all, match_pending

    cache = get_cache(rt.app)
    with unit_of_work(rt.app) as session, bulk_allocation():
        result = (match_all if everything else match_pending)(session, cache, utcnow())
    tell_members_after(rt)
    click.echo(f"Done: {result.line()}.")
