"""The `Range` and `If-Range` request headers (RFC 9110 §14), for a single byte range."""

import re

# Range units are case-insensitive (RFC 9110 §14.1): `Bytes=0-9` is a range too.
SINGLE_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})", re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    pass


def requested_range(range_header, if_range, etag, size):
    """(start, end) inclusive for a satisfiable single range, None for the whole file.

    Several ranges, an unknown unit, a malformed header or an `If-Range` that does not
    match the ETag all mean "send the whole file" (RFC 9110 allows ignoring Range).
    Raises RangeNotSatisfiable when the one range asked for lies outside the file.
    """
    if not range_header or (if_range is not None and if_range.strip() != etag):
        return None
    match = SINGLE_RANGE.fullmatch(range_header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable()
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise RangeNotSatisfiable()
    return start, min(end, size - 1)
