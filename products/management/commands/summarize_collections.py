from django.core.management.base import BaseCommand

from products.models import Dataset
from products.services import dataset_summarize, datasets_summarize_stale


class Command(BaseCommand):
    help = (
        "Compute the extent and summaries STAC shows of each dataset's products. Saves, "
        "deletes and imports keep them current; run this after changing products by other "
        "means (SQL, COPY), with --all to redo every dataset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="not only the stale datasets")

    def handle(self, *args, all, **options):
        if all:
            datasets = list(Dataset.objects.order_by("pk"))
            for dataset in datasets:
                dataset_summarize(dataset=dataset)
            done = len(datasets)
        else:
            done = datasets_summarize_stale(datasets=Dataset.objects.all())
        self.stdout.write(f"summarized {done} dataset(s)")
