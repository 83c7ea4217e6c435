import contextlib
import os
import pathlib
import secrets
import shutil
import stat as stat_module
from urllib.parse import quote

from .base import CHUNK_SIZE, ByteStream, Location, check_range, validate_key
from .exceptions import InvalidKey, StorageFileNotFound, StorageUnavailable


class LocalLocation(Location):
    """A folder on this machine; a nearline one is read through its cache folder."""

    def __init__(
        self,
        name: str,
        root: str | os.PathLike,
        tier: str = "online",
        cache: str | os.PathLike | None = None,
        accel_prefix: str | None = None,
    ):
        super().__init__(name, tier, accel_prefix)
        if self.is_nearline and cache is None:
            raise ValueError("field 'cache' is required for a nearline location")
        if not self.is_nearline and cache is not None:
            raise ValueError("field 'cache' is only for nearline locations")
        self.root = pathlib.Path(root).absolute()
        self.cache = pathlib.Path(cache).absolute() if cache is not None else None

    # Reading: always the readable copy, which for nearline is the cached one.

    def stat(self, key: str) -> int:
        path = self._readable(key)
        with _storage_errors(self, key):
            return _regular_file_stat(path, self, key).st_size

    def open(self, key: str, offset: int = 0, length: int | None = None) -> ByteStream:
        check_range(offset, length)
        path = self._readable(key)
        with _storage_errors(self, key):
            file = open(path, "rb")  # noqa: SIM115 - ByteStream closes it
        try:
            with _storage_errors(self, key):
                size = _regular_file_stat(file, self, key).st_size
                length = self._span(key, size, offset, length)
                file.seek(offset)
        except BaseException:
            file.close()
            raise
        return ByteStream(self._chunks(file, key, length), close=file.close, length=length)

    def local_path(self, key: str) -> pathlib.Path:
        """Real path of the readable file; StorageFileNotFound unless it is a regular file."""
        path = self._readable(key)
        with _storage_errors(self, key):
            _regular_file_stat(path, self, key)
        return path

    def accel_path(self, key: str, offset: int = 0, length: int | None = None) -> str:
        """Internal nginx URI for X-Accel-Redirect; nginx maps the prefix to the readable folder.

        The range is not in it: nginx answers the client's Range from the file itself, and
        If-Range against Django's ETag, as Django would."""
        return self.accel_prefix + quote(validate_key(key), safe="/")

    # Nearline cache.

    def is_cached(self, key: str) -> bool:
        return self._cached(key).is_file()

    def restore(self, key: str, *, hours: float | None = None) -> pathlib.Path:
        """Copy the file into the cache; readers see either no copy or a complete one."""
        source = self._inside(self.root, key)
        target = self._cached(key)
        with _storage_errors(self, key):
            _regular_file_stat(source, self, key)
            _atomic_copy(source, target)
        return target

    def evict(self, key: str) -> None:
        target = self._cached(key)
        with _storage_errors(self, key):
            target.unlink(missing_ok=True)

    # Writing (catalog import, demo data).

    def store(self, src_path: str | os.PathLike, key: str) -> pathlib.Path:
        """Copy a file into this location under `key`, replacing any previous one atomically."""
        target = self._inside(self.root, key)
        with _storage_errors(self, key):
            _atomic_copy(pathlib.Path(src_path), target)
        return target

    # Paths.

    def _readable(self, key: str) -> pathlib.Path:
        return self._cached(key) if self.is_nearline else self._inside(self.root, key)

    def _cached(self, key: str) -> pathlib.Path:
        self._check_nearline()
        return self._inside(self.cache, key)

    def _inside(self, folder: pathlib.Path, key: str) -> pathlib.Path:
        # The textual checks catch the obvious; resolving symlinks catches a link (to a file
        # or to a folder) that points out of the root.
        validate_key(key)
        real_folder = os.path.realpath(folder)
        real_path = os.path.realpath(os.path.join(real_folder, key))
        if not real_path.startswith(real_folder + os.sep):
            raise InvalidKey(f"location {self.name!r}: {key!r} leads outside its folder")
        return pathlib.Path(real_path)

    def _chunks(self, file, key: str, remaining: int):
        while remaining > 0:
            with _storage_errors(self, key):
                chunk = file.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                raise StorageUnavailable(
                    f"location {self.name!r}: {key!r} is truncated, {remaining} bytes missing"
                )
            remaining -= len(chunk)
            yield chunk


def _regular_file_stat(path_or_file, location: LocalLocation, key: str) -> os.stat_result:
    if hasattr(path_or_file, "fileno"):
        result = os.fstat(path_or_file.fileno())
    else:
        result = os.stat(path_or_file)
    if not stat_module.S_ISREG(result.st_mode):
        raise StorageFileNotFound(f"location {location.name!r}: {key!r} is not a regular file")
    return result


@contextlib.contextmanager
def _storage_errors(location: LocalLocation, key: str):
    try:
        yield
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        raise StorageFileNotFound(f"location {location.name!r}: no file {key!r}") from exc
    except OSError as exc:
        raise StorageUnavailable(
            f"location {location.name!r}: cannot read {key!r} ({exc.strerror or exc})"
        ) from exc


def _atomic_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so os.replace is a rename on one filesystem; hidden and random, so
    # concurrent copies of the same key never share a temporary file.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(source, "rb") as src, open(temporary, "xb") as dst:
            shutil.copyfileobj(src, dst, CHUNK_SIZE)
            dst.flush()
            # Without it a crash soon after the rename can leave an empty file under the
            # final name, which would then be served as if it were the data.
            os.fsync(dst.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
