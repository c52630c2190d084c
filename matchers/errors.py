"""Errors raised by the matching engine; all are ValueErrors about bad input data."""


class MatcherError(ValueError):
    """Base class for everything `matchers` raises on purpose."""


class NoticeError(MatcherError):
    """Raised by `notice_from_json` when a notice record cannot be read."""


class ProfileError(MatcherError):
    """Raised by `profile_from_json` and `Matcher` when a profile is unusable."""


class AreaError(MatcherError):
    """Raised by `resolve_area` for a place name or code it does not know."""
