"""Bulk download paths under rs-catalog's legacy engine. regards_catalog/urls.py includes
them before products' `dataobjects/<urn>`, which would take `search.zip` for a URN."""

from django.urls import path

from downloads import bulk_views

urlpatterns = [
    path(
        "engines/legacy/dataobjects/search.zip",
        bulk_views.SearchZipView.as_view(),
        name="bulk-search-zip",
    ),
    path(
        "engines/legacy/dataobjects/search.meta4",
        bulk_views.SearchMetalinkView.as_view(),
        name="bulk-search-metalink",
    ),
    path(
        "engines/legacy/dataobjects/<str:urn>/files.zip",
        bulk_views.ProductZipView.as_view(),
        name="bulk-product-zip",
    ),
    path(
        "engines/legacy/dataobjects/<str:urn>/files.meta4",
        bulk_views.ProductMetalinkView.as_view(),
        name="bulk-product-metalink",
    ),
]
