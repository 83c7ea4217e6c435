"""Who may see and download what (SPEC §3 "Access groups")."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Exists, Q, Value

from products.models import AccessGroup, AccessRight, DataFile, Dataset, Product
from regards_catalog.roles import STEWARD_GROUP, sees_everything

# Models stewards manage in the admin ("app_label.model": actions).
STEWARD_PERMISSIONS = {
    "products.accessgroup": ("add", "change", "delete", "view"),
    "products.accessright": ("add", "change", "delete", "view"),
    "products.dataset": ("add", "change", "delete", "view"),
    "products.product": ("add", "change", "delete", "view"),
    "products.datafile": ("add", "change", "delete", "view"),
    "products.license": ("add", "change", "view"),
    "downloads.licenseacceptance": ("view",),
    "downloads.downloadrecord": ("view",),
    "downloads.quota": ("add", "change", "view"),
    "downloads.restorerequest": ("change", "view"),
    "downloads.quotadefaults": ("change", "view"),
    "auth.user": ("view",),
}


def caller_groups(user):
    """The access groups of a caller: the public ones, plus the user's own."""
    condition = Q(public=True)
    if user.is_authenticated:
        condition |= Q(members=user)
    return AccessGroup.objects.filter(condition)


def _rights(user, **levels):
    return AccessRight.objects.filter(group__in=caller_groups(user), **levels)


def visible_datasets(user):
    """Datasets the caller sees: RESTRICTED or FULL access through one of its groups."""
    if sees_everything(user):
        return Dataset.objects.all()
    rights = _rights(
        user,
        metadata_access__in=[
            AccessRight.MetadataAccess.RESTRICTED_ACCESS,
            AccessRight.MetadataAccess.FULL_ACCESS,
        ],
    )
    return Dataset.objects.filter(pk__in=rights.values("dataset"))


def visible_products(user):
    """Products the caller sees: FULL_ACCESS on their dataset through one of its groups."""
    if sees_everything(user):
        return Product.objects.all()
    rights = _rights(user, metadata_access=AccessRight.MetadataAccess.FULL_ACCESS)
    return Product.objects.filter(dataset__in=rights.values("dataset"))


def searchable_dataset_ids(user):
    """(ids of the datasets whose products the caller sees, ids of those whose private files
    it may also download), from one query; (None, None) for those who see everything."""
    if sees_everything(user):
        return None, None
    rights = _rights(user, metadata_access=AccessRight.MetadataAccess.FULL_ACCESS)
    levels = list(rights.values_list("dataset_id", "file_access"))
    seen = sorted({dataset for dataset, _ in levels})
    downloadable = sorted(
        {dataset for dataset, files in levels if files == AccessRight.FileAccess.INHERITED_ACCESS}
    )
    return seen, downloadable


def file_access_dataset_ids(user):
    """Ids of the datasets whose private files the caller may download, or None for all."""
    if sees_everything(user):
        return None
    rights = _rights(
        user,
        metadata_access=AccessRight.MetadataAccess.FULL_ACCESS,
        file_access=AccessRight.FileAccess.INHERITED_ACCESS,
    )
    return set(rights.values_list("dataset_id", flat=True))


def dataset_access(user, dataset_id):
    """(sees its products, may download its private files): both in one query."""
    if sees_everything(user):
        return True, True
    levels = _rights(user, dataset_id=dataset_id).values_list("metadata_access", "file_access")
    full = [
        files for metadata, files in levels if metadata == AccessRight.MetadataAccess.FULL_ACCESS
    ]
    return bool(full), AccessRight.FileAccess.INHERITED_ACCESS in full


def dataset_access_flags(user, dataset):
    """Annotations `caller_sees` and `caller_downloads_private` (as in `dataset_access`)
    for the dataset `dataset` (an OuterRef), so that the query loading it answers them."""
    if sees_everything(user):
        return {"caller_sees": Value(True), "caller_downloads_private": Value(True)}
    full = _rights(user, dataset_id=dataset, metadata_access=AccessRight.MetadataAccess.FULL_ACCESS)
    inherited = full.filter(file_access=AccessRight.FileAccess.INHERITED_ACCESS)
    return {"caller_sees": Exists(full), "caller_downloads_private": Exists(inherited)}


def can_download(user, data_file, dataset_ids=None):
    """May the caller download this file? Public types need only metadata access."""
    if data_file.is_public_type:
        return True
    if dataset_ids is None:
        dataset_ids = file_access_dataset_ids(user)
    return dataset_ids is None or data_file.product.dataset_id in dataset_ids


def downloadable_files_queryset(dataset_ids):
    """The DataFiles of public types, plus the private ones of the datasets `dataset_ids`
    (None: all of them), as a queryset (for searches on files)."""
    if dataset_ids is None:
        return DataFile.objects.all()
    return DataFile.objects.filter(
        Q(data_type__in=DataFile.PUBLIC_TYPES) | Q(product__dataset_id__in=dataset_ids)
    )


def downloadable_files(user, files):
    """Keep the files the caller may download (search results drop the others)."""
    dataset_ids = file_access_dataset_ids(user)
    return [f for f in files if can_download(user, f, dataset_ids)]


def sync_steward_permissions(**kwargs):
    """post_migrate: give the stewards group exactly its permissions (they exist only now)."""
    group, _ = Group.objects.get_or_create(name=STEWARD_GROUP)
    wanted = Q(pk__in=[])
    for model, actions in STEWARD_PERMISSIONS.items():
        app_label, model_name = model.split(".")
        wanted |= Q(
            content_type__app_label=app_label,
            codename__in=[f"{action}_{model_name}" for action in actions],
        )
    group.permissions.set(Permission.objects.filter(wanted))
