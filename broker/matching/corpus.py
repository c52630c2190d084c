"""Word statistics of the stored notices, saved as snapshots so every process weighs words alike."""

from __future__ import annotations

import zlib
from datetime import datetime

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

import matchers
from broker.matching.inputs import notice_chunks, notice_for
from broker.models import CorpusSnapshot


def rebuild_corpus(session: Session, now: datetime) -> CorpusSnapshot:
    """Count the words of every matchable notice into a new snapshot; flushes only."""
    stats = matchers.CorpusStats.from_notices(
        notice_for(n) for chunk in notice_chunks(session) for n in chunk
    )
    snapshot = CorpusSnapshot(
        built_at=now, notices=stats.docs, data=zlib.compress(orjson.dumps(stats.to_json()), 6)
    )
    session.add(snapshot)
    session.flush()
    # Only the latest is ever read; keep one older in case a process is loading it.
    session.execute(delete(CorpusSnapshot).where(CorpusSnapshot.id < snapshot.id - 1))
    return snapshot


def latest_corpus(session: Session) -> tuple[int | None, matchers.CorpusStats | None]:
    """The newest snapshot's id and statistics (None, None before the first)."""
    snapshot = session.scalars(
        select(CorpusSnapshot).order_by(CorpusSnapshot.id.desc()).limit(1)
    ).first()
    if snapshot is None:
        return None, None
    return snapshot.id, matchers.CorpusStats.from_json(orjson.loads(zlib.decompress(snapshot.data)))
