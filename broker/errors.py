"""The broker's own errors; each says where it is raised."""


class BrokerError(Exception):
    """Base class for errors the broker raises on purpose and reports without a traceback."""


class ConfigError(BrokerError):
    """Raised by `broker.config` for a bad file, an unknown key or a bad value."""


class ImportFailed(BrokerError):
    """Raised by `broker import` when no record at all could be read from a file."""


class UnknownSource(BrokerError):
    """Raised when a command names a source that config.toml does not define."""
