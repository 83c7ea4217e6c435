import json
import sys

from django.core.management.base import BaseCommand, CommandError

from products.catalog_import import CatalogError, catalog_load


class Command(BaseCommand):
    help = (
        "Upsert licences, access groups, datasets and products from a JSON document "
        "(README, 'Catalog import'). All or nothing: on any error nothing is written."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON document, or - to read standard input")

    def handle(self, *args, file, **options):
        name = "<stdin>" if file == "-" else file
        try:
            if file == "-":
                text = (options.get("stdin") or sys.stdin).read()
            else:
                with open(file, encoding="utf-8") as stream:
                    text = stream.read()
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{name}: cannot read it ({error})") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise CommandError(
                f"{name}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
            ) from None
        try:
            summary = catalog_load(document=document)
        except CatalogError as error:
            count = len(error.errors)
            raise CommandError(
                f"{name}: {count} error{'s' if count != 1 else ''}, nothing was imported:\n"
                + "\n".join(error.errors)
            ) from None
        self.stdout.write(str(summary))
