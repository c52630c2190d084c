"""`broker db`: the schema commands."""

from __future__ import annotations


def test_db_upgrade_is_idempotent(cli_runner):
    result = cli_runner("db", "upgrade")
    assert result.exit_code == 0
    assert "already at" in result.output
