"""The matching engine: pure functions and frozen data, no I/O beyond package reference data."""

from .config import MatchConfig
from .corpus import CorpusError, CorpusStats
from .cpv import cpv_label
from .engine import Matcher
from .errors import AreaError, MatcherError, NoticeError, ProfileError
from .regions import region_label, resolve_area
from .results import Columns, MatchRows
from .schema import notice_from_json, profile_from_json
from .types import FEEDBACK_REASONS, Lot, Match, Notice, Profile, Reason

__all__ = [
    "FEEDBACK_REASONS",
    "AreaError",
    "Columns",
    "CorpusError",
    "CorpusStats",
    "Lot",
    "Match",
    "MatchConfig",
    "MatchRows",
    "Matcher",
    "MatcherError",
    "Notice",
    "NoticeError",
    "Profile",
    "ProfileError",
    "Reason",
    "cpv_label",
    "notice_from_json",
    "profile_from_json",
    "region_label",
    "resolve_area",
]
