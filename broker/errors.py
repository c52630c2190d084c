"""The broker's own errors; each says where it is raised."""

from __future__ import annotations

from dataclasses import dataclass


class BrokerError(Exception):
    """Base class for errors the broker raises on purpose and reports without a traceback."""


class ConfigError(BrokerError):
    """Raised by `broker.config` for a bad file, an unknown key or a bad value."""


class Stopped(BaseException):
    """Raised inside a harvest when its process is shutting down (broker.harvest.running
    ends the run as interrupted). A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way swallows it."""


class UnknownSource(BrokerError):
    """Raised when a command names a source that config.toml does not define."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field (a CSV column or a form field)."""

    field: str
    message: str


class InvalidFields(BrokerError):
    """Every problem found in an entry (a form, a CSV row), not just the first."""

    # Named for a problem that is about no one field.
    whole = ""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field or self.whole}: {e.message}" for e in errors))
        self.errors = errors
