"""Sending a file's bytes, and the DownloadRecord written when the response closes.

Local files go out through `FileResponse` (sendfile under gunicorn) or, with
`DOWNLOAD_OFFLOAD=nginx`, through nginx's `X-Accel-Redirect`; files on an HTTP or S3
location are relayed chunk by chunk with their digest checked on the way, unless the
location says `"verify": false`, in which case nginx may also send an HTTP location's.
An S3 location with `"redirect": true` sends the client to a presigned URL instead.
"""

import contextlib
import hashlib
import io
import logging
import queue
import re
import socket
import struct
import sys
import threading
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils import timezone

import storage_client
from downloads import quotas
from downloads.exceptions import (
    DigestMismatch,
    QuotaExceeded,
    RateLimited,
    storage_error_to_api,
)
from downloads.models import DownloadRecord
from regards_catalog import sql
from regards_catalog.auth import client_address, request_user

logger = logging.getLogger(__name__)
Outcome = DownloadRecord.Outcome
# Downloads whose bytes another server sends: counted as sent whole.
HANDED_OFF = (Outcome.OFFLOADED, Outcome.REDIRECTED)


def content_disposition(filename, inline):
    """`attachment; filename="…"; filename*=UTF-8''…` (RFC 6266), safe for any name."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    fallback = fallback.replace("\\", "_").replace('"', "_").replace("\r", "").replace("\n", "")
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# Types a browser makes a page of, able to load and run things: HTML, SVG and XML (whose
# stylesheets may be XSLT that writes HTML).
PAGE_TYPES = re.compile(r"text/html|application/xhtml\+xml|image/svg\+xml|(text|application)/xml")


def file_headers(data_file, *, inline):
    """Headers of every successful download answer (SPEC §4), HEAD included."""
    content_type = data_file.mime_type or "application/octet-stream"
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(data_file.filename, inline),
        "ETag": f'"{data_file.checksum}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "private",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": content_security_policy(content_type, inline=inline),
    }
    if inline:
        # The REGARDS frontend previews a file in an iframe of its own page; every other
        # answer keeps XFrameOptionsMiddleware's DENY (it leaves a header already set).
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


def content_security_policy(content_type, *, inline):
    """A catalog file is never active content on our origin, the one that also serves
    /admin/ and the account page: shown inline (`isContentInline=true`), it is sandboxed
    (a unique origin, no script, no forms), and a page type may load nothing at all. Only
    an inline file may be framed, and only by our own pages (frame-ancestors 'self')."""
    base_type = content_type.split(";")[0].strip().lower()
    policy = ["sandbox"]
    if PAGE_TYPES.fullmatch(base_type):
        policy.append("default-src 'none'")
    if inline:
        policy.append("frame-ancestors 'self'")
    return "; ".join(policy)


class Transfer:
    """One download that reached the storage. Its record is written when its first bytes
    are ready to go out (`begin`, with the quota that counts it and the slot it takes),
    and completed when the response closes (`finish`). A public file type's, which
    counts nothing and takes no slot, is written once, whole, when the response closes."""

    def __init__(self, request, data_file, *, status, start, length):
        self.user = request_user(request)
        self.address = client_address(request)
        self.data_file = data_file
        self.status = status
        self.start = start
        self.length = length
        self.sent = 0
        self.started = timezone.now()
        self.outcome = None
        self.error = ""
        self.record = None
        self.claim = None
        self.running = False  # between begin() and finish()
        self.client_socket = None  # under gunicorn, to bound how long the client may stall

    def fail(self, outcome, error):
        self.outcome, self.error = outcome, str(error)

    def begin(self, *, claim, handed_to=None):
        """For a private file (`claim`, from check 9): count the download, reserve its bytes,
        take its slot (the record's lease) and write its running record, all or nothing
        (`quotas.quota_take`): a parallel download may still refuse it (429, nothing
        written).

        `handed_to` (OFFLOADED, REDIRECTED): another server sends the bytes; the record is
        complete at once, and no slot is held, since nothing here sees the transfer end.

        A public file type (no `claim`) writes nothing yet: with no count and no slot,
        there is nothing for a record written now to hold, and one write at the end
        instead of two spares the database a write per thumbnail (README, "Small files").
        If the worker dies while sending it, no record is left."""
        self.claim = claim
        if claim is None and handed_to is None:
            self.running = True
            return
        record = self._new_record(
            handed_to or Outcome.IN_PROGRESS,
            status=self.status,
            ended=handed_to is not None,
            quota_id=claim and claim.quota_id,
            lease_expires=None if handed_to else timezone.now() + quotas.slot_lease(),
        )
        if claim is not None:
            quotas.quota_take(claim=claim, record=record, lease=handed_to is None)
        else:
            sql.insert(record)
        self.record = record
        if handed_to is None:
            self.running = True
            quotas.slot_keeper.hold(self.record.pk)

    def finish(self):
        """Called when the response closes (complete, aborted or failed): complete the record,
        which frees its slot, and give back the reserved bytes not sent; for a public file
        type, write its record. Nothing to do for a response that never began."""
        if not self.running:
            return
        self.running = False
        if self.client_socket is not None and isinstance(sys.exc_info()[1], TimeoutError):
            seconds = settings.DOWNLOAD_STALL_SECONDS
            self.fail(Outcome.ABORTED, f"the client read nothing for {seconds} s")
            _reset_connection(self.client_socket)
        if self.outcome is None:
            self.outcome = Outcome.COMPLETED if self.sent >= self.length else Outcome.ABORTED
        if self.record is None:
            self.record = sql.insert(self._new_record(self.outcome, status=self.status, ended=True))
            return
        quotas.slot_keeper.drop(self.record.pk)
        gives_back = self.claim is not None and self.sent < self.claim.length
        # One commit for the record and the quota; a lone UPDATE needs no transaction.
        with transaction.atomic() if gives_back else contextlib.nullcontext():
            # The quota first, as in begin(): the record's trigger locks its day's usage
            # totals (migration 0008), and two transactions taking the same two rows in
            # opposite orders could deadlock.
            if gives_back:
                quotas.volume_give_back(claim=self.claim, bytes_sent=self.sent)
            sql.update(
                DownloadRecord,
                self.record.pk,
                outcome=self.outcome,
                error=self.error,
                bytes_sent=self.sent,
                ended=timezone.now(),
                lease_expires=None,
            )
            self.record.outcome = self.outcome

    def refused(self, status):
        """A download that ends before its first byte (refused, or the storage failed):
        its record is written whole, and nothing is counted."""
        self.sent = 0
        self.record = sql.insert(self._new_record(self.outcome, status=status, ended=True))

    def _new_record(self, outcome, *, status, ended=False, **fields):
        """The transfer's DownloadRecord, unsaved: written by hand (`sql.insert`), as every
        download writes one."""
        product = self.data_file.product
        record = DownloadRecord(
            user=self.user,
            client_address=self.address,
            product=product,
            data_file=self.data_file,
            dataset_id=product.dataset_id,
            product_urn=product.urn,
            checksum=self.data_file.checksum,
            filename=self.data_file.filename,
            status_code=status,
            range_start=self.start,
            bytes_expected=self.length,
            bytes_sent=self.length if outcome in HANDED_OFF else self.sent,
            outcome=outcome,
            error=self.error,
            started=self.started,
            ended=timezone.now() if ended else None,
            **fields,
        )
        return record


def bound_stalls(transfer, request):
    """Under gunicorn, make a send that makes no progress for DOWNLOAD_STALL_SECONDS raise
    TimeoutError in the server's write (sendfile included), which closes the response:
    a client that stops reading must not hold a thread and a slot for ever."""
    client = request.META.get("gunicorn.socket")  # gunicorn's WSGI extension
    if client is not None:
        client.settimeout(settings.DOWNLOAD_STALL_SECONDS)
        transfer.client_socket = client


def _reset_connection(client):
    """Drop a stalled client's connection at once, with what it left unread: gunicorn
    would otherwise linger on it for seconds, on the thread that accepts connections."""
    with contextlib.suppress(OSError):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.shutdown(socket.SHUT_RD)


def record_refusal(request, data_file, error, *, start, length):
    """A download refused at check 9 or 9b leaves a record too (SPEC §4)."""
    transfer = Transfer(request, data_file, status=error.status_code, start=start, length=length)
    outcome = Outcome.RATE_LIMITED if isinstance(error, RateLimited) else Outcome.QUOTA_EXCEEDED
    transfer.fail(outcome, error.detail)
    transfer.refused(error.status_code)


class LocalFileRange:
    """A byte range of an open file for FileResponse, counting what the server sends.

    A chunk counts as sent once the server asks for the next one (or closes without an
    error). Under gunicorn the server asks for `fileno()` and sends the range with
    `socket.sendfile(self, offset, count)`, which reads nothing here but, in a `finally`,
    seeks us to the end of what it sent, also when the client hung up midway: that
    position gives the bytes sent. (gunicorn then moves the descriptor back to where it
    started, so the position has to be caught in `seek`, not read at close.)
    """

    def __init__(self, path, start, length, transfer):
        self.file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.file.seek(start)
        self.start = start
        self.remaining = length
        self.transfer = transfer
        self.pending = 0
        self.sendfile_asked = False
        self.sendfile_end = None

    def fileno(self):
        self.sendfile_asked = True
        return self.file.fileno()

    def seek(self, offset, whence=io.SEEK_SET):
        self.sendfile_end = self.file.seek(offset, whence)
        return self.sendfile_end

    def seekable(self):
        # Only socket.sendfile may seek: FileResponse would measure a seekable file by
        # seeking to its end, and the range's length is set by the view anyway.
        return False

    def read(self, size=-1):
        self.transfer.sent += self.pending
        self.pending = 0
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.file.read(size)
        self.remaining -= len(data)
        self.pending = len(data)
        return data

    def close(self):
        if self.file.closed:
            return
        self.file.close()
        # The server closes us while handling the client's disconnect, if there was one.
        error = sys.exc_info()[1]
        if self.sendfile_end is not None:  # socket.sendfile sent something, maybe not all
            self.transfer.sent = self.sendfile_end - self.start
        elif error is None:
            self.transfer.sent += self.pending
            if self.sendfile_asked and self.transfer.sent == 0:
                # Another server's sendfile that does not seek: no error, so all of it.
                self.transfer.sent = self.transfer.length
        if error is not None and self.transfer.outcome is None:
            self.transfer.fail(Outcome.ABORTED, f"{type(error).__name__}: {error}")
        self.transfer.finish()


class RelayedStream:
    """Bytes from an HTTP location, relayed chunk by chunk, digest checked on the way.

    The last chunk is held back until the digest is known: on a mismatch the response
    stops short of its Content-Length, so no client keeps silently corrupt bytes.
    `prime()` reads ahead to the first chunk that may go out before the response is
    answered, so that a storage failing at once, or a file of one chunk that does not
    match its digest, is a 502 that costs nothing.
    """

    def __init__(self, stream, transfer, digest):
        self.stream = stream
        self.transfer = transfer
        self.digest = digest
        self.held = None
        self.ready = None  # the chunk prime() read ahead
        self.pending_count = 0
        self.closed = False

    def prime(self):
        self.ready = self._advance()

    def __iter__(self):
        return self

    def __next__(self):
        self.transfer.sent += self.pending_count  # the server wrote the previous chunk
        self.pending_count = 0
        chunk, self.ready = self.ready or self._advance(), None
        if chunk is None:
            raise StopIteration
        self.pending_count = len(chunk)
        return chunk

    def _advance(self):
        """The next chunk that may go out, or None at the end of a verified file."""
        while True:
            chunk = self._next_from_storage()
            if chunk is None:
                return self._last_chunk()
            if self.digest is not None:
                self.digest.update(chunk)
            previous, self.held = self.held, chunk
            if previous is not None:
                return previous

    def _next_from_storage(self):
        """The next non-empty chunk, or None at the end."""
        try:
            for chunk in self.stream:
                if chunk:
                    return chunk
            return None
        except storage_client.StorageError as error:
            logger.error("storage failed while sending %s: %s", self.transfer.data_file, error)
            self.transfer.fail(Outcome.STORAGE_ERROR, error)
            raise

    def _last_chunk(self):
        last, self.held = self.held, None
        if last is None:
            return None
        expected = self.transfer.data_file.checksum.lower()
        if self.digest is not None and self.digest.hexdigest() != expected:
            message = (
                f"digest mismatch for {self.transfer.data_file.product.urn}/"
                f"{self.transfer.data_file.checksum}: storage sent {self.digest.hexdigest()}"
            )
            logger.error(message)
            self.transfer.fail(Outcome.CORRUPT, message)
            raise DigestMismatch(message)
        return last

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.stream.close()
        if self.digest is not None:
            self.digest.close()  # a digest thread must not outlive its transfer
        if self.held is None and self.ready is None and self.pending_count:
            self.transfer.sent += self.pending_count  # the final chunk went out
            self.pending_count = 0
        self.transfer.finish()


def check_catalog_size(data_file, size):
    """The storage's copy has the size the catalog gives: a truncated or replaced file is
    answered as storage trouble (502) before the first byte, never sent."""
    if size != data_file.filesize:
        raise storage_client.StorageUnavailable(
            f"the storage has {size} bytes of {data_file}, the catalog says {data_file.filesize}"
        )


def digest_for(data_file, start, length):
    """A digest to check a whole-file transfer, or None (ranges, unknown algorithm)."""
    if start != 0 or length != data_file.filesize:
        return None
    name = data_file.digest_algorithm.lower().replace("-", "")
    try:
        return OverlappedDigest(hashlib.new(name))
    except ValueError:
        return None


class OverlappedDigest:
    """A hash object whose `update` hands the chunk to a thread of its own, which hashes it.

    Hashing is the costliest step of the relay: about two thirds of its time on one thread.
    hashlib releases the GIL on large buffers, so while chunks are hashed the relay reads
    the next ones and the server writes the previous ones: the transfer runs at the rate
    of the hash instead of hash + read + write. A few chunks may wait for the hashing
    thread, so that a late read does not leave it idle; no more, so memory stays flat.
    """

    DEPTH = 3

    def __init__(self, digest):
        self.digest = digest
        self.chunks = queue.Queue(maxsize=self.DEPTH)
        self.thread = None

    def update(self, chunk):
        if self.thread is None:
            self.thread = threading.Thread(target=self._hash, name="digest", daemon=True)
            self.thread.start()
        self.chunks.put(chunk)  # waits while DEPTH chunks are queued

    def hexdigest(self):
        """The digest of every chunk given, once the thread has hashed them all."""
        self.close()
        return self.digest.hexdigest()

    def close(self):
        """Let the thread finish what it was given, and end."""
        if self.thread is not None:
            self.chunks.put(None)
            self.thread.join()
            self.thread = None

    def _hash(self):
        while (chunk := self.chunks.get()) is not None:
            self.digest.update(chunk)


def open_transfer(request, data_file, location, *, start, length, status, claim, headers):
    """Open the bytes (check 10: errors before the first byte become 502 and cost nothing),
    then count the download and respond.

    `claim` is what check 9 found (None: a public file type, no quota). The download is
    counted only once the first bytes are ready to go out, and its slot is released,
    with the reserved bytes not sent, when the response closes. `headers` are the
    download's (file_headers), which a presigned URL makes the storage send.
    """
    transfer = Transfer(request, data_file, status=status, start=start, length=length)
    with _refused_on_storage_error(transfer):
        response, source = _open(transfer, location, headers)
    handed_to = None
    if source is None:
        handed_to = Outcome.REDIRECTED if response.status_code == 303 else Outcome.OFFLOADED
    _begin(request, transfer, source, claim=claim, handed_to=handed_to)
    return response


def relayed_transfer(request, data_file, location, *, claim):
    """A whole file relayed through Python from any location, digest checked, for a bulk
    zip that writes its bytes itself: the RelayedStream to iterate and close, its download
    counted as open_transfer counts one (errors before the first byte raise the same)."""
    transfer = Transfer(request, data_file, status=200, start=0, length=data_file.filesize)
    with _refused_on_storage_error(transfer):
        relay = _relay(transfer, location)
    _begin(request, transfer, relay, claim=claim)
    return relay


def _begin(request, transfer, source, *, claim, handed_to=None):
    """Transfer.begin: count the download and take its slot. A parallel download that took
    the last of the quota meanwhile makes it a recorded 429, the source closed unsent."""
    try:
        transfer.begin(claim=claim, handed_to=handed_to)
    except (QuotaExceeded, RateLimited) as refusal:
        if source is not None:
            source.close()  # the transfer never began: nothing to write or release
        record_refusal(
            request, transfer.data_file, refusal, start=transfer.start, length=transfer.length
        )
        raise
    bound_stalls(transfer, request)


def offloaded(location, path):
    """With DOWNLOAD_OFFLOAD=nginx, nginx sends local files, and those of http locations
    whose digest is not checked (`"verify": false`): nginx could not check it."""
    if settings.DOWNLOAD_OFFLOAD != "nginx":
        return False
    return path is not None or (location.offloadable and not location.verify)


def redirected(location, key, headers):
    """A 303 to a presigned URL of the storage (an s3 location with `"redirect": true`),
    which answers with the download's Content-Disposition and Content-Type. The URL is
    the caller's alone for S3_PRESIGN_SECONDS: nothing may cache the answer."""
    url = location.presigned_url(key, seconds=settings.S3_PRESIGN_SECONDS, headers=headers)
    response = HttpResponseRedirect(url, status=303)
    response["Cache-Control"] = "private, no-store"
    return response


@contextlib.contextmanager
def _refused_on_storage_error(transfer):
    """Storage errors before the first byte are recorded and raised as their 502."""
    try:
        yield
    except (storage_client.StorageError, OSError) as error:
        logger.error("storage failed before sending %s: %s", transfer.data_file, error)
        if transfer.outcome is None:
            transfer.fail(Outcome.STORAGE_ERROR, error)
        api_error = storage_error_to_api(
            storage_client.StorageUnavailable(str(error)) if isinstance(error, OSError) else error
        )
        transfer.refused(api_error.status_code)
        raise api_error from error


def _open(transfer, location, headers):
    """(response, source to close) for the transfer's bytes; source is None when nginx or
    the storage itself sends them."""
    data_file, start, length = transfer.data_file, transfer.start, transfer.length
    key = data_file.storage_key
    if location.redirect:
        # The storage holds the file at its size before anything is counted; after
        # the 303 nothing here sees the bytes (no digest check, no slot held).
        check_catalog_size(data_file, location.stat(key))
        transfer.status = 303
        return redirected(location, key, headers), None
    path = location.local_path(key)
    if path is not None:
        check_catalog_size(data_file, path.stat().st_size)
    if offloaded(location, path):
        if path is None:  # the storage holds the file, before anything is counted
            check_catalog_size(data_file, location.stat(key))
        response = HttpResponse(status=200)
        # The range Django chose (If-Range included), for an http location's nginx to
        # ask the storage; nginx answers a local file's Range itself, as Django would.
        byte_range = (start, length) if transfer.status == 206 else (0, None)
        response["X-Accel-Redirect"] = location.accel_path(key, *byte_range)
        # nginx sends the bytes after we return: no byte count, no slot held meanwhile.
        return response, None
    if path is not None:
        file_range = LocalFileRange(path, start, length, transfer)
        response = FileResponse(file_range, status=transfer.status)
        response.block_size = storage_client.CHUNK_SIZE
        return response, file_range
    relay = _relay(transfer, location)
    return StreamingHttpResponse(relay, status=transfer.status), relay


def _relay(transfer, location):
    """The transfer's bytes relayed chunk by chunk, read ahead to the first chunk that may
    go out (RelayedStream.prime)."""
    data_file, start, length = transfer.data_file, transfer.start, transfer.length
    stream = location.open(data_file.storage_key, offset=start, length=length)
    digest = digest_for(data_file, start, length) if location.verify else None
    relay = RelayedStream(stream, transfer, digest)
    try:
        if stream.length is not None and stream.length != length:
            raise storage_client.StorageUnavailable(
                f"storage answered {stream.length} bytes for a range of {length}"
            )
        relay.prime()
    except BaseException:
        relay.close()  # the transfer has not begun: this only frees the connection
        raise
    return relay
