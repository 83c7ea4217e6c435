"""STAC API 1.0 under /api/v1/rs-catalog/stac (README, "STAC API"). Errors are STAC's
`{"code", "description"}`, with the project's codes."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from products import selectors, services, stac
from regards_catalog.errors import api_exception_handler
from regards_catalog.exceptions import NotFound
from regards_catalog.links import base_url


def stac_exception_handler(exc, context):
    """The project's error answer, reshaped as STAC/OGC's {code, description}."""
    response = api_exception_handler(exc, context)
    if response is not None:
        response.data = {"code": response.data["code"], "description": response.data["message"]}
    return response


class StacView(APIView):
    def get_exception_handler(self):
        return stac_exception_handler


class LandingView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        root = base_url(request)
        search = stac.stac_url(root, "stac-search")
        return Response(
            {
                "type": "Catalog",
                "stac_version": stac.STAC_VERSION,
                "id": "regards-catalog",
                "title": "REGARDS Catalog",
                "description": "The REGARDS catalog's datasets and products as STAC.",
                "conformsTo": stac.CONFORMANCE,
                "links": [
                    stac.link("self", stac.stac_url(root, "stac-landing")),
                    stac.link("root", stac.stac_url(root, "stac-landing")),
                    stac.link("conformance", stac.stac_url(root, "stac-conformance")),
                    stac.link("data", stac.stac_url(root, "stac-collections")),
                    stac.link("search", search, stac.GEOJSON, method="GET"),
                    stac.link("search", search, stac.GEOJSON, method="POST"),
                    stac.link(
                        stac.QUERYABLES_REL,
                        stac.stac_url(root, "stac-queryables"),
                        "application/schema+json",
                    ),
                    stac.link(
                        "service-desc",
                        stac.stac_url(root, "schema") + "?format=json",
                        "application/vnd.oai.openapi+json;version=3.0",
                    ),
                    stac.link("service-doc", stac.stac_url(root, "api-docs"), "text/html"),
                ],
            }
        )


class ConformanceView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response({"conformsTo": stac.CONFORMANCE})


class QueryablesView(StacView):
    """What a CQL2 filter may name, for every collection or for one."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, collection=None):
        if collection is not None:
            collection = visible_collection_or_404(request, collection).urn
        body = stac.queryables_json(base_url(request), collection)
        return Response(body, content_type="application/schema+json")


class CollectionsView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        """Every collection the caller sees; given a parameter, the collection search: the
        STAC extension searches here, and pystac-client sends its collection_search here."""
        root = base_url(request)
        if set(request.query_params) - {"token"}:
            body = stac.read_collection_get_parameters(request.query_params)
            return collection_search(request, body, stac.stac_url(root, "stac-collections"))
        datasets = summarized_collections(request.user)
        return Response(
            {
                "collections": [stac.collection_json(dataset, root) for dataset in datasets],
                "links": [
                    stac.link("self", stac.stac_url(root, "stac-collections")),
                    stac.link("root", stac.stac_url(root, "stac-landing")),
                ],
            }
        )


def summarized_collections(user):
    """The collections `user` sees, their stored extents and summaries brought up to date."""
    datasets = stac.visible_collections(user)
    services.datasets_summarize_stale(datasets=datasets)
    return datasets


def visible_collection_or_404(request, urn):
    """A collection the caller does not see does not exist."""
    datasets = stac.visible_collections(request.user).filter(urn=urn)
    services.datasets_summarize_stale(datasets=datasets)
    dataset = datasets.first()
    if dataset is None:
        raise NotFound(f"No collection {urn}.")
    return dataset


class CollectionView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, collection):
        dataset = visible_collection_or_404(request, collection)
        return Response(stac.collection_json(dataset, base_url(request), dataset.summaries))


