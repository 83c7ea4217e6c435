from django.core.management.base import BaseCommand, CommandError

from products.services import property_index_create


class Command(BaseCommand):
    help = (
        "Index one product property for range queries such as properties.cloud_cover:<10 "
        "(PostgreSQL; built without blocking searches). --drop removes the index."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the property, e.g. cloud_cover")
        parser.add_argument("--drop", action="store_true")

    def handle(self, *args, name, drop, **options):
        try:
            index = property_index_create(name=name, drop=drop)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{'dropped' if drop else 'created'} index {index}")
