"""Sending a file's bytes, and the DownloadRecord written when the response closes.

Local files go out through `FileResponse` (sendfile under gunicorn) or, with
`DOWNLOAD_OFFLOAD=nginx`, through nginx's `X-Accel-Redirect`; files on an HTTP
location are relayed chunk by chunk with their digest checked on the way.
"""

import hashlib
import io
import logging
import sys
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone

import storage_client
from downloads import quotas
from downloads.exceptions import QuotaExceeded, RateLimited, storage_error_to_api
from downloads.models import DownloadRecord
from regards_catalog.auth import client_address, request_user

logger = logging.getLogger(__name__)
Outcome = DownloadRecord.Outcome


def content_disposition(filename, inline):
    """`attachment; filename="…"; filename*=UTF-8''…` (RFC 6266), safe for any name."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    fallback = fallback.replace("\\", "_").replace('"', "_").replace("\r", "").replace("\n", "")
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_headers(data_file, *, inline):
    """Headers of every successful download answer (SPEC §4), HEAD included."""
    return {
        "Content-Type": data_file.mime_type or "application/octet-stream",
        "Content-Disposition": content_disposition(data_file.filename, inline),
        "ETag": f'"{data_file.checksum}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "private",
        "X-Content-Type-Options": "nosniff",
    }


class Transfer:
    """One download that reached the storage; its record is written once, at the end."""

    def __init__(self, request, data_file, *, status, start, length, slot=None):
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
        self.slot = slot

    def fail(self, outcome, error):
        self.outcome, self.error = outcome, str(error)

    def finish(self):
        """Called when the response closes (complete, aborted or failed): write the record."""
        if self.outcome is None:
            self.outcome = Outcome.COMPLETED if self.sent >= self.length else Outcome.ABORTED
        product = self.data_file.product
        with transaction.atomic():  # one commit for the record and the quota
            self._write_record(product)
            if self.slot is not None:
                quotas.slot_release(slot=self.slot, bytes_sent=self.sent)

    def _write_record(self, product):
        DownloadRecord.objects.create(
            user=self.user,
            client_address=self.address,
            product=product,
            data_file=self.data_file,
            dataset_id=product.dataset_id,
            product_urn=product.urn,
            checksum=self.data_file.checksum,
            filename=self.data_file.filename,
            status_code=self.status,
            range_start=self.start,
            bytes_expected=self.length,
            bytes_sent=self.sent,
            outcome=self.outcome,
            error=self.error,
            started=self.started,
            ended=timezone.now(),
        )


def record_refusal(request, data_file, error, *, start, length):
    """A download refused at check 9 or 9b leaves a record too (SPEC §4)."""
    transfer = Transfer(request, data_file, status=error.status_code, start=start, length=length)
    outcome = Outcome.RATE_LIMITED if isinstance(error, RateLimited) else Outcome.QUOTA_EXCEEDED
    transfer.fail(outcome, error.detail)
    transfer.finish()


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
    """

    def __init__(self, stream, transfer, digest):
        self.stream = stream
        self.transfer = transfer
        self.digest = digest
        self.held = None
        self.pending_count = 0
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        self.transfer.sent += self.pending_count  # the server wrote the previous chunk
        self.pending_count = 0
        while True:
            chunk = self._next_from_storage()
            if chunk is None:
                return self._last_chunk()
            if self.digest is not None:
                self.digest.update(chunk)
            previous, self.held = self.held, chunk
            if previous is not None:
                self.pending_count = len(previous)
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
        if self.held is None:
            raise StopIteration
        expected = self.transfer.data_file.checksum.lower()
        if self.digest is not None and self.digest.hexdigest() != expected:
            message = (
                f"digest mismatch for {self.transfer.data_file.product.urn}/"
                f"{self.transfer.data_file.checksum}: storage sent {self.digest.hexdigest()}"
            )
            logger.error(message)
            self.transfer.fail(Outcome.CORRUPT, message)
            raise storage_client.StorageUnavailable(message)
        last, self.held = self.held, None
        self.pending_count = len(last)
        return last

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.stream.close()
        if self.held is None and self.pending_count:
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
    """A hash object to check a whole-file transfer, or None (ranges, unknown algorithm)."""
    if start != 0 or length != data_file.filesize:
        return None
    name = data_file.digest_algorithm.lower().replace("-", "")
    try:
        return hashlib.new(name)
    except ValueError:
        return None


def open_transfer(request, data_file, location, *, start, length, status, slot=None):
    """Open the bytes (check 10: errors before the first byte become 502) and respond.

    With a quota `slot`, the download is counted once the storage has answered, and the
    slot is released, with the reserved bytes not sent, when the response closes.
    """
    transfer = Transfer(request, data_file, status=status, start=start, length=length, slot=slot)
    response, source = _open(request, transfer, location)
    if slot is not None and not quotas.download_count(slot=slot):
        # A parallel download took the last one between check 9 and now.
        transfer.fail(Outcome.QUOTA_EXCEEDED, QuotaExceeded.default_detail)
        transfer.sent = 0
        if source is not None:
            source.close()  # writes the record and frees the slot
        else:
            transfer.finish()
        raise QuotaExceeded()
    if source is None:  # offloaded to nginx: nothing closes on our side
        transfer.finish()
    return response


def _open(request, transfer, location):
    data_file, start, length = transfer.data_file, transfer.start, transfer.length
    key = data_file.storage_key
    try:
        path = location.local_path(key)
        if path is not None:
            check_catalog_size(data_file, path.stat().st_size)
        if path is not None and settings.DOWNLOAD_OFFLOAD == "nginx":
            response = HttpResponse(status=200)
            response["X-Accel-Redirect"] = location.accel_path(key)
            # nginx sends the bytes after we return: no byte count, no slot held meanwhile.
            transfer.sent, transfer.outcome = length, Outcome.OFFLOADED
            return response, None
        if path is not None:
            file_range = LocalFileRange(path, start, length, transfer)
            response = FileResponse(file_range, status=transfer.status)
            response.block_size = storage_client.CHUNK_SIZE
            return response, file_range
        stream = location.open(key, offset=start, length=length)
        if stream.length is not None and stream.length != length:
            stream.close()
            raise storage_client.StorageUnavailable(
                f"storage answered {stream.length} bytes for a range of {length}"
            )
    except (storage_client.StorageError, OSError) as error:
        logger.error("storage failed before sending %s: %s", data_file, error)
        transfer.fail(Outcome.STORAGE_ERROR, error)
        transfer.finish()
        if isinstance(error, OSError):
            error = storage_client.StorageUnavailable(str(error))
        raise storage_error_to_api(error) from error
    relay = RelayedStream(stream, transfer, digest_for(data_file, start, length))
    return StreamingHttpResponse(relay, status=transfer.status), relay
