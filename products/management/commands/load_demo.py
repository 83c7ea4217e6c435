import json
import pathlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from products.catalog_import import CatalogError, catalog_load
from products.services import file_md5, file_store, user_upsert
from regards_catalog.auth import issue_token
from regards_catalog.storage import get_location
from storage_client import StorageError

DEMO_DIR = pathlib.Path(settings.BASE_DIR) / "demo"
DEMO_PASSWORD = "demo-password"
DEMO_USERS = [
    {"email": "alice@example.org", "groups": ["science"]},
    {"email": "bob@example.org"},
    {"email": "steward@example.org", "steward": True},
]


class Command(BaseCommand):
    help = (
        "Load the demo (SPEC §9): store demo/files into their storage locations, load "
        "demo/catalog.json, create the demo users and print a new token for each. "
        "Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the demo is served, for the example curl lines",
        )

    def handle(self, *args, **options):
        with open(DEMO_DIR / "catalog.json", encoding="utf-8") as stream:
            document = json.load(stream)
        stored = self.store_files(document)
        try:
            with transaction.atomic():
                summary = catalog_load(document=document)
                users = [user_upsert(password=DEMO_PASSWORD, **user) for user in DEMO_USERS]
                tokens = [(user.email, issue_token(user)[0]) for user in users]
        except CatalogError as error:
            raise CommandError(
                "demo/catalog.json is invalid:\n" + "\n".join(error.errors)
            ) from None
        self.stdout.write(f"stored {stored} demo files")
        self.stdout.write(str(summary))
        self.stdout.write(f"demo users (password {DEMO_PASSWORD!r}) and their API tokens:")
        for email, token in tokens:
            self.stdout.write(f"{email} {token}")
        self.print_examples(document, options["base_url"].rstrip("/"), tokens[0][1])

    def print_examples(self, document, base_url, token):
        """Two curl lines that work: a search, and a download of an open file."""
        api = f"{base_url}/api/v1/rs-catalog"
        public = next(d["id"] for d in document["datasets"] if d["license"] is None)
        product = next(p for p in document["products"] if p["dataset"] == public)
        data_file = next(f for f in product["files"] if f["dataType"] == "RAWDATA")
        self.stdout.write("try:")
        self.stdout.write(
            f'  curl -H "Authorization: Bearer {token}" '
            f"'{api}/engines/legacy/dataobjects/search?q=properties.cloud_cover:%3C20&size=5'"
        )
        self.stdout.write(
            f'  curl -OJ -H "Authorization: Bearer {token}" '
            f"'{api}/downloads/{product['id']}/files/{data_file['checksum']}'"
        )

    def store_files(self, document):
        """Copy every stored demo file to its location, under the catalog's key or checksum."""
        count = 0
        for product in document["products"]:
            for entry in product["files"]:
                if entry.get("reference"):
                    continue
                path = DEMO_DIR / "files" / entry["filename"]
                location = get_location(entry["storage"])
                if location is None:
                    raise CommandError(
                        f"{path.name}: unknown storage location {entry['storage']!r}"
                    )
                try:
                    checksum = file_md5(path)
                    if checksum != entry["checksum"]:
                        raise CommandError(
                            f"{path}: MD5 is {checksum}, the catalog says {entry['checksum']}"
                        )
                    file_store(path=path, location=location, key=entry.get("key") or checksum)
                except (ValueError, OSError, StorageError) as error:
                    raise CommandError(f"{path.name}: {error}") from None
                count += 1
        return count
