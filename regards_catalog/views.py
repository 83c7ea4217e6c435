"""The token endpoint (REGARDS rs-authentication): OAuth2 password grant; the session login
page. Both check passwords behind the login throttle (regards_catalog.throttling)."""

from django.contrib.auth import views as auth_views
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from regards_catalog.auth import client_address, issue_token, user_from_password
from regards_catalog.exceptions import InvalidGrant, InvalidRequest, UnsupportedGrantType
from regards_catalog.forms import LoginForm
from regards_catalog.throttling import attempt_login


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
        user = attempt_login(
            username=data["username"],
            address=client_address(request),
            authenticate=lambda: user_from_password(data["username"], data["password"]),
        )
        if user is None:
            raise InvalidGrant()
        token, expiry = issue_token(user)
        expires_in = int((expiry - expiry.now(expiry.tzinfo)).total_seconds())
        return Response(
            {"access_token": token, "token_type": "bearer", "expires_in": expires_in},
            headers={"Cache-Control": "no-store"},  # RFC 6749 §5.1
        )


class LoginView(auth_views.LoginView):
    """Django's login page; a login refused by the throttle is a 429 with Retry-After."""

    authentication_form = LoginForm
    template_name = "login.html"

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled is not None:
            response.status_code = form.throttled.status_code
            response["Retry-After"] = form.throttled.retry_after
        return response
