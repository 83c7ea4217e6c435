"""The token endpoint (REGARDS rs-authentication): OAuth2 password grant; the session login
page. Both check passwords behind the login throttle (regards_catalog.throttling)."""

from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth import views as auth_views
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from regards_catalog.auth import client_address, issue_token, user_from_password
from regards_catalog.exceptions import (
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    UnsupportedGrantType,
)
from regards_catalog.forms import LoginForm
from regards_catalog.roles import sees_everything
from regards_catalog.throttling import attempt_login

TOKEN_FIELDS = ("grant_type", "username", "password", "scope")


class TokenRequestSerializer(serializers.Serializer):
    grant_type = serializers.ChoiceField(choices=["password"], required=False)
    username = serializers.CharField(max_length=254, help_text="The user's email.")
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    scope = serializers.CharField(
        max_length=254, required=False, help_text="The project name (PROJECT_NAME)."
    )


def token_request_fields(request):
    """The token request's fields, each from the body or else from the query string: the
    REGARDS web frontend sends them all in the query string, with a `{}` body."""
    if not isinstance(request.data, Mapping):
        raise InvalidRequest("The body must be a form or a JSON object.")
    fields = {}
    for name in TOKEN_FIELDS:
        value = request.data.get(name, request.query_params.get(name))
        if value is not None:
            fields[name] = value
    return fields


def role_of(user):
    """The user's REGARDS role: stewards and superusers administer the project."""
    return "ADMIN" if sees_everything(user) else "REGISTERED_USER"


class TokenView(APIView):
    """OAuth2 password grant, as REGARDS: form, JSON or query string in, `{access_token, ...}`
    out. An `Authorization: Basic` header (REGARDS's OAuth client) is ignored."""

    authentication_classes = []  # a stale token in the header must not block a new login

    @extend_schema(
        request=TokenRequestSerializer,
        responses=inline_serializer(
            "TokenResponse",
            {
                "access_token": serializers.CharField(),
                "token_type": serializers.CharField(),
                "expires_in": serializers.IntegerField(),
                "sub": serializers.EmailField(),
                "email": serializers.EmailField(),
                "role": serializers.ChoiceField(choices=["REGISTERED_USER", "ADMIN"]),
                "tenant": serializers.CharField(),
                "scope": serializers.CharField(),
            },
        ),
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=token_request_fields(request))
        if not serializer.is_valid():
            if "grant_type" in serializer.errors:
                raise UnsupportedGrantType()
            field, errors = next(iter(serializer.errors.items()))
            raise InvalidRequest(f"{field}: {errors[0]}", extra={"errors": serializer.errors})
        data = serializer.validated_data
        if data.get("scope", settings.PROJECT_NAME) != settings.PROJECT_NAME:
            raise InvalidScope()
        user = attempt_login(
            username=data["username"],
            address=client_address(request),
            authenticate=lambda: user_from_password(data["username"], data["password"]),
        )
        if user is None:
            raise InvalidGrant()
        token, expiry = issue_token(user)
        expires_in = int((expiry - expiry.now(expiry.tzinfo)).total_seconds())
        body = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
            # REGARDS's fields: the frontend takes `sub` as the logged-in user.
            "sub": user.email,
            "email": user.email,
            "role": role_of(user),
            "tenant": settings.PROJECT_NAME,
            "scope": settings.PROJECT_NAME,
        }
        return Response(
            body,
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
