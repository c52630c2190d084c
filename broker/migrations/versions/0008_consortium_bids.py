"""Consortium bids, formed and run to the outcome: members' roles, shares, lots and
answers to their invitations; tasks; a timeline of events; reminders sent; a calendar
feed per coordinator.

A bid may now start without a notice (an expected re-tender, linked later), so
bids.notice_id becomes nullable, and a deleted notice no longer deletes its bids. The
bids that exist get a timeline: when each was started and, for one past forming, the
stage it reached (dated when it was last changed), so the dashboard counts them as
before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.alter_column("notice_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint("fk_bids_notice_id_notices", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_bids_notice_id_notices", "notices", ["notice_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.add_column(sa.Column("tender_deadline", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("estimated_value", sa.Float()))
        batch_op.add_column(sa.Column("internal_deadline", sa.DateTime(timezone=True)))
        batch_op.add_column(
            sa.Column("outcome_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("buyer_feedback", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("lessons", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column(
                "notice_known", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
            )
        )
        batch_op.add_column(sa.Column("stage_changed_at", sa.DateTime(timezone=True)))

    with op.batch_alter_table("bid_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="added")
        )
        batch_op.add_column(sa.Column("share_percent", sa.Float()))
        batch_op.add_column(
            sa.Column(
                "lots",
                sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default="[]",
            )
        )
        batch_op.add_column(sa.Column("invited_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("responded_at", sa.DateTime(timezone=True)))
        batch_op.add_column(
            sa.Column("decline_reason", sa.Text(), nullable=False, server_default="")
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_version", sa.Integer()))

    op.create_table(
        "bid_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bid_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("owner_member_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["bid_id"], ["bids.id"], name=op.f("fk_bid_tasks_bid_id_bids"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_member_id"],
            ["members.id"],
            name=op.f("fk_bid_tasks_owner_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_bid_tasks_owner_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_tasks")),
    )
    with op.batch_alter_table("bid_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bid_tasks_bid_id"), ["bid_id"], unique=False)
        batch_op.create_index("ix_bid_tasks_due_open", ["status", "due_on"], unique=False)

    op.create_table(
        "bid_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bid_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("from_stage", sa.String(length=20), nullable=True),
        sa.Column("to_stage", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bid_id"], ["bids.id"], name=op.f("fk_bid_events_bid_id_bids"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_bid_events_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bid_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_events")),
    )
    with op.batch_alter_table("bid_events", schema=None) as batch_op:
        batch_op.create_index("ix_bid_events_bid_at", ["bid_id", "at"], unique=False)
        batch_op.create_index("ix_bid_events_stage_at", ["to_stage", "at"], unique=False)

    op.create_table(
        "bid_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bid_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bid_id"], ["bids.id"], name=op.f("fk_bid_reminders_bid_id_bids"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_reminders")),
        sa.UniqueConstraint(
            "bid_id",
            "subject",
            "due_on",
            "days_before",
            name=op.f("uq_bid_reminders_bid_id"),
        ),
    )

    # The existing bids' timelines: started, and the stage each has reached.
    op.execute(
        "INSERT INTO bid_events (bid_id, at, kind, user_id, to_stage, detail) "
        "SELECT id, created_at, 'created', created_by, 'forming', '' FROM bids"
    )
    op.execute(
        "INSERT INTO bid_events (bid_id, at, kind, from_stage, to_stage, detail) "
        "SELECT id, updated_at, 'stage', 'forming', stage, 'recorded before bids had a "
        "timeline' FROM bids WHERE stage <> 'forming'"
    )
    op.execute("UPDATE bids SET stage_changed_at = updated_at WHERE stage <> 'forming'")
    op.execute("UPDATE bid_members SET status = 'added'")


def downgrade() -> None:
    op.drop_table("bid_reminders")
    with op.batch_alter_table("bid_events", schema=None) as batch_op:
        batch_op.drop_index("ix_bid_events_stage_at")
        batch_op.drop_index("ix_bid_events_bid_at")
    op.drop_table("bid_events")
    with op.batch_alter_table("bid_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_bid_tasks_due_open")
        batch_op.drop_index(batch_op.f("ix_bid_tasks_bid_id"))
    op.drop_table("bid_tasks")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("calendar_version")
    with op.batch_alter_table("bid_members", schema=None) as batch_op:
        for column in (
            "decline_reason",
            "responded_at",
            "invited_at",
            "lots",
            "share_percent",
            "status",
        ):
            batch_op.drop_column(column)
    # Bids without a notice can't go back to a table that needs one.
    op.execute("DELETE FROM bids WHERE notice_id IS NULL")
    with op.batch_alter_table("bids", schema=None) as batch_op:
        for column in (
            "stage_changed_at",
            "notice_known",
            "lessons",
            "buyer_feedback",
            "outcome_reason",
            "internal_deadline",
            "estimated_value",
            "tender_deadline",
        ):
            batch_op.drop_column(column)
        batch_op.drop_constraint("fk_bids_notice_id_notices", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_bids_notice_id_notices", "notices", ["notice_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.alter_column("notice_id", existing_type=sa.Integer(), nullable=False)
