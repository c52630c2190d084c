"""Clean notice text, the scheduler's heartbeat and the demo's mark.

- Notices are re-derived from the raw releases kept with them, so that the line breaks
  PCS and Sell2Wales sent as a literal "rn" become line breaks and each place is listed
  once (`broker.notices.rederive`, with the parser this version ships). Only the text
  fields change; notices whose text changed are matched again by `broker match`.
- `heartbeats`: the scheduler's latest sign of life, for /healthz and `broker check`.
- `demo_loads`: marks a database `broker up --demo` made.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeats")),
    )
    op.create_table(
        "demo_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("today", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_loads")),
    )
    # Imported here: the parser and the service are only needed for this step.
    from broker.notices.rederive import rederive_text

    rederive_text(op.get_bind())


def downgrade() -> None:
    # The cleaner text stays: the old parser's "rn" is nothing to go back to.
    op.drop_table("demo_loads")
    op.drop_table("heartbeats")
