import http.client
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import boto3
import botocore.exceptions
import urllib3
from botocore.config import Config

from .base import (
    CHUNK_SIZE,
    ByteStream,
    Location,
    RestoreState,
    check_range,
    range_header,
    validate_key,
)
from .exceptions import StorageConfigError, StorageFileNotFound, StorageUnavailable

# Storage classes whose objects cannot be read until restored (GLACIER_IR can be read).
ARCHIVE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")

_RESTORE = re.compile(r'ongoing-request="(true|false)"(?:,\s*expiry-date="([^"]+)")?')
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")

# S3 error codes meaning "no such object".
_MISSING = ("NoSuchKey", "404", "NotFound")
# Refused credentials or access, or no such bucket: the location's settings are wrong.
_CONFIG_ERRORS = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "403",
    "NoSuchBucket",
    "InvalidBucketName",
)

# Everything that can go wrong on the wire once the body has started.
_STREAM_ERRORS = (
    botocore.exceptions.BotoCoreError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class S3Location(Location):
    """Objects in an S3 bucket (AWS, or any S3 API at `endpoint_url`), under `prefix`.

    A nearline one holds Glacier-class objects (GLACIER, DEEP_ARCHIVE): restore() asks S3
    for a temporary readable copy (RestoreObject), and S3 makes it in the background and
    drops it at its expiry date; restore_state() reads HeadObject's `Restore` header.
    """

    restores_in_background = True
    # nginx cannot sign S3 requests; `redirect` is this backend's way to offload.
    offloadable = False

    def __init__(
        self,
        name: str,
        bucket: str,
        prefix: str = "",
        tier: str = "online",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        verify: bool = True,
        redirect: bool = False,
        timeout: float = 30,
        connect_timeout: float = 5,
        retries: int = 3,
    ):
        super().__init__(name, tier)
        if (access_key is None) != (secret_key is None):
            raise ValueError("fields 'access_key' and 'secret_key' go together")
        if redirect and self.is_nearline:
            raise ValueError("field 'redirect' is only for online locations")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("fields 'timeout' and 'connect_timeout' must be positive")
        if retries < 0:
            raise ValueError("field 'retries' must not be negative")
        if prefix.startswith("/"):
            raise ValueError("field 'prefix' must be relative to the bucket")
        prefix = prefix.rstrip("/")
        # Keys cannot climb out of the prefix (validate_key), nor the prefix out of the bucket.
        if prefix and (".." in prefix.split("/") or "\\" in prefix):
            raise ValueError("field 'prefix' must not hold '..' or a backslash")
        self.bucket = bucket
        self.prefix = prefix + "/" if prefix else ""
        self.endpoint_url = endpoint_url
        # Whether the bytes read here are checked against the catalog's digest on the way.
        self.verify = verify
        self.redirect = redirect
        # Given keys, or else the standard AWS chain (environment, profile, instance role).
        session = boto3.session.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region or "us-east-1",
        )
        if session.get_credentials() is None:
            raise ValueError(
                "no credentials: give 'access_key' and 'secret_key', or set them in the "
                "standard AWS environment variables or profile"
            )
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": retries + 1, "mode": "standard"},
            max_pool_connections=32,
            # S3-compatible servers at an endpoint of their own rarely have one host name
            # per bucket.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            signature_version="s3v4",
            # The catalog's digest is checked by the relay: no second hash of every byte.
            response_checksum_validation="when_required",
            request_checksum_calculation="when_required",
        )
        self.client = session.client("s3", endpoint_url=endpoint_url, config=config)

    # Reading: for nearline, only an object whose restored copy is there is readable.

    def stat(self, key: str) -> int:
        head = self._head(key)
        if not self._state(head).ready:
            raise self._not_restored(key)
        return head["ContentLength"]

    def open(self, key: str, offset: int = 0, length: int | None = None) -> ByteStream:
        check_range(offset, length)
        if length == 0:
            # "bytes=a-(a-1)" is not a valid range; only the object's existence is in question.
            self._span(key, self.stat(key), offset, 0)
            return ByteStream(iter(()), close=lambda: None, length=0)
        wanted = range_header(offset, length)
        answer = self._call("get_object", key, **({"Range": wanted} if wanted else {}))
        body = answer["Body"]
        try:
            expected = self._check_answer(answer, key, offset, length)
        except BaseException:
            body.close()
            raise
        return ByteStream(self._chunks(body, key, expected), close=body.close, length=expected)

    def accel_path(self, key: str, offset: int = 0, length: int | None = None) -> str:
        raise ValueError(f"location {self.name!r}: nginx cannot send S3 objects (see 'redirect')")

    def presigned_url(self, key: str, *, seconds: int, headers: dict[str, str]) -> str:
        """A URL that GETs `key` without credentials for `seconds`; S3 answers it with
        `headers` (Content-Disposition, Content-Type) instead of the object's own."""
        params = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if "Content-Disposition" in headers:
            params["ResponseContentDisposition"] = headers["Content-Disposition"]
        if "Content-Type" in headers:
            params["ResponseContentType"] = headers["Content-Type"]
        # Signing is local: no request is made.
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    # Nearline: S3 keeps the restored copy beside the archived object.

    def is_cached(self, key: str) -> bool:
        return self.restore_state(key).ready

    def restore(self, key: str, *, hours: float | None = None) -> None:
        """Ask S3 to restore `key` for `hours` (rounded up to days, 1 day by default);
        returns at once: S3 restores in the background (restore_state says when it is done)."""
        self._check_nearline()
        days = max(1, math.ceil((hours or 24) / 24))
        # Already being restored, or not archived (readable as it is): nothing to ask.
        accept = ("RestoreAlreadyInProgress", "InvalidObjectState")
        self._call("restore_object", key, accept=accept, RestoreRequest={"Days": days})

    def restore_state(self, key: str) -> RestoreState:
        self._check_nearline()
        validate_key(key)  # an invalid key is an error, not an object that is not there
        try:
            head = self._head(key)
        except StorageFileNotFound:
            return RestoreState(ready=False)
        return self._state(head)

    def evict(self, key: str) -> None:
        """Nothing to do: S3 drops a restored copy itself at its expiry date, and has no call
        to drop it earlier."""
        self._check_nearline()
        validate_key(key)

    def check(self) -> None:
        """One HeadBucket: refused credentials or a missing bucket are StorageConfigError."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as error:
            code = _code(error)
            if code in _CONFIG_ERRORS or code in _MISSING:
                raise StorageConfigError(
                    f"location {self.name!r}: S3 answers {code} for bucket {self.bucket!r}: "
                    "check 'bucket' and the credentials ('access_key' and 'secret_key', or "
                    "the AWS environment)"
                ) from error
            raise StorageUnavailable(f"location {self.name!r}: S3 answered {code}") from error
        except botocore.exceptions.NoCredentialsError as error:
            raise StorageConfigError(f"location {self.name!r}: no credentials") from error
        except botocore.exceptions.BotoCoreError as error:
            raise StorageUnavailable(
                f"location {self.name!r}: cannot reach S3 ({type(error).__name__})"
            ) from error

    # S3 calls.

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _head(self, key: str) -> dict:
        return self._call("head_object", key)

    def _call(self, operation: str, key: str, *, accept: tuple = (), **params) -> dict | None:
        """The answer to one S3 call about `key`, or None for an error code in `accept`;
        other failures raise storage errors."""
        object_key = self._object_key(key)
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, Key=object_key, **params)
        except botocore.exceptions.ClientError as error:
            if _code(error) in accept:
                return None
            raise self._error(key, error) from error
        except botocore.exceptions.BotoCoreError as error:
            # Its text may hold the endpoint and the request; the type says enough.
            raise StorageUnavailable(
                f"location {self.name!r}: S3 request for {key!r} failed ({type(error).__name__})"
            ) from error

    def _error(self, key: str, error: botocore.exceptions.ClientError):
        code = _code(error)
        if code in _MISSING:
            return StorageFileNotFound(f"location {self.name!r}: no object {key!r} ({code})")
        if code == "InvalidObjectState":
            return self._not_restored(key)
        if code in ("InvalidRange", "416"):
            return StorageUnavailable(
                f"location {self.name!r}: {key!r} is shorter than the requested range"
            )
        return StorageUnavailable(f"location {self.name!r}: S3 answered {code} for {key!r}")

    def _not_restored(self, key: str):
        if self.is_nearline:
            return StorageFileNotFound(f"location {self.name!r}: {key!r} is not restored")
        return StorageUnavailable(
            f"location {self.name!r}: {key!r} is archived: it needs a nearline location"
        )

    def _state(self, head: dict) -> RestoreState:
        """What HeadObject says of the readable copy: an object not archived is readable as
        it is; an archived one while its restore is done and not expired."""
        if head.get("StorageClass") not in ARCHIVE_CLASSES:
            return RestoreState(ready=True)
        match = _RESTORE.match(head.get("Restore") or "")
        if match is None or match[1] == "true":
            return RestoreState(ready=False)
        until = parsedate_to_datetime(match[2]) if match[2] else None
        if until is not None and until <= datetime.now(UTC):
            return RestoreState(ready=False)
        return RestoreState(ready=True, until=until)

    def _check_answer(self, answer: dict, key: str, offset: int, length: int | None) -> int:
        """How many bytes the body holds, once sure they are those asked for."""
        content_range = answer.get("ContentRange")
        if content_range is None:
            if offset or length is not None:
                raise StorageUnavailable(f"location {self.name!r}: S3 ignored the range of {key!r}")
            return answer["ContentLength"]
        match = _CONTENT_RANGE.fullmatch(content_range)
        if match is None:
            raise StorageUnavailable(f"location {self.name!r}: bad Content-Range for {key!r}")
        first, last, total = map(int, match.groups())
        # S3 shortens a range running past the end: that is a range the file does not have.
        expected = self._span(key, total, offset, length)
        if first != offset or last - first + 1 != expected:
            raise StorageUnavailable(
                f"location {self.name!r}: asked {key!r} from byte {offset}, "
                f"got Content-Range {content_range}"
            )
        return expected

    def _chunks(self, body, key: str, expected: int):
        received = 0
        try:
            for chunk in body.iter_chunks(CHUNK_SIZE):
                if chunk:
                    received += len(chunk)
                    yield chunk
        except _STREAM_ERRORS as exc:
            raise StorageUnavailable(
                f"location {self.name!r}: reading {key!r} failed after {received} bytes "
                f"({type(exc).__name__})"
            ) from exc
        if received != expected:
            raise StorageUnavailable(
                f"location {self.name!r}: {key!r} truncated, got {received} of {expected} bytes"
            )


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) or str(
        error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )
