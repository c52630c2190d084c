"""Alembic environment: runs against the connection `broker.migrate` hands over."""

from alembic import context

from broker.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Leave out the full-text search objects, which migrations manage by hand."""
    return not (name or "").startswith(("notices_fts", "search_vector", "ix_notices_search"))


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `broker db upgrade`")
run_migrations_online()
