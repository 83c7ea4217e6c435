"""Download, licence, quota, availability and restore API views; the download view runs
the checks of SPEC §4."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from downloads import checks, quotas, selectors, services
from downloads.availability import file_states
from downloads.exceptions import (
    QuotaExceeded,
    RangeNotSatisfiableError,
    RateLimited,
    RestorePending,
    RestoreRequired,
)
from downloads.ranges import RangeNotSatisfiable, requested_range
from downloads.serializers import (
    DownloadLinkSerializer,
    EmailListField,
    ProductIdsSerializer,
    QuotaLimitsSerializer,
    file_availability_json,
    file_restore_json,
    license_json,
    quota_json,
    quota_limits_json,
)
from downloads.signed_links import SignedLinkAuthentication, signed_url
from downloads.transfers import file_headers, open_transfer, record_refusal
from products.access import sees_everything
from products.models import License
from regards_catalog.auth import client_address, request_user
from regards_catalog.exceptions import InvalidRequest, NotFound
from regards_catalog.links import base_url, local_url


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


def downloadable(request, aip_id, checksum):
    """Checks 1 to 6: the RequestedFile whose `data_file` the caller may download, whatever
    its storage says (its `quota` is the caller's, for check 9)."""
    user = request.user  # 1. an invalid or expired token has already been refused
    requested = checks.product_exists(user, aip_id, checksum, address=client_address(request))
    checks.metadata_access(user, requested)
    checks.file_exists(requested, checksum)
    checks.file_access(requested)
    checks.license_accepted(request, requested)
    return requested


class DownloadView(APIView):
    """GET|HEAD /downloads/{aip_id}/files/{checksum}: a product file, checks first. A
    signed link (`?user=…&expires=…&signature=…`) stands for its user's token."""

    authentication_classes = [
        SignedLinkAuthentication,
        *api_settings.DEFAULT_AUTHENTICATION_CLASSES,
    ]

    @extend_schema(
        parameters=[
            OpenApiParameter("isContentInline", bool),
            OpenApiParameter(
                "acceptLicense",
                bool,
                description="accept the licence first (token callers; a browser session "
                "accepts on the licence page)",
            ),
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
        requested = downloadable(request, aip_id, checksum)
        data_file = requested.data_file
        if data_file.reference:  # 7. served elsewhere
            return HttpResponseRedirect(data_file.uri, status=303)
        try:
            location = checks.readable_location(request, data_file)
        except (RestoreRequired, RestorePending):
            # HEAD stays without effects: only a GET queues a restore.
            if not (send_body and settings.RESTORE_ON_DOWNLOAD):
                raise
            return restore_started(request, data_file)

        headers = file_headers(data_file, inline=checks.query_flag(request, "isContentInline"))
        start, length, status = byte_range(request, data_file, headers)

        try:
            claim = checks.quota_available(
                request, data_file, start=start, length=length, quota=requested.quota
            )
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
                claim=claim,
                headers=headers,
            )
            if response.status_code == 303:
                return response  # the storage answers the download, with its headers
        else:
            checks.storage_holds(data_file, location)
            response = HttpResponse(status=status)
        if "X-Accel-Redirect" in response:
            # nginx answers the Range itself and sets the length and status.
            headers.pop("Content-Range", None)
        else:
            response["Content-Length"] = str(length)
        for name, value in headers.items():
            response[name] = value
        return response


class DownloadLinkView(APIView):
    """POST /downloads/{aip_id}/files/{checksum}/link: a signed link to the file, for
    clients that cannot send a token (wget, aria2c, a browser), after checks 1 to 6 for the
    caller. `expiresIn` (seconds, in the body or the query) sets its lifetime."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=DownloadLinkSerializer,
        parameters=[OpenApiParameter("expiresIn", int)],
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request, aip_id, checksum):
        # The body's fields, or the query string's for a client that sends no body.
        serializer = DownloadLinkSerializer(data=request.data or request.query_params)
        serializer.is_valid(raise_exception=True)
        data_file = downloadable(request, aip_id, checksum).data_file
        url, expires = signed_url(request, data_file, lifetime=serializer.lifetime())
        return Response({"url": url, "expires": expires})


def restore_started(request, data_file):
    """RESTORE_ON_DOWNLOAD: queue the file's restore (the idempotent queue of POST /restore)
    and answer 202 with its status, in the shape of GET /restore/{product_id}."""
    state = services.restore_request(user=request_user(request), data_files=[data_file])
    body = {
        "id": data_file.product.urn,
        "files": [file_restore_json(data_file, state[data_file.pk])],
    }
    return Response(body, status=202, headers={"Retry-After": str(settings.RESTORE_RETRY_AFTER)})


# Licences


class LicenseListView(APIView):
    @extend_schema(operation_id="licenses_list", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        versions = selectors.accepted_versions(request_user(request))
        return Response(
            [
                license_json(license, accepted=selectors.is_accepted(license, versions))
                for license in License.objects.order_by("slug")
            ]
        )


class LicenseDetailView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, slug):
        license = selectors.license_or_404(slug)
        versions = selectors.accepted_versions(request_user(request))
        accepted = selectors.is_accepted(license, versions)
        return Response(license_json(license, accepted=accepted))


class LicenseAcceptView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, slug):
        license = selectors.license_or_404(slug)
        services.license_accept(user=request.user, license=license)
        return Response(license_json(license, accepted=True))


class IsSteward(IsAuthenticated):
    def has_permission(self, request, view):
        return super().has_permission(request, view) and sees_everything(request.user)


# The project licence (REGARDS rs-admin LicenseController)


def project_license_json(request, license):
    """REGARDS's LicenseDTO for the caller, with its links. No project licence: nothing to
    accept, so `accepted` is true and `licenseLink` null, as REGARDS answers a project
    without one."""
    user = request_user(request)
    accepted = license is None or (
        user is not None and selectors.license_is_accepted(user=user, license=license)
    )
    root = base_url(request)
    link = None
    if license is not None:
        link = license.url or root + reverse("license-page", args=[license.slug])
    here = root + reverse("project-license")
    links = [{"rel": "self", "href": here}]
    if license is not None and user is not None:
        links.append({"rel": "accept", "href": here, "method": "PUT"})
        if sees_everything(user):
            links.append({"rel": "reset", "href": here + "/reset", "method": "PUT"})
    return {"content": {"accepted": accepted, "licenseLink": link}, "links": links}


def project_license_or_404():
    license = selectors.project_license()
    if license is None:
        raise NotFound("No project licence is set.")
    return license


class ProjectLicenseView(APIView):
    """GET: has the caller accepted the project licence? PUT: accept it (logged-in)."""

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "PUT" else []

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(project_license_json(request, selectors.project_license()))

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def put(self, request):
        license = project_license_or_404()
        services.license_accept(user=request.user, license=license)
        return Response(project_license_json(request, license))


class ProjectLicenseResetView(APIView):
    """PUT, stewards: publish a new version of the project licence, which every user must
    accept again (the admin's "publish a new version")."""

    permission_classes = [IsSteward]

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def put(self, request):
        license = project_license_or_404()
        license.publish(new_version=True)
        return Response(project_license_json(request, license))


# Quotas (REGARDS rs-storage paths)


def own_quota(request):
    """The caller's quota (anonymous callers: their client address's)."""
    return quotas.quota_for(user=request_user(request), address=client_address(request))


def user_quota(email):
    """The quota of the user with that email (in any case); 404 when there is none."""
    user = get_user_model().objects.filter(email__iexact=email).order_by("id").first()
    if user is None:
        raise NotFound(f"No user {email}.")
    return quotas.quota_for(user=user)


class CurrentQuotaView(APIView):
    """The caller's limits and usage."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(quota_json(own_quota(request)))


class OwnQuotaLimitsView(APIView):
    """GET /quota: the caller's limits, without the usage."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        quota = own_quota(request)
        return Response(quota_limits_json(request_email(request), quotas.Limits.of(quota)))


class MaxQuotaView(APIView):
    """GET /quota/max: the caller's `maxQuota` alone, a bare number as REGARDS answers."""

    @extend_schema(responses=OpenApiTypes.INT)
    def get(self, request):
        return Response(quotas.Limits.of(own_quota(request)).max_quota)


def request_email(request):
    user = request_user(request)
    return user.email if user is not None else None


class UserQuotaView(APIView):
    """A user's limits, for stewards: GET, and PUT with the REGARDS fields."""

    permission_classes = [IsSteward]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, email):
        quota = user_quota(email)
        return Response(quota_limits_json(quota.user.email, quotas.Limits.of(quota)))

    @extend_schema(request=QuotaLimitsSerializer, responses=OpenApiTypes.OBJECT)
    def put(self, request, email):
        quota = user_quota(email)
        serializer = QuotaLimitsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["email"].lower() != quota.user.email.lower():
            raise InvalidRequest("The email in the body differs from the one in the path.")
        quotas.quota_limits_set(
            quota=quota,
            max_quota=data["maxQuota"],
            rate_limit=data["rateLimit"],
            max_volume=data.get("maxVolume", quota.max_volume),
        )
        quota.refresh_from_db()
        return Response(quota_limits_json(quota.user.email, quotas.Limits.of(quota)))


class QuotaLimitsListView(APIView):
    """GET /quotas?user_email=…: the limits of several users, for stewards. The emails
    come repeated or comma-separated, as Spring reads REGARDS's `String[]`."""

    permission_classes = [IsSteward]

    @extend_schema(
        parameters=[OpenApiParameter("user_email", str, many=True, required=True)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        emails = [
            email
            for value in request.query_params.getlist("user_email")
            for email in value.split(",")
            if email
        ]
        emails = EmailListField().run_validation(emails or None)
        return Response(
            [
                quota_limits_json(quota.user.email, quotas.Limits.of(quota))
                for quota in map(user_quota, emails)
            ]
        )


class UserCurrentQuotaView(APIView):
    """GET /quota/current/{email}: a user's limits and usage, for stewards."""

    permission_classes = [IsSteward]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, email):
        return Response(quota_json(user_quota(email)))


class CurrentQuotaListView(APIView):
    """POST /quota/currents with a JSON list of emails: their limits and usage, for
    stewards (a POST only because REGARDS sends the list as the body)."""

    permission_classes = [IsSteward]

    @extend_schema(request=EmailListField, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        emails = EmailListField().run_validation(request.data)
        return Response([quota_json(user_quota(email)) for email in emails])


# Availability and restore (REGARDS rs-catalog paths)


def requested_products(request):
    """The visible products named in `{"product_ids": [...]}`, in the order asked."""
    serializer = ProductIdsSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return selectors.visible_products_in_order(
        serializer.validated_data["product_ids"], user=request.user
    )


def products_files_json(request, products, file_json, states_for):
    """`{"products": [{"id", "files": [...]}]}` over the files the caller may download."""
    files = selectors.downloadable_files_by_product(products, user=request.user)
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
        product = selectors.visible_product(product_id, user=request.user)
        body = products_files_json(request, [product], file_availability_json, file_states)
        return Response(body["products"][0])


def restore_products(request, products, *, retry_failed):
    """Ask for the restores the files of `products` need; returns (the restore body of
    `products`, whether one of their files is still being restored)."""
    states = {}

    def request_restores(data_files):
        states.update(
            services.restore_request(
                user=request_user(request), data_files=data_files, retry_failed=retry_failed
            )
        )
        return states

    body = products_files_json(request, products, file_restore_json, request_restores)
    return body, any(state.restoring for state in states.values())


def restore_answer(body, *, restoring):
    """200 with each file's status, at once; while a file is still being restored,
    `Retry-After` (and `retryAfter` in the body) tell a polling client when to ask again.
    A client waiting for every file to be available stops at FAILED, which has no retry."""
    if not restoring:
        return Response(body)
    seconds = settings.RESTORE_RETRY_AFTER
    return Response({**body, "retryAfter": seconds}, headers={"Retry-After": str(seconds)})


class RestoreView(APIView):
    """Ask for nearline files to be restored (a failed restore is tried again); 200 with
    each file's status. Idempotent."""

    @extend_schema(request=ProductIdsSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        products = requested_products(request)
        body, restoring = restore_products(request, products, retry_failed=True)
        # The Restore button of a 409 page (error.html) names the download to go back to:
        # a browser then sees its 503 page, with the time to try again.
        if next_url := local_url(request, request.POST.get("next", "")):
            return HttpResponseRedirect(next_url, status=303)
        return restore_answer(body, restoring=restoring)


class ProductRestoreView(APIView):
    """REGARDS's GET: restore the product's nearline files that need it and answer their
    status. Idempotent; a failed restore is only reported (a POST tries it again), so that
    polling does not ask a broken storage again and again."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, product_id):
        product = selectors.visible_product(product_id, user=request.user)
        body, restoring = restore_products(request, [product], retry_failed=False)
        return restore_answer(body["products"][0], restoring=restoring)
