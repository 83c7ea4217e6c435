"""Authentication: hashed, expiring Bearer tokens (django-rest-knox), also accepted as
`?token=` on any method (as REGARDS's gateway does), plus the Django session."""

import binascii
import functools
import ipaddress
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from regards_catalog import sql
from regards_catalog.exceptions import InvalidToken


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>`; a bad or expired token is a 401, never anonymous."""

    def authenticate_credentials(self, token):
        try:
            return self._token_and_user(token.decode())
        except (exceptions.AuthenticationFailed, UnicodeDecodeError, TypeError, binascii.Error):
            raise InvalidToken() from None

    def _token_and_user(self, token):
        """knox's `authenticate_credentials`, with the tokens of the key and their user
        read by one prepared statement: every call with a token runs it, each download
        included, and the ORM's query cost more CPU than the rest of the check."""
        for auth_token in _tokens_by_key(token[: CONSTANTS.TOKEN_KEY_LENGTH]):
            if self._cleanup_token(auth_token):
                continue
            if compare_digest(hash_token(token), auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed()

    def _cleanup_token(self, auth_token):
        """Check this token's expiry only: knox would also read every other token of the
        user on each request. An expired token is deleted when it is used."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False

    def authenticate(self, request):
        if "HTTP_AUTHORIZATION" not in request.META:
            return None
        # knox passes other schemes on to the next authenticator, which would make
        # `Authorization: Token …` or `Basic …` an anonymous call.
        scheme = (request.META["HTTP_AUTHORIZATION"].split() or [""])[0]
        if scheme.lower() != self.authenticate_header(request).lower():
            raise InvalidToken("Send the token as `Authorization: Bearer <token>`.")
        try:
            return super().authenticate(request)
        except InvalidToken:
            raise
        except exceptions.AuthenticationFailed as error:
            raise InvalidToken(str(error.detail)) from None


class QueryTokenAuthentication(BearerTokenAuthentication):
    """`?token=<token>` on any method. Not a CSRF hole: a browser never adds it by itself,
    so a cross-site page would have to know the token; session POSTs keep their CSRF check."""

    def authenticate(self, request):
        token = request.query_params.get("token")
        if token is None:
            return None
        return self.authenticate_credentials(token.encode())


@functools.cache
def _token_statement():
    """(token columns, user columns, statement) of `_tokens_by_key`."""
    tokens, users = sql.Columns(AuthToken, "t"), sql.Columns(get_user_model(), "u")
    statement = (
        f"SELECT {tokens.sql}, {users.sql} FROM {sql.table(AuthToken)} t "
        f"JOIN {sql.table(get_user_model())} u ON u.id = t.{sql.column(AuthToken, 'user')} "
        f"WHERE t.{sql.column(AuthToken, 'token_key')} = %s"
    )
    return tokens, users, statement


def _tokens_by_key(token_key):
    """The tokens whose key is `token_key` (the first characters of a token), each with its
    user loaded."""
    tokens, users, statement = _token_statement()
    with connection.cursor() as cursor:
        sql.execute(cursor, statement, [token_key])
        rows = cursor.fetchall()
    found = []
    for row in rows:
        auth_token = tokens.instance(row[: len(tokens)])
        auth_token.user = users.instance(row[len(tokens) :])
        found.append(auth_token)
    return found


def token_authenticated(request):
    """True when the caller proved itself with a token (header or `?token=`), not a cookie."""
    return isinstance(request.successful_authenticator, BearerTokenAuthentication)


def request_user(request):
    """The logged-in caller, or None for an anonymous one."""
    return request.user if request.user.is_authenticated else None


def client_address(request):
    """The caller's address: REMOTE_ADDR, or, when that is a trusted proxy, the right-most
    address of X-Forwarded-For that is not a trusted proxy; None when there is none.

    Each proxy appends the address it was reached from, so the entries right of the first
    untrusted one were written by our proxies and those left of it by the client: walking
    from the right, a client can never put itself in another's place. A malformed entry
    ends the walk, and the last hop known stands for the client.

    Found once per request: a download asks three times (its checks, its quota, its
    record), and parsing addresses is a fair share of a small file's Python time.
    """
    try:
        return request.regards_client_address
    except AttributeError:
        address = request.regards_client_address = _client_address(request.META)
        return address


def _client_address(meta):
    peer = _ip_address(meta.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    if _trusted_proxy(peer):
        for entry in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            address = _ip_address(entry.strip())
            if address is None:
                break
            peer = address
            if not _trusted_proxy(peer):
                break
    return str(peer)


def _ip_address(text):
    """The address written in `text` (an IPv4-mapped IPv6 one as IPv4), or None when it is
    not exactly one IP address: the result is stored in GenericIPAddressFields."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6:
        if address.scope_id:  # "fe80::1%eth0": no database stores the zone
            return None
        if address.ipv4_mapped:  # a dual-stack socket's view of an IPv4 client
            return address.ipv4_mapped
    return address


def _trusted_proxy(address):
    return any(address in network for network in settings.TRUSTED_PROXIES)


def issue_token(user):
    """A new API token for `user`; returns (token string, expiry datetime)."""
    instance, token = AuthToken.objects.create(user=user)
    return token, instance.expiry


def user_from_password(email, password):
    """The active user with that email and password, or None; an unknown email costs the
    same password hashing as a wrong password, so the time taken tells no one which
    accounts exist (ModelBackend hashes for inactive users and unknown usernames alike)."""
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).order_by("id").first()
    if user is None:
        User().set_password(password)  # as ModelBackend does for an unknown username
        return None
    return authenticate(username=user.get_username(), password=password)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes BearerTokenAuthentication."""

    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "a token from /oauth/token"}


class QueryTokenScheme(OpenApiAuthenticationExtension):
    target_class = QueryTokenAuthentication
    name = "queryToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": (
                "the same token in the URL, on any method (for wget, browsers and "
                "REGARDS clients); never written to logs"
            ),
        }
