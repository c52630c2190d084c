"""ORM models, one module per aggregate; importing this package registers them all."""

from ..db import Base
from .harvest import ConfiguredSource, HarvestRun, RejectedRecord, SourceState
from .members import CorpusSnapshot, Match, Member, MemberResponse
from .notices import Notice, NoticeChange, NoticeKey, NoticeRegion, NoticeSource
from .outreach import OutboxMessage, ToldNotice
from .triage import Bid, BidMember, Forward, NoticeAction
from .users import LoginAttempt, User

__all__ = [
    "Base",
    "Bid",
    "BidMember",
    "ConfiguredSource",
    "CorpusSnapshot",
    "Forward",
    "HarvestRun",
    "LoginAttempt",
    "Match",
    "Member",
    "MemberResponse",
    "Notice",
    "NoticeAction",
    "NoticeChange",
    "NoticeKey",
    "NoticeRegion",
    "NoticeSource",
    "OutboxMessage",
    "RejectedRecord",
    "SourceState",
    "ToldNotice",
    "User",
]
