"""The `broker` command: the root group, to which each feature adds its commands."""

from __future__ import annotations

import logging
from typing import Any

import click
from sqlalchemy.exc import DBAPIError

from broker.accounts import cli as accounts
from broker.bids import cli as bids
from broker.errors import BrokerError
from broker.harvest import cli as harvest
from broker.mail import cli as mail
from broker.matching import cli as matching
from broker.members import cli as members
from broker.network import cli as network
from broker.notices import cli as notices
from broker.outreach import cli as outreach
from broker.runtime import cli as runtime
from broker.runtime.terminal import Runtime, database_problem


class BrokerGroup(click.Group):
    """Turns the broker's own errors, and a database that is away or not set up, into one
    clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokerError as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            logging.getLogger(__name__).debug("database error", exc_info=True)
            raise click.ClickException(database_problem(ctx.obj, exc)) from None


@click.group(cls=BrokerGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $BROKER_CONFIG, else ./config.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """SEN Opportunity Broker: public contracts for social enterprises."""
    if ctx.obj is None:
        ctx.obj = Runtime(config_path)


# The one list of commands, in the order `broker --help` shows them.
for command in (
    runtime.up,
    runtime.scheduler,
    runtime.init,
    runtime.check,
    runtime.db,
    runtime.backup,
    runtime.restore,
    harvest.harvest,
    harvest.import_,
    harvest.sources,
    notices.export,
    matching.match,
    members.members,
    bids.bids,
    network.network,
    mail.mail,
    accounts.users,
):
    cli.add_command(command)
# `broker mail preview` reads what outreach would put in a digest; the rest of the
# group is the outbox's.
mail.mail.add_command(outreach.preview)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cli(prog_name="broker")
