"""Headers of a successful download, Range requests, and HEAD (SPEC §4 "Success")."""

from urllib.parse import quote

import pytest

from downloads.models import DownloadRecord
from tests.helpers import DOWNLOAD_HEADERS, assert_api_error, body_of, download_url

pytestmark = pytest.mark.django_db

Outcome = DownloadRecord.Outcome
DIGITS = b"0123456789"  # every offset is its own digit
SIZE = len(DIGITS)


@pytest.fixture
def digits(stored_file):
    return stored_file(DIGITS, filename="digits.txt", mime_type="text/plain")


def get(api_client, data_file, range_header=None, if_range=None, **params):
    headers = {}
    if range_header is not None:
        headers["HTTP_RANGE"] = range_header
    if if_range is not None:
        headers["HTTP_IF_RANGE"] = if_range
    return api_client.get(download_url(data_file, **params), **headers)


# Success headers.


def test_a_download_sends_every_file_header_exactly(api_client, stored_file):
    content = b"netcdf bytes" * 100
    data_file = stored_file(content, filename="scene.nc", mime_type="application/x-netcdf")
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-netcdf"
    assert response["Content-Length"] == str(len(content))
    assert response["Content-Disposition"] == (
        "attachment; filename=\"scene.nc\"; filename*=UTF-8''scene.nc"
    )
    assert response["ETag"] == f'"{data_file.checksum}"'
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "private"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Range" not in response
    assert body_of(response) == content


def test_downloads_are_never_publicly_cacheable(api_client, digits):
    # REGARDS sent `Cache-Control: public, max-age=15552000` (SPEC §10).
    for response in (get(api_client, digits), get(api_client, digits, "bytes=0-1")):
        cache_control = response["Cache-Control"].lower()
        assert "public" not in cache_control
        assert "max-age" not in cache_control
        assert "Expires" not in response
        body_of(response)


def test_content_type_is_the_catalog_mime_type_without_charset(api_client, digits):
    response = get(api_client, digits)
    assert response["Content-Type"] == "text/plain"
    body_of(response)


def test_is_content_inline_true_asks_for_inline(api_client, digits):
    response = get(api_client, digits, isContentInline="true")
    assert response["Content-Disposition"] == (
        "inline; filename=\"digits.txt\"; filename*=UTF-8''digits.txt"
    )
    body_of(response)


@pytest.mark.parametrize(
    ("mime_type", "content"),
    [
        ("text/html", b"<script>fetch('/admin/')</script>"),
        ("text/html; charset=utf-8", b"<html><body onload='alert(1)'></body></html>"),
        ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>"),
        ("application/xhtml+xml", b"<html xmlns='http://www.w3.org/1999/xhtml'/>"),
        ("TEXT/XML", b"<?xml-stylesheet href='x.xsl'?><a/>"),
    ],
)
def test_a_page_type_shown_inline_is_sandboxed_and_may_load_nothing(
    api_client, stored_file, mime_type, content
):
    # A DESCRIPTION file is public: anybody may make the browser of a steward open it.
    data_file = stored_file(content, data_type="DESCRIPTION", mime_type=mime_type)

    for response in (
        api_client.get(download_url(data_file, isContentInline="true")),
        api_client.head(download_url(data_file, isContentInline="true")),
    ):
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("inline;")
        assert response["Content-Security-Policy"] == (
            "sandbox; default-src 'none'; frame-ancestors 'self'"
        )
        assert response["X-Content-Type-Options"] == "nosniff"
        body_of(response)


@pytest.mark.parametrize("mime_type", ["image/png", "application/pdf", "text/plain", ""])
def test_any_other_type_is_sandboxed_inline_or_not(api_client, stored_file, mime_type):
    data_file = stored_file(b"\x89PNG...", data_type="QUICKLOOK_SD", mime_type=mime_type)

    inline = api_client.get(download_url(data_file, isContentInline="true"))
    attachment = api_client.get(download_url(data_file, isContentInline="false"))

    assert inline["Content-Security-Policy"] == "sandbox; frame-ancestors 'self'"
    assert attachment["Content-Security-Policy"] == "sandbox"
    body_of(inline), body_of(attachment)


