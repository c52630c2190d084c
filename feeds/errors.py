"""Errors raised by the harvesters."""


class FeedError(Exception):
    """Base class for everything `feeds` raises on purpose."""


class FetchError(FeedError):
    """Raised by `feeds.http` when a request fails after its retries."""

    def __init__(self, url: str, reason: str, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class ResponseTooLarge(FetchError):
    """Raised by `feeds.http` when a body passes the configured size cap."""


class ParseError(FeedError):
    """Raised by a parser when a payload (not just one record) cannot be read."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class RecordError(FeedError):
    """Raised while mapping one record; the harvester turns it into a `Rejection`."""
