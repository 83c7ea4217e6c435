"""Errors raised by the storage client; the API maps them to HTTP in one place."""


class StorageError(Exception):
    """Base of every error the storage client raises."""


class StorageFileNotFound(StorageError):
    """The key does not exist in that location."""


class StorageUnavailable(StorageError):
    """The location cannot serve the bytes now: unreachable, timeout, server error, truncated."""


class InvalidKey(StorageFileNotFound):
    """The key could name a file outside the location's root, so it names nothing."""


class StorageConfigError(StorageError):
    """The location's settings are wrong: its credentials are refused, its bucket missing."""