@pytest.mark.parametrize("value", ["false", "1", "yes", ""])
def test_is_content_inline_other_than_true_stays_attachment(api_client, digits, value):
    response = get(api_client, digits, isContentInline=value)
    assert response["Content-Disposition"].startswith("attachment;")
    body_of(response)


@pytest.mark.parametrize(
    ("filename", "ascii_fallback"),
    [
        ("my scene.nc", "my scene.nc"),
        ("été 2024 – Sentinel.tif", "_t_ 2024 _ Sentinel.tif"),
        ("日本語.xml", "___.xml"),
        ('quote"and\\back.txt', "quote_and_back.txt"),
        ("semi;colon,comma.txt", "semi;colon,comma.txt"),
    ],
)
def test_content_disposition_gives_an_ascii_filename_and_an_rfc6266_utf8_one(
    api_client, stored_file, filename, ascii_fallback
):
    data_file = stored_file(filename=filename)
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition == (
        f"attachment; filename=\"{ascii_fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    assert disposition.isascii()
    body_of(response)


def test_a_zero_byte_file_downloads_empty(api_client, stored_file):
    data_file = stored_file(b"", filename="empty.txt")
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == "0"
    assert response["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert body_of(response) == b""
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_expected, record.bytes_sent) == (Outcome.COMPLETED, 0, 0)


def test_a_zero_byte_file_cannot_satisfy_any_range(api_client, stored_file):
    data_file = stored_file(b"", filename="empty.txt")
    for range_header in ("bytes=0-", "bytes=0-0", "bytes=-1"):
        response = get(api_client, data_file, range_header)
        assert_api_error(response, 416, "range_not_satisfiable")
        assert response["Content-Range"] == "bytes */0"


def test_a_full_download_is_recorded_as_completed(api_client, digits):
    body_of(get(api_client, digits))
    record = DownloadRecord.objects.get()
    assert record.outcome == Outcome.COMPLETED
    assert (record.status_code, record.range_start) == (200, 0)
    assert (record.bytes_expected, record.bytes_sent) == (SIZE, SIZE)
    assert record.user is None
    assert record.client_address == "127.0.0.1"
    assert record.product == digits.product
    assert record.data_file == digits
    assert record.dataset == digits.product.dataset
    assert (record.product_urn, record.checksum, record.filename) == (
        digits.product.urn,
        digits.checksum,
        "digits.txt",
    )
    assert record.started <= record.ended


# Ranges.


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=-1", 9, 9),
        ("bytes=5-", 5, 9),
        ("bytes=2-4", 2, 4),
        ("bytes=9-9", 9, 9),
        ("bytes=0-9", 0, 9),
        ("bytes=5-100", 5, 9),  # end beyond the file: clamped
        ("bytes=3-99999999999999", 3, 9),
        ("bytes=-3", 7, 9),
        ("bytes=-100", 0, 9),  # a suffix longer than the file is the whole file
        (" bytes=2-4 ", 2, 4),
        ("Bytes=0-9", 0, 9),  # the unit ignores case (RFC 9110 §14.1)
        ("BYTES=2-4", 2, 4),
        ("bYtEs=-3", 7, 9),
    ],
)
def test_a_satisfiable_single_range_is_206_with_exactly_those_bytes(
    api_client, digits, range_header, start, end
):
    response = get(api_client, digits, range_header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["ETag"] == f'"{digits.checksum}"'
    assert response["Content-Type"] == "text/plain"
    assert response["Cache-Control"] == "private"
    assert body_of(response) == DIGITS[start : end + 1]
    record = DownloadRecord.objects.get()
    assert (record.status_code, record.range_start) == (206, start)
    assert (record.bytes_expected, record.bytes_sent) == (end - start + 1, end - start + 1)
    assert record.outcome == Outcome.COMPLETED


@pytest.mark.parametrize(
    "range_header",
    ["bytes=10-", "bytes=10-20", "bytes=100-200", "bytes=-0", "bytes=9999999999999999999-"],
)
def test_an_unsatisfiable_range_is_416_with_the_size(api_client, digits, range_header):
    response = get(api_client, digits, range_header)
    assert_api_error(response, 416, "range_not_satisfiable")
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=abc",
        "items=0-1",
        "bytes=5-2",
        "bytes=",
        "bytes=-",
        "bytes",
        "bytes=1-2-3",
        "bytes=0x1-2",
        "bytes=+1-2",
        "bytes=99999999999999999999999-",
        "=0-1",
        "bytes=¹-²",  # str.isdigit() says yes, int() says no: must not become a 500
        "bytes=0-1,3-4",  # several ranges
        "bytes=0-0,-1",
        "bytes=0-1, 5-6",
        "x" * 10000,
    ],
)
def test_a_malformed_or_multiple_range_sends_the_whole_file(api_client, digits, range_header):
    response = get(api_client, digits, range_header)
    assert response.status_code == 200
    assert "Content-Range" not in response
    assert response["Content-Length"] == str(SIZE)
    assert body_of(response) == DIGITS


