"""Signed download links: a download URL that wget, aria2c or a browser can fetch without
a token. Instead of a token it carries the signing user, an expiry and an HMAC of both,
of the file and of the credential the link was made with, keyed by SECRET_KEY.

A link only says who asks: every check of SPEC §4 runs again for that user when it is
used, and it counts against that user's quota. It stops working:
- when it expires (403 `link_expired`), or when anything in it was changed (403
  `link_invalid`);
- with the credential it was made with (403 `link_invalid`): a link made with an API
  token dies when that token expires or is deleted (a steward, in the admin's "Auth
  tokens"); any link dies when its user's password changes, as Django's sessions do;
- when the user is deactivated (`link_invalid`), or loses the rights on the file (the
  checks' 403), at once, since nothing of the user's rights is in the link.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from knox.models import AuthToken
from rest_framework.authentication import BaseAuthentication

from regards_catalog.auth import BearerTokenAuthentication
from regards_catalog.exceptions import ApiError
from regards_catalog.links import base_url

SALT = "regards_catalog.downloads.signed_link"
# The query parameters of a signed link; `signature` marks a request as using one.
USER, EXPIRES, SIGNATURE = "user", "expires", "signature"


class LinkInvalid(ApiError):
    status_code = 403
    default_code = "link_invalid"
    default_detail = (
        "This download link is not valid: it was changed, or its user or the credential it "
        "was made with is no longer valid. Ask for a new link."
    )


class LinkExpired(ApiError):
    status_code = 403
    default_code = "link_expired"
    default_detail = "This download link has expired. Ask for a new link."


def signed_url(request, data_file, *, lifetime=None):
    """(an absolute signed URL of `data_file`'s download for the caller, its expiry).

    The caller is logged in, with a token or a session. A link never outlives the token it
    is made with: its expiry is the token's when that comes first.
    """
    lifetime = lifetime or timedelta(seconds=settings.SIGNED_LINK_SECONDS)
    expires = timezone.now() + lifetime
    token = request.auth if isinstance(request.auth, AuthToken) else None
    if token is not None and token.expiry is not None:
        expires = min(expires, token.expiry)
    expires = int(expires.timestamp())
    user = request.user
    signature = _signature(user, data_file.product.urn, data_file.checksum, expires, token)
    path = reverse(
        "download-file", kwargs={"aip_id": data_file.product.urn, "checksum": data_file.checksum}
    )
    query = f"?{USER}={user.pk}&{EXPIRES}={expires}&{SIGNATURE}={signature}"
    return base_url(request) + path + query, datetime.fromtimestamp(expires, UTC)


def _signature(user, urn, checksum, expires, token):
    """The HMAC of a link: bound to the user, the file, the expiry and the credential (the
    token's digest, or the session's auth hash, which changes with the password)."""
    credential = f"token:{token.digest}" if token is not None else "session"
    value = "\n".join(
        [str(user.pk), urn, checksum.lower(), str(expires), credential, user.password]
    )
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()


class SignedLinkAuthentication(BaseAuthentication):
    """The download view's first authenticator: a request with `?signature=` is made by the
    link's user, or refused (never served as anonymous)."""

    def authenticate_header(self, request):
        """The token's challenge: DRF answers 401 (not 403) with the first authenticator's."""
        return BearerTokenAuthentication().authenticate_header(request)

    def authenticate(self, request):
        query = request.query_params
        if SIGNATURE not in query:
            return None
        try:
            user_id, expires = int(query.get(USER, "")), int(query.get(EXPIRES, ""))
        except ValueError:
            raise LinkInvalid() from None
        kwargs = request.parser_context["kwargs"]
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise LinkInvalid()
        given = query[SIGNATURE]
        signed = [kwargs["aip_id"], kwargs["checksum"], expires]
        tokens = [None, *AuthToken.objects.filter(user=user)]  # a session's link, or a token's
        token = next(
            (t for t in tokens if constant_time_compare(given, _signature(user, *signed, t))),
            False,
        )
        if token is False:
            raise LinkInvalid()
        # A link never outlives its token (signed_url): an expired token's links have
        # expired too.
        if expires < timezone.now().timestamp():
            raise LinkExpired()
        return user, None
