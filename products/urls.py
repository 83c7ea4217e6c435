from django.urls import path

from products import opensearch_views, stac_views, views

urlpatterns = [
    path(
        "engines/opensearch/dataobjects/search/opensearchdescription.xml",
        opensearch_views.OpenSearchDescriptionView.as_view(),
        name="opensearch-description",
    ),
    path(
        "engines/opensearch/dataobjects/search",
        opensearch_views.OpenSearchView.as_view(),
        name="opensearch-search",
    ),
    path(
        "engines/legacy/dataobjects/search",
        views.ProductSearchView.as_view(),
        name="product-search",
    ),
    path("engines/legacy/entities/search", views.EntitySearchView.as_view(), name="entity-search"),
    # Before dataobjects/<urn>, which must not take these for a product's URN.
    path(
        "engines/legacy/dataobjects/datasets/search",
        views.ProductDatasetSearchView.as_view(),
        name="product-dataset-search",
    ),
    path(
        "engines/legacy/dataobjects/properties/bounds",
        views.PropertyBoundsView.as_view(),
        name="property-bounds",
    ),
    path(
        "engines/legacy/dataobjects/properties/<str:name>/values",
        views.PropertyValuesView.as_view(),
        name="property-values",
    ),
    path(
        "engines/legacy/dataobjects/<str:urn>",
        views.ProductDetailView.as_view(),
        name="product-detail",
    ),
    path(
        "engines/legacy/datasets/search", views.DatasetSearchView.as_view(), name="dataset-search"
    ),
    path(
        "engines/legacy/datasets/<str:urn>/dataobjects/search",
        views.DatasetProductSearchView.as_view(),
        name="dataset-product-search",
    ),
    path(
        "engines/legacy/datasets/<str:urn>/description",
        views.DatasetDescriptionView.as_view(),
        name="dataset-description",
    ),
    path(
        "engines/legacy/datasets/<str:urn>",
        views.DatasetDetailView.as_view(),
        name="dataset-detail",
    ),
    path(
        "engines/legacy/entities/<str:urn>",
        views.EntityDetailView.as_view(),
        name="entity-detail",
    ),
    path("stac", stac_views.LandingView.as_view(), name="stac-landing"),
    path("stac/conformance", stac_views.ConformanceView.as_view(), name="stac-conformance"),
    path("stac/search", stac_views.SearchView.as_view(), name="stac-search"),
    path("stac/queryables", stac_views.QueryablesView.as_view(), name="stac-queryables"),
    path("stac/collections", stac_views.CollectionsView.as_view(), name="stac-collections"),
    # Before stac/collections/<collection>, which must not take `search` for a dataset's URN.
    path(
        "stac/collections/search",
        stac_views.CollectionSearchView.as_view(),
        name="stac-collection-search",
    ),
    path(
        "stac/collections/<str:collection>",
        stac_views.CollectionView.as_view(),
        name="stac-collection",
    ),
    path(
        "stac/collections/<str:collection>/queryables",
        stac_views.QueryablesView.as_view(),
        name="stac-collection-queryables",
    ),
    path(
        "stac/collections/<str:collection>/items",
        stac_views.ItemsView.as_view(),
        name="stac-items",
    ),
    path(
        "stac/collections/<str:collection>/items/<str:item>",
        stac_views.ItemView.as_view(),
        name="stac-item",
    ),
]
