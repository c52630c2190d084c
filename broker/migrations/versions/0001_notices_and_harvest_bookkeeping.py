"""Notices, their sources and keys, change history, harvest runs and source state.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# JSONB on PostgreSQL, JSON text on SQLite (as broker.db.JSONType).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "harvest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("failed_pages", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_runs")),
    )
    with op.batch_alter_table("harvest_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_harvest_runs_source_started", ["source", "started_at"], unique=False
        )

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("buyer", sa.String(length=500), nullable=True),
        sa.Column("cpv", JSON, nullable=False),
        sa.Column("regions", JSON, nullable=False),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("value_amount", sa.Float(), nullable=True),
        sa.Column("value_currency", sa.String(length=3), nullable=True),
        sa.Column("value_min", sa.Float(), nullable=True),
        sa.Column("value_max", sa.Float(), nullable=True),
        sa.Column("published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_day", sa.Date(), nullable=True),
        sa.Column("procedure", sa.String(length=300), nullable=True),
        sa.Column("notice_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("reserved", sa.Boolean(), nullable=False),
        sa.Column("sme", sa.Boolean(), nullable=True),
        sa.Column("vcse", sa.Boolean(), nullable=True),
        sa.Column("community_benefits", sa.Boolean(), nullable=False),
        sa.Column("lots", JSON, nullable=False),
        sa.Column("primary_source", sa.String(length=60), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_deadline"), ["deadline"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notices_first_seen_at"), ["first_seen_at"], unique=False
        )
        batch_op.create_index(
            "ix_notices_primary_source_deadline_day",
            ["primary_source", "deadline_day"],
            unique=False,
        )

    op.create_table(
        "source_states",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_source_states")),
    )
    op.create_table(
        "notice_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_changes_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_changes")),
    )
    with op.batch_alter_table("notice_changes", schema=None) as batch_op:
        batch_op.create_index("ix_notice_changes_changed_at", ["changed_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notice_changes_notice_id"), ["notice_id"], unique=False
        )

    op.create_table(
        "notice_keys",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_keys_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notice_keys")),
    )
    with op.batch_alter_table("notice_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_keys_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "notice_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("source_id", sa.String(length=300), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("release_id", sa.String(length=300), nullable=True),
        sa.Column("release_ids", JSON, nullable=False),
        sa.Column("release_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_sources_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_sources")),
        sa.UniqueConstraint("source", "source_id", name=op.f("uq_notice_sources_source")),
    )
    with op.batch_alter_table("notice_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_sources_notice_id"), ["notice_id"], unique=False
        )

    op.create_table(
        "rejected_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("position", sa.String(length=300), nullable=False),
        sa.Column("record_id", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["harvest_runs.id"],
            name=op.f("fk_rejected_records_run_id_harvest_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_records")),
    )
    with op.batch_alter_table("rejected_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rejected_records_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rejected_records_source"), ["source"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rejected_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_records_source"))
        batch_op.drop_index(batch_op.f("ix_rejected_records_run_id"))

    op.drop_table("rejected_records")
    with op.batch_alter_table("notice_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_sources_notice_id"))

    op.drop_table("notice_sources")
    with op.batch_alter_table("notice_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_keys_notice_id"))

    op.drop_table("notice_keys")
    with op.batch_alter_table("notice_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_changes_notice_id"))
        batch_op.drop_index("ix_notice_changes_changed_at")

    op.drop_table("notice_changes")
    op.drop_table("source_states")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_primary_source_deadline_day")
        batch_op.drop_index(batch_op.f("ix_notices_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_notices_deadline"))

    op.drop_table("notices")
    with op.batch_alter_table("harvest_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_harvest_runs_source_started")

    op.drop_table("harvest_runs")
