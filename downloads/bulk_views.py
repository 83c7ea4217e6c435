"""Bulk downloads of a search or of one product (README "Bulk downloads"): a streamed zip,
or a Metalink 4 manifest of signed links. GET only: a HEAD must not count downloads."""

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.views import APIView

from downloads.bulk import bulk_files, safe_name
from downloads.bulk_zip import zip_chunks
from downloads.metalink import CONTENT_TYPE, metalink_document
from downloads.transfers import content_disposition
from products.models import Product
from products.selectors import product_search
from products.views import (
    PRODUCT_SEARCH_PARAMETERS,
    product_filters,
    refuse_unknown,
    search_params,
    visible_product_or_error,
)

ACCEPT_LICENSE = OpenApiParameter(
    "acceptLicense", bool, description="accept the missing licences first (token callers)"
)
# The search's own parameters; a bulk download takes every file, so no paging or sort.
BULK_SEARCH_PARAMETERS = [
    *(p for p in PRODUCT_SEARCH_PARAMETERS if p.name not in ("page", "size", "sort", "facets")),
    ACCEPT_LICENSE,
]
ZIP_ANSWER = {(200, "application/zip"): OpenApiTypes.BINARY}
METALINK_ANSWER = {(200, CONTENT_TYPE): OpenApiTypes.STR}


def searched_products(request):
    params = search_params(request, BULK_SEARCH_PARAMETERS)
    return product_search(user=request.user, q=params["q"], **product_filters(request))


def one_product(request, urn):
    """(the product `urn` as a queryset, its name for the answer): 404, or 401/403 unseen."""
    refuse_unknown(request.query_params, [ACCEPT_LICENSE])
    product = visible_product_or_error(request.user, urn)
    return Product.objects.filter(pk=product.pk), safe_name(product.provider_id)


def zip_answer(request, products, name):
    """The checks that can refuse the whole download run first; then the zip streams."""
    files = bulk_files(request, products)
    response = StreamingHttpResponse(zip_chunks(request, files), content_type="application/zip")
    _attachment(response, f"{name}.zip")
    return response


def metalink_answer(request, products, name):
    files = bulk_files(request, products)
    response = HttpResponse(metalink_document(request, files), content_type=CONTENT_TYPE)
    _attachment(response, f"{name}.meta4")
    response["Cache-Control"] = "private, no-store"  # its links are the caller's
    return response


def _attachment(response, filename):
    response["Content-Disposition"] = content_disposition(filename, inline=False)
    response.setdefault("Cache-Control", "private")
    response["X-Content-Type-Options"] = "nosniff"


class SearchZipView(APIView):
    """GET …/dataobjects/search.zip?q=…: every file of the search the caller may download."""

    http_method_names = ["get", "options"]

    @extend_schema(parameters=BULK_SEARCH_PARAMETERS, responses=ZIP_ANSWER)
    def get(self, request):
        return zip_answer(request, searched_products(request), "search")


class ProductZipView(APIView):
    """GET …/dataobjects/{urn}/files.zip: every file of the product the caller may download."""

    http_method_names = ["get", "options"]

    @extend_schema(parameters=[ACCEPT_LICENSE], responses=ZIP_ANSWER)
    def get(self, request, urn):
        return zip_answer(request, *one_product(request, urn))


class SearchMetalinkView(APIView):
    """GET …/dataobjects/search.meta4?q=…: a Metalink manifest of the search's files."""

    http_method_names = ["get", "options"]

    @extend_schema(parameters=BULK_SEARCH_PARAMETERS, responses=METALINK_ANSWER)
    def get(self, request):
        return metalink_answer(request, searched_products(request), "search")


class ProductMetalinkView(APIView):
    """GET …/dataobjects/{urn}/files.meta4: a Metalink manifest of the product's files."""

    http_method_names = ["get", "options"]

    @extend_schema(parameters=[ACCEPT_LICENSE], responses=METALINK_ANSWER)
    def get(self, request, urn):
        return metalink_answer(request, *one_product(request, urn))
