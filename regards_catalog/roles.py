"""Who is a data steward: the one rule the access rules (products.access) and the token
endpoint's REGARDS role both read."""

STEWARD_GROUP = "Data stewards"


def is_steward(user):
    """A staff user in the "Data stewards" group (the admin needs staff too)."""
    if not user.is_authenticated or not user.is_staff:
        return False  # most callers: no query
    cached = getattr(user, "_is_steward", None)
    if cached is None:
        cached = user.groups.filter(name=STEWARD_GROUP).exists()
        user._is_steward = cached
    return cached


def sees_everything(user):
    """Superusers and data stewards see and may download everything."""
    return user.is_authenticated and (user.is_superuser or is_steward(user))
