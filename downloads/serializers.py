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
        "currentRate": quotas.live_slots(quota).count(),
        "currentVolume": quota.current_volume,
        "since": quota.since,
    }


class LimitField(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=-1, max_value=2**62, **kwargs)


class QuotaLimitsSerializer(serializers.Serializer):
    """PUT /quota/{email}: REGARDS clients send the first three fields only."""

    email = serializers.EmailField()
    maxQuota = LimitField()  # noqa: N815 - REGARDS field names
    rateLimit = LimitField()  # noqa: N815
    maxVolume = LimitField(required=False)  # noqa: N815


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
