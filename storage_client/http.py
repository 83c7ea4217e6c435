import http.client
import re
import threading
from urllib.parse import quote

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from .base import CHUNK_SIZE, ByteStream, Location, check_range, range_header, validate_key
from .exceptions import StorageFileNotFound, StorageUnavailable

# One pooled session per process (per retry policy), so downloads reuse connections
# instead of paying a TCP/TLS handshake each time.
_sessions: dict[int, requests.Session] = {}
_sessions_lock = threading.Lock()

# Everything that can go wrong on the wire once the response has started.
_STREAM_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

# Answers that mean "no such file"; 409 is how some storages say a file is on tape only.
_GONE = (404, 410)
_NOT_CACHED = (404, 409, 410)


def _session(retries: int) -> requests.Session:
    with _sessions_lock:
        if retries not in _sessions:
            # Only connection errors are retried: the request never reached the server.
            # A read error or a 5xx may come from a request the server is still working on.
            retry = Retry(
                total=retries,
                connect=retries,
                read=0,
                status=0,
                other=0,
                backoff_factor=0.1,
                allowed_methods=None,
            )
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=retry)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[retries] = session
        return _sessions[retries]


class HttpLocation(Location):
    """Files served by an HTTP(S) server at a URL template holding `{key}`.

    A nearline one is a remote storage that stages files itself: `restore_url` asks it
    to make a copy readable at `cache_url` (default: `url`), `evict_url` (optional) to
    drop that copy early.
    """

    def __init__(
        self,
        name: str,
        url: str,
        tier: str = "online",
        headers: dict[str, str] | None = None,
        timeout: float = 30,
        connect_timeout: float = 5,
        retries: int = 3,
        restore_url: str | None = None,
        cache_url: str | None = None,
        evict_url: str | None = None,
        restore_timeout: float | None = None,
        verify: bool = True,
        accel_prefix: str | None = None,
    ):
        super().__init__(name, tier, accel_prefix)
        nearline_urls = {"restore_url": restore_url, "cache_url": cache_url, "evict_url": evict_url}
        if self.is_nearline and restore_url is None:
            raise ValueError(
                "field 'restore_url' is required for a nearline location; "
                "without it an http location can only be 'online'"
            )
        if not self.is_nearline:
            for field, value in {**nearline_urls, "restore_timeout": restore_timeout}.items():
                if value is not None:
                    raise ValueError(f"field {field!r} is only for nearline locations")
        for field, template in {"url": url, **nearline_urls}.items():
            if template is not None and "{key}" not in template:
                raise ValueError(f"field {field!r} must contain {{key}}")
        if restore_timeout is None:
            # Staging from tape can take minutes; the remote answers once the copy is there.
            restore_timeout = 300
        if timeout <= 0 or connect_timeout <= 0 or restore_timeout <= 0:
            raise ValueError(
                "fields 'timeout', 'connect_timeout' and 'restore_timeout' must be positive"
            )
        if retries < 0:
            raise ValueError("field 'retries' must not be negative")
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.restore_url = restore_url
        # Where the readable copy of a nearline file is: stat() and open() read there.
        self.cache_url = (cache_url or url) if self.is_nearline else None
        self.evict_url = evict_url
        self.restore_timeout = restore_timeout
        # Whether the bytes read here are checked against the catalog's digest on the way.
        self.verify = verify

    def stat(self, key: str) -> int:
        response = self._request("HEAD", self._readable_template(), key)
        size = response.headers.get("Content-Length", "")
        if not size.isdigit():
            raise StorageUnavailable(
                f"location {self.name!r}: no Content-Length in the answer for {key!r}"
            )
        return int(size)

    def open(self, key: str, offset: int = 0, length: int | None = None) -> ByteStream:
        check_range(offset, length)
        if length == 0:
            # "bytes=a-(a-1)" is not a valid range; only the file's existence is in question.
            self._span(key, self.stat(key), offset, 0)
            return ByteStream(iter(()), close=lambda: None, length=0)

        wanted = range_header(offset, length)
        headers = {"Range": wanted} if wanted else {}
        response = self._request(
            "GET", self._readable_template(), key, headers=headers, stream=True
        )
        try:
            skip, expected = self._check_body(response, key, offset, length)
        except BaseException:
            response.close()
            raise
        chunks = self._chunks(response, key, skip, expected)
        return ByteStream(chunks, close=response.close, length=expected)

    def accel_path(self, key: str, offset: int = 0, length: int | None = None) -> str:
        """Internal nginx URI whose location proxies to this storage (README, Production).

        The key is quoted twice: nginx unquotes the URI once before matching it, and the
        capture it puts into `proxy_pass` must still be quoted. A range goes as
        `?range=bytes=a-b`, for `proxy_set_header Range $arg_range`: the range Django
        chose (If-Range included), not the client's header.
        """
        path = self.accel_prefix + quote(quote(validate_key(key), safe="/"), safe="/")
        wanted = range_header(offset, length)
        return f"{path}?range={wanted}" if wanted else path

    # Nearline: the remote storage keeps the cache; these ask it.

    def is_cached(self, key: str) -> bool:
        """True if the remote storage has a readable copy of `key` at `cache_url`."""
        template = self._nearline_template("cache_url")
        response = self._request("HEAD", template, key, absent=_NOT_CACHED)
        return response.status_code not in _NOT_CACHED

    def restore(self, key: str, *, hours: float | None = None) -> None:
        """Ask the remote storage to stage `key` at `cache_url`; returns once it has.

        Returns None, not a path as LocalLocation does: the copy is not on this machine.
        """
        template = self._nearline_template("restore_url")
        self._request("POST", template, key, read_timeout=self.restore_timeout)

    def evict(self, key: str) -> None:
        """Drop the cached copy through `evict_url`; without one the remote storage expires it."""
        template = self._nearline_template("evict_url")
        if template is None:
            validate_key(key)
            return
        self._request("DELETE", template, key, absent=_GONE)

    def _request(
        self,
        method: str,
        template: str,
        key: str,
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        read_timeout: float | None = None,
        absent: tuple[int, ...] = (),
    ) -> requests.Response:
        """The answer to one request for `key`; failures and error statuses raise storage errors.

        A status in `absent` is returned for the caller to read as "no such file". Unless
        `stream`, the body is read and the connection back in the pool on return.
        """
        url = self._url(template, key)
        try:
            response = _session(self.retries).request(
                method,
                url,
                # Compressed bodies would have another length and other bytes than the file.
                headers={"Accept-Encoding": "identity", **self.headers, **(headers or {})},
                timeout=(self.connect_timeout, read_timeout or self.timeout),
                stream=stream,
                # HEAD does not follow redirects unless told; the other methods do anyway.
                allow_redirects=True,
            )
        except requests.RequestException as exc:
            # The exception's text holds the URL, which may hold a token: name only its type.
            raise StorageUnavailable(
                f"location {self.name!r}: request for {key!r} failed ({type(exc).__name__})"
            ) from exc
        if response.status_code not in absent:
            try:
                self._check_status(response, key)
            except BaseException:
                response.close()
                raise
        if not stream:
            response.close()
        return response

    def _nearline_template(self, field: str) -> str | None:
        self._check_nearline()
        return getattr(self, field)

    def _readable_template(self) -> str:
        return self.cache_url or self.url

    def _url(self, template: str, key: str) -> str:
        return template.replace("{key}", quote(validate_key(key), safe="/"))

    def _check_status(self, response: requests.Response, key: str) -> None:
        status = response.status_code
        if status in _GONE:
            raise StorageFileNotFound(f"location {self.name!r}: no file {key!r} (HTTP {status})")
        if status == 416:
            raise StorageUnavailable(
                f"location {self.name!r}: {key!r} is shorter than the requested range (HTTP 416)"
            )
        if not 200 <= status < 300:
            raise StorageUnavailable(f"location {self.name!r}: HTTP {status} for {key!r}")

    def _check_body(self, response, key: str, offset: int, length: int | None):
        """How many leading bytes to drop and how many to yield (None: until the end)."""
        if response.headers.get("Content-Encoding", "identity") != "identity":
            raise StorageUnavailable(
                f"location {self.name!r}: the server compressed {key!r} despite being asked not to"
            )
        content_length = response.headers.get("Content-Length")
        content_length = int(content_length) if (content_length or "").isdigit() else None

        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if match is None:
                raise StorageUnavailable(f"location {self.name!r}: bad Content-Range for {key!r}")
            first, last, total = match.groups()
            expected = int(last) - int(first) + 1
            if length is None and total != "*":
                length = int(total) - offset
            if int(first) != offset or (length is not None and expected != length):
                raise StorageUnavailable(
                    f"location {self.name!r}: asked {key!r} from byte {offset}, "
                    f"got Content-Range {response.headers['Content-Range']}"
                )
            if content_length is not None and content_length != expected:
                raise StorageUnavailable(
                    f"location {self.name!r}: Content-Length and Content-Range disagree for {key!r}"
                )
            return 0, expected

        if response.status_code != 200:
            raise StorageUnavailable(
                f"location {self.name!r}: HTTP {response.status_code} for {key!r}"
            )
        # The server ignored Range (or none was sent): the body is the whole file.
        if content_length is None:
            return offset, length
        return offset, self._span(key, content_length, offset, length)

    def _chunks(self, response, key: str, skip: int, expected: int | None):
        received = 0
        try:
            for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                if skip:
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                if expected is not None and received + len(chunk) > expected:
                    chunk = chunk[: expected - received]  # slicing copies: only when needed
                if chunk:
                    received += len(chunk)
                    yield chunk
                if received == expected:
                    return
        except _STREAM_ERRORS as exc:
            raise StorageUnavailable(
                f"location {self.name!r}: reading {key!r} failed after {received} bytes "
                f"({type(exc).__name__})"
            ) from exc
        if expected is not None and received < expected:
            raise StorageUnavailable(
                f"location {self.name!r}: {key!r} truncated, got {received} of {expected} bytes"
            )
