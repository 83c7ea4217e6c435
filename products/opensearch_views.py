"""The OpenSearch engine's views (README, "OpenSearch"): the description document, and the
search answered in Atom or GeoJSON over the legacy search."""

import types

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from products import opensearch, opensearch_formats, selectors
from products.serializers import product_json
from regards_catalog.links import base_url
from regards_catalog.negotiation import FallbackContentNegotiation


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
        last = selectors.last_versions(page.items)
        entries = [
            (product, product_json(product, product.files.all(), root, last=product.urn in last))
            for product in page.items
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
