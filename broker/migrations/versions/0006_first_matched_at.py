"""The dashboard's funnel read from indexes: when each notice was first matched, kept on
the notice, and the harvested and matched stages' columns in one index each.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MATCHED = sa.text("first_matched_at IS NOT NULL")


def upgrade() -> None:
    op.add_column("notices", sa.Column("first_matched_at", sa.DateTime(timezone=True)))
    # Matches already stored: the first of them is when the notice was first matched.
    op.execute(
        "UPDATE notices SET first_matched_at = ("
        "SELECT min(matches.created_at) FROM matches WHERE matches.notice_id = notices.id"
        ") WHERE best_score IS NOT NULL"
    )
    op.drop_index("ix_notices_first_seen_at", table_name="notices")
    op.create_index(
        "ix_notices_first_seen_at", "notices", ["first_seen_at", "value_amount", "value_currency"]
    )
    op.create_index(
        "ix_notices_first_matched_at",
        "notices",
        ["first_matched_at", "value_amount", "value_currency"],
        sqlite_where=MATCHED,
        postgresql_where=MATCHED,
    )


def downgrade() -> None:
    op.drop_index("ix_notices_first_matched_at", table_name="notices")
    op.drop_index("ix_notices_first_seen_at", table_name="notices")
    op.create_index("ix_notices_first_seen_at", "notices", ["first_seen_at"])
    # Not a batch (a copy of the table): SQLite can't copy no_deadline, a generated column,
    # and drops a plain column in place.
    op.drop_column("notices", "first_matched_at")
