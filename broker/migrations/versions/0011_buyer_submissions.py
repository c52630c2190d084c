"""What buyers send through the public network pages: a message for a listed member, or an
opportunity for the network, held in `buyer_submissions` until the buyer confirms their
address (and deleted if they never do).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "buyer_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("organisation", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("needed", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column(
            "mail_ids",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_buyer_submissions_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_buyer_submissions_notice_id_notices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyer_submissions")),
    )
    with op.batch_alter_table("buyer_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_buyer_submissions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_buyer_submissions_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            "ix_buyer_submissions_ip_hash_created_at", ["ip_hash", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_buyer_submissions_email_hash_created_at",
            ["email_hash", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("buyer_submissions")
