"""The network's public directory: members who choose to be listed, and their website.

- `members.listed`: off for every existing member, so nobody appears in public until they
  (or the coordinators for them) say so.
- `members.website`: shown on the member's public page where given.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("listed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("website", sa.String(500), nullable=True))
        # The directory reads listed members by name.
        batch_op.create_index("ix_members_listed_name", ["listed", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_listed_name")
        batch_op.drop_column("website")
        batch_op.drop_column("listed")
