"""A bulk download as a Metalink 4 manifest (RFC 5854, README "Bulk downloads"), for
`aria2c -M`: each file with its size, its hash and a signed link to its download, which
runs every check again, and counts, when the client fetches it.
"""

from xml.etree import ElementTree

from django.urls import reverse
from django.utils import timezone

from downloads.signed_links import signed_url
from regards_catalog.links import base_url

NAMESPACE = "urn:ietf:params:xml:ns:metalink"
CONTENT_TYPE = "application/metalink4+xml"
# The catalog's digest algorithms, by the names of the IANA hash registry RFC 5854 uses.
HASH_TYPES = {"MD5": "md5", "SHA1": "sha-1", "SHA256": "sha-256", "SHA512": "sha-512"}


def metalink_document(request, bulk_files):
    """The manifest of `bulk_files` (downloads.bulk), as UTF-8 XML. The files that cannot
    be read now (nearline ones to restore first...) are listed in XML comments, with why
    and the restore link: a client fetching the rest is not sent to a refusal."""
    root = ElementTree.Element("metalink", xmlns=NAMESPACE)
    ElementTree.SubElement(root, "generator").text = "REGARDS Catalog"
    ElementTree.SubElement(root, "published").text = f"{timezone.now():%Y-%m-%dT%H:%M:%SZ}"
    for entry in bulk_files:
        if entry.refusal is not None:
            root.append(ElementTree.Comment(_left_out(entry)))
            continue
        data_file = entry.data_file
        element = ElementTree.SubElement(root, "file", name=entry.path)
        ElementTree.SubElement(element, "size").text = str(data_file.filesize)
        hash_type = HASH_TYPES.get(data_file.digest_algorithm.upper().replace("-", ""))
        if hash_type is not None:
            hash_element = ElementTree.SubElement(element, "hash", type=hash_type)
            hash_element.text = data_file.checksum.lower()
        ElementTree.SubElement(element, "url").text = file_url(request, data_file)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def file_url(request, data_file):
    """A reference file's external URL; else a link to its download signed for the caller,
    or, for an anonymous caller, who has no credential to put in it, the plain download
    URL (public data only: anonymous callers cannot accept licences)."""
    if data_file.reference:
        return data_file.uri
    if request.user.is_authenticated:
        return signed_url(request, data_file)[0]
    path = reverse(
        "download-file", kwargs={"aip_id": data_file.product.urn, "checksum": data_file.checksum}
    )
    return base_url(request) + path


def _left_out(entry):
    refusal = entry.refusal
    text = f"left out: {entry.path} ({entry.data_file.product.urn} {entry.data_file.checksum}): "
    text += f"{refusal.default_code}: {refusal.detail}"
    if "restore" in refusal.extra:
        text += f' restore: POST {{"product_ids": [...]}} to {refusal.extra["restore"]}'
    # An XML comment may not hold "--", nor end with "-".
    return f" {text.replace('--', '- -')} "
