"""ORM models, one module per aggregate; importing this package registers them all."""

from broker.db import Base
from broker.models.harvest import ConfiguredSource, HarvestRun, RejectedRecord, SourceState
from broker.models.members import CorpusSnapshot, Match, Member, MemberResponse
from broker.models.notices import Notice, NoticeChange, NoticeKey, NoticeRegion, NoticeSource
from broker.models.outreach import OutboxMessage, ToldNotice
from broker.models.triage import Bid, BidMember, Forward, NoticeAction
from broker.models.users import LoginAttempt, User

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
