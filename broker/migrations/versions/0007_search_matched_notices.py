"""SQLite's full-text index holds matched notices only.

The triage search only ever looks among matched notices (best_score set), yet a common
word's hits among all notices were read on every search: "services" finds 51,798 of
100,000 notices, of which 34,265 are matched. The index now follows best_score: a notice
enters it when it is first matched and leaves when its last match goes. PostgreSQL's
search_vector is a generated column read through its GIN index, and is unchanged.
A later migration that makes SQLite copy the notices table must create these triggers
again (0003's note), these and not 0003's.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TRIGGERS = ("insert", "delete", "update")

_DELETE = (
    "INSERT INTO notices_fts(notices_fts, rowid, title, description, buyer) "
    "SELECT 'delete', old.id, old.title, old.description, old.buyer"
)
_INSERT = (
    "INSERT INTO notices_fts(rowid, title, description, buyer) "
    "SELECT new.id, new.title, new.description, new.buyer"
)
_TEXT_CHANGED = (
    "(old.title IS NOT new.title OR old.description IS NOT new.description "
    "OR old.buyer IS NOT new.buyer)"
)

MATCHED_ONLY = (
    f"CREATE TRIGGER notices_fts_insert AFTER INSERT ON notices "
    f"WHEN new.best_score IS NOT NULL BEGIN {_INSERT}; END",
    f"CREATE TRIGGER notices_fts_delete AFTER DELETE ON notices "
    f"WHEN old.best_score IS NOT NULL BEGIN {_DELETE}; END",
    # One trigger, the old text out before the new in: FTS5 takes a 'delete' as cancelling
    # what the index holds for that rowid, so the other order would lose shared words.
    f"CREATE TRIGGER notices_fts_update "
    f"AFTER UPDATE OF title, description, buyer, best_score ON notices BEGIN "
    f"{_DELETE} WHERE old.best_score IS NOT NULL "
    f"AND (new.best_score IS NULL OR {_TEXT_CHANGED}); "
    f"{_INSERT} WHERE new.best_score IS NOT NULL "
    f"AND (old.best_score IS NULL OR {_TEXT_CHANGED}); END",
    "INSERT INTO notices_fts(notices_fts) VALUES ('delete-all')",
    "INSERT INTO notices_fts(rowid, title, description, buyer) "
    "SELECT id, title, description, buyer FROM notices WHERE best_score IS NOT NULL",
    # Filled in one go, the index is left in many small segments; merge them.
    "INSERT INTO notices_fts(notices_fts) VALUES ('optimize')",
)

# 0003's triggers: every notice indexed.
EVERY_NOTICE = (
    f"CREATE TRIGGER notices_fts_insert AFTER INSERT ON notices BEGIN {_INSERT}; END",
    f"CREATE TRIGGER notices_fts_delete AFTER DELETE ON notices BEGIN {_DELETE}; END",
    f"CREATE TRIGGER notices_fts_update AFTER UPDATE OF title, description, buyer "
    f"ON notices BEGIN {_DELETE}; {_INSERT}; END",
    "INSERT INTO notices_fts(notices_fts) VALUES ('rebuild')",
)


def _replace_triggers(statements: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS notices_fts_{trigger}")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _replace_triggers(MATCHED_ONLY)


def downgrade() -> None:
    _replace_triggers(EVERY_NOTICE)
