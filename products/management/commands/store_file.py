from django.core.management.base import BaseCommand, CommandError

from products.services import file_store
from regards_catalog.storage import get_location
from storage_client import StorageError


class Command(BaseCommand):
    help = (
        "Copy a file into a local storage location under its MD5 checksum (or --key) and "
        "print the checksum alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--location", default="online", help="default: online")
        parser.add_argument("--key", help="storage key (default: the checksum)")

    def handle(self, *args, path, location, key, **options):
        target = get_location(location)
        if target is None:
            raise CommandError(f"unknown storage location {location!r}")
        try:
            checksum = file_store(path=path, location=target, key=key)
        except (ValueError, OSError, StorageError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"stored {path} in {location} under {key or checksum}")
        self.stdout.write(checksum)
