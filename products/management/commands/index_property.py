from django.core.management.base import BaseCommand, CommandError

from products.services import property_index_create


class Command(BaseCommand):
    help = (
        "Index product properties for queries such as properties.cloud_cover:<10, or, with "
        "several names, one index for queries that combine them, such as "
        "properties.platform:X AND properties.cloud_cover:<10 (PostgreSQL; built without "
        "blocking searches). --drop removes the index."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "names", nargs="+", metavar="name", help="a property, e.g. cloud_cover; equality first"
        )
        parser.add_argument("--drop", action="store_true")

    def handle(self, *args, names, drop, **options):
        try:
            index = property_index_create(names=names, drop=drop)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{'dropped' if drop else 'created'} index {index}")
