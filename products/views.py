"""Search API: the REGARDS legacy engine (products, or "dataobjects", and datasets) and the
OpenSearch engine."""

import types

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from products import opensearch, opensearch_formats, selectors
from products.access import visible_datasets
from products.models import Dataset, Product
from products.serializers import (
    SearchParamsSerializer,
    dataset_json,
    product_json,
)
from regards_catalog.exceptions import InvalidRequest, NotFound, access_denied
from regards_catalog.links import base_url
from regards_catalog.negotiation import FallbackContentNegotiation

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
        links.append(link("previous", page.number - 1))
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
    @extend_schema(parameters=SEARCH_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        return product_page(request, dataset=visible_dataset_or_error(request.user, urn))


class OpenSearchNegotiation(FallbackContentNegotiation):
    """OpenSearch's `format` names the format of the results, which the view picks itself:
    DRF must not read it as its own renderer override. Errors stay JSON (HTML for a browser)."""

    settings = types.SimpleNamespace(URL_FORMAT_OVERRIDE=None)


OPENSEARCH_PARAMETERS = [
    OpenApiParameter(parameter.name, str, description=parameter.title)
    for parameter in opensearch.PARAMETERS
] + [
    OpenApiParameter("searchTerms", str, description="the same as q"),
    OpenApiParameter("format", str, enum=list(opensearch.FORMATS), description="default: Accept"),
]


class OpenSearchDescriptionView(APIView):
    content_negotiation_class = OpenSearchNegotiation

    @extend_schema(responses={(200, opensearch_formats.DESCRIPTION_TYPE): OpenApiTypes.STR})
    def get(self, request):
        return HttpResponse(
            opensearch_formats.description_xml(request),
            content_type=f"{opensearch_formats.DESCRIPTION_TYPE}; charset=utf-8",
        )


class OpenSearchView(APIView):
    content_negotiation_class = OpenSearchNegotiation

    @extend_schema(
        parameters=OPENSEARCH_PARAMETERS,
        responses={
            (200, opensearch.FORMATS["atom"]): OpenApiTypes.STR,
            (200, opensearch.FORMATS["json"]): OpenApiTypes.OBJECT,
        },
    )
    def get(self, request):
        answer_format = opensearch.chosen_format(request)
        search = opensearch.parse_request(request.query_params)
        products = opensearch.search(search, user=request.user)
        page = selectors.Page(products, offset=search.offset, size=search.count)
        root = base_url(request)
        entries = [
            (product, product_json(product, product.files.all(), root)) for product in page.items
        ]
        if answer_format == "json":
            # Rendered here, not by negotiation: `format` and Accept were read above.
            return HttpResponse(
                JSONRenderer().render(opensearch_formats.geojson(request, page, entries)),
                content_type=opensearch.FORMATS["json"],
            )
        return HttpResponse(
            opensearch_formats.atom_feed(request, page, entries),
            content_type=f"{opensearch.FORMATS['atom']}; charset=utf-8",
        )