def test_if_range_matching_the_etag_honours_the_range(api_client, digits):
    response = get(api_client, digits, "bytes=2-4", if_range=f'"{digits.checksum}"')
    assert response.status_code == 206
    assert body_of(response) == b"234"


@pytest.mark.parametrize(
    "if_range",
    [
        '"0123456789abcdef0123456789abcdef"',
        "{checksum}",  # unquoted: not the same entity tag
        'W/"{checksum}"',  # a weak tag never matches in If-Range
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "",
    ],
)
def test_if_range_not_matching_sends_the_whole_file(api_client, digits, if_range):
    if_range = if_range.format(checksum=digits.checksum)
    response = get(api_client, digits, "bytes=2-4", if_range=if_range)
    assert response.status_code == 200
    assert "Content-Range" not in response
    assert body_of(response) == DIGITS


def test_an_unmatched_if_range_also_overrides_an_unsatisfiable_range(api_client, digits):
    response = get(api_client, digits, "bytes=50-", if_range='"other"')
    assert response.status_code == 200
    assert body_of(response) == DIGITS


def test_a_range_of_a_large_file_sends_exactly_that_slice(api_client, stored_file):
    content = bytes(range(256)) * 12289  # a little over 3 MiB: several read chunks
    data_file = stored_file(content)
    start, end = 1024 * 1024 - 3, 2 * 1024 * 1024 + 5
    response = get(api_client, data_file, f"bytes={start}-{end}")
    assert response.status_code == 206
    assert body_of(response) == content[start : end + 1]
    assert DownloadRecord.objects.get().bytes_sent == end - start + 1


# HEAD.


@pytest.mark.parametrize(
    ("range_header", "status"),
    [(None, 200), ("bytes=2-4", 206), ("bytes=-1", 206), ("bytes=0-1,3-4", 200)],
)
def test_head_sends_the_same_headers_without_body_or_record(
    api_client, digits, range_header, status
):
    headers = {} if range_header is None else {"HTTP_RANGE": range_header}
    url = download_url(digits, isContentInline="true")
    head = api_client.head(url, **headers)
    assert head.status_code == status
    assert head.content == b""
    assert not DownloadRecord.objects.exists()

    response = api_client.get(url, **headers)
    assert response.status_code == status
    for name in (*DOWNLOAD_HEADERS, "Content-Range"):
        assert head.get(name) == response.get(name), name
    body_of(response)
    assert DownloadRecord.objects.count() == 1


def test_head_with_an_unsatisfiable_range_is_416(api_client, digits):
    response = api_client.head(download_url(digits), HTTP_RANGE="bytes=10-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert not DownloadRecord.objects.exists()


def test_head_of_a_zero_byte_file(api_client, stored_file):
    data_file = stored_file(b"")
    response = api_client.head(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == "0"
    assert not DownloadRecord.objects.exists()
