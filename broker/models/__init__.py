"""ORM models, one module per aggregate; importing this package registers them all."""

from ..db import Base
from .harvest import HarvestRun, RejectedRecord, SourceState
from .members import CorpusSnapshot, Match, Member, MemberResponse
from .notices import Notice, NoticeChange, NoticeKey, NoticeSource

__all__ = [
    "Base",
    "CorpusSnapshot",
    "HarvestRun",
    "Match",
    "Member",
    "MemberResponse",
    "Notice",
    "NoticeChange",
    "NoticeKey",
    "NoticeSource",
    "RejectedRecord",
    "SourceState",
]
