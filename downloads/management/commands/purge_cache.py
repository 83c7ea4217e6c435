from django.core.management.base import BaseCommand

from downloads import services


class Command(BaseCommand):
    help = (
        "Delete the cached copies of nearline files whose restore has expired "
        "(RESTORE_AVAILABILITY_HOURS after it was done). Safe while downloads run."
    )

    def handle(self, *args, **options):
        purged = services.cache_purge()
        for restore in purged:
            self.stdout.write(f"purged {restore.data_file.filename} ({restore.data_file.checksum})")
        self.stdout.write(f"{len(purged)} expired copies purged.")
