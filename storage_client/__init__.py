"""Reads bytes from storage locations (local folders, HTTP servers). Knows nothing of Django."""

from .base import CHUNK_SIZE, ByteStream, Location
from .config import load_locations
from .exceptions import InvalidKey, StorageError, StorageFileNotFound, StorageUnavailable
from .http import HttpLocation
from .local import LocalLocation

__all__ = [
    "CHUNK_SIZE",
    "ByteStream",
    "HttpLocation",
    "InvalidKey",
    "LocalLocation",
    "Location",
    "StorageError",
    "StorageFileNotFound",
    "StorageUnavailable",
    "load_locations",
]
