"""Receivers that keep derived data in step with the products."""

from django.db.models import F

from products.models import Dataset


def products_changed(sender, instance, **kwargs):
    """A product was saved or deleted: its dataset's stored extent and summaries are stale.
    One conditional UPDATE, so that concurrent saves each count."""
    Dataset.objects.filter(pk=instance.dataset_id).update(
        products_version=F("products_version") + 1
    )
