"""`{{ user|sees_usage }}`: whether the admin index links the usage dashboard for this user."""

from django import template

from regards_catalog.roles import sees_everything

register = template.Library()


@register.filter
def sees_usage(user):
    """Stewards and superusers: the same rule as the dashboard's own (usage_views)."""
    return sees_everything(user)
