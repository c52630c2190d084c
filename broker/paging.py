"""Pages of query results for the list pages (members, runs, rejected records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass
class Paged(Generic[T]):
    """One page of rows, with what the page links need."""

    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, even when empty)."""
        return max(1, -(-self.total // self.page_size))


def paginate(session: Session, query: Select[Any], page: int, page_size: int) -> Paged[Any]:
    """Run an ordered query for one page (1-based), with the total count."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = max(1, page)
    items = list(session.scalars(query.limit(page_size).offset((page - 1) * page_size)))
    return Paged(items, total, page, page_size)
