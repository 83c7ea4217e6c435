"""The download endpoint: the checks of SPEC §4 in order, then the bytes."""

from django.http import HttpResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.views import APIView

from downloads import checks
from downloads.ranges import RangeNotSatisfiable, requested_range
from downloads.transfers import file_headers, open_transfer
from products.serializers import base_url
from regards_catalog.errors import ApiError


class RangeNotSatisfiableError(ApiError):
    status_code = 416
    default_code = "range_not_satisfiable"
    default_detail = "The requested range lies outside the file."


def flag(request, name):
    return request.query_params.get(name, "").lower() == "true"


class DownloadView(APIView):
    """GET|HEAD /downloads/{aip_id}/files/{checksum}: a product file, checks first."""

    @extend_schema(
        parameters=[
            OpenApiParameter("isContentInline", bool),
            OpenApiParameter("acceptLicense", bool),
            OpenApiParameter("token", str),
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, aip_id, checksum):
        return self.download(request, aip_id, checksum, send_body=True)

    @extend_schema(exclude=True)
    def head(self, request, aip_id, checksum):
        return self.download(request, aip_id, checksum, send_body=False)

    def download(self, request, aip_id, checksum, *, send_body):
        user = request.user  # 1. an invalid or expired token has already been refused
        product = checks.product_exists(aip_id, checksum)
        checks.metadata_access(user, product)
        data_file = checks.file_exists(product, checksum)
        checks.file_access(user, data_file)
        checks.license_accepted(request, data_file)
        if data_file.reference:  # 7. served elsewhere
            return HttpResponseRedirect(data_file.uri, status=303)
        restore_url = base_url(request) + "/api/v1/rs-catalog/restore"
        location = checks.readable_location(data_file, restore_url)

        headers = file_headers(data_file, inline=flag(request, "isContentInline"))
        size = data_file.filesize
        try:
            byte_range = requested_range(
                request.headers.get("Range"),
                request.headers.get("If-Range"),
                headers["ETag"],
                size,
            )
        except RangeNotSatisfiable:
            raise RangeNotSatisfiableError(headers={"Content-Range": f"bytes */{size}"}) from None
        start, end = byte_range or (0, size - 1)
        length = end - start + 1
        status = 206 if byte_range else 200
        if byte_range:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"

        checks.quota_available(request, data_file, counts=send_body and start == 0)
        if send_body:
            response, _ = open_transfer(
                request, data_file, location, start=start, length=length, status=status
            )
        else:
            response = HttpResponse(status=status)
        if "X-Accel-Redirect" in response:
            # nginx answers the Range itself and sets the length and status.
            headers.pop("Content-Range", None)
        else:
            response["Content-Length"] = str(length)
        for name, value in headers.items():
            response[name] = value
        return response
