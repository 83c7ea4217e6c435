"""Download, licence and quota API views; the download view runs the checks of SPEC §4."""

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from downloads import checks, services
from downloads.availability import file_states
from downloads.exceptions import QuotaExceeded, RateLimited
from downloads.models import LicenseAcceptance, QuotaDefaults
from downloads.ranges import RangeNotSatisfiable, requested_range
from downloads.serializers import (
    ProductIdsSerializer,
    QuotaLimitsSerializer,
    file_availability_json,
    file_restore_json,
    license_json,
    quota_limits_json,
)
from downloads.transfers import file_headers, open_transfer, record_refusal
from products.access import downloadable_files, sees_everything, visible_products
from products.models import PRODUCT_URN, DataFile, License, Product
from regards_catalog.errors import ApiError, InvalidRequest, NotFound


class RangeNotSatisfiableError(ApiError):
    status_code = 416
    default_code = "range_not_satisfiable"
    default_detail = "The requested range lies outside the file."


def flag(request, name):
    return request.query_params.get(name, "").lower() == "true"


def byte_range(request, data_file, headers):
    """(start, length, status) of the answer; adds Content-Range to `headers` for a 206."""
    size = data_file.filesize
    try:
        wanted = requested_range(
            request.headers.get("Range"), request.headers.get("If-Range"), headers["ETag"], size
        )
    except RangeNotSatisfiable:
        raise RangeNotSatisfiableError(headers={"Content-Range": f"bytes */{size}"}) from None
    if wanted is None:
        return 0, size, 200
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return start, end - start + 1, 206


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
        downloads_private = checks.metadata_access(user, product)
        data_file = checks.file_exists(product, checksum)
        checks.file_access(data_file, downloads_private=downloads_private)
        checks.license_accepted(request, data_file)
        if data_file.reference:  # 7. served elsewhere
            return HttpResponseRedirect(data_file.uri, status=303)
        location = checks.readable_location(request, data_file)

        headers = file_headers(data_file, inline=flag(request, "isContentInline"))
        start, length, status = byte_range(request, data_file, headers)

        # A download counts when it starts at byte 0; a resume takes a slot but no count.
        counts = start == 0
        try:
            slot = checks.quota_available(request, data_file, counts=counts, take_slot=send_body)
        except (QuotaExceeded, RateLimited) as refusal:
            if send_body:
                record_refusal(request, data_file, refusal, start=start, length=length)
            raise
        if send_body:
            response = open_transfer(
                request,
                data_file,
                location,
                start=start,
                length=length,
                status=status,
                slot=slot,
                counts=counts and slot is not None,
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


# Licences


def license_or_404(slug):
    return get_object_or_404(License, slug=slug)


def accepted_versions(user):
    """{license id: set of versions} the user accepted; empty for anonymous callers."""
    if not user.is_authenticated:
        return {}
    versions = {}
    for license_id, version in LicenseAcceptance.objects.filter(user=user).values_list(
        "license_id", "version"
    ):
        versions.setdefault(license_id, set()).add(version)
    return versions


def is_accepted(license, versions):
    return license.version in versions.get(license.pk, ())


class LicenseListView(APIView):
    @extend_schema(operation_id="licenses_list", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        versions = accepted_versions(request.user)
        return Response(
            [
                license_json(license, accepted=is_accepted(license, versions))
                for license in License.objects.order_by("slug")
            ]
        )


class LicenseDetailView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug):
        license = license_or_404(slug)
        accepted = is_accepted(license, accepted_versions(request.user))
        return Response(license_json(license, accepted=accepted))


class LicenseAcceptView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug):
        license = license_or_404(slug)
        services.license_accept(user=request.user, license=license)
        return Response(license_json(license, accepted=True))


@require_http_methods(["GET", "POST"])
def license_page(request, slug):
    """HTML page of a licence with an Accept button (session login)."""
    license = license_or_404(slug)
    user = request.user
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        services.license_accept(user=user, license=license)
    accepted = user.is_authenticated and services.license_is_accepted(user=user, license=license)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""  # never a link to another site or a script
    return render(
        request, "license.html", {"license": license, "accepted": accepted, "next": next_url}
    )


# Quotas (REGARDS rs-storage paths)


