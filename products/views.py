"""Search API: the REGARDS legacy engine (products, or "dataobjects", and datasets). The
OpenSearch engine is in opensearch_views.py, STAC in stac_views.py."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from products import facets, search_filters, selectors
from products.models import Dataset, Product
from products.serializers import (
    MAX_PAGE_SIZE,
    PropertyBoundsParamsSerializer,
    PropertyValuesParamsSerializer,
    SearchParamsSerializer,
    dataset_json,
    product_json,
)
from regards_catalog.exceptions import InvalidRequest, NotFound, access_denied
from regards_catalog.links import base_url

SEARCH_PARAMETERS = [
    OpenApiParameter("q", str, description="Lucene query"),
    OpenApiParameter("page", int, description="0-based page number"),
    OpenApiParameter("size", int, description="page size (default 20; above 1000, 1000 is served)"),
    OpenApiParameter("sort", str, many=True, description="field,ASC|DESC (repeatable)"),
]
PRODUCT_SEARCH_PARAMETERS = [
    *SEARCH_PARAMETERS,
    OpenApiParameter("g", str, description="WKT geometry (lon lat): products intersecting it"),
    OpenApiParameter("lat", float, description="circle centre latitude (with lon and r)"),
    OpenApiParameter("lon", float, description="circle centre longitude (with lat and r)"),
    OpenApiParameter("r", float, description="circle radius in metres (with lat and lon)"),
    OpenApiParameter("box", str, description="minLon,minLat,maxLon,maxLat"),
    OpenApiParameter(
        "exists", str, many=True, description="property names the products have (repeatable)"
    ),
    OpenApiParameter("hasImage", bool, description="with (true) or without (false) a quicklook"),
    OpenApiParameter(
        "facets", str, many=True, description="properties.<name>, tags, start_date… (repeatable)"
    ),
]
PROPERTY_VALUES_PARAMETERS = [
    OpenApiParameter("q", str, description="Lucene query"),
    OpenApiParameter("partialText", str, description="the values' beginning"),
    OpenApiParameter("maxCount", int, description="at most (default 10, max 100)"),
]
PROPERTY_BOUNDS_PARAMETERS = [
    OpenApiParameter("properties", str, description="names, comma-separated"),
    OpenApiParameter("q", str, description="Lucene query"),
]


def refuse_unknown(query, parameters):
    """A legacy engine route reads `parameters` (and `token`, the access token): any other
    is a 400 naming it, never ignored, for a script's typo would widen its results."""
    known = {"token", *(parameter.name for parameter in parameters)}
    unknown = sorted(set(query) - known)
    if unknown:
        raise InvalidRequest(
            f"{unknown[0]}: unknown parameter; this search takes {', '.join(sorted(known))}.",
            extra={"parameter": unknown[0]},
        )


def search_params(request, parameters=SEARCH_PARAMETERS):
    refuse_unknown(request.query_params, parameters)
    data = {key: request.query_params.get(key) for key in ("q", "page", "size")}
    data = {key: value for key, value in data.items() if value is not None}
    data["sort"] = request.query_params.getlist("sort")
    params = valid(SearchParamsSerializer, data)
    # REGARDS serves its maximum for a larger size rather than refusing it.
    params["requested_size"] = params["size"]
    params["size"] = min(params["size"], MAX_PAGE_SIZE)
    return params


