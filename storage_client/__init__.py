"""Reads bytes from storage locations (local folders, HTTP servers, S3 buckets). Knows nothing
of Django."""

from .base import CHUNK_SIZE, ByteStream, Location, RestoreState
from .config import load_locations
from .exceptions import (
    InvalidKey,
    StorageConfigError,
    StorageError,
    StorageFileNotFound,
    StorageUnavailable,
)
from .http import HttpLocation
from .local import LocalLocation
from .s3 import S3Location

__all__ = [
    "CHUNK_SIZE",
    "ByteStream",
    "HttpLocation",
    "InvalidKey",
    "LocalLocation",
    "Location",
    "RestoreState",
    "S3Location",
    "StorageConfigError",
    "StorageError",
    "StorageFileNotFound",
    "StorageUnavailable",
    "load_locations",
]