def quota_json(quota):
    limits = quota.limits(QuotaDefaults.current())
    email = quota.user.email if quota.user_id else None
    return {
        **quota_limits_json(email, limits),
        "currentQuota": quota.current_quota,
        "currentRate": services.live_slots(quota).count(),
        "currentVolume": quota.current_volume,
        "since": quota.since,
    }


class CurrentQuotaView(APIView):
    """The caller's limits and usage (anonymous callers: their client address's)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        user = request.user if request.user.is_authenticated else None
        quota = services.quota_for(user=user, address=services.client_address(request))
        return Response(quota_json(quota))


class IsSteward(IsAuthenticated):
    def has_permission(self, request, view):
        return super().has_permission(request, view) and sees_everything(request.user)


class UserQuotaView(APIView):
    """A user's limits, for stewards: GET, and PUT with the REGARDS fields."""

    permission_classes = [IsSteward]

    def user_quota(self, email):
        user = get_user_model().objects.filter(email__iexact=email).order_by("id").first()
        if user is None:
            raise NotFound(f"No user {email}.")
        return services.quota_for(user=user)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, email):
        quota = self.user_quota(email)
        return Response(quota_limits_json(quota.user.email, quota.limits(QuotaDefaults.current())))

    @extend_schema(request=QuotaLimitsSerializer, responses=OpenApiTypes.OBJECT)
    def put(self, request, email):
        quota = self.user_quota(email)
        serializer = QuotaLimitsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["email"].lower() != quota.user.email.lower():
            raise InvalidRequest("The email in the body differs from the one in the path.")
        services.quota_limits_set(
            quota=quota,
            max_quota=data["maxQuota"],
            rate_limit=data["rateLimit"],
            max_volume=data.get("maxVolume", quota.max_volume),
        )
        quota.refresh_from_db()
        return Response(quota_limits_json(quota.user.email, quota.limits(QuotaDefaults.current())))


# Availability and restore (REGARDS rs-catalog paths)


def requested_products(request):
    """The visible products named in `{"product_ids": [...]}`, in the order asked."""
    serializer = ProductIdsSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    ids = list(dict.fromkeys(serializer.validated_data["product_ids"]))
    by_urn = {p.urn: p for p in visible_products(request.user).filter(urn__in=ids)}
    return [by_urn[urn] for urn in ids if urn in by_urn]


def visible_product_or_error(request, urn):
    if not PRODUCT_URN.fullmatch(urn):
        raise InvalidRequest("The product id is not a product URN.")
    product = get_object_or_404(Product, urn=urn)
    checks.metadata_access(request.user, product)
    return product


def products_files_json(request, products, file_json, states_for):
    """`{"products": [{"id", "files": [...]}]}` over the files the caller may download."""
    files = {product.pk: [] for product in products}
    all_files = DataFile.objects.filter(product__in=products).select_related("product")
    for data_file in downloadable_files(request.user, all_files.order_by("id")):
        files[data_file.product_id].append(data_file)
    flat = [data_file for product_files in files.values() for data_file in product_files]
    states = states_for(flat)
    return {
        "products": [
            {"id": p.urn, "files": [file_json(f, states[f.pk]) for f in files[p.pk]]}
            for p in products
        ]
    }


class AvailabilityView(APIView):
    """Which files of these products can be downloaded now (at most 100 products)."""

    @extend_schema(request=ProductIdsSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        products = requested_products(request)
        return Response(products_files_json(request, products, file_availability_json, file_states))


class ProductAvailabilityView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, product_id):
        product = visible_product_or_error(request, product_id)
        body = products_files_json(request, [product], file_availability_json, file_states)
        return Response(body["products"][0])


class RestoreView(APIView):
    """Ask for nearline files to be restored; 202 with each file's status. Idempotent."""

    @extend_schema(request=ProductIdsSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        products = requested_products(request)
        user = request.user if request.user.is_authenticated else None

        def request_restores(data_files):
            return services.restore_request(user=user, data_files=data_files)

        body = products_files_json(request, products, file_restore_json, request_restores)
        return Response(body, status=202)


class ProductRestoreView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, product_id):
        product = visible_product_or_error(request, product_id)
        body = products_files_json(request, [product], file_restore_json, file_states)
        return Response(body["products"][0])
