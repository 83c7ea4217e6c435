from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from downloads import services
from downloads.models import QuotaDefaults
from products.models import License
from regards_catalog.auth import issue_token, user_from_password
from regards_catalog.errors import ApiError, InvalidRequest


class InvalidGrant(ApiError):
    status_code = 400
    default_code = "invalid_grant"
    default_detail = "Unknown email or wrong password."


class UnsupportedGrantType(ApiError):
    status_code = 400
    default_code = "unsupported_grant_type"
    default_detail = "Only grant_type=password is supported."


class TokenRequestSerializer(serializers.Serializer):
    grant_type = serializers.ChoiceField(choices=["password"])
    username = serializers.CharField(max_length=254, help_text="The user's email.")
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenView(APIView):
    """OAuth2 password grant, as REGARDS: form or JSON in, `{access_token, ...}` out."""

    authentication_classes = []  # a stale token in the header must not block a new login

    @extend_schema(
        request=TokenRequestSerializer,
        responses=inline_serializer(
            "TokenResponse",
            {
                "access_token": serializers.CharField(),
                "token_type": serializers.CharField(),
                "expires_in": serializers.IntegerField(),
            },
        ),
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        if not serializer.is_valid():
            if "grant_type" in serializer.errors and "grant_type" in request.data:
                raise UnsupportedGrantType()
            raise InvalidRequest(
                "grant_type, username and password are required.",
                extra={"errors": serializer.errors},
            )
        data = serializer.validated_data
        user = user_from_password(data["username"], data["password"])
        if user is None:
            raise InvalidGrant()
        token, expiry = issue_token(user)
        expires_in = int((expiry - expiry.now(expiry.tzinfo)).total_seconds())
        return Response(
            {"access_token": token, "token_type": "bearer", "expires_in": expires_in},
            headers={"Cache-Control": "no-store"},  # RFC 6749 §5.1
        )


@login_required
@require_http_methods(["GET", "POST"])
def account_page(request):
    """A logged-in person's page: their access groups, quota and licences, and a button
    that issues an API token (shown once) for scripts, wget and curl."""
    user = request.user
    token = expires = None
    if request.method == "POST":  # CSRF-protected form
        token, expires = issue_token(user)
    quota = services.quota_for(user=user)
    limits = quota.limits(QuotaDefaults.current())
    acceptances = user.license_acceptances.select_related("license")
    accepted = {a.license_id for a in acceptances if a.version == a.license.version}
    context = {
        "token": token,
        "expires": expires,
        "groups": user.access_groups.order_by("name"),
        "quota": quota,
        "max_quota": limits[0],
        "rate_limit": limits[1],
        "max_volume": limits[2],
        "live_slots": services.live_slots(quota).count(),
        "licenses": [
            (license, license.pk in accepted) for license in License.objects.order_by("slug")
        ],
    }
    return render(request, "account.html", context)
