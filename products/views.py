"""Search API (REGARDS legacy engine): products ("dataobjects") and datasets."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from products import selectors
from products.models import Dataset, Product
from products.serializers import (
    SearchParamsSerializer,
    dataset_json,
    product_json,
)
from regards_catalog.exceptions import InvalidRequest, NotFound, access_denied
from regards_catalog.links import base_url

SEARCH_PARAMETERS = [
    OpenApiParameter("q", str, description="Lucene query"),
    OpenApiParameter("page", int, description="0-based page number"),
    OpenApiParameter("size", int, description="page size (default 20, max 1000)"),
    OpenApiParameter("sort", str, many=True, description="field,ASC|DESC (repeatable)"),
]


def search_params(request):
    data = {key: request.query_params.get(key) for key in ("q", "page", "size")}
    data = {key: value for key, value in data.items() if value is not None}
    data["sort"] = request.query_params.getlist("sort")
    serializer = SearchParamsSerializer(data=data)
    if not serializer.is_valid():
        field, errors = next(iter(serializer.errors.items()))
        detail = errors[0] if isinstance(errors, list) else next(iter(errors.values()))[0]
        raise InvalidRequest(f"{field}: {detail}", extra={"errors": serializer.errors})
    return serializer.validated_data


def page_json(request, page, content):
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
    if not page.exact:  # totalElements is a lower bound (README, "Search")
        metadata["totalElementsExact"] = False
    return {
        "metadata": metadata,
        "content": content,
        "links": links,
        "facets": [],
    }


def product_entries(request, products):
    """`products` come from selectors.product_search, their downloadable files prefetched."""
    root = base_url(request)
    return [
        {
            "content": product_json(product, product.files.all(), root),
            "links": [
                {"rel": "self", "href": root + reverse("product-detail", args=[product.urn])}
            ],
        }
        for product in products
    ]


def product_page(request, dataset=None):
    params = search_params(request)
    products = selectors.product_search(
        user=request.user, q=params["q"], ordering=params["sort"], dataset=dataset
    )
    page = selectors.Page(products, number=params["page"], size=params["size"])
    return Response(page_json(request, page, product_entries(request, page.items)))


class ProductSearchView(APIView):
    @extend_schema(parameters=SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
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


class DatasetSearchView(APIView):
    @extend_schema(parameters=SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = search_params(request)
        if any(name.lstrip("-") not in ("urn", "label") for name in params["sort"]):
            raise InvalidRequest("sort: datasets sort by id or label.")
        datasets = selectors.dataset_search(
            user=request.user, q=params["q"], ordering=params["sort"]
        )
        page = selectors.Page(datasets, number=params["page"], size=params["size"])
        content = dataset_entries(request, page.items)
        return Response(page_json(request, page, content))


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


def visible_dataset_or_error(user, urn):
    """The dataset `urn` from selectors.dataset_search: 404 when unknown, 401/403 unseen."""
    dataset = get_object_or_404(Dataset, urn=urn)
    visible = selectors.dataset_search(user=user).filter(pk=dataset.pk).first()
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


class DatasetProductSearchView(APIView):
    @extend_schema(parameters=SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        return product_page(request, dataset=visible_dataset_or_error(request.user, urn))
