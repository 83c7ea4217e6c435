"""What the OpenSearch engine answers: its description document, and a page of results as
an Atom feed or as GeoJSON. Products keep the legacy engine's JSON (serializers.product_json)
and its download URIs."""

import datetime
import re

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import feedgenerator

from products.opensearch import EO_PROPERTIES, FORMATS, NAMESPACES, PARAMETERS, property_options
from regards_catalog.links import base_url

DESCRIPTION_TYPE = "application/opensearchdescription+xml"
GEORSS = "http://www.georss.org/georss"
DUBLIN_CORE = "http://purl.org/dc/elements/1.1/"
# XML 1.0 has no place for these; a label saved with one must not break the whole feed.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def description_xml(request):
    """The OpenSearch 1.1 description document, for this caller (its listed options are the
    values of the products it sees)."""
    search_url = base_url(request) + reverse("opensearch-search")
    template_query = "&".join(
        f"{parameter.name}={{{parameter.template}?}}" for parameter in PARAMETERS
    )
    listed = {
        name: property_options(request.user, eo) for name, eo in EO_PROPERTIES.items() if eo.listed
    }
    parameters = [
        {
            "name": parameter.name,
            "value": f"{{{parameter.template}}}",
            "title": parameter.title,
            "minInclusive": parameter.minimum,
            "maxInclusive": parameter.maximum,
            "options": [_xml_text(value) for value in listed.get(parameter.name, [])],
        }
        for parameter in PARAMETERS
    ]
    urls = [
        {"type": media_type, "template": f"{search_url}?{template_query}&format={name}"}
        for name, media_type in FORMATS.items()
    ]
    context = {
        "namespaces": NAMESPACES,
        "urls": urls,
        "parameters": parameters,
        "self": base_url(request) + request.path,
        "description_type": DESCRIPTION_TYPE,
    }
    return render_to_string("opensearch/description.xml", context)


def page_links(request, page):
    """{rel: href} for the self, first, previous, next and last pages of `page` (a
    selectors.Page); never with a token, which links do not carry."""
    root = base_url(request) + request.path

    def href(offset):
        query = request.GET.copy()
        query.pop("token", None)
        query.pop("startPage", None)  # startIndex says it all
        query["startIndex"] = offset + 1
        query["count"] = page.size
        return f"{root}?{query.urlencode()}"

    links = {"self": href(page.offset), "first": href(0)}
    if page.offset > 0:
        links["previous"] = href(max(page.offset - page.size, 0))
    if page.has_next:
        links["next"] = href(page.offset + page.size)
    if page.exact:  # a lower bound of the total has no last page to point to
        shift = page.offset % page.size  # the pages keep this page's alignment
        last = shift + max(page.total - 1 - shift, 0) // page.size * page.size
        links["last"] = href(last if page.total > shift else 0)
    return links


class OpenSearchFeed(feedgenerator.Atom1Feed):
    """An Atom feed with OpenSearch's totals and paging links, and GeoRSS geometries."""

    def root_attributes(self):
        return {
            **super().root_attributes(),
            "xmlns:opensearch": NAMESPACES["opensearch"],
            "xmlns:georss": GEORSS,
            "xmlns:dc": DUBLIN_CORE,
        }

    def add_root_elements(self, handler):
        super().add_root_elements(handler)
        page = self.feed["page"]
        handler.addQuickElement("opensearch:totalResults", str(page.total))
        handler.addQuickElement("opensearch:startIndex", str(page.offset + 1))
        handler.addQuickElement("opensearch:itemsPerPage", str(page.size))
        for rel, href in self.feed["paging"].items():
            if rel != "self":  # written by Atom1Feed
                handler.addQuickElement(
                    "link", "", {"rel": rel, "href": href, "type": FORMATS["atom"]}
                )
        handler.addQuickElement(
            "link", "", {"rel": "search", "href": self.feed["search"], "type": DESCRIPTION_TYPE}
        )

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        handler.addQuickElement("dc:identifier", item["provider_id"])
        if item["dates"]:
            handler.addQuickElement("dc:date", item["dates"])
        georss = georss_element(item["geometry"])
        if georss:
            handler.addQuickElement(*georss)


def atom_feed(request, page, entries):
    """`entries`: (product, its legacy JSON) for each product of the page."""
    links = page_links(request, page)
    feed = OpenSearchFeed(
        title="REGARDS Catalog search results",
        link=links["self"],
        feed_url=links["self"],
        feed_guid=links["self"],
        description="",
        author_name="REGARDS Catalog",
        page=page,
        paging=links,
        search=base_url(request) + reverse("opensearch-description"),
    )
    for product, content in entries:
        feed.add_item(
            title=_xml_text(product.label),
            link=base_url(request) + reverse("product-detail", args=[product.urn]),
            description=None,
            unique_id=product.urn,
            updateddate=product.updated,
            enclosures=[
                feedgenerator.Enclosure(
                    data_file["uri"], str(data_file["filesize"]), _xml_text(data_file["mimeType"])
                )
                for files in content["files"].values()
                for data_file in files
            ],
            provider_id=_xml_text(product.provider_id),
            dates=_time_span(product),
            geometry=product.geometry,
        )
    return feed.writeString("utf-8")


def geojson(request, page, entries):
    """A FeatureCollection with OpenSearch's totals; each product a Feature whose properties
    are its legacy JSON."""
    links = page_links(request, page)
    collection = {
        "type": "FeatureCollection",
        "totalResults": page.total,
        "startIndex": page.offset + 1,
        "itemsPerPage": page.size,
        "features": [
            {
                "type": "Feature",
                "id": product.urn,
                "geometry": content["geometry"],
                "properties": {
                    name: value for name, value in content.items() if name not in ("id", "geometry")
                },
                "links": [
                    {
                        "rel": "self",
                        "href": base_url(request) + reverse("product-detail", args=[product.urn]),
                    }
                ],
            }
            for product, content in entries
        ],
        "links": [
            {"rel": rel, "href": href, "type": FORMATS["json"]} for rel, href in links.items()
        ],
    }
    if not page.exact:  # totalResults is then a lower bound, as in the legacy engine
        collection["totalResultsExact"] = False
    return collection


def georss_element(geometry):
    """(element name, text) of GeoRSS Simple for a GeoJSON geometry: point, line, polygon
    (its outer ring), or the box around any other; None without a usable geometry."""
    try:
        kind, coordinates = geometry["type"], geometry["coordinates"]
        if kind == "Point":
            return "georss:point", _lat_lon([coordinates])
        if kind == "LineString":
            return "georss:line", _lat_lon(coordinates)
        if kind == "Polygon":
            return "georss:polygon", _lat_lon(coordinates[0])
        points = list(_points(coordinates))
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return "georss:box", f"{min(lats)} {min(lons)} {max(lats)} {max(lons)}"
    except (TypeError, KeyError, IndexError, ValueError):  # not a GeoJSON geometry
        return None


def _lat_lon(positions):
    return " ".join(f"{float(p[1])} {float(p[0])}" for p in positions)


def _points(coordinates):
    if isinstance(coordinates[0], (int, float)):
        yield float(coordinates[0]), float(coordinates[1])
    else:
        for nested in coordinates:
            yield from _points(nested)


def _time_span(product):
    """The product's dates as the Time extension writes them: start/end, or one date."""
    dates = [d for d in (product.start_date, product.end_date) if d is not None]
    if not dates:
        return None
    return "/".join(d.astimezone(datetime.UTC).isoformat() for d in dates)


def _xml_text(text):
    return CONTROL_CHARACTERS.sub("", text)
