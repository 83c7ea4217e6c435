"""Receivers that keep derived data in step with the products."""

from django.db.models import F

from products.models import Dataset


def products_changed(sender, instance, **kwargs):
    """A product was saved or deleted: its dataset's stored extent and summaries are stale,
    and so are those of the dataset it was read in, when it moved. One UPDATE that
    increments, so that concurrent saves each count."""
    datasets = {instance.dataset_id, getattr(instance, "stored_dataset_id", None)} - {None}
    Dataset.objects.filter(pk__in=datasets).update(products_version=F("products_version") + 1)
    instance.stored_dataset_id = instance.dataset_id