def valid(serializer_class, data):
    """The validated data, or a 400 naming the first parameter at fault."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        field, errors = next(iter(serializer.errors.items()))
        detail = errors[0] if isinstance(errors, list) else next(iter(errors.values()))[0]
        raise InvalidRequest(f"{field}: {detail}", extra={"errors": serializer.errors})
    return serializer.validated_data


def product_filters(request):
    """The legacy engine's parameters besides q (g, lat/lon/r, box, exists, hasImage) as
    keyword arguments of selectors.product_search; InvalidRequest names a bad one."""
    return search_filters.legacy_filters(request.query_params)


def page_json(request, page, content, requested_size=None, facet_answers=()):
    def link(rel, number):
        query = request.GET.copy()
        query.pop("token", None)  # a token never travels in a link
        query["page"] = number
        query["size"] = page.size
        return {
            "rel": rel,
            "href": f"{base_url(request)}{request.path}?{query.urlencode()}",
        }

    links = [link("self", page.number)]
    if page.has_next:
        links.append(link("next", page.number + 1))
    if page.has_previous:
        links.append(link("prev", page.number - 1))
    metadata = {
        "size": page.size,
        "totalElements": page.total,
        "totalPages": page.total_pages,
        "number": page.number,
    }
    if requested_size is not None and requested_size != page.size:
        metadata["requestedSize"] = requested_size  # above MAX_PAGE_SIZE, clamped
    if not page.exact:  # totalElements is a lower bound (README, "Search")
        metadata["totalElementsExact"] = False
    if facet_answers and not facets_exact(page):
        metadata["facetsExact"] = False
    return {
        "metadata": metadata,
        "content": content,
        "links": links,
        "facets": list(facet_answers),
    }


def facets_exact(page):
    """Facets count the first TRACKED_TOTAL matches: all of them when the total is exact
    and no more (README, "Facets")."""
    return page.exact and page.total <= selectors.TRACKED_TOTAL


def product_entries(request, products):
    """`products` come from selectors.product_search, their downloadable files prefetched."""
    root = base_url(request)
    last = selectors.last_versions(products)
    return [
        {
            "content": product_json(product, product.files.all(), root, last=product.urn in last),
            "links": [
                {"rel": "self", "href": root + reverse("product-detail", args=[product.urn])}
            ],
        }
        for product in products
    ]


def product_page(request, dataset=None):
    params = search_params(request, PRODUCT_SEARCH_PARAMETERS)
    fields = facets.requested_fields(request.query_params.getlist("facets"))
    products = selectors.product_search(
        user=request.user,
        q=params["q"],
        ordering=params["sort"],
        dataset=dataset,
        **product_filters(request),
    )
    page = selectors.Page(products, number=params["page"], size=params["size"])
    content = product_entries(request, page.items)
    answers = facets.facets(products, fields, limit=selectors.TRACKED_TOTAL)
    return Response(page_json(request, page, content, params["requested_size"], answers))


class ProductSearchView(APIView):
    @extend_schema(parameters=PRODUCT_SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return product_page(request)


def visible_product_or_error(user, urn):
    """The product `urn` from selectors.product_search: 404 when unknown, 401/403 unseen."""
    product = Product.objects.filter(urn=urn).first()
    if product is None:
        raise NotFound(f"No product {urn}.")
    visible = selectors.product_search(user=user).filter(pk=product.pk).first()
    if visible is None:
        raise access_denied(user)
    return visible


class ProductDetailView(APIView):
    """One product, wrapped as REGARDS's EntityModel: `{"content", "links"}`."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        (entry,) = product_entries(request, [visible_product_or_error(request.user, urn)])
        return Response(entry)


def dataset_sort(params):
    if any(name.lstrip("-") not in ("urn", "label") for name in params["sort"]):
        raise InvalidRequest("sort: datasets sort by id or label.")
    return params["sort"]


