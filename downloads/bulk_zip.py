"""A bulk download as one streamed zip (README "Bulk downloads"): stored, not compressed
(EO files are compressed already), zip64 where needed, in constant memory.

Each file is one download, counted and recorded as a single download is. A file refused
on the way (quota, storage) is left out and named in MANIFEST.txt, written last with the
MD5 of every file sent. zipstream-ng writes each entry's CRC and sizes in a data
descriptor after its bytes, so nothing has to be read twice or held in memory.
"""

import logging

from django.utils import timezone
from zipstream import ZIP_STORED, ZipStream

import storage_client
from downloads import checks
from downloads.exceptions import QuotaExceeded, RateLimited
from downloads.transfers import record_refusal, relayed_transfer
from regards_catalog.exceptions import ApiError

logger = logging.getLogger(__name__)
MANIFEST = "MANIFEST.txt"


def zip_chunks(request, bulk_files):
    """The zip of `bulk_files` (downloads.bulk), chunk by chunk, each file read from its
    storage as the client takes the previous chunks.

    A file that fails midway ends the zip there, without MANIFEST.txt or the central
    directory: the client holds a broken archive, never one silently short of a file.
    Its download record says how many bytes were sent.
    """
    archive = ZipStream(compress_type=ZIP_STORED)
    manifest = Manifest()
    for entry in bulk_files:
        try:
            relay = _opened(request, entry)
        except ApiError as refusal:
            manifest.left_out(entry, refusal.default_code, str(refusal.detail), refusal.extra)
            continue
        if relay is None:
            uri = entry.data_file.uri
            manifest.left_out(entry, "reference", "Served elsewhere.", {"uri": uri})
            continue
        try:
            archive.add(relay, entry.path, size=entry.data_file.filesize)
            yield from archive.file()
        except storage_client.StorageError as error:
            logger.error("bulk zip ends short at %s: %s", entry.path, error)
            return
        finally:
            relay.close()  # records the download, frees its slot
        manifest.sent(entry)
    archive.add(manifest.text(), MANIFEST)
    yield from archive.finalize()


def _opened(request, entry):
    """Checks 7 to 10 for one file, when its turn comes: its relay, the download counted
    (None for a reference file, served elsewhere); or the ApiError that leaves it out."""
    data_file = entry.data_file
    if entry.refusal is not None:
        raise entry.refusal
    if data_file.reference:
        return None
    size = data_file.filesize
    try:
        claim = checks.quota_available(request, data_file, start=0, length=size)
    except (QuotaExceeded, RateLimited) as refusal:
        record_refusal(request, data_file, refusal, start=0, length=size)
        raise
    return relayed_transfer(request, data_file, entry.location, claim=claim)


class Manifest:
    """MANIFEST.txt: a checksum line per file sent, in the tagged format `cksum --check`
    reads (and `md5sum -c` for MD5s), then a comment line per file left out, with why."""

    def __init__(self):
        self.lines = []
        self.left = []

    def sent(self, entry):
        data_file = entry.data_file
        algorithm = data_file.digest_algorithm.upper().replace("-", "")
        self.lines.append(f"{algorithm} ({entry.path}) = {data_file.checksum.lower()}")

    def left_out(self, entry, code, message, extra):
        data_file = entry.data_file
        line = f"# left out: {entry.path} ({data_file.product.urn} {data_file.checksum}): "
        line += f"{code}: {message}"
        for name in ("restore", "uri"):
            if name in extra:
                line += f" {name}: {extra[name]}"
        self.left.append(line)

    def text(self):
        header = [
            f"# REGARDS Catalog bulk download, {timezone.now():%Y-%m-%dT%H:%M:%SZ}",
            f"# {len(self.lines)} files in this archive, {len(self.left)} left out.",
            f"# Check them, in the folder the archive was unpacked in: cksum --check {MANIFEST}",
        ]
        return "\n".join([*header, *self.lines, *self.left]) + "\n"
