"""Search API (REGARDS legacy engine): products ("dataobjects") and datasets."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from products import facets, selectors
from products.access import visible_datasets
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
PRODUCT_SEARCH_PARAMETERS = [
    *SEARCH_PARAMETERS,
    OpenApiParameter(
        "facets", str, many=True, description="properties.<name>, tags, start_date… (repeatable)"
    ),
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


def page_json(request, page, content, facet_answers=()):
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
        links.append(link("previous", page.number - 1))
    metadata = {
        "size": page.size,
        "totalElements": page.total,
        "totalPages": page.total_pages,
        "number": page.number,
    }
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
    fields = facets.requested_fields(request.query_params.getlist("facets"))
    products = selectors.product_search(
        user=request.user, q=params["q"], ordering=params["sort"], dataset=dataset
    )
    page = selectors.Page(products, number=params["page"], size=params["size"])
    answers = facets.facets(products, fields, limit=selectors.TRACKED_TOTAL)
    return Response(page_json(request, page, product_entries(request, page.items), answers))


class ProductSearchView(APIView):
    @extend_schema(parameters=PRODUCT_SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return product_page(request)


class ProductDetailView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        product = Product.objects.filter(urn=urn).first()
        if product is None:
            raise NotFound(f"No product {urn}.")
        visible = list(selectors.product_search(user=request.user).filter(pk=product.pk))
        if not visible:
            raise access_denied(request.user)
        (entry,) = product_entries(request, visible)
        return Response(entry["content"])


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
        root = base_url(request)
        content = [
            {
                "content": dataset_json(dataset),
                "links": [
                    {
                        "rel": "self",
                        "href": root + reverse("dataset-detail", args=[dataset.urn]),
                    }
                ],
            }
            for dataset in page.items
        ]
        return Response(page_json(request, page, content))


def visible_dataset_or_error(user, urn):
    dataset = get_object_or_404(Dataset.objects.select_related("license"), urn=urn)
    if not visible_datasets(user).filter(pk=dataset.pk).exists():
        raise access_denied(user)
    return dataset


class DatasetDetailView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        return Response(dataset_json(visible_dataset_or_error(request.user, urn)))


class DatasetProductSearchView(APIView):
    @extend_schema(parameters=PRODUCT_SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        return product_page(request, dataset=visible_dataset_or_error(request.user, urn))
