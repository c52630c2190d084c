"""ORM models, one module per aggregate; importing this package registers them all."""

from broker.db import Base
from broker.models.accounts import LoginAttempt, User
from broker.models.bids import Bid, BidEvent, BidMember, BidReminder, BidTask
from broker.models.harvest import ConfiguredSource, HarvestRun, RejectedRecord, SourceState
from broker.models.mail import OutboxMessage
from broker.models.matching import CorpusSnapshot, Match
from broker.models.members import Member
from broker.models.network import BuyerSubmission
from broker.models.notices import Notice, NoticeChange, NoticeKey, NoticeRegion, NoticeSource
from broker.models.outreach import MemberResponse, ToldNotice
from broker.models.runtime import DemoLoad, Heartbeat
from broker.models.triage import Forward, NoticeAction

__all__ = [
    "Base",
    "Bid",
    "BidEvent",
    "BidMember",
    "BidReminder",
    "BidTask",
    "BuyerSubmission",
    "ConfiguredSource",
    "CorpusSnapshot",
    "DemoLoad",
    "Forward",
    "HarvestRun",
    "Heartbeat",
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
