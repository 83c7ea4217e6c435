import functools
import operator

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from downloads.models import Quota
from downloads.quotas import quota_reset


class Command(BaseCommand):
    help = (
        "Zero the download counters (count and volume) of every quota, users and anonymous "
        "addresses, or of the users given with --user. Safe to run from cron while downloads "
        "run; live download slots are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user",
            dest="emails",
            metavar="EMAIL",
            action="extend",
            nargs="+",
            default=[],
            help="reset only this user's quota (repeatable)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would be reset, change nothing"
        )

    def handle(self, *args, emails, dry_run, **options):
        users = users_by_email(emails) if emails else None
        quotas = Quota.objects.all() if users is None else Quota.objects.filter(user__in=users)
        before = quota_reset(quotas=quotas, dry_run=dry_run)
        verb = "would reset " if dry_run else ""
        for quota in before:
            since = timezone.localtime(quota.since)
            volume = filesizeformat(quota.current_volume).replace("\xa0", " ")
            downloads = plural(quota.current_quota, "download")
            self.stdout.write(
                f"{quota}: {verb}{downloads}, {volume} since {since:%Y-%m-%d %H:%M %Z}"
            )
        counted = {quota.user_id for quota in before}
        for user in users or []:
            if user.pk not in counted:
                self.stdout.write(f"{user.email}: no downloads counted yet, nothing to reset")
        count = plural(len(before), "quota")
        self.stdout.write(f"Would reset {count} (dry run)." if dry_run else f"Reset {count}.")


def plural(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"


def users_by_email(emails):
    """The users with these emails (any case); CommandError, naming them, if some are unknown."""
    users = list(
        get_user_model().objects.filter(
            functools.reduce(operator.or_, [Q(email__iexact=email) for email in emails])
        )
    )
    known = {user.email.lower() for user in users}
    unknown = [email for email in emails if email.lower() not in known]
    if unknown:
        raise CommandError(f"Unknown user(s): {', '.join(unknown)}. Nothing was reset.")
    return users
