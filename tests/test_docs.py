"""The README documents every command, as Datasette's tests check its settings."""

from __future__ import annotations

import re
from pathlib import Path

import click

from broker.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def commands(group: click.Group, prefix: str = "broker") -> list[str]:
    """Every command a user can run, as typed: "broker db upgrade", "broker match"."""
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{prefix} {name}"))
        else:
            found.append(f"{prefix} {name}")
    return found


def test_every_command_is_in_the_readme_s_command_table():
    text = README.read_text()
    table = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(broker(?: [a-z][a-z-]*)+)", table))
    missing = [c for c in commands(cli) if c not in documented]
    assert missing == []
