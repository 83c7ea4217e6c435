from datetime import timedelta

from django.conf import settings
from rest_framework import serializers

from downloads import quotas
from products.models import PRODUCT_URN


def license_json(license, *, accepted):
    return {
        "id": license.slug,
        "title": license.title,
        "url": license.url,
        "text": license.text,
        "version": license.version,
        "accepted": accepted,
    }


def quota_limits_json(email, limits):
    return {
        "email": email,
        "maxQuota": limits.max_quota,
        "rateLimit": limits.rate_limit,
        "maxVolume": limits.max_volume,
    }


def quota_json(quota):
    """GET /quota/current: REGARDS's limits and usage fields, plus the volume's."""
    email = quota.user.email if quota.user_id else None
    return {
        **quota_limits_json(email, quotas.Limits.of(quota)),
        "currentQuota": quota.current_quota,
        "currentRate": quotas.live_slot_count(quota),
        "currentVolume": quota.current_volume,
        "since": quota.since,
    }


# What the limit columns hold (Quota.max_quota and rate_limit are IntegerFields, max_volume
# a BigIntegerField): a larger value would fail in PostgreSQL, a 500.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


class LimitField(serializers.IntegerField):
    """A limit: -1 (unlimited), or up to what its column holds."""

    def __init__(self, *, max_value, **kwargs):
        super().__init__(min_value=-1, max_value=max_value, **kwargs)


class QuotaLimitsSerializer(serializers.Serializer):
    """PUT /quota/{email}: REGARDS clients send the first three fields only."""

    email = serializers.EmailField()
    maxQuota = LimitField(max_value=INTEGER_MAX)  # noqa: N815 - REGARDS field names
    rateLimit = LimitField(max_value=INTEGER_MAX)  # noqa: N815
    maxVolume = LimitField(max_value=BIGINT_MAX, required=False)  # noqa: N815


MAX_EMAILS = 100


class EmailListField(serializers.ListField):
    """The emails of the quota list routes: a list of at most 100, as REGARDS sends them."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.EmailField(), max_length=MAX_EMAILS, **kwargs)


MAX_PRODUCT_IDS = 100


class ProductIdsSerializer(serializers.Serializer):
    product_ids = serializers.ListField(
        child=serializers.RegexField(rf"^{PRODUCT_URN.pattern}\Z", max_length=200),
        min_length=1,
        max_length=MAX_PRODUCT_IDS,
    )


def file_availability_json(data_file, state):
    return {
        "checksum": data_file.checksum,
        "available": state.available,
        "expiration_date": state.expiration,
    }


def file_restore_json(data_file, state):
    body = {**file_availability_json(data_file, state), "status": state.status}
    if state.error:
        body["error"] = state.error
    return body


class DownloadLinkSerializer(serializers.Serializer):
    """POST …/link: `expiresIn`, the link's lifetime in seconds (SIGNED_LINK_SECONDS when
    left out, at most SIGNED_LINK_MAX_SECONDS)."""

    expiresIn = serializers.IntegerField(required=False, min_value=1)

    def validate_expiresIn(self, value):
        if value > settings.SIGNED_LINK_MAX_SECONDS:
            raise serializers.ValidationError(
                f"At most {settings.SIGNED_LINK_MAX_SECONDS} seconds."
            )
        return value

    def lifetime(self):
        seconds = self.validated_data.get("expiresIn", settings.SIGNED_LINK_SECONDS)
        return timedelta(seconds=seconds)
