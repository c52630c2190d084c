"""Coordinators: users and login attempts; triage state, actions, forwards and bids;
notice regions and full-text search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_email_at", ["email", "at"], unique=False)
        batch_op.create_index("ix_login_attempts_ip_at", ["ip", "at"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "bids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("model", sa.String(length=30), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("value_won", sa.Float(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_bids_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_bids_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
    )
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.create_index("ix_bids_created_at", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bids_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "forwards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_forwards_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_forwards_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_forwards_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forwards")),
    )
    with op.batch_alter_table("forwards", schema=None) as batch_op:
        batch_op.create_index("ix_forwards_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_forwards_member_at", ["member_id", "created_at"], unique=False)
        batch_op.create_index("ix_forwards_notice", ["notice_id"], unique=False)

    op.create_table(
        "notice_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_actions_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notice_actions_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_actions")),
    )
    with op.batch_alter_table("notice_actions", schema=None) as batch_op:
        batch_op.create_index("ix_notice_actions_action_at", ["action", "created_at"], unique=False)
        batch_op.create_index(
            "ix_notice_actions_notice_at", ["notice_id", "created_at"], unique=False
        )

    op.create_table(
        "notice_regions",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_regions_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notice_id", "code", name=op.f("pk_notice_regions")),
    )
    with op.batch_alter_table("notice_regions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notice_regions_code",
            ["code", "notice_id"],
            unique=False,
            postgresql_ops={"code": "text_pattern_ops"},
        )

    op.create_table(
        "bid_members",
        sa.Column("bid_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["bid_id"], ["bids.id"], name=op.f("fk_bid_members_bid_id_bids"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_bid_members_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bid_id", "member_id", name=op.f("pk_bid_members")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("added_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_matches_added_by_users"),
            "users",
            ["added_by"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("triage_status", sa.String(length=20), nullable=False, server_default="new")
        )
        batch_op.add_column(
            sa.Column("triage_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("best_score", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("match_count", sa.Integer(), nullable=False, server_default="0")
        )
    # Added by hand: batch mode would copy the whole table on SQLite for a generated column.
    op.execute(
        "ALTER TABLE notices ADD COLUMN no_deadline BOOLEAN GENERATED ALWAYS AS (deadline IS NULL) "
        + ("STORED" if op.get_bind().dialect.name == "postgresql" else "VIRTUAL")
    )
    _backfill()
    for name, columns in QUEUE_INDEXES.items():
        op.create_index(
            name,
            "notices",
            [sa.text(c) for c in (*columns, *QUEUE_FILTERS)],
            sqlite_where=sa.text("best_score IS NOT NULL"),
            postgresql_where=sa.text("best_score IS NOT NULL"),
        )
    with op.batch_alter_table("notice_sources", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_sources_notice_id")
        batch_op.create_index("ix_notice_sources_notice_source", ["notice_id", "source"])
    op.create_index("ix_members_active_name", "members", ["active", "name"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_SEARCH)
        op.execute("CREATE INDEX ix_notices_search_vector ON notices USING gin (search_vector)")
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)


# The triage queue: one partial index per sort order over the matched notices, each
# carrying the columns the queue filters on, so pages and counts come from the index.
QUEUE_INDEXES = {
    "ix_notices_queue_score": ("best_score DESC", "no_deadline", "deadline", "id"),
    "ix_notices_queue_deadline": ("no_deadline", "deadline", "id", "best_score"),
    "ix_notices_queue_newest": ("first_seen_at", "id", "best_score", "deadline"),
}
QUEUE_FILTERS = ("triage_status", "value_amount", "reserved", "vcse")

# Full-text search over title, buyer and description. On PostgreSQL a generated
# tsvector column; on SQLite an FTS5 index kept in step by triggers. (A later migration
# that makes SQLite copy the notices table must create these triggers again.)
PG_SEARCH = """
ALTER TABLE notices ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(title, '')), 'A')
    || setweight(to_tsvector('english', coalesce(buyer, '')), 'B')
    || setweight(to_tsvector('english', coalesce(description, '')), 'C')
) STORED
"""
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE notices_fts USING fts5(title, description, buyer, "
    "content='notices', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER notices_fts_insert AFTER INSERT ON notices BEGIN "
    "INSERT INTO notices_fts(rowid, title, description, buyer) "
    "VALUES (new.id, new.title, new.description, new.buyer); END",
    "CREATE TRIGGER notices_fts_delete AFTER DELETE ON notices BEGIN "
    "INSERT INTO notices_fts(notices_fts, rowid, title, description, buyer) "
    "VALUES ('delete', old.id, old.title, old.description, old.buyer); END",
    "CREATE TRIGGER notices_fts_update AFTER UPDATE OF title, description, buyer ON notices "
    "BEGIN INSERT INTO notices_fts(notices_fts, rowid, title, description, buyer) "
    "VALUES ('delete', old.id, old.title, old.description, old.buyer); "
    "INSERT INTO notices_fts(rowid, title, description, buyer) "
    "VALUES (new.id, new.title, new.description, new.buyer); END",
    "INSERT INTO notices_fts(notices_fts) VALUES ('rebuild')",
)


def _backfill() -> None:
    """Fill the new tables and columns from what is already stored."""
    bind = op.get_bind()
    op.execute(
        "UPDATE notices SET "
        "best_score = (SELECT max(score) FROM matches WHERE matches.notice_id = notices.id), "
        "match_count = (SELECT count(*) FROM matches WHERE matches.notice_id = notices.id)"
    )
    notices = sa.table("notices", sa.column("id", sa.Integer), sa.column("regions", JSON))
    regions = sa.table("notice_regions", sa.column("notice_id"), sa.column("code"))
    rows = []
    for notice_id, codes in bind.execute(sa.select(notices.c.id, notices.c.regions)):
        rows.extend({"notice_id": notice_id, "code": c} for c in dict.fromkeys(codes or ()))
        if len(rows) >= 5000:
            bind.execute(regions.insert(), rows)
            rows = []
    if rows:
        bind.execute(regions.insert(), rows)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_notices_search_vector")
        op.execute("ALTER TABLE notices DROP COLUMN IF EXISTS search_vector")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS notices_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS notices_fts")
    op.drop_index("ix_members_active_name", table_name="members")
    with op.batch_alter_table("notice_sources", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_sources_notice_source")
        batch_op.create_index("ix_notice_sources_notice_id", ["notice_id"])
    for name in QUEUE_INDEXES:
        op.drop_index(name, table_name="notices")
    op.execute("ALTER TABLE notices DROP COLUMN no_deadline")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("match_count")
        batch_op.drop_column("best_score")
        batch_op.drop_column("triage_changed_at")
        batch_op.drop_column("triage_status")

    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_matches_added_by_users"), type_="foreignkey")
        batch_op.drop_column("added_by")

    op.drop_table("bid_members")
    with op.batch_alter_table("notice_regions", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_regions_code")

    op.drop_table("notice_regions")
    with op.batch_alter_table("notice_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_actions_notice_at")
        batch_op.drop_index("ix_notice_actions_action_at")

    op.drop_table("notice_actions")
    with op.batch_alter_table("forwards", schema=None) as batch_op:
        batch_op.drop_index("ix_forwards_notice")
        batch_op.drop_index("ix_forwards_member_at")
        batch_op.drop_index("ix_forwards_created_at")

    op.drop_table("forwards")
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bids_notice_id"))
        batch_op.drop_index("ix_bids_created_at")

    op.drop_table("bids")
    op.drop_table("users")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_ip_at")
        batch_op.drop_index("ix_login_attempts_email_at")

    op.drop_table("login_attempts")