def page_links(request, url, search, page, media_type):
    """`self` (GET), `next` and `prev` links that repeat the search at another offset: a GET
    query string, or a POST body to merge."""

    def page_link(rel, offset):
        if request.method == "POST":
            body = {"offset": offset, "limit": search["limit"]}
            return stac.link(rel, url, media_type, method="POST", body=body, merge=True)
        query = request.GET.copy()
        query.pop("token", None)  # a token never travels in a link
        query["offset"], query["limit"] = offset, search["limit"]
        return stac.link(rel, f"{url}?{query.urlencode()}", media_type, method="GET")

    links = []
    if request.method == "GET":
        # `self` is the URL asked, as asked (less a token).
        query = request.GET.copy()
        query.pop("token", None)
        self_url = f"{url}?{query.urlencode()}" if query else url
        links.append(stac.link("self", self_url, media_type, method="GET"))
    if page.has_next:
        links.append(page_link("next", search["offset"] + search["limit"]))
    if search["offset"] > 0:
        links.append(page_link("prev", max(0, search["offset"] - search["limit"])))
    return links


def item_collection(request, body, url, *, collection=None, extra_links=()):
    """A FeatureCollection of one page of the search `body`, with next/prev links that
    repeat the search at another offset (a GET query string, or a POST body to merge)."""
    search = stac.read_search(body, collection=collection)
    products = stac.search_products(request.user, search)
    page = selectors.Page(
        products, offset=search["offset"], size=search["limit"], tracked=stac.MATCHES_COUNTED
    )
    root = base_url(request)
    features = [
        stac.select_fields(stac.item_json(product, product.files.all(), root), search["fields"])
        for product in page.items
    ]

    links = [
        stac.link("root", stac.stac_url(root, "stac-landing")),
        *extra_links,
        *page_links(request, url, search, page, stac.GEOJSON),
    ]
    answer = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberReturned": len(features),
    }
    if page.exact:
        answer["numberMatched"] = page.total
    return Response(answer, content_type=stac.GEOJSON)


class ItemsView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, collection):
        dataset = visible_collection_or_404(request, collection)
        root = base_url(request)
        url = stac.stac_url(root, "stac-items", dataset.urn)
        body = stac.read_get_parameters(request.query_params)
        links = [stac.link("collection", stac.stac_url(root, "stac-collection", dataset.urn))]
        return item_collection(request, body, url, collection=dataset.urn, extra_links=links)


class ItemView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, collection, item):
        """An item the caller may not see, or of another collection, does not exist."""
        products = selectors.product_search(user=request.user)
        product = products.filter(urn=item, dataset__urn=collection).first()
        if product is None:
            raise NotFound(f"No item {item} in collection {collection}.")
        item_json = stac.item_json(product, product.files.all(), base_url(request))
        return Response(item_json, content_type=stac.GEOJSON)


class SearchView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        url = stac.stac_url(base_url(request), "stac-search")
        body = stac.read_get_parameters(request.query_params)
        return item_collection(request, body, url)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        url = stac.stac_url(base_url(request), "stac-search")
        return item_collection(request, request.data, url)


def collection_search(request, body, url):
    """One page of the collections the search `body` finds, with next/prev links to `url`."""
    search = stac.read_collection_search(body)
    summarized_collections(request.user)
    datasets = stac.search_collections(request.user, search)
    page = selectors.Page(datasets, offset=search["offset"], size=search["limit"])
    root = base_url(request)
    answer = {
        "collections": [stac.collection_json(dataset, root) for dataset in page.items],
        "links": [
            stac.link("root", stac.stac_url(root, "stac-landing")),
            *page_links(request, url, search, page, "application/json"),
        ],
        "numberReturned": len(page.items),
    }
    if page.exact:
        answer["numberMatched"] = page.total
    return Response(answer)


class CollectionSearchView(StacView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        body = stac.read_collection_get_parameters(request.query_params)
        return collection_search(request, body, self.url(request))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        return collection_search(request, request.data, self.url(request))

    def url(self, request):
        return stac.stac_url(base_url(request), "stac-collection-search")
