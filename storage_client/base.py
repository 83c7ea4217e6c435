import abc
import dataclasses
import pathlib
from collections.abc import Callable, Iterator
from datetime import datetime

from .exceptions import InvalidKey, StorageUnavailable

# Big enough to keep system calls few, small enough that memory stays flat per download.
CHUNK_SIZE = 1024 * 1024

TIERS = ("online", "nearline")


def validate_key(key: str) -> str:
    """A key is a relative POSIX path that cannot climb out of the folder it is joined to."""
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"invalid storage key {key!r}: it must be a non-empty string")
    if "\x00" in key:
        raise InvalidKey(f"invalid storage key {key!r}: it contains a NUL byte")
    # A backslash is a separator on Windows and an escape in URLs: refusing it is simpler
    # than reasoning about what every server does with it.
    if "\\" in key:
        raise InvalidKey(f"invalid storage key {key!r}: it contains a backslash")
    if key.startswith("/"):
        raise InvalidKey(f"invalid storage key {key!r}: it is an absolute path")
    if ".." in key.split("/"):
        raise InvalidKey(f"invalid storage key {key!r}: it contains a '..' component")
    return key


class ByteStream:
    """The bytes of one read, as an iterator of chunks of at most CHUNK_SIZE; close it."""

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None], length: int | None):
        self._chunks = chunks
        self._close = close
        self.closed = False
        # How many bytes the iteration yields when it completes; None if the source did
        # not say (an HTTP server answering without Content-Length).
        self.length = length

    def __iter__(self) -> "ByteStream":
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            # At the end, or on a failure, give the file or the connection back at once
            # rather than whenever the caller gets round to close().
            self.close()
            raise

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if hasattr(self._chunks, "close"):
                self._chunks.close()
        finally:
            self._close()

    def __enter__(self) -> "ByteStream":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclasses.dataclass(frozen=True)
class RestoreState:
    """Where a restore of a nearline file stands: is the readable copy there yet, and until
    when does the storage keep it (None: until it is evicted)."""

    ready: bool
    until: datetime | None = None


class Location(abc.ABC):
    """A place that stores files under keys; the readable copy of a nearline file is cached."""

    # A location whose storage restores in the background (s3, from Glacier): restore()
    # only asks, and restore_state() says when the copy is readable. Local and http
    # locations return from restore() once the copy is readable.
    restores_in_background = False
    # Whether the bytes are checked against the catalog's digest as they are relayed.
    verify = True
    # Whether a download is answered with a redirect to the storage itself (s3 presigned
    # URLs) rather than relayed.
    redirect = False
    # Whether nginx can send this location's bytes through accel_path (X-Accel-Redirect).
    offloadable = True

    def __init__(self, name: str, tier: str, accel_prefix: str | None = None):
        if tier not in TIERS:
            raise ValueError(f"field 'tier' must be 'online' or 'nearline', not {tier!r}")
        self.name = name
        self.tier = tier
        if accel_prefix is None:
            folder = f"{name}-cache" if self.is_nearline else name
            accel_prefix = f"/_storage/{folder}/"
        self.accel_prefix = accel_prefix if accel_prefix.endswith("/") else accel_prefix + "/"

    @property
    def is_nearline(self) -> bool:
        return self.tier == "nearline"

    @abc.abstractmethod
    def stat(self, key: str) -> int:
        """Size in bytes of the readable copy of `key`."""

    @abc.abstractmethod
    def open(self, key: str, offset: int = 0, length: int | None = None) -> ByteStream:
        """Bytes [offset, offset+length) of `key`; errors known before the first byte raise here."""

    @abc.abstractmethod
    def accel_path(self, key: str, offset: int = 0, length: int | None = None) -> str:
        """Internal nginx URI (under `accel_prefix`) that sends bytes [offset, offset+length)
        of `key` (None: to the end), for X-Accel-Redirect."""

    def local_path(self, key: str) -> pathlib.Path | None:
        """Path of the readable file on this machine, or None if the bytes are elsewhere."""
        return None

    # Nearline only: on an online location these raise ValueError.

    @abc.abstractmethod
    def is_cached(self, key: str) -> bool:
        """True if a readable copy of `key` is in the cache."""

    @abc.abstractmethod
    def restore(self, key: str, *, hours: float | None = None) -> pathlib.Path | None:
        """Make a readable copy of `key` in the cache; returns once it is readable, or, when
        `restores_in_background`, once the storage has been asked. `hours`: how long the
        storage should keep the copy, for one that expires copies itself (s3)."""

    def restore_state(self, key: str) -> RestoreState:
        """Whether the readable copy of `key` is there, and until when the storage keeps it."""
        return RestoreState(ready=self.is_cached(key))

    def check(self) -> None:
        """Find, once at start-up, what would make every read fail (credentials refused, no
        such bucket: StorageConfigError; unreachable: StorageUnavailable)."""
        return None  # nothing to find for a folder or a plain HTTP server

    @abc.abstractmethod
    def evict(self, key: str) -> None:
        """Drop the cached copy of `key`, if there is one; the stored file stays."""

    def _check_nearline(self) -> None:
        if not self.is_nearline:
            raise ValueError(f"location {self.name!r} is online: it has no cache")

    def _span(self, key: str, size: int, offset: int, length: int | None) -> int:
        """Length of [offset, offset+length) (None: to the end) in `key` of `size` bytes;
        StorageUnavailable if that runs past the end."""
        if length is None:
            length = size - offset
        if length < 0 or offset + length > size:
            raise StorageUnavailable(
                f"location {self.name!r}: {key!r} has {size} bytes, "
                f"cannot read {length} from offset {offset}"
            )
        return length

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.tier})>"


def range_header(offset: int, length: int | None) -> str | None:
    """The HTTP `Range` value asking bytes [offset, offset+length), or None for the whole."""
    if not offset and length is None:
        return None
    last = "" if length is None else offset + length - 1
    return f"bytes={offset}-{last}"


def check_range(offset: int, length: int | None) -> None:
    # A bad range is a bug in the caller (ranges are validated against stat() first),
    # not a storage problem.
    if offset < 0 or (length is not None and length < 0):
        raise ValueError(f"invalid byte range: offset={offset}, length={length}")