class DatasetSearchView(APIView):
    @extend_schema(parameters=SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = search_params(request)
        datasets = selectors.dataset_search(
            user=request.user, q=params["q"], ordering=dataset_sort(params)
        )
        page = selectors.Page(datasets, number=params["page"], size=params["size"])
        content = dataset_entries(request, page.items)
        return Response(page_json(request, page, content, params["requested_size"]))


def dataset_entries(request, datasets):
    """`datasets` come from selectors.dataset_search. `dataobjects-files` is the same product
    search as `dataobjects`: its results list the files the caller may download."""
    root = base_url(request)
    entries = []
    for dataset in datasets:
        products = root + reverse("dataset-product-search", args=[dataset.urn])
        links = [
            {"rel": "self", "href": root + reverse("dataset-detail", args=[dataset.urn])},
            {"rel": "dataobjects", "href": products},
            {"rel": "dataobjects-files", "href": products},
        ]
        entries.append({"content": dataset_json(dataset), "links": links})
    return entries


class EntitySearchView(APIView):
    """REGARDS "entities": the datasets `q` matches (by id and label), then its products."""

    @extend_schema(parameters=SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = search_params(request)
        products = selectors.product_search(
            user=request.user, q=params["q"], ordering=params["sort"]
        )
        datasets = selectors.entity_datasets(user=request.user, q=params["q"])
        page = selectors.EntityPage(datasets, products, number=params["page"], size=params["size"])
        content = dataset_entries(request, page.datasets) + product_entries(request, page.products)
        return Response(page_json(request, page, content, params["requested_size"]))


class ProductDatasetSearchView(APIView):
    """The datasets holding the products `q` matches, paged like the dataset search."""

    @extend_schema(parameters=SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = search_params(request)
        products = selectors.product_search(user=request.user, q=params["q"])
        datasets = selectors.datasets_of_products(
            user=request.user, products=products, ordering=dataset_sort(params)
        )
        page = selectors.Page(datasets, number=params["page"], size=params["size"])
        content = dataset_entries(request, page.items)
        return Response(page_json(request, page, content, params["requested_size"]))


class PropertyValuesView(APIView):
    """The distinct text values of a property among the products `q` matches, starting with
    `partialText`, in code point order (REGARDS's value autocompletion)."""

    @extend_schema(
        parameters=PROPERTY_VALUES_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, name):
        refuse_unknown(request.query_params, PROPERTY_VALUES_PARAMETERS)
        params = valid(PropertyValuesParamsSerializer, request.query_params)
        field = facets.property_field(name, "name")
        products = selectors.product_search(user=request.user, q=params["q"])
        words, _ = facets.word_counts(
            facets.Sample(products, [field]),
            field,
            partial_text=params["partialText"],
            max_words=params["maxCount"],
            by_count=False,
        )
        return Response([word for word, _ in words])


class PropertyBoundsView(APIView):
    """The least and greatest value of properties among the products `q` matches."""

    @extend_schema(
        parameters=PROPERTY_BOUNDS_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        refuse_unknown(request.query_params, PROPERTY_BOUNDS_PARAMETERS)
        params = valid(PropertyBoundsParamsSerializer, request.query_params)
        names = list(dict.fromkeys(params["properties"]))
        fields = [facets.property_field(name, "properties") for name in names]
        products = selectors.product_search(user=request.user, q=params["q"])
        answers = facets.bounds(products, fields)
        for answer, name in zip(answers, names, strict=True):
            answer["propertyName"] = name  # as the caller wrote it
        return Response(answers)


def visible_dataset_or_error(user, urn):
    """The dataset `urn` from selectors.dataset_search: 404 when unknown, 401/403 unseen."""
    dataset = get_object_or_404(Dataset, urn=urn)
    datasets = selectors.dataset_search(user=user).select_related("description_file__product")
    visible = datasets.filter(pk=dataset.pk).first()
    if visible is None:
        raise access_denied(user)
    return visible


class DatasetDetailView(APIView):
    """One dataset, wrapped as REGARDS's EntityModel: `{"content", "links"}`."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        (entry,) = dataset_entries(request, [visible_dataset_or_error(request.user, urn)])
        return Response(entry)


class EntityDetailView(APIView):
    """A product or a dataset by its URN, wrapped as the two views above answer it."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        if Dataset.objects.filter(urn=urn).exists():
            entries = dataset_entries(request, [visible_dataset_or_error(request.user, urn)])
        else:
            entries = product_entries(request, [visible_product_or_error(request.user, urn)])
        return Response(entries[0])


class DatasetDescriptionView(APIView):
    """303 to the download of the dataset's DESCRIPTION file (README, "Datasets")."""

    @extend_schema(responses={303: None})
    def get(self, request, urn):
        dataset = visible_dataset_or_error(request.user, urn)
        described = dataset.description_file
        if described is None:
            raise NotFound(f"Dataset {urn} has no DESCRIPTION file.")
        product_urn = described.product.urn
        path = reverse(
            "download-file", kwargs={"aip_id": product_urn, "checksum": described.checksum}
        )
        return Response(status=303, headers={"Location": base_url(request) + path})


class DatasetProductSearchView(APIView):
    @extend_schema(parameters=PRODUCT_SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        return product_page(request, dataset=visible_dataset_or_error(request.user, urn))
