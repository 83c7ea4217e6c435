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
    return valid(SearchParamsSerializer, data)


def valid(serializer_class, data):
    """The validated data, or a 400 naming the first parameter at fault."""
    serializer = serializer_class(data=data)
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


def dataset_entries(request, datasets):
    root = base_url(request)
    return [
        {
            "content": dataset_json(dataset),
            "links": [
                {"rel": "self", "href": root + reverse("dataset-detail", args=[dataset.urn])}
            ],
        }
        for dataset in datasets
    ]


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
        return Response(page_json(request, page, dataset_entries(request, page.items)))


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
        return Response(page_json(request, page, content))


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
        return Response(page_json(request, page, dataset_entries(request, page.items)))


class PropertyValuesView(APIView):
    """The distinct text values of a property among the products `q` matches, starting with
    `partialText`, in code point order (REGARDS's value autocompletion)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Lucene query"),
            OpenApiParameter("partialText", str, description="the values' beginning"),
            OpenApiParameter("maxCount", int, description="at most (default 10, max 100)"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, name):
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
        parameters=[
            OpenApiParameter("properties", str, description="names, comma-separated"),
            OpenApiParameter("q", str, description="Lucene query"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = valid(PropertyBoundsParamsSerializer, request.query_params)
        names = list(dict.fromkeys(params["properties"]))
        fields = [facets.property_field(name, "properties") for name in names]
        products = selectors.product_search(user=request.user, q=params["q"])
        answers = facets.bounds(products, fields)
        for answer, name in zip(answers, names, strict=True):
            answer["propertyName"] = name  # as the caller wrote it
        return Response(answers)


def visible_dataset_or_error(user, urn):
    datasets = Dataset.objects.select_related("license", "description_file__product")
    dataset = get_object_or_404(datasets, urn=urn)
    if not visible_datasets(user).filter(pk=dataset.pk).exists():
        raise access_denied(user)
    return dataset


class DatasetDetailView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, urn):
        return Response(dataset_json(visible_dataset_or_error(request.user, urn)))


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
