"""ORM models, one module per aggregate; importing this package registers them all."""

from ..db import Base
from .harvest import HarvestRun, RejectedRecord, SourceState
from .notices import Notice, NoticeChange, NoticeKey, NoticeSource

__all__ = [
    "Base",
    "HarvestRun",
    "Notice",
    "NoticeChange",
    "NoticeKey",
    "NoticeSource",
    "RejectedRecord",
    "SourceState",
]
